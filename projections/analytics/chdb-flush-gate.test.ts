/**
 * The chDB store's flush gate (chdb-analytics-store.adapter.ts flushGate): the creators' reads run
 * together on their own session, and a flush of the buffers never runs while one of them does (a
 * flush between a read's look at a table and at its Buffer would hide the flushed rows from it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flushGate } from './chdb-analytics-store.adapter.ts';

/** A promise and its resolver, to hold a step open until the test lets it go. */
function held() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => { release = resolve; });
  return { done, release };
}

/** Lets every pending callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('given two reads in flight, when a flush is asked, then it starts only when both have ended, and a read asked meanwhile starts only when the flush has ended', async () => {
  const gate = flushGate();
  const log: string[] = [];
  const [r1, r2, f] = [held(), held(), held()];
  const read1 = gate.shared(async () => { log.push('read 1 starts'); await r1.done; log.push('read 1 ends'); });
  const read2 = gate.shared(async () => { log.push('read 2 starts'); await r2.done; log.push('read 2 ends'); });
  await settle();
  const flush = gate.exclusive(async () => { log.push('flush starts'); await f.done; log.push('flush ends'); });
  await settle();
  const read3 = gate.shared(async () => { log.push('read 3 runs'); });
  await settle();
  assert.deepEqual(log, ['read 1 starts', 'read 2 starts'], 'the reads run together; the flush and the later read wait');

  r1.release();
  await settle();
  assert.deepEqual(log.slice(2), ['read 1 ends'], 'the flush still waits for read 2');
  r2.release();
  await settle();
  assert.deepEqual(log.slice(3), ['read 2 ends', 'flush starts']);
  f.release();
  await Promise.all([read1, read2, flush, read3]);
  assert.deepEqual(log.slice(5), ['flush ends', 'read 3 runs']);
});

test('given a flush that fails, then the gate opens again: the failure reaches the flush\'s caller and later reads and flushes run', async () => {
  const gate = flushGate();
  await assert.rejects(gate.exclusive(async () => { throw new Error('disk full'); }), /disk full/);
  assert.equal(await gate.shared(async () => 'read'), 'read');
  let flushed = false;
  await gate.exclusive(async () => { flushed = true; });
  assert.ok(flushed);
});

test('given two flushes asked at once, then they run one after the other, never together', async () => {
  const gate = flushGate();
  let inside = 0;
  let most = 0;
  const one = async () => { inside++; most = Math.max(most, inside); await settle(); inside--; };
  await Promise.all([gate.exclusive(one), gate.exclusive(one), gate.shared(one)]);
  assert.equal(most, 1);
});
