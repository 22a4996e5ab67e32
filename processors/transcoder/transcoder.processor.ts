/**
 * Transcoder processor: reacts to `UploadCompleted`, probes the source, plans the ladder, encodes
 * HLS (fMP4/CMAF) renditions with FFmpeg in one run, uploads them as they appear, and drives the
 * video aggregate through StartProcessing → ReportProcessingProgress → PublishVideo (as soon as
 * every rung has its first segment: progressive publishing, docs/adr/0007) →
 * RecordRenditionEncoded per complete rung → CompleteProcessing (the final ladder, with the rungs
 * that failed for good), then the storyboard (seek previews: storyboard/, never failing the video)
 * → RecordStoryboard; or FailProcessing. The job itself is in transcode-job.ts, the growing
 * playlists in progressive-upload.ts, the object layout in hls-keys.ts.
 */
import pino from 'pino';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { processingFailureMessage } from '../../domain/video/processing-failure.ts';
import type { Command, CommandBus } from '../../commands/command-bus.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { DomainError } from '../../domain/shared/event.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { ProcessorNode } from '../runtime/topology.port.ts';
import { findSetpriv, prlimitFor } from './bounded-process.ts';
import type { ChunkingConfig } from './chunked/chunked-ladder.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { OutOfMemoryError } from './ffmpeg-steps.ts';
import { MediaRejectedError } from './ffprobe.ts';
import { DEFAULT_SOURCE_LIMITS, DEFAULT_TIME_LIMITS, DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES, type SourceLimits, type TimeLimits } from './media-limits.ts';
import { closePublishedVideo, transcode, type SendCommand } from './transcode-job.ts';
import { transcoderMetricsOn } from './transcoder-metrics.ts';
import type { StoryboardOutcome } from './storyboard/storyboard-step.ts';

/** Default target segment duration, seconds (segments must stay ≤ 6 s). */
export const DEFAULT_SEGMENT_SECONDS = 4;
/** The transcoder node's stable name (consumer group `streamwave.transcoder`, metric labels). */
export const TRANSCODER_NAME = 'transcoder';
/** Code of the failure sent by `onDeadLetter`. */
export const PROCESSING_FAILED_CODE = 'PROCESSING_FAILED' as const;

/** What the transcoder node is built from; the composition roots (deploy/) pass their adapters. */
export interface TranscoderDeps {
  commandBus: CommandBus;
  codec: EventCodec;
  objectStore: ObjectStore;
  /** Local scratch directory; each attempt of a job works in its own `<workDir>/<videoId>.<pid>.<random>/` and deletes it at the end. */
  workDir: string;
  logger?: Logger;
  /** Target segment duration, seconds. Default 4. */
  segmentSeconds?: number;
  /** Wall clock for command metadata, ms since epoch. Default Date.now. */
  now?: () => number;
  /** FFmpeg binaries; default `resolveFfmpegBinaries()` (env, /usr/bin, PATH). */
  ffmpegPath?: string;
  ffprobePath?: string;
  /** What a source may be; default DEFAULT_SOURCE_LIMITS (8192 px, 8K pixels, 1:4…4:1, 6 h, 240 fps). */
  sourceLimits?: SourceLimits;
  /** FFmpeg/ffprobe time limits; default DEFAULT_TIME_LIMITS (probe 30 s, min(12 h, max(120 s, 10 × duration)), stall 10 min). */
  timeLimits?: TimeLimits;
  /**
   * Address-space cap per FFmpeg/ffprobe process, bytes (default 4 GiB; 0: none), applied with
   * util-linux `prlimit --as` when it is installed (otherwise none, and a log line says so).
   */
  memoryLimitBytes?: number;
  /** `prlimit` path; default `findPrlimit()`. null: no memory cap. */
  prlimitPath?: string | null;
  /** How long `readiness()` reports a time limit exceeded, seconds. Default 600. */
  readinessWindowSeconds?: number;
  /**
   * Prometheus registry for `streamwave_transcoder_time_limit_exceeded_total` and the transcode
   * metrics of transcoder-metrics.ts (jobs by outcome, encode durations per rung, jobs running,
   * queue depth); a private one when omitted.
   */
  registry?: Registry;
  /** Segment-parallel encoding of long sources over the chunk topic (docs/adr/0008); absent: always the single run. */
  chunking?: ChunkingConfig;
}

/** Why the transcoder is not ready (for `/health/ready`). */
export interface TranscoderUnready {
  /** Stable reason: an FFmpeg or ffprobe run was killed at its time limit (or for a stall) recently. */
  reason: 'TRANSCODE_TIMED_OUT';
  /** When it happened, ms since epoch. */
  at: number;
  videoId: string;
}

