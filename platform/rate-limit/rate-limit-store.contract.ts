/**
 * The contract every RateLimitStore adapter passes: `testRateLimitStore(factory)` inside a test file.
 * `factory(now)` builds a fresh store on the given clock (ms since epoch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RateLimitStore } from './rate-limit-store.port.ts';

export function testRateLimitStore(name: string, factory: (now: () => number) => RateLimitStore | Promise<RateLimitStore>): void {
  const clock = () => {
    const c = { t: 1_000_000, now: () => c.t };
    return c;
  };

  test(`${name}: hits count up inside a window and restart after it closes`, async () => {
    const c = clock();
    const store = await factory(c.now);
    assert.deepEqual(await store.hit('a', 1000), { count: 1, resetInMs: 1000 });
    c.t += 400;
    assert.deepEqual(await store.hit('a', 1000), { count: 2, resetInMs: 600 });
    c.t += 600;
    assert.deepEqual(await store.hit('a', 1000), { count: 1, resetInMs: 1000 }, 'a new window opens once the old one closed');
  });

  test(`${name}: keys are independent; read does not count; reset forgets`, async () => {
    const c = clock();
    const store = await factory(c.now);
    await store.hit('a', 1000);
    await store.hit('a', 1000);
    await store.hit('b', 1000);
    assert.equal((await store.read('a', 1000)).count, 2);
    assert.equal((await store.read('a', 1000)).count, 2, 'read twice, still 2');
    assert.equal((await store.read('b', 1000)).count, 1);
    assert.deepEqual(await store.read('never', 1000), { count: 0, resetInMs: 0 });
    await store.reset('a');
    assert.equal((await store.read('a', 1000)).count, 0);
    c.t += 1000;
    assert.equal((await store.read('b', 1000)).count, 0, 'a closed window reads as empty');
  });
}
