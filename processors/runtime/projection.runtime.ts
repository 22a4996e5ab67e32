/**
 * Runs a projection node (topology.port.ts) on an EventLog — the embedded log or Kafka, the same
 * code — with the effectively-once guarantee: on every partition assignment the consumer seeks to
 * the checkpoint stored in the read model (not the group's committed offset, which is only a hint
 * for lag), records below it are skipped (redelivery), and each batch is applied together with its
 * checkpoint in one store commit. A crash at any point neither skips nor double-applies an event.
 * With a prom-client registry it reports the projection metrics of projection-metrics.ts.
 */
import pino from 'pino';
import type { Registry } from 'prom-client';
import type { DomainEvent } from '../../domain/events.ts';
import type {
  ConsumerHandle, EventLog, LogRecord, OffsetMap, RecordMetadata, TopicPartition,
} from '../../platform/log/event-log.port.ts';
import { tpKey } from '../../platform/log/event-log.port.ts';
import { CodecError, type EventCodec } from '../../schemas/event-codec.port.ts';
import { projectionMetricsOn } from './projection-metrics.ts';
import { decodeShared } from './shared-decode.ts';
import type { DecodedRecord, ProjectionNode } from './topology.port.ts';

/** Consumer group of a projection unless its runner chooses another (replay shadows, per-replica groups). */
export const projectionGroupId = (name: string): string => `streamwave.projection.${name}`;

/** A running projection consumer. */
export interface ProjectionHandle extends ConsumerHandle {
  /**
   * Read-your-writes: resolves true once every position has been applied to the read model (its
   * checkpoint for that topic:partition is > offset), false when `timeoutMs` (ms) elapses first or
   * the consumer stops. Never throws. Positions of topics the projection does not consume are ignored.
   */
  waitFor(positions: RecordMetadata[], timeoutMs: number): Promise<boolean>;
  /**
   * Consecutive failed batches (a throwing handler or store commit; the log redelivers the batch
   * with backoff, so a poison batch fails in a loop) and the last error's message, of the
   * partition with the most: counted per partition, 0 after that partition's batch succeeds (a
   * success on another partition, with `partitionsConcurrently`, does not hide it) or when the
   * partition is assigned elsewhere (a batch of it still failing after that is not counted).
   * Readiness reports PROJECTION_FAILING from it (issue 8, finding 7).
   */
  failures(): { consecutive: number; lastError?: string };
}

/**
 * The positions of a write that a read model consuming `inputs` must show, reduced to the highest
 * offset per topic:partition (positions on other topics never hold it up).
 */
function highestPositions(positions: readonly RecordMetadata[], inputs: ReadonlySet<string>): OffsetMap {
  const need = new Map<string, number>();
  for (const p of positions) {
    if (!inputs.has(p.topic)) continue;
    const k = tpKey(p.topic, p.partition);
    if (p.offset > (need.get(k) ?? -1)) need.set(k, p.offset);
  }
  return need;
}

/** True when checkpoint `applied` (next offset per `topic:partition`) is past every offset of `need`. */
const coversHighest = (applied: OffsetMap, need: OffsetMap): boolean => {
  for (const [k, offset] of need) if ((applied.get(k) ?? 0) <= offset) return false;
  return true;
};

/**
 * True when a read model whose checkpoint is `applied` (next offset per `topic:partition`) shows
 * every write at `positions`; positions on topics it does not consume (not in `inputs`) never hold
 * it up. The read-your-writes rule, in process (`waitFor`, which reduces the positions once) and
 * across processes (a gateway polling the checkpoint stored with the read model on its server).
 */
export function checkpointCovers(applied: OffsetMap, positions: readonly RecordMetadata[], inputs: ReadonlySet<string>): boolean {
  return coversHighest(applied, highestPositions(positions, inputs));
}

/**
 * The applied position per topic:partition ("next offset", Kafka's committed-offset convention)
 * and the `waitFor` waiters on it.
 */
export function createAppliedTracker(topics: readonly string[]) {
  const applied = new Map<string, number>();
  const waiters = new Set<() => void>();
  const topicSet = new Set(topics);
  let stopped = false;
  return {
    advance(cp: OffsetMap) {
      for (const [k, v] of cp) if (v > (applied.get(k) ?? 0)) applied.set(k, v);
      for (const w of [...waiters]) w();
    },
    next: (topic: string, partition: number) => applied.get(tpKey(topic, partition)) ?? 0,
    stop() { stopped = true; for (const w of [...waiters]) w(); },
    waitFor(positions: RecordMetadata[], timeoutMs: number): Promise<boolean> {
      const need = highestPositions(positions, topicSet); // once: an advance checks one entry per partition
      if (coversHighest(applied, need)) return Promise.resolve(true);
      if (stopped) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const finish = (ok: boolean) => { clearTimeout(timer); waiters.delete(check); resolve(ok); };
        const check = () => { if (coversHighest(applied, need)) finish(true); else if (stopped) finish(false); };
        const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
        waiters.add(check);
      });
    },
  };
}