/** The transcoder node with what the composition roots and health checks read from it. */
export interface TranscoderNode extends ProcessorNode {
  /**
   * null when ready; else why not: a transcode exceeded its time limit within the last
   * `readinessWindowSeconds` (issue 8: `/health/ready` reports TRANSCODE_TIMED_OUT).
   */
  readiness(): TranscoderUnready | null;
  /** Counter `streamwave_transcoder_time_limit_exceeded_total{step="probe"|"encode",cause="timeout"|"stalled"}`. */
  readonly timeLimitExceeded: Counter<'step' | 'cause'>;
}

function timeLimitCounter(registry: Registry): Counter<'step' | 'cause'> {
  const name = 'streamwave_transcoder_time_limit_exceeded_total';
  return (registry.getSingleMetric(name) as Counter<'step' | 'cause'> | undefined)
    ?? new Counter({ name, help: 'FFmpeg/ffprobe runs killed at their time limit or for a stall', labelNames: ['step', 'cause'] as const, registers: [registry] });
}

/**
 * Builds the transcoder processor node (consumer group `streamwave.transcoder`, topic
 * `streamwave.videos`; only `UploadCompleted` is handled). Guarantee: at-least-once with
 * idempotent outputs.
 *
 * Errors: input problems (unreadable, audio-only, undecodable…), sources beyond the source limits
 * and runs past their time limit (PROCESSING_TIMEOUT) → `FailProcessing` with the code's fixed
 * sentence (domain/video/processing-failure.ts) and a normal return (no retry); an out-of-memory
 * kill is retried once here, then OUT_OF_MEMORY; object-store, spawn and other unexpected errors
 * are thrown so the runtime retries with backoff and finally dead-letters, where `onDeadLetter`
 * sends `FailProcessing` PROCESSING_FAILED (or, for a video already published, ends its renditions
 * where they stopped and completes it: `closePublishedVideo`). When the runtime stops
 * (`context.signal`), the running FFmpeg is killed and the error thrown: the record is
 * redelivered, the video is not failed. Limits: issue 8, finding 3 (see media-limits.ts and
 * bounded-process.ts). Idempotent per (video, rendition): a rendition whose `rendition.json`
 * sidecar exists is complete and not re-encoded; a segment a published playlist lists is not
 * uploaded again.
 */
