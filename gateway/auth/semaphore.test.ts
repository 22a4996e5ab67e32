import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSemaphore } from './semaphore.ts';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
};

test('tasks over the bound wait and run in FIFO order, never more than the bound at once', async () => {
  const sem = createSemaphore({ concurrency: 1, queue: 2, refused: () => new Error('busy') });
  const order: string[] = [];
  let running = 0;
  let peak = 0;
  const task = (name: string, gate: Promise<void>) => sem.run(async () => {
    running++;
    peak = Math.max(peak, running);
    order.push(`start ${name}`);
    await gate;
    order.push(`end ${name}`);
    running--;
  });
  const a = deferred();
  const b = deferred();
  const c = deferred();
  const pa = task('a', a.promise);
  const pb = task('b', b.promise);
  a.resolve();
  const pc = task('c', c.promise); // arrives while a's slot is being handed to b
  await Promise.resolve();
  b.resolve();
  c.resolve();
  await Promise.all([pa, pb, pc]);
  assert.equal(peak, 1);
  assert.deepEqual(order, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.deepEqual(sem.stats(), { active: 0, queued: 0, peakActive: 1, refused: 0 });
});

test('beyond the queue, tasks are refused at once and never run', async () => {
  const sem = createSemaphore({ concurrency: 1, queue: 1, refused: () => new Error('busy') });
  const gate = deferred();
  let ran = 0;
  const run = () => sem.run(async () => { ran++; await gate.promise; });
  const p1 = run();
  const p2 = run();
  await assert.rejects(run(), /busy/);
  gate.resolve();
  await Promise.all([p1, p2]);
  assert.equal(ran, 2);
  assert.equal(sem.stats().refused, 1);
});
