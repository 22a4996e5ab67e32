/**
 * Interval offset commits for an adapter's subscription (`Subscription.commitIntervalMs`, Kafka
 * Streams' `commit.interval.ms`): the offsets handled since the last commit are gathered per
 * partition and committed together, at most once per interval — right away when the interval has
 * passed since the last commit, else by a timer at the end of the interval (so an idle stream
 * still commits), and on `flush` when the consumer stops.
 *
 * Commits are serialized: a later commit never overtakes an earlier one, so while one member owns
 * a partition its group offset only moves forward. A failed commit (the adapter logs it) makes its
 * offsets pending again for the next interval, unless a newer offset of that partition came
 * meanwhile. `reset` (a rebalance) forgets what is pending and what is queued, so offsets of an
 * earlier assignment never land over a later owner's.
 */
import type { OffsetMap } from './event-log.port.ts';
import { settledWithin } from '../shared/settled-within.ts';

/** Commits `offsets` (key `topic:partition` → next offset to read); false when it failed (logged by the callee). */
export type CommitOffsets = (offsets: OffsetMap) => Promise<boolean>;

export class IntervalCommits {
  /** Handled offsets not committed yet. */
  private readonly pending: OffsetMap = new Map();
  private timer: NodeJS.Timeout | null = null;
  /** The last commit's start, ms since the epoch (0: none yet, so the first handled batch commits at once). */
  private lastCommit = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Incremented by `reset`: commits queued before it are skipped. */
  private epoch = 0;

  /**
   * @param intervalMs the interval, ms (> 0)
   * @param commit writes the offsets to the group; must not throw (false when it failed)
   */
  constructor(private readonly intervalMs: number, private readonly commit: CommitOffsets) {}

  /**
   * Records that the partition `key` was handled up to `next` (the next offset to read) and
   * commits everything pending when the interval since the last commit has passed.
   * Resolves after that commit, else at once (a timer commits at the end of the interval).
   * Ignored after `flush`.
   */
  handled(key: string, next: number): Promise<void> {
    if (this.closed) return Promise.resolve(); // after flush: nothing can commit any more
    this.pending.set(key, next);
    if (Date.now() - this.lastCommit >= this.intervalMs) return this.commitPending();
    this.arm();
    return Promise.resolve();
  }

  /**
   * Records `next` for the partition `key` without committing now: the timer commits it at the end
   * of the interval (at once when nothing was committed yet). For a start position the subscriber's
   * own checkpoint put ahead of the group offset, which would otherwise show as lag until that
   * partition's next batch.
   */
  pend(key: string, next: number): void {
    this.pending.set(key, next);
    this.arm();
  }

  /**
   * Forgets the pending offsets and skips the commits queued but not started (a new assignment:
   * the adapter pends its start positions again). A commit already sent is not recalled.
   */
  reset(): void {
    this.pending.clear();
    this.epoch++;
  }

  /**
   * Commits what is pending now and stops the timer for good (the consumer stops).
   * @param maxWaitMs resolve after this many ms even when the commit has not finished (it goes on)
   */
  async flush(maxWaitMs = Infinity): Promise<void> {
    this.closed = true;
    const commit = this.commitPending();
    await (Number.isFinite(maxWaitMs) ? settledWithin(commit, maxWaitMs) : commit);
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => void this.commitPending(), Math.max(0, this.lastCommit + this.intervalMs - Date.now()));
    this.timer.unref(); // flush() commits what is left
  }

  /** Commits every pending offset in one write, after the commits before it. */
  private commitPending(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return this.chain;
    const offsets = new Map(this.pending);
    this.pending.clear();
    this.lastCommit = Date.now();
    const epoch = this.epoch;
    this.chain = this.chain.then(async () => {
      if (epoch !== this.epoch || await this.commit(offsets) || epoch !== this.epoch) return;
      for (const [k, v] of offsets) if (!this.pending.has(k)) this.pending.set(k, v);
      this.arm();
    });
    return this.chain;
  }
}
