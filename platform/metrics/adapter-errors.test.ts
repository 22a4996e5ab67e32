/**
 * `countAdapterErrors` around real adapters: the embedded object store (a missing key), the Redis
 * rate-limit store (bad input, and a Redis that is not there), the in-memory rate-limit store (no
 * error, a getter), scraped from the registry text.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createTestObjectStore } from '../../test/support/test-world.ts';
import { sampleValue, samplesOf } from '../../test/support/prometheus-text.ts';
import { createRedisClient } from '../redis/redis-client.ts';
import { createInMemoryRateLimitStore } from '../rate-limit/in-memory/in-memory-rate-limit-store.adapter.ts';
import { createRedisRateLimitStore } from '../rate-limit/redis/redis-rate-limit-store.adapter.ts';
import { adapterErrorCode, countAdapterErrors } from './adapter-errors.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-adapter-errors-'));
after(() => rm(root, { recursive: true, force: true }));

/** A 127.0.0.1 port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('adapter errors', () => {
  test('object store: a missing key is counted by its S3 code; successes are not; the store behaves as before', async () => {
    const registry = new Registry();
    const raw = createTestObjectStore(root);
    const store = countAdapterErrors(registry, 'object-store', raw);
    await store.putObject('a/b.txt', Buffer.from('hello'), 'text/plain');
    assert.equal((await store.getObject('a/b.txt'))?.size, 5);
    assert.equal(await store.exists('a/b.txt'), true);
    assert.deepEqual(store.scratchDirs, raw.scratchDirs);
    assert.equal(store.getObject, store.getObject, 'a method is wrapped once');
    assert.equal(samplesOf(await registry.metrics(), 'streamwave_adapter_errors_total').length, 0);

    await assert.rejects(store.downloadToFile('missing', join(root, 'out')), { code: 'NoSuchKey' });
    await assert.rejects(store.downloadToFile('missing', join(root, 'out')), { code: 'NoSuchKey' });
    const text = await registry.metrics();
    assert.equal(sampleValue(text, 'streamwave_adapter_errors_total', { adapter: 'object-store', code: 'NoSuchKey' }), 2);
  });

  test('rate-limit store: bad input and an unreachable Redis, each by its code, per adapter label', async () => {
    const registry = new Registry();
    const client = createRedisClient(`redis://127.0.0.1:${await closedPort()}`, { connectTimeoutMs: 200 });
    try {
      const redis = countAdapterErrors(registry, 'rate-limit-store', createRedisRateLimitStore({ client }));
      const memory = countAdapterErrors(registry, 'rate-limit-store-memory', createInMemoryRateLimitStore());
      await assert.rejects(redis.hit('k', 0), { code: 'INVALID_INPUT' });
      await assert.rejects(redis.hit('k', 1_000), { code: 'RATE_LIMIT_STORE_IO' });
      await assert.rejects(redis.read('k', 1_000), { code: 'RATE_LIMIT_STORE_IO' });
      assert.equal((await memory.hit('k', 1_000)).count, 1);
      assert.equal(memory.size, 1, 'getters pass through');
      const text = await registry.metrics();
      assert.equal(sampleValue(text, 'streamwave_adapter_errors_total', { adapter: 'rate-limit-store', code: 'INVALID_INPUT' }), 1);
      assert.equal(sampleValue(text, 'streamwave_adapter_errors_total', { adapter: 'rate-limit-store', code: 'RATE_LIMIT_STORE_IO' }), 2);
      assert.equal(samplesOf(text, 'streamwave_adapter_errors_total', { adapter: 'rate-limit-store-memory' }).length, 0);
    } finally {
      client.disconnect();
    }
  });

  test('a synchronous throw is counted and rethrown; the code label is a bounded token, never a message', async () => {
    const registry = new Registry();
    const port = countAdapterErrors(registry, 'kv', {
      check(x: number) { if (x < 0) throw Object.assign(new Error('negative'), { code: 'INVALID_INPUT' }); return x; },
    });
    assert.equal(port.check(1), 1);
    assert.throws(() => port.check(-1), { code: 'INVALID_INPUT' });
    assert.equal(sampleValue(await registry.metrics(), 'streamwave_adapter_errors_total', { adapter: 'kv', code: 'INVALID_INPUT' }), 1);
    assert.equal(adapterErrorCode(new TypeError('x')), 'TypeError');
    assert.equal(adapterErrorCode(Object.assign(new Error('x'), { code: 'has spaces and is long' })), 'Error');
    assert.equal(adapterErrorCode('a string'), 'UNKNOWN');
    assert.equal(adapterErrorCode(undefined), 'UNKNOWN');
  });
});
