/**
 * A consumer of the embedded log: one loop per subscription that hands batches of the assigned
 * partitions to `eachBatch` and commits the group offset past each batch once it resolves
 * (at-least-once: a crash between the two redelivers the batch), or, with `commitIntervalMs`, at
 * most once per interval for all its partitions in one write. With `fetchMaxWaitMs` a partition's
 * small backlog waits up to that long to fill a batch of `maxBatchSize`. Order within a partition is
 * kept; up to `partitionsConsumedConcurrently` partitions have a batch in flight at once. A
 * throwing `eachBatch` is redelivered after a delay that doubles per consecutive failure.
 */
import type { Logger } from 'pino';
import type { ConsumerHandle, OffsetMap, Subscription, TopicPartition } from '../event-log.port.ts';
import { tpKey } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';
import type { PartitionLog } from './partition-log.ts';
import { IntervalCommits } from '../interval-commits.ts';

/** Upper bound of the redelivery delay, and the pause after a failed read, milliseconds. */
const MAX_REDELIVERY_DELAY_MS = 5_000;
/** Longest sleep of an idle loop between checks, milliseconds (appends wake it earlier). */
const IDLE_POLL_MS = 1_000;
const DEFAULT_MAX_BATCH_SIZE = 500;

/** An assigned partition with its log and the consumer's position in it. */
export interface Assignment extends TopicPartition {
  log: PartitionLog;
  /** Offset of the next record to deliver. */
  start: number;
  /** The group's committed offset of the partition, if any. */
  committed?: number;
}

export interface EmbeddedSubscriptionDeps {
  /** Commits offsets for the subscription's group (the log's `commitOffsets`). */
  commit(groupId: string, offsets: OffsetMap): Promise<void>;
  /** Called once when the consumer stops (the log forgets it). */
  onStop(consumer: EmbeddedSubscription): void;
  /** First redelivery delay after a throwing `eachBatch`, milliseconds. */
  redeliveryDelayMs: number;
  logger: Logger;
}

/**
 * Where each assigned partition starts: the offset `onAssigned` returned, else the group's
 * committed offset, else the beginning (or the end when `fromBeginning` is false). A start outside
 * `0..end` is reset to the end, like Kafka's auto.offset.reset on OffsetOutOfRange.
 */
export function startOffsets(
  sub: Subscription,
  partitions: { topic: string; partition: number; log: PartitionLog }[],
  seek: OffsetMap,
  committed: OffsetMap,
  logger: Logger,
): Assignment[] {
  return partitions.map(({ topic, partition, log }) => {
    const k = tpKey(topic, partition);
    let start = seek.get(k) ?? committed.get(k) ?? (sub.fromBeginning === false ? log.end : 0);
    if (start > log.end || start < 0) {
      logger.warn({ groupId: sub.groupId, tp: k, start, end: log.end }, 'consumer start offset out of range; resetting to end');
      start = log.end;
    }
    return { topic, partition, log, start, committed: committed.get(k) };
  });
}

interface PartitionState {
  tp: TopicPartition;
  key: string;
  log: PartitionLog;
  /** Offset of the next record to deliver. */
  pos: number;
  /** Consecutive failures of `eachBatch` on this partition. */
  failures: number;
  /** Not before this time (ms since epoch) after a failure. */
  retryAt: number;
  /**
   * With `fetchMaxWaitMs`: when the records waiting here started gathering (performance.now(), ms):
   * when the loop first saw them, or the previous batch's delivery if they came while it was
   * applied (or that batch failed: its redelivery comes at the later of its retry time and the
   * wait's end); 0 when none wait.
   */
  waitingSince: number;
  inFlight: Promise<void> | null;
}

export class EmbeddedSubscription {
  private readonly parts: PartitionState[];
  private readonly concurrency: number;
  private readonly maxBatch: number;
  /** `fetchMaxWaitMs`, 0 to deliver as soon as records are there. */
  private readonly fetchMaxWait: number;
  private stopped = false;
  /** Set when something changed while the loop was scanning: scan again instead of sleeping. */
  private dirty = true;
  private wakeLoop: (() => void) | null = null;
  private readonly progressListeners = new Set<() => void>();
  private running: Promise<void> = Promise.resolve();
  /** `commitIntervalMs` > 0: the interval commits. */
  private readonly intervalCommits: IntervalCommits | null;

  constructor(private readonly sub: Subscription, assignments: Assignment[], private readonly deps: EmbeddedSubscriptionDeps) {
    // One state per partition, even if a topic is listed twice.
    const byKey = new Map<string, PartitionState>();
    for (const a of assignments) {
      const key = tpKey(a.topic, a.partition);
      if (!byKey.has(key)) {
        byKey.set(key, { tp: { topic: a.topic, partition: a.partition }, key, log: a.log, pos: a.start, failures: 0, retryAt: 0, waitingSince: 0, inFlight: null });
      }
    }
    this.parts = [...byKey.values()];
    this.concurrency = Math.max(1, sub.partitionsConsumedConcurrently ?? 1);
    this.maxBatch = sub.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    const commitInterval = Math.max(0, sub.commitIntervalMs ?? 0);
    this.intervalCommits = commitInterval > 0 ? new IntervalCommits(commitInterval, (offsets) => this.commitOffsets(offsets)) : null;
    this.fetchMaxWait = Math.max(0, sub.fetchMaxWaitMs ?? 0);
    // A start the subscriber's own checkpoint put ahead of the group offset is committed at the
    // first interval, or the group would show lag for applied records until that partition's next batch.
    for (const a of assignments) if (a.start > (a.committed ?? 0)) this.intervalCommits?.pend(tpKey(a.topic, a.partition), a.start);
  }

