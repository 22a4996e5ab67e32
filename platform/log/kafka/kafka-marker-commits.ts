/**
 * Commits past fetches of only control records (a transaction's commit or abort marker, KIP-98)
 * or aborted records, for subscriptions that commit after every batch (kafka-consumer.ts).
 *
 * kafkajs resolves such a fetch itself and never calls eachBatch for it, so no batch commits past
 * it: a processor restarted just before a commit marker showed group lag 1 until its next record,
 * where the Java consumer's position (and so its commit) moves past markers.
 *
 * The commit waits until the partition has been idle for MARKER_COMMIT_DELAY_MS and is dropped when
 * the partition's next batch comes first (that batch's own commit goes past the marker anyway), so
 * a busy partition on a transactionally written topic, whose markers may arrive in fetches of their
 * own, pays no extra commit round trip. It is sent through the member (`consumer.commitOffsets`),
 * only while the generation that saw the marker is current, the partition is assigned and
 * positioned, and nothing was consumed past it. A batch that arrives while it is in flight waits
 * for it before its own commit, so the partition's commits stay in order. `stop` sends a waiting
 * one at once.
 *
 * Not for transactional subscriptions: their offsets commit inside their transactions, and a commit
 * through the member that kafkajs retries across a rebalance could land over the next owner's
 * transactional commit (a group offset moving back: outputs produced twice). Like Kafka Streams
 * under exactly-once, they leave a trailing marker to their next transaction.
 */
import type { CommitState } from './kafka-group-commits.ts';
import { commitAssigned } from './kafka-group-commits.ts';
import { settledWithin } from '../../shared/settled-within.ts';

/** How long a partition stays idle after a marker-only fetch before the commit past it is sent, ms. */
export const MARKER_COMMIT_DELAY_MS = 1_000;

/** A commit past markers of one partition: waiting for the partition to stay idle, or in flight. */
interface MarkerCommit {
  /** The next offset to read (one past the last marker). */
  next: number;
  /** The group generation whose fetch held the markers. */
  generation: number;
  /** Set while waiting for the idle delay. */
  timer: NodeJS.Timeout | null;
  /** Set once sent; never rejects. */
  sending: Promise<unknown> | null;
}

/** What the marker commits read of a live per-batch subscription (kafka-consumer.ts' GroupSubscription). */
export interface MarkerCommitState extends CommitState {
  /** Incremented on every GROUP_JOIN. */
  readonly generation: number;
  /** Next offset to process per assigned partition. */
  readonly positions: Map<string, number>;
  /** Per partition (broker-side `topic:partition`). */
  readonly markerCommits: Map<string, MarkerCommit>;
}

/**
 * After a fetch of only markers on partition `ek` moved its position to `next`: commits `next` once
 * the partition has stayed idle for `delayMs` (see the file comment). Interval subscriptions mark
 * it handled instead; subscriptions without commits do nothing.
 */
export function commitMarkersPast(s: MarkerCommitState, ek: string, next: number, delayMs = MARKER_COMMIT_DELAY_MS): void {
  if (s.sub.commitOffsets === false) return;
  if (s.intervalCommits) return void s.intervalCommits.handled(ek, next);
  const waiting = s.markerCommits.get(ek);
  if (waiting?.timer) clearTimeout(waiting.timer);
  const entry: MarkerCommit = { next, generation: s.generation, timer: null, sending: waiting?.sending ?? null };
  entry.timer = setTimeout(() => void send(s, ek, entry), delayMs);
  entry.timer.unref(); // stop sends what is waiting
  s.markerCommits.set(ek, entry);
}

/** Sends `entry` if it still holds (see the file comment), after any commit of the partition in flight. */
function send(s: MarkerCommitState, ek: string, entry: MarkerCommit): Promise<unknown> {
  entry.timer = null;
  const before = entry.sending ?? Promise.resolve();
  entry.sending = before.then(() => {
    const holds = s.generation === entry.generation && s.positions.get(ek) === entry.next;
    return holds ? commitAssigned(s, new Map([[ek, entry.next]])) : undefined;
  }).catch((e: unknown) => s.log.warn({ err: e }, 'offset commit past a transaction marker failed'))
    .finally(() => { if (s.markerCommits.get(ek) === entry && !entry.timer) s.markerCommits.delete(ek); });
  return entry.sending;
}

/**
 * At the start of a batch of partition `ek`: drops a commit still waiting (the batch's own commit
 * supersedes it) and waits for one in flight, so the batch's commit comes after it. Never rejects.
 */
export async function settleMarkerCommit(s: MarkerCommitState, ek: string): Promise<void> {
  const entry = s.markerCommits.get(ek);
  if (!entry) return;
  if (entry.timer) clearTimeout(entry.timer);
  entry.timer = null;
  s.markerCommits.delete(ek);
  await entry.sending;
}

/** On stop: sends every waiting commit now and waits for all of them, at most `maxWaitMs`. */
export async function flushMarkerCommits(s: MarkerCommitState, maxWaitMs: number): Promise<void> {
  const all = [...s.markerCommits].map(([ek, entry]) => {
    if (!entry.timer) return entry.sending;
    clearTimeout(entry.timer);
    return send(s, ek, entry);
  });
  await settledWithin(Promise.all(all), maxWaitMs);
}
