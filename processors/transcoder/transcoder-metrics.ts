/**
 * Prometheus metrics of the transcoder (issue 9, "Deploy and observe": transcode queue depth and
 * durations), on the registry the transcoder node is built with (shared by the nodes on it):
 *
 * - `streamwave_transcode_jobs_total{outcome="ready"|"failed"|"dropped"}` (counter): transcode
 *   jobs that ended: `ready` (the video is published, possibly with rungs omitted), `failed` (the
 *   video failed: a rejected source, out of memory twice, a time limit, or a job dead-lettered
 *   after its retries), `dropped` (the aggregate refused a command, e.g. the video was deleted
 *   meanwhile). A transient error that the runtime retries ends nothing; a redelivered job that
 *   ends again counts again.
 * - `streamwave_transcode_duration_seconds{rung}` (histogram, seconds): wall time of the FFmpeg
 *   run that encoded a rendition, per rung (`360p`, …). The rungs share ONE run (one decode, split
 *   filter; docs/adr/0007), so each of them observes that run's time.
 * - `streamwave_transcoder_storyboards_total{outcome="generated"|"existing"|"skipped"|"failed"}`
 *   (counter): storyboards (seek previews) after a transcode: made, already there (a redelivered
 *   job), none (no video, or the video was deleted), failed (logged; the video stays published).
 * - `streamwave_transcode_jobs_running` (gauge): transcodes in progress now.
 * - `streamwave_transcode_queue_depth` (gauge, records): the transcoder consumer group's lag on its
 *   input topic, collected on scrape: the uploads waiting or running, as an upper bound (offsets
 *   are committed after a batch, so a running job's record counts until it ends, and the topic
 *   also carries the videos' other events, which the transcoder skips at once).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { metricsOn } from '../runtime/processor.runtime.ts';
import { LAG_SCRAPE_TIMEOUT_MS } from '../runtime/projection-metrics.ts';
import { settledWithin } from '../../platform/shared/settled-within.ts';
import type { StoryboardOutcome } from './storyboard/storyboard-step.ts';

/** Buckets of a rendition encode, seconds: seconds for a short clip to hours for a long source. */
const DURATION_BUCKETS = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200];

export type TranscodeOutcome = 'ready' | 'failed' | 'dropped';

export interface TranscoderMetrics {
  jobs: Counter<'outcome'>;
  duration: Histogram<'rung'>;
  storyboards: Counter<'outcome'>;
  /** Counts a transcode in progress until the returned function is called. */
  running(): () => void;
}

const byRegistry = new WeakMap<Registry, TranscoderMetrics>();

/**
 * The transcoder metrics on `registry`, created on first use. `processor` is the transcoder
 * node's name: the queue depth is the lag that the processor runtime reports for it on the same
 * registry (0 while no such processor runs there).
 */
export function transcoderMetricsOn(registry: Registry, processor: string): TranscoderMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const lagSources = metricsOn(registry).lagSources;
  const jobsRunning = new Gauge({ name: 'streamwave_transcode_jobs_running', help: 'Transcodes in progress', registers: [registry] });
  new Gauge({
    name: 'streamwave_transcode_queue_depth',
    help: 'Records of the transcoder input not yet committed by its consumer group: uploads waiting or running (upper bound)',
    registers: [registry],
    async collect() {
      let depth = 0;
      for (const s of lagSources) {
        if (s.processor !== processor) continue;
        // A consumer that does not answer in time (a rebalance, a slow broker) is left out of this scrape.
        for (const n of ((await settledWithin(s.lag(), LAG_SCRAPE_TIMEOUT_MS)) ?? new Map<string, number>()).values()) depth += n;
      }
      this.set(depth);
    },
  });
  const jobs = new Counter({ name: 'streamwave_transcode_jobs_total', help: 'Transcode jobs that ended, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  // Every outcome is exported from the start (at 0), so rate() and alerts see the series before the first failure.
  for (const outcome of ['ready', 'failed', 'dropped'] satisfies TranscodeOutcome[]) jobs.inc({ outcome }, 0);
  const storyboards = new Counter({ name: 'streamwave_transcoder_storyboards_total', help: 'Storyboards (seek previews) after a transcode, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  for (const outcome of ['generated', 'existing', 'skipped', 'failed'] satisfies StoryboardOutcome[]) storyboards.inc({ outcome }, 0);
  const metrics: TranscoderMetrics = {
    jobs,
    storyboards,
    duration: new Histogram({
      name: 'streamwave_transcode_duration_seconds',
      help: 'Wall time of the FFmpeg run that encoded a rendition, seconds (higher rungs share one run)',
      labelNames: ['rung'] as const,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    running() {
      jobsRunning.inc();
      let done = false;
      return () => {
        if (!done) jobsRunning.dec();
        done = true;
      };
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