  /** Starts the loop; a crash of the loop itself is logged. */
  start(): void {
    this.running = this.loop().catch((err) => this.deps.logger.error({ err, groupId: this.sub.groupId }, 'consumer loop crashed'));
  }

  /** Wakes the loop: new records may be there. */
  notify(): void {
    this.dirty = true;
    const w = this.wakeLoop;
    this.wakeLoop = null;
    w?.();
  }

  /** Stops the loop and waits for the batches in flight. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.deps.onStop(this);
      this.notify();
    }
    await this.running;
    await this.intervalCommits?.flush();
    this.progressed();
  }

  /** The port's handle. */
  handle(): ConsumerHandle {
    return {
      caughtUp: () => this.caughtUp(),
      lag: async () => new Map(this.parts.map((p) => [p.key, p.log.end - p.pos])),
      stop: () => this.stop(),
    };
  }

  /** @throws EventLogError CONSUMER_STOPPED when stopped before reaching the end offsets taken now. */
  private async caughtUp(): Promise<void> {
    const targets = this.parts.map((p) => [p, p.log.end] as const);
    for (;;) {
      if (targets.every(([p, end]) => p.pos >= end)) return;
      if (this.stopped) throw new EventLogError('CONSUMER_STOPPED', `consumer ${this.sub.groupId} stopped before catching up`);
      await new Promise<void>((r) => {
        const l = () => { this.progressListeners.delete(l); r(); };
        this.progressListeners.add(l);
      });
    }
  }

  private progressed(): void {
    for (const l of [...this.progressListeners]) l();
  }

  private inFlightCount(): number {
    return this.parts.reduce((n, p) => n + (p.inFlight ? 1 : 0), 0);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.dirty = false;
      let nextRetry = Infinity;
      const now = Date.now();
      for (const p of this.parts) {
        if (this.inFlightCount() >= this.concurrency) break;
        if (p.inFlight || p.pos >= p.log.end) continue;
        if (p.retryAt > now) { nextRetry = Math.min(nextRetry, p.retryAt); continue; }
        if (this.fetchMaxWait > 0 && p.log.end - p.pos < this.maxBatch) {
          // Fetch wait: let a small backlog grow into a full batch, up to fetchMaxWaitMs from
          // when it started gathering (waitingSince; monotonic clock: a wall-clock step cannot stall it).
          const mono = performance.now();
          if (p.waitingSince === 0) p.waitingSince = mono;
          const left = p.waitingSince + this.fetchMaxWait - mono;
          if (left > 0) { nextRetry = Math.min(nextRetry, now + left); continue; }
        }
        const deliveredAt = performance.now();
        p.inFlight = this.consume(p)
          .catch((err) => {
            this.deps.logger.error({ err, groupId: this.sub.groupId, tp: p.key }, 'consumer read failed');
            p.retryAt = Date.now() + MAX_REDELIVERY_DELAY_MS;
          })
          .finally(() => {
            p.inFlight = null;
            // Records that came while this batch was applied have been gathering since it was
            // delivered: their fetch wait counts from then, not from now (as the Kafka adapter's).
            p.waitingSince = p.pos < p.log.end ? deliveredAt : 0;
            this.progressed();
            this.notify();
          });
      }
      if (this.dirty || this.stopped) continue;
      const wait = Math.max(1, Math.min(IDLE_POLL_MS, nextRetry - Date.now()));
      await new Promise<void>((r) => {
        const timer = setTimeout(() => { this.wakeLoop = null; r(); }, wait);
        this.wakeLoop = () => { clearTimeout(timer); r(); };
      });
    }
    await Promise.all(this.parts.map((p) => p.inFlight));
  }

  /** Delivers one batch of `p` and commits past it; a throwing `eachBatch` schedules a redelivery. */
  private async consume(p: PartitionState): Promise<void> {
    const { sub, deps } = this;
    const records = await p.log.read(p.pos, this.maxBatch);
    if (!records.length || this.stopped) return;
    try {
      await sub.eachBatch({ topic: p.tp.topic, partition: p.tp.partition, records });
    } catch (err) {
      p.failures += 1;
      const delay = Math.min(MAX_REDELIVERY_DELAY_MS, deps.redeliveryDelayMs * 2 ** (p.failures - 1));
      p.retryAt = Date.now() + delay;
      deps.logger.warn({ err, groupId: sub.groupId, tp: p.key, offset: records[0].offset, attempt: p.failures, delayMs: delay }, 'eachBatch failed; redelivering');
      return;
    }
    p.failures = 0;
    p.retryAt = 0;
    const next = records[records.length - 1].offset + 1;
    p.pos = next;
    if (this.intervalCommits) await this.intervalCommits.handled(p.key, next);
    else await this.commitOffsets(new Map([[p.key, next]]));
  }

  /** False when the commit failed (logged). */
  private async commitOffsets(offsets: OffsetMap): Promise<boolean> {
    try {
      await this.deps.commit(this.sub.groupId, offsets);
      return true;
    } catch (err) {
      // Position already advanced in memory; after a restart the batch is redelivered (at-least-once).
      this.deps.logger.error({ err, groupId: this.sub.groupId, tps: [...offsets.keys()] }, 'offset commit failed');
      return false;
    }
  }
}
