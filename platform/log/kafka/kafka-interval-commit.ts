/**
 * Group offset commits at an interval for the Kafka EventLog's subscriptions that ask for it
 * (`Subscription.commitIntervalMs`, Kafka Streams' `commit.interval.ms`): projections, whose own
 * checkpoint is what a new owner of a partition resumes from, so their group offset only shows
 * their progress. Saves one OffsetCommit round trip per batch.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { pino } from 'pino';
import { tpKey, type Subscription } from '../event-log.port.ts';

/** The part of a subscription's state the interval commits use (kafka-consumer.ts GroupSubscription). */
export interface IntervalCommits {
  readonly sub: Subscription;
  readonly consumer: Consumer;
  readonly log: pino.Logger;
  /** Broker-side `topic:partition` keys of the current generation, and those not positioned yet. */
  assigned: Set<string>;
  readonly settingUp: Set<string>;
  stopped: boolean;
  /** Next offsets handled but not committed yet, by broker-side `topic:partition`. */
  readonly uncommitted: Map<string, { topic: string; partition: number; offset: string }>;
  /** The idle commit, pending. */
  commitTimer: NodeJS.Timeout | undefined;
  /** The last commit, ms since epoch. */
  lastCommitAt: number;
}

/**
 * Commits `next` for the batch's partition: at once (in the batch, fenced by its generation), or
 * with `commitIntervalMs` together with the other partitions' handled offsets once the interval
 * has passed, and by a timer when the stream goes idle (Kafka Streams' `commit.interval.ms`).
 */
export async function commitAfterBatch(s: IntervalCommits, payload: EachBatchPayload, next: number): Promise<void> {
  const { topic, partition } = payload.batch;
  const interval = s.sub.commitIntervalMs ?? 0;
  if (interval <= 0) {
    await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: String(next) }] }] });
    return;
  }
  s.uncommitted.set(tpKey(topic, partition), { topic, partition, offset: String(next) });
  if (!s.stopped && Date.now() - s.lastCommitAt < interval) {
    if (!s.commitTimer) {
      s.commitTimer = setTimeout(() => { s.commitTimer = undefined; if (!s.stopped) void commitUncommitted(s); }, s.lastCommitAt + interval - Date.now());
      s.commitTimer.unref(); // stop() commits what is left
    }
    return;
  }
  const offsets = takeUncommitted(s);
  const topics = [...new Set(offsets.map((o) => o.topic))].map((t) => ({ topic: t, partitions: offsets.filter((o) => o.topic === t).map(({ partition: p, offset }) => ({ partition: p, offset })) }));
  if (topics.length) await payload.commitOffsetsIfNecessary({ topics });
}

/** The uncommitted offsets of partitions still assigned and positioned; clears them and the timer. */
function takeUncommitted(s: IntervalCommits): Array<{ topic: string; partition: number; offset: string }> {
  clearTimeout(s.commitTimer);
  s.commitTimer = undefined;
  s.lastCommitAt = Date.now();
  const out = [...s.uncommitted].filter(([k]) => s.assigned.has(k) && !s.settingUp.has(k)).map(([, o]) => o);
  s.uncommitted.clear();
  return out;
}

/**
 * Commits the handled offsets outside a batch (idle timer, stop). The member's current generation
 * fences it; one refused in a rebalance is dropped, since the new owner positions the partition
 * from the subscriber's own checkpoint (the only subscriptions with an interval).
 */
export async function commitUncommitted(s: IntervalCommits): Promise<void> {
  const offsets = takeUncommitted(s);
  if (!offsets.length) return;
  try {
    await s.consumer.commitOffsets(offsets);
  } catch (e) {
    s.log.warn({ err: e, partitions: offsets.length }, 'interval offset commit refused; the next batch commits again');
  }
}
