/**
 * Prometheus metrics of the projection runtime (issue 9, "Deploy and observe": events processed
 * and lag per projection and consumer group). Created once per prom-client registry and shared by
 * every projection instance running on it (live instances and replay shadows):
 *
 * - `streamwave_projection_events_total{projection,instance}` (counter): records applied to the
 *   read model (undecodable records and tombstones included: they are checkpointed too; records a
 *   redelivery brings again below the stored checkpoint are not);
 * - `streamwave_projection_batches_total{projection,outcome="ok"|"error"}` (counter): batches
 *   handed to the projection, and whether its apply + checkpoint commit succeeded;
 * - `streamwave_projection_batch_duration_seconds{projection}` (histogram, seconds): decode + apply
 *   + checkpoint commit of one batch, whatever the outcome;
 * - `streamwave_projection_record_e2e_latency_seconds{projection}` (histogram, seconds): per
 *   record applied, from its log timestamp to its batch applied with its checkpoint (KIP-613's
 *   record-e2e-latency: how far the read model is behind the log in time, not in records);
 * - `streamwave_consumer_lag{projection,group,topic,partition}` (gauge, records): end offset minus
 *   the consumer's position, computed on scrape;
 * - `streamwave_projection_failures{projection,instance}` (gauge): consecutive failed batches of
 *   the partition with the most (0 once its batch succeeds), the number readiness reports
 *   PROJECTION_FAILING from.
 *
 * The labels are bounded: projections are a fixed set, `instance` is `primary` or the replay
 * shadow's `replay-<ts>` (an instance's series are removed when it stops, so swaps do not pile
 * them up), and partitions are the topics' partitions.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { parseTpKey, type LogRecord } from '../../platform/log/event-log.port.ts';
import { settledWithin } from '../../platform/shared/settled-within.ts';

/** What a running projection instance exposes to the scrape-time gauges. */
export interface ProjectionMetricsSource {
  projection: string;
  instance: string;
  group: string;
  /** Per `topic:partition`: records behind (ConsumerHandle.lag). */
  lag(): Promise<Map<string, number>>;
  /** Consecutive failed batches of the partition with the most (ProjectionHandle.failures). */
  failures(): number;
}

/** Max time one scrape waits for one consumer's lag, ms: a slow broker must not hang `/metrics`. */
export const LAG_SCRAPE_TIMEOUT_MS = 2_000;

/** Histogram buckets of a batch's duration, seconds (a batch is one store commit: ms to seconds). */
const BATCH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/**
 * Histogram buckets of a record's end-to-end latency, seconds: fine from 0.1 to 1 s (the creators'
 * freshness goal is 1 s, issue 15), then up to an hour (a replay or a backlog shows records' age).
 */
const E2E_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.5, 2, 5, 10, 30, 60, 300, 3600];

export interface ProjectionMetrics {
  events: Counter<'projection' | 'instance'>;
  batches: Counter<'projection' | 'outcome'>;
  batchDuration: Histogram<'projection'>;
  /**
   * Observes the end-to-end latency of the `applied` records a batch ended with (those at or above
   * the checkpoint: a batch's records are in offset order), `now - timestamp` in seconds, clamped
   * at 0; records without a timestamp (0) are left out. Wall clocks of two machines (the
   * producer's and this one's): meaningful with synced clocks, as KIP-613 says of its own.
   */
  observeApplied(projection: string, records: readonly LogRecord[], applied: number, now?: number): void;
  /**
   * Registers a running instance for the scrape-time gauges; the returned function unregisters it
   * and removes its per-instance series.
   */
  track(source: ProjectionMetricsSource): () => void;
}

const byRegistry = new WeakMap<Registry, ProjectionMetrics>();


/**
 * The projection metrics on `registry`, created on first use. The lag gauge asks every registered
 * consumer at once (one `lag()` each: on Kafka one ListOffsets request) and gives each at most
 * LAG_SCRAPE_TIMEOUT_MS; concurrent scrapes share one round of requests, so a scrape costs one
 * request per running consumer however often Prometheus asks.
 */
export function projectionMetricsOn(registry: Registry): ProjectionMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const sources = new Set<ProjectionMetricsSource>();
  let inflight: Promise<{ source: ProjectionMetricsSource; lag: Map<string, number> | undefined }[]> | undefined;
  const lagRound = () => {
    inflight ??= Promise.all([...sources].map(async (source) => ({ source, lag: await settledWithin(source.lag(), LAG_SCRAPE_TIMEOUT_MS) })))
      .finally(() => { inflight = undefined; });
    return inflight;
  };
  const events = new Counter({
    name: 'streamwave_projection_events_total',
    help: 'Records applied to a read model (with their checkpoint), per projection instance',
    labelNames: ['projection', 'instance'] as const,
    registers: [registry],
  });
  const e2eLatency = new Histogram({
    name: 'streamwave_projection_record_e2e_latency_seconds',
    help: 'Per record applied to a read model: from its log timestamp to its batch applied with its checkpoint, seconds (KIP-613 record-e2e-latency)',
    labelNames: ['projection'] as const,
    buckets: E2E_BUCKETS,
    registers: [registry],
  });
  const metrics: ProjectionMetrics = {
    events,
    batches: new Counter({
      name: 'streamwave_projection_batches_total',
      help: 'Batches handed to a projection, by outcome (error: the apply or its checkpoint commit threw; the batch is redelivered)',
      labelNames: ['projection', 'outcome'] as const,
      registers: [registry],
    }),
    batchDuration: new Histogram({
      name: 'streamwave_projection_batch_duration_seconds',
      help: 'Time to decode, apply and commit one batch with its checkpoint, seconds',
      labelNames: ['projection'] as const,
      buckets: BATCH_BUCKETS,
      registers: [registry],
    }),
    observeApplied(projection, records, applied, now = Date.now()) {
      for (let i = Math.max(0, records.length - applied); i < records.length; i++) {
        const ts = records[i]!.timestamp;
        if (ts > 0) e2eLatency.observe({ projection }, Math.max(0, now - ts) / 1000);
      }
    },
    track(source) {
      sources.add(source);
      return () => {
        sources.delete(source);
        events.remove({ projection: source.projection, instance: source.instance });
      };
    },
  };
  new Gauge({
    name: 'streamwave_consumer_lag',
    help: 'Records between the end of each partition and the position of a projection consumer group',
    labelNames: ['projection', 'group', 'topic', 'partition'] as const,
    registers: [registry],
    async collect() {
      const round = await lagRound();
      this.reset();
      for (const { source, lag } of round) {
        for (const [tp, n] of lag ?? []) {
          const { topic, partition } = parseTpKey(tp);
          this.set({ projection: source.projection, group: source.group, topic, partition: String(partition) }, n);
        }
      }
    },
  });
  new Gauge({
    name: 'streamwave_projection_failures',
    help: 'Consecutive failed batches of the partition failing most in a projection instance (0 after its batch succeeds)',
    labelNames: ['projection', 'instance'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources) this.set({ projection: s.projection, instance: s.instance }, s.failures());
    },
  });
  byRegistry.set(registry, metrics);
  return metrics;
}
