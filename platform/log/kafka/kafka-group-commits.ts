/**
 * Group offset commits of a Kafka subscription (kafka-consumer.ts): after every batch, through the
 * batch's payload (synchronous, fenced by the group generation), or with `commitIntervalMs` at
 * most once per interval through the member (../interval-commits.ts). Commits past fetches of
 * only transaction markers are in kafka-marker-commits.ts.
 *
 * Interval commits are sent only for partitions assigned and positioned at commit time. kafkajs'
 * `consumer.commitOffsets` returns without sending anything while its runner is not running
 * (a consumer restarting after a crash), and a crash marks every partition as setting up until
 * the next GROUP_JOIN, so such partitions are skipped here; the GROUP_JOIN resets the interval
 * commits and the new assignment pends its start positions again (the subscriber's checkpoint).
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { pino } from 'pino';
import type { OffsetMap, Subscription } from '../event-log.port.ts';
import { parseTpKey, tpKey } from '../event-log.port.ts';
import { IntervalCommits } from '../interval-commits.ts';

/** The parts of a live subscription the commits read (kafka-consumer.ts' GroupSubscription). Keys are broker-side `topic:partition`. */
export interface CommitState {
  readonly sub: Subscription;
  readonly consumer: Consumer;
  readonly log: pino.Logger;
  /** Partitions of the current generation. */
  readonly assigned: Set<string>;
  /** Partitions not positioned yet (after a GROUP_JOIN or a crash). */
  readonly settingUp: Set<string>;
  readonly intervalCommits: IntervalCommits | null;
}

/** The interval commits of a subscription, or null when it commits after every batch or not at all. */
export function intervalCommitsFor(sub: Subscription, state: () => CommitState): IntervalCommits | null {
  const interval = sub.commitIntervalMs ?? 0;
  return sub.commitOffsets !== false && interval > 0 ? new IntervalCommits(interval, (offsets) => commitAssigned(state(), offsets)) : null;
}

/**
 * Commits the batch's partition up to `next` (the next offset to read): synchronously, or at the
 * subscription's commit interval; not at all for a subscription without commits. An interval
 * commit is not awaited: kafkajs retries a commit that fails on the connection or a moved
 * coordinator, and the batch (and with it a rebalance) would wait for those retries.
 */
export async function commitPast(s: CommitState, payload: EachBatchPayload, next: number): Promise<void> {
  const { topic, partition } = payload.batch;
  if (s.sub.commitOffsets === false) return;
  if (s.intervalCommits) return void s.intervalCommits.handled(tpKey(topic, partition), next);
  await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: String(next) }] }] });
}

/**
 * An interval (or marker) commit through the member: the offsets of the partitions assigned and
 * positioned when it is called; the others are left to the next assignment (see the file comment).
 * kafkajs sends it with the generation current at each attempt (its retrier may cross a rebalance).
 * @returns false when the commit failed (logged; an interval commit is pending again for the next interval); never rejects
 */
export async function commitAssigned(s: CommitState, offsets: OffsetMap): Promise<boolean> {
  const parts = [...offsets].filter(([k]) => s.assigned.has(k) && !s.settingUp.has(k))
    .map(([k, next]) => ({ ...parseTpKey(k), offset: String(next) }));
  if (parts.length === 0) return true;
  try {
    await s.consumer.commitOffsets(parts);
    return true;
  } catch (e) {
    s.log.warn({ err: e, partitions: parts.length }, s.intervalCommits ? 'interval offset commit failed; retrying at the next interval' : 'offset commit past a transaction marker failed; the next batch commits past it');
    return false;
  }
}
