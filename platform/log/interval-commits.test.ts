/** IntervalCommits (interval-commits.ts): what a rebalance's reset does to commits failed or queued before it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OffsetMap } from './event-log.port.ts';
import { IntervalCommits } from './interval-commits.ts';

/** A commit function whose calls wait for `answer(ok)`; `calls` records what each was given. */
function gatedCommit() {
  const calls: Record<string, number>[] = [];
  const answers: ((ok: boolean) => void)[] = [];
  const commit = (offsets: OffsetMap) => new Promise<boolean>((resolve) => { calls.push(Object.fromEntries(offsets)); answers.push(resolve); });
  /** Resolves once a call is waiting for its answer (the chain calls on a later tick). */
  const out = async () => { while (answers.length === 0) await new Promise((r) => setImmediate(r)); };
  const answer = async (ok: boolean) => { await out(); answers.shift()!(ok); };
  return { calls, commit, answer, out };
}

test('given a commit that fails after a reset, when the consumer flushes, then the failed offsets are not sent again', async () => {
  const g = gatedCommit();
  const commits = new IntervalCommits(600_000, g.commit);
  const first = commits.handled('t:0', 5); // the first commit of an interval goes at once
  await g.out();
  commits.reset(); // a rebalance while that commit is out
  await g.answer(false);
  await first;
  await commits.flush();
  assert.deepEqual(g.calls, [{ 't:0': 5 }], 'a partition of the old assignment is not committed again');
});

test('given offsets pending and a commit queued, when a reset comes, then neither is sent; offsets handled after it are', async () => {
  const g = gatedCommit();
  const commits = new IntervalCommits(600_000, g.commit);
  void commits.handled('t:0', 5);
  await g.out();
  commits.pend('t:1', 7); // waits for the interval
  const flushed = commits.flush(); // queues {t:1: 7} behind the commit in flight
  commits.reset();
  await g.answer(true);
  await flushed;
  assert.deepEqual(g.calls, [{ 't:0': 5 }], 'the commit queued before the reset is skipped');

  const again = new IntervalCommits(600_000, g.commit);
  void again.handled('t:0', 5);
  await g.answer(true);
  void again.handled('t:0', 7); // within the interval: pending
  again.reset();
  void again.handled('t:0', 9);
  const last = again.flush();
  await g.answer(true);
  await last;
  assert.deepEqual(g.calls.slice(1), [{ 't:0': 5 }, { 't:0': 9 }], 'the offset pending at the reset is dropped; the ones handled after it commit');
});
