/**
 * Commits past fetches of only transaction markers (kafka-marker-commits.ts), on a fake
 * subscription state: when they are sent, dropped, ordered before a batch, and sent on stop. The
 * broker test in kafka-transactions.test.ts (e) shows the group offset reaching the end on Kafka.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Consumer } from 'kafkajs';
import { pino } from 'pino';
import { commitMarkersPast, flushMarkerCommits, settleMarkerCommit, type MarkerCommitState } from './kafka-marker-commits.ts';
import { IntervalCommits } from '../interval-commits.ts';

const EK = 't:0';
const FOREVER = 600_000;

/** A per-batch subscription's state with partition t:0 assigned at `position`; commitOffsets waits for `answer()`. */
function fakeState(position: number, opts: { interval?: IntervalCommits; commitOffsets?: false } = {}) {
  const calls: { topic: string; partition: number; offset: string }[][] = [];
  const answers: ((failed?: Error) => void)[] = [];
  const consumer = {
    commitOffsets: (parts: { topic: string; partition: number; offset: string }[]) => new Promise<void>((resolve, reject) => {
      calls.push(parts);
      answers.push((failed) => (failed ? reject(failed) : resolve()));
    }),
  } as unknown as Consumer;
  const s: MarkerCommitState & { generation: number } = {
    sub: { groupId: 'g', topics: ['t'], eachBatch: async () => {}, ...(opts.commitOffsets === false ? { commitOffsets: false } : {}) },
    consumer, log: pino({ level: 'silent' }),
    assigned: new Set([EK]), settingUp: new Set(), intervalCommits: opts.interval ?? null,
    generation: 1, positions: new Map([[EK, position]]), markerCommits: new Map(),
  };
  /** Resolves once `n` commits were asked for (they are sent on a later tick). */
  const asked = async (n: number) => { while (calls.length < n) await new Promise((r) => setImmediate(r)); };
  const answer = async (failed?: Error) => { await asked(answers.length || 1); answers.shift()!(failed); };
  return { s, calls, asked, answer };
}

test('given a marker-only fetch on an idle partition, when the delay is over, then the group offset is committed past it once', async () => {
  const f = fakeState(8);
  commitMarkersPast(f.s, EK, 8, 0);
  await f.asked(1);
  await f.answer();
  await settleMarkerCommit(f.s, EK);
  assert.deepEqual(f.calls, [[{ topic: 't', partition: 0, offset: '8' }]]);
  assert.equal(f.s.markerCommits.size, 0, 'nothing left behind');
});

test('given a commit past a marker still waiting, when the partition\'s next batch starts, then it is dropped (the batch commits past it)', async () => {
  const f = fakeState(8);
  commitMarkersPast(f.s, EK, 8, FOREVER);
  await settleMarkerCommit(f.s, EK);
  await flushMarkerCommits(f.s, 1_000);
  assert.deepEqual(f.calls, [], 'never sent');
  assert.equal(f.s.markerCommits.size, 0);
});

test('given a commit past a marker in flight, when the partition\'s next batch starts, then the batch waits for it', async () => {
  const f = fakeState(8);
  commitMarkersPast(f.s, EK, 8, 0);
  await f.asked(1);
  let settled = false;
  const batch = settleMarkerCommit(f.s, EK).then(() => { settled = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'the batch waits while the commit is out');
  await f.answer();
  await batch;
  assert.equal(settled, true);
});

test('given a rebalance or a record consumed after the marker, when the delay is over, then nothing is committed', async () => {
  const rebalanced = fakeState(8);
  commitMarkersPast(rebalanced.s, EK, 8, FOREVER);
  rebalanced.s.generation++;
  await flushMarkerCommits(rebalanced.s, 1_000);
  const movedOn = fakeState(8);
  commitMarkersPast(movedOn.s, EK, 8, FOREVER);
  movedOn.s.positions.set(EK, 9);
  await flushMarkerCommits(movedOn.s, 1_000);
  assert.deepEqual([rebalanced.calls, movedOn.calls], [[], []]);
});

test('given a commit past a marker still waiting, when the subscription stops, then it is sent at once', async () => {
  const f = fakeState(12);
  commitMarkersPast(f.s, EK, 12, FOREVER);
  const stopped = flushMarkerCommits(f.s, 5_000);
  await f.answer();
  await stopped;
  assert.deepEqual(f.calls, [[{ topic: 't', partition: 0, offset: '12' }]]);
});

test('given a commit past a marker that fails, when the next marker comes, then it is committed (the failure breaks nothing)', async () => {
  const f = fakeState(8);
  commitMarkersPast(f.s, EK, 8, 0);
  await f.answer(new Error('coordinator moved'));
  await settleMarkerCommit(f.s, EK);
  f.s.positions.set(EK, 10);
  commitMarkersPast(f.s, EK, 10, 0);
  await f.asked(2);
  await f.answer();
  await settleMarkerCommit(f.s, EK);
  assert.deepEqual(f.calls.map((c) => c[0]!.offset), ['8', '10']);
});

test('given an interval subscription or one without commits, when a marker-only fetch comes, then the interval takes it or nothing happens', async () => {
  const handled: number[] = [];
  const interval = new IntervalCommits(FOREVER, async (offsets) => { handled.push(offsets.get(EK)!); return true; });
  const withInterval = fakeState(8, { interval });
  commitMarkersPast(withInterval.s, EK, 8, 0);
  await interval.flush();
  const without = fakeState(8, { commitOffsets: false });
  commitMarkersPast(without.s, EK, 8, 0);
  assert.deepEqual({ handled, sent: [withInterval.calls.length, without.calls.length], waiting: without.s.markerCommits.size }, { handled: [8], sent: [0, 0], waiting: 0 });
});