export function buildTranscoderProcessor(deps: TranscoderDeps): TranscoderNode {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const now = deps.now ?? Date.now;
  const binaries = resolveFfmpegBinaries();
  const memoryLimitBytes = deps.memoryLimitBytes ?? DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES;
  const prlimitPath = prlimitFor(memoryLimitBytes, deps.prlimitPath);
  if (memoryLimitBytes > 0 && !prlimitPath) logger.warn({ memoryLimitBytes }, 'no memory cap on FFmpeg: util-linux prlimit not found');
  else if (prlimitPath) logger.info({ memoryLimitBytes, prlimitPath }, 'FFmpeg memory capped with prlimit --as');
  if (!findSetpriv()) logger.warn('FFmpeg may outlive this process if it is killed: util-linux setpriv --pdeathsig not available');
  const registry = deps.registry ?? new Registry();
  const timeLimitExceeded = timeLimitCounter(registry);
  const metrics = transcoderMetricsOn(registry, TRANSCODER_NAME);
  const windowMs = (deps.readinessWindowSeconds ?? 600) * 1000;
  let lastTimeout: TranscoderUnready | null = null;
  const send: SendCommand = async (type, data) => {
    await deps.commandBus.send({ type, data, metadata: { now: now() } } as Command);
  };
  const env = {
    objectStore: deps.objectStore,
    workDir: deps.workDir,
    segmentSeconds: deps.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS,
    ffmpegPath: deps.ffmpegPath ?? binaries.ffmpeg,
    ffprobePath: deps.ffprobePath ?? binaries.ffprobe,
    logger,
    send,
    sourceLimits: deps.sourceLimits ?? DEFAULT_SOURCE_LIMITS,
    timeLimits: deps.timeLimits ?? DEFAULT_TIME_LIMITS,
    memoryLimitBytes,
    prlimitPath,
    chunking: deps.chunking,
  };

  /** Fails the video with `code` and its fixed public sentence; a refusal by the aggregate drops the job. */
  const fail = async (videoId: string, code: MediaRejectedError['code'], log: Logger): Promise<void> => {
    try {
      await send('FailProcessing', { videoId, reason: processingFailureMessage(code), code });
    } catch (failErr) {
      if (failErr instanceof DomainError) {
        log.warn({ err: failErr }, 'FailProcessing refused by the aggregate');
        return;
      }
      throw failErr;
    }
  };

  const decodeUploadCompleted = async (record: LogRecord): Promise<{ videoId: string; objectKey: string } | null> => {
    if (record.topic !== TOPICS.videos || record.value === null) return null;
    const event = await deps.codec.decode(record.value);
    if (event.type !== 'UploadCompleted') return null;
    return { videoId: event.data.videoId, objectKey: event.data.objectKey };
  };

  /** One job with its outcome counted; throws what the runtime should retry (see the builder's doc). */
  async function runJob(job: { videoId: string; objectKey: string }, log: Logger, signal: AbortSignal | undefined): Promise<void> {
    const jobEnv = {
      ...env,
      logger: log,
      signal,
      onEncoded: (rungs: string[], seconds: number) => {
        for (const rung of rungs) metrics.duration.observe({ rung }, seconds);
      },
      onStoryboard: (outcome: StoryboardOutcome) => metrics.storyboards.inc({ outcome }),
      onTimeLimitExceeded: (step: 'probe' | 'encode', cause: 'timeout' | 'stalled') => {
        timeLimitExceeded.inc({ step, cause });
        lastTimeout = { reason: 'TRANSCODE_TIMED_OUT', at: now(), videoId: job.videoId };
      },
    };
    // An out-of-memory kill is retried once here, then the video fails for good (issue 8: it
    // used to be "temporary" and was tried 6 times).
    for (let attempt = 1; ; attempt++) {
      try {
        await transcode({ ...jobEnv, finalAttempt: attempt >= 2 }, job.videoId, job.objectKey, log);
        metrics.jobs.inc({ outcome: 'ready' });
        return;
      } catch (err) {
        if (err instanceof OutOfMemoryError && !signal?.aborted) {
          if (attempt < 2) {
            log.warn({ err, attempt }, 'out of memory; retrying the transcode once');
            continue;
          }
          log.error({ err, stderrTail: err.stderrTail }, 'out of memory again; the video fails');
          await fail(job.videoId, 'OUT_OF_MEMORY', log);
          metrics.jobs.inc({ outcome: 'failed' });
          return;
        }
        if (err instanceof MediaRejectedError) {
          log.warn({ code: err.code, detail: err.detail }, 'source rejected');
          await fail(job.videoId, err.code, log);
          metrics.jobs.inc({ outcome: 'failed' });
          return;
        }
        if (err instanceof DomainError) {
          // The aggregate refused a command (e.g. the video was deleted meanwhile): retrying cannot help.
          log.warn({ err, code: err.code }, 'command refused; job dropped');
          metrics.jobs.inc({ outcome: 'dropped' });
          return;
        }
        throw err;
      }
    }
  }

  return {
    kind: 'processor',
    name: TRANSCODER_NAME,
    inputs: [TOPICS.videos],
    guarantee: 'at-least-once',
    // Its events go through the command bus (deciders make repeats no-ops); the ladder to the object store.
    outputs: [TOPICS.videos, 'object store: hls/<videoId>/…'],
    async handle(record, context) {
      const job = await decodeUploadCompleted(record);
      if (!job) return;
      const log = logger.child({ videoId: job.videoId });
      const ended = metrics.running();
      try {
        await runJob(job, log, context?.signal);
      } finally {
        ended();
      }
    },
    readiness() {
      return lastTimeout && now() - lastTimeout.at < windowMs ? lastTimeout : null;
    },
    timeLimitExceeded,
    async onDeadLetter(record, error) {
      const job = await decodeUploadCompleted(record);
      if (!job) return;
      // The dead-letter error stays in the log and the DLQ headers; the uploader gets the fixed sentence.
      logger.error({ err: error, videoId: job.videoId }, 'transcode dead-lettered; the video fails');
      const reason = processingFailureMessage(PROCESSING_FAILED_CODE);
      try {
        await send('FailProcessing', { videoId: job.videoId, reason, code: PROCESSING_FAILED_CODE });
      } catch (failErr) {
        if (!(failErr instanceof DomainError) || failErr.code !== 'INVALID_TRANSITION') throw failErr;
        // Already published (progressive publishing): playable, so it cannot fail; its renditions
        // end where they stopped instead of growing for ever (docs/adr/0007).
        const closed = await closePublishedVideo(env.objectStore, job.videoId, send, reason, Math.ceil(env.segmentSeconds));
        logger.error({ videoId: job.videoId, closed }, 'the dead-lettered video was already published: its renditions end where they stopped');
      }
      metrics.jobs.inc({ outcome: 'failed' });
    },
  };
}