export type AppliedTracker = ReturnType<typeof createAppliedTracker>;

/** Longest stretch of decoding a projection step runs before yielding to the event loop, ms. */
const YIELD_AFTER_MS = 2;

/**
 * One step of a projection, shared by the runtime and the test driver: drops records the read
 * model has already applied, decodes the rest (an undecodable record or a tombstone is logged,
 * passed with `event: undefined` and still checkpointed, so it never wedges the partition),
 * applies them with their checkpoint and advances `tracker`. Steps of one partition must not overlap. Resolves
 * with the number of records applied (0 for a batch already applied).
 */
export function createProjectionStep(node: ProjectionNode, codec: EventCodec, tracker: AppliedTracker, logger: pino.Logger) {
  return async (topic: string, partition: number, batch: LogRecord[]): Promise<number> => {
    const from = tracker.next(topic, partition);
    const fresh = batch.filter((r) => r.offset >= from);
    if (!fresh.length) return 0;
    const records: DecodedRecord[] = [];
    let slice = performance.now();
    for (const record of fresh) {
      // A long batch decodes in slices of YIELD_AFTER_MS, letting requests and fsync completions
      // in between: in standalone the gateway shares this thread (issue 12: heartbeats' p99).
      if (performance.now() - slice > YIELD_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      let event: DomainEvent | undefined;
      const at = { projection: node.name, topic: record.topic, partition: record.partition, offset: record.offset };
      if (record.value === null) {
        logger.warn(at, 'projection: skipping tombstone');
      } else {
        try {
          event = await decodeShared(codec, record as LogRecord & { value: Buffer }); // value checked above
        } catch (err) {
          // Only a CodecError is a bad record (the port's contract); anything else, e.g. the data-key
          // store unreachable (issue 13), is an outage: the batch is retried.
          if (!(err instanceof CodecError)) throw err;
          logger.warn({ ...at, err }, 'projection: skipping undecodable record');
        }
      }
      records.push({ record, event });
    }
    const checkpoint: OffsetMap = new Map([[tpKey(topic, partition), fresh[fresh.length - 1].offset + 1]]);
    await node.apply({ topic, partition, records, checkpoint });
    tracker.advance(checkpoint);
    return fresh.length;
  };
}

/** How often a projection commits its group offset by default, ms (`RunProjectionOptions.commitIntervalMs`). */
export const DEFAULT_COMMIT_INTERVAL_MS = 1000;

export interface RunProjectionOptions {
  log: EventLog;
  codec: EventCodec;
  /** Default `streamwave.projection.<node.name>`. */
  groupId?: string;
  /**
   * Lower bound of the start offsets per assigned partition (a replay from a timestamp): the
   * stored checkpoint still wins where it is further ahead.
   */
  startAt?(partitions: TopicPartition[]): Promise<OffsetMap>;
  logger?: pino.Logger;
  /** Registry for the projection metrics (projection-metrics.ts); none are recorded when omitted. */
  registry?: Registry;
  /** The `instance` label of the metrics (the replay manager's instance id). Default `primary`. */
  instance?: string;
  /**
   * How often the group offset is committed, ms (the subscription's `commitIntervalMs`, Kafka
   * Streams' `commit.interval.ms`). The read model's own checkpoint is what a restart resumes
   * from; the group offset only shows its progress to other tools. Default 1000.
   */
  commitIntervalMs?: number;
}

/**
 * Subscribes `node` to its input topics and applies batches until stopped. Stopping waits for the
 * batch in flight and then calls `node.flush`; it does not close the node.
 * @throws whatever `node.ready()` or `log.subscribe` throws (e.g. EventLogError UNKNOWN_TOPIC).
 */
export async function runProjection(node: ProjectionNode, opts: RunProjectionOptions): Promise<ProjectionHandle> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const groupId = opts.groupId ?? projectionGroupId(node.name);
  await node.ready?.();
  const tracker = createAppliedTracker(node.inputs);
  tracker.advance(await node.loadCheckpoint());
  const step = createProjectionStep(node, opts.codec, tracker, logger);
  /**
   * Per partition, the batch being applied: the partition's next batch waits for it. Batches of
   * different partitions overlap only with `node.partitionsConcurrently`. A batch handed over
   * again while its first delivery still runs waits, and the step drops what that one applied:
   * the Kafka adapter hands a partition over again when its batch handler itself throws (a
   * commit refused in a rebalance; kafkajs then re-fetches every partition, kafkajs#946), not
   * when `apply` throws (the adapter catches that and redelivers in order).
   */
  const chains = new Map<string, Promise<unknown>>();
  /** Per partition (`topic:partition`) failing now: its consecutive failed batches and the last error. */
  const failing = new Map<string, { consecutive: number; lastError: string }>();
  /** Partitions (`topic:partition`) of the current assignment: only theirs are counted. */
  let owned = new Set<string>();
  const failures = (): { consecutive: number; lastError?: string } => {
    let worst: { consecutive: number; lastError?: string } = { consecutive: 0 };
    for (const f of failing.values()) if (f.consecutive > worst.consecutive) worst = f;
    return { ...worst };
  };
  const metrics = opts.registry && projectionMetricsOn(opts.registry);
  const instance = opts.instance ?? 'primary';
  const timed = async (topic: string, partition: number, records: LogRecord[]): Promise<void> => {
    if (!metrics) {
      await step(topic, partition, records);
      return;
    }
    const endTimer = metrics.batchDuration.startTimer({ projection: node.name });
    try {
      const applied = await step(topic, partition, records);
      metrics.events.inc({ projection: node.name, instance }, applied);
      metrics.observeApplied(node.name, records, applied);
      metrics.batches.inc({ projection: node.name, outcome: 'ok' });
    } catch (err) {
      metrics.batches.inc({ projection: node.name, outcome: 'error' });
      throw err;
    } finally {
      endTimer();
    }
  };
  const consumer = await opts.log.subscribe({
    groupId,
    topics: [...node.inputs],
    fromBeginning: true,
    maxBatchSize: node.maxBatchSize,
    fetchMaxWaitMs: node.fetchMaxWaitMs,
    partitionsConsumedConcurrently: node.partitionsConcurrently,
    commitIntervalMs: opts.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS,
    async onAssigned(partitions: TopicPartition[]) {
      owned = new Set(partitions.map((tp) => tpKey(tp.topic, tp.partition)));
      for (const k of failing.keys()) if (!owned.has(k)) failing.delete(k); // its failures are another instance's now
      await node.onAssigned?.(partitions);
      const cp = await node.loadCheckpoint();
      const floor = (await opts.startAt?.(partitions)) ?? new Map<string, number>();
      const seek: OffsetMap = new Map();
      // Unseen partitions start at 0 (or the replay's lower bound), not at the group's committed
      // offset: the read model has applied nothing of them.
      for (const tp of partitions) {
        const k = tpKey(tp.topic, tp.partition);
        seek.set(k, Math.max(cp.get(k) ?? 0, floor.get(k) ?? 0));
      }
      logger.info({ projection: node.name, groupId, seek: Object.fromEntries(seek) }, 'projection: seeking to the stored checkpoint');
      return seek;
    },
    eachBatch(batch) {
      const key = tpKey(batch.topic, batch.partition);
      const run = (chains.get(key) ?? Promise.resolve()).then(() => timed(batch.topic, batch.partition, batch.records));
      chains.set(key, run.then(
        () => { failing.delete(key); },
        (err: unknown) => {
          if (!owned.has(key)) return; // revoked while it ran: another instance counts it now
          failing.set(key, { consecutive: (failing.get(key)?.consecutive ?? 0) + 1, lastError: err instanceof Error ? err.message : String(err) });
        },
      ));
      return run;
    },
  });
  const untrack = metrics?.track({
    projection: node.name, instance, group: groupId, lag: () => consumer.lag(), failures: () => failures().consecutive,
  });
  let stopping: Promise<void> | undefined;
  return {
    caughtUp: () => consumer.caughtUp(),
    lag: () => consumer.lag(),
    stop() {
      stopping ??= (async () => {
        await consumer.stop();
        await Promise.all(chains.values());
        untrack?.();
        tracker.stop();
        await node.flush?.();
      })();
      return stopping;
    },
    waitFor: (positions, timeoutMs) => tracker.waitFor(positions, timeoutMs),
    failures,
  };
}
