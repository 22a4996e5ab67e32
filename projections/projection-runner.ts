import pino from 'pino';
import type { DomainEvent } from '../domain/events.ts';
import type { EventLog, LogRecord, OffsetMap, RecordMetadata, TopicPartition } from '../platform/log/event-log.port.ts';
import { tpKey } from '../platform/log/event-log.port.ts';
import type { EventCodec } from '../schemas/event-codec.port.ts';
import type { ProjectionHandle } from './projection.port.ts';

/** One record of a batch with its decoded event (`undefined` when it could not be decoded). */
export interface DecodedRecord {
  record: LogRecord;
  event: DomainEvent | undefined;
}

/** A batch handed to a projection: only records not yet applied, in offset order. */
export interface ProjectionBatch {
  topic: string;
  partition: number;
  records: DecodedRecord[];
  /** Checkpoint entry to store atomically with the batch's state: `{ 'topic:partition' → next offset }`. */
  checkpoint: OffsetMap;
}

export interface RunProjectionOptions {
  log: EventLog;
  groupId: string;
  topics: readonly string[];
  codec: EventCodec;
  /** The checkpoint stored with the read model's state. */
  loadCheckpoint(): Promise<OffsetMap>;
  /**
   * Applies a batch and stores `batch.checkpoint` atomically with it. Throwing makes the log
   * redeliver the batch (nothing of it must have been stored). Calls are serialised.
   */
  apply(batch: ProjectionBatch): Promise<void>;
  maxBatchSize?: number;
  logger?: pino.Logger;
}

/**
 * Tracks the applied position per topic:partition and resolves `waitFor` waiters.
 * Positions are "next offset" (Kafka committed-offset convention).
 */
export function createAppliedTracker(topics: readonly string[]) {
  const applied = new Map<string, number>();
  const waiters = new Set<() => void>();
  const topicSet = new Set(topics);
  const done = (positions: RecordMetadata[]) =>
    positions.every((p) => !topicSet.has(p.topic) || (applied.get(tpKey(p.topic, p.partition)) ?? 0) > p.offset);
  let stopped = false;
  return {
    advance(cp: OffsetMap) {
      for (const [k, v] of cp) if (v > (applied.get(k) ?? 0)) applied.set(k, v);
      for (const w of [...waiters]) w();
    },
    next: (topic: string, partition: number) => applied.get(tpKey(topic, partition)) ?? 0,
    stop() { stopped = true; for (const w of [...waiters]) w(); },
    reset() { stopped = false; },
    waitFor(positions: RecordMetadata[], timeoutMs: number): Promise<boolean> {
      if (done(positions)) return Promise.resolve(true);
      if (stopped) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const finish = (ok: boolean) => { clearTimeout(timer); waiters.delete(check); resolve(ok); };
        const check = () => { if (done(positions)) finish(true); else if (stopped) finish(false); };
        const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
        waiters.add(check);
      });
    },
  };
}

export type AppliedTracker = ReturnType<typeof createAppliedTracker>;

/**
 * Runs a projection on the log: seeks to the stored checkpoint on assignment, skips records
 * below it (redelivery), decodes records (an undecodable record is logged, passed with
 * `event: undefined` and still checkpointed), serialises `apply` calls and advances `tracker`
 * after each applied batch.
 */
export async function runProjection(opts: RunProjectionOptions, tracker: AppliedTracker): Promise<ProjectionHandle> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  tracker.reset();
  tracker.advance(await opts.loadCheckpoint());
  let chain: Promise<unknown> = Promise.resolve();
  const consumer = await opts.log.subscribe({
    groupId: opts.groupId,
    topics: [...opts.topics],
    fromBeginning: true,
    maxBatchSize: opts.maxBatchSize,
    async onAssigned(partitions: TopicPartition[]) {
      const cp = await opts.loadCheckpoint();
      const seek: OffsetMap = new Map();
      // Unseen partitions start at 0 (from the beginning), not at the group's committed offset:
      // the read model has applied nothing of them.
      for (const tp of partitions) seek.set(tpKey(tp.topic, tp.partition), cp.get(tpKey(tp.topic, tp.partition)) ?? 0);
      logger.info({ groupId: opts.groupId, seek: Object.fromEntries(seek) }, 'projection: seeking to stored checkpoint');
      return seek;
    },
    eachBatch(batch) {
      const run = chain.then(async () => {
        const from = tracker.next(batch.topic, batch.partition);
        const fresh = batch.records.filter((r) => r.offset >= from);
        if (!fresh.length) return;
        const records: DecodedRecord[] = [];
        for (const record of fresh) {
          let event: DomainEvent | undefined;
          if (record.value === null) {
            logger.warn({ topic: record.topic, partition: record.partition, offset: record.offset }, 'projection: skipping tombstone');
          } else {
            try {
              event = await opts.codec.decode(record.value);
            } catch (err) {
              logger.warn({ err, topic: record.topic, partition: record.partition, offset: record.offset }, 'projection: skipping undecodable record');
            }
          }
          records.push({ record, event });
        }
        const checkpoint: OffsetMap = new Map([[tpKey(batch.topic, batch.partition), fresh[fresh.length - 1].offset + 1]]);
        await opts.apply({ topic: batch.topic, partition: batch.partition, records, checkpoint });
        tracker.advance(checkpoint);
      });
      chain = run.catch(() => undefined);
      return run;
    },
  });
  return {
    caughtUp: () => consumer.caughtUp(),
    lag: () => consumer.lag(),
    async stop() {
      await consumer.stop();
      await chain;
      tracker.stop();
    },
    waitFor: (positions, timeoutMs) => tracker.waitFor(positions, timeoutMs),
  };
}

/** What `createProjectionLifecycle` needs besides the log: the `runProjection` options and the hooks. */
export interface ProjectionLifecycleOptions extends Omit<RunProjectionOptions, 'log'> {
  /** Projection name, for the error messages (`video-detail`, …). */
  name: string;
  /** The projection's tracker (also serves its `waitFor` before a start). */
  tracker: AppliedTracker;
  /** Awaited before subscribing, e.g. a snapshot still loading; a rejection fails `start`. */
  beforeStart?(): Promise<void>;
  /** Run after the handle returned by `start` has stopped its consumer, e.g. a snapshot flush. */
  afterStop?(): Promise<void>;
  /** Closes the store; run once by `close`, after the running consumer (if any) has stopped. */
  release(): Promise<void>;
}

/**
 * `start`/`close` of a Projection over runProjection, the part every read model shares: at most
 * one running consumer, `close` idempotent and stopping a running consumer before `release`.
 * `start` throws `Error` when the projection is closed or already started.
 */
export function createProjectionLifecycle(opts: ProjectionLifecycleOptions): { start(log: EventLog): Promise<ProjectionHandle>; close(): Promise<void> } {
  const { name, tracker, beforeStart, afterStop, release, ...run } = opts;
  let handle: ProjectionHandle | undefined;
  let closed = false;
  return {
    async start(log) {
      if (closed) throw new Error(`${name} projection is closed`);
      if (handle) throw new Error(`${name} projection already started`);
      await beforeStart?.();
      handle = await runProjection({ ...run, log }, tracker);
      const h = handle;
      return { ...h, stop: async () => { await h.stop(); if (handle === h) handle = undefined; await afterStop?.(); } };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (handle) await handle.stop();
      handle = undefined;
      await release();
    },
  };
}
