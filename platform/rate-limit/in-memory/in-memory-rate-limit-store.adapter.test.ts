import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testRateLimitStore } from '../rate-limit-store.contract.ts';
import { createInMemoryRateLimitStore } from './in-memory-rate-limit-store.adapter.ts';

testRateLimitStore('in-memory', (now) => createInMemoryRateLimitStore({ now }));

test('in-memory: a flood of fresh keys is bounded by maxKeys (least recently hit evicted first)', async () => {
  const store = createInMemoryRateLimitStore({ maxKeys: 1000 });
  await store.hit('kept', 60_000);
  for (let i = 0; i < 100_000; i++) {
    await store.hit(`forged-${i}`, 60_000);
    if (i % 500 === 0) await store.hit('kept', 60_000);
  }
  console.log(`# 100000 fresh keys hit, ${store.size} kept (maxKeys 1000)`);
  assert.equal(store.size, 1000);
  assert.equal((await store.read('kept', 60_000)).count, 201, 'a key hit regularly survives the flood');
  assert.equal((await store.read('forged-0', 60_000)).count, 0, 'the oldest fresh key was evicted');
});

test('in-memory: long keys (kept as digests) stay distinct', async () => {
  const store = createInMemoryRateLimitStore();
  const a = `heartbeat.session|${'a'.repeat(120)}`;
  const b = `heartbeat.session|${'a'.repeat(119)}b`;
  await store.hit(a, 60_000);
  await store.hit(a, 60_000);
  await store.hit(b, 60_000);
  assert.equal((await store.read(a, 60_000)).count, 2);
  assert.equal((await store.read(b, 60_000)).count, 1);
  await store.reset(a);
  assert.equal((await store.read(a, 60_000)).count, 0);
});
