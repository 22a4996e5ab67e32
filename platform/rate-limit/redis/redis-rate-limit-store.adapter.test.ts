import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { createRedisClient, redisReady } from '../../redis/redis-client.ts';
import { freePort } from '../../../test/support/kafka-broker.ts';
import { redisRequirement, startRedisServer, type RedisServer } from '../../../test/support/redis-server.ts';
import { testRateLimitStore } from '../rate-limit-store.contract.ts';
import { createRedisRateLimitStore } from './redis-rate-limit-store.adapter.ts';

const skip = await redisRequirement();

describe('redis rate-limit store (real redis-server)', { skip }, () => {
  let server: RedisServer;
  // Two connections = two gateway replicas sharing one Redis.
  let gatewayA: Redis;
  let gatewayB: Redis;
  before(async () => {
    server = await startRedisServer();
    gatewayA = createRedisClient(server.url, { connectionName: 'gateway-a' });
    gatewayB = createRedisClient(server.url, { connectionName: 'gateway-b' });
    await Promise.all([redisReady(gatewayA), redisReady(gatewayB)]);
  });
  after(async () => {
    gatewayA?.disconnect();
    gatewayB?.disconnect();
    await server?.stop();
  });

  // Each store of the contract gets a prefix of its own: a fresh, empty store on the same server.
  let n = 0;
  testRateLimitStore('redis', (now) => createRedisRateLimitStore({ client: gatewayA, prefix: `sw:rl:contract-${++n}:`, now }));

  test('two gateways (two connections, Redis clock) share one count, one window and one reset', async () => {
    const a = createRedisRateLimitStore({ client: gatewayA, prefix: 'sw:rl:shared:' });
    const b = createRedisRateLimitStore({ client: gatewayB, prefix: 'sw:rl:shared:' });
    const first = await a.hit('login|alice', 60_000);
    assert.equal(first.count, 1);
    assert.ok(first.resetInMs > 0 && first.resetInMs <= 60_000);
    const second = await b.hit('login|alice', 60_000);
    assert.equal(second.count, 2, 'the hit through gateway B counts in the window gateway A opened');
    assert.ok(second.resetInMs <= first.resetInMs, 'same window: B sees no later end than A did');
    assert.equal((await a.read('login|alice', 60_000)).count, 2);
    await b.reset('login|alice');
    assert.deepEqual(await a.read('login|alice', 60_000), { count: 0, resetInMs: 0 });
  });

  test('concurrent hits from both gateways are each counted once (atomic script)', async () => {
    const a = createRedisRateLimitStore({ client: gatewayA, prefix: 'sw:rl:race:' });
    const b = createRedisRateLimitStore({ client: gatewayB, prefix: 'sw:rl:race:' });
    const hits = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).hit('upload|bob', 60_000)));
    assert.deepEqual(hits.map((h) => h.count).sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.equal((await b.read('upload|bob', 60_000)).count, 200);
  });

  test('a window expires in Redis by itself (bounded memory) and the next hit opens a new one', async () => {
    const a = createRedisRateLimitStore({ client: gatewayA, prefix: 'sw:rl:expiry:' });
    await a.hit('k', 300);
    await a.hit('k', 300);
    const ttl = await gatewayA.pttl('sw:rl:expiry:k:k');
    assert.ok(ttl > 0 && ttl <= 300, `the window's key carries its remaining time as TTL (${ttl} ms)`);
    // Wait for Redis to drop the key (no fixed sleep: poll until it is gone).
    while (await gatewayA.exists('sw:rl:expiry:k:k')) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(await a.read('k', 300), { count: 0, resetInMs: 0 });
    assert.equal((await a.hit('k', 300)).count, 1);
  });

  test('long keys are stored as digests and stay distinct', async () => {
    const a = createRedisRateLimitStore({ client: gatewayA, prefix: 'sw:rl:long:' });
    const k1 = `heartbeat.session|${'a'.repeat(120)}`;
    const k2 = `heartbeat.session|${'a'.repeat(119)}b`;
    await a.hit(k1, 60_000);
    await a.hit(k1, 60_000);
    await a.hit(k2, 60_000);
    assert.equal((await a.read(k1, 60_000)).count, 2);
    assert.equal((await a.read(k2, 60_000)).count, 1);
    const stored = await gatewayA.keys('sw:rl:long:*');
    assert.equal(stored.length, 2);
    assert.ok(stored.every((k) => k.length <= 'sw:rl:long:h:'.length + 22), stored.join());
  });

  test('bad input: INVALID_INPUT, never a crash', async () => {
    const a = createRedisRateLimitStore({ client: gatewayA, prefix: 'sw:rl:bad:' });
    await assert.rejects(a.hit(undefined as never, 1000), { name: 'RedisRateLimitStoreError', code: 'INVALID_INPUT' });
    await assert.rejects(a.hit('k', 0), { code: 'INVALID_INPUT' });
    await assert.rejects(a.hit('k', Number.NaN), { code: 'INVALID_INPUT' });
    await assert.rejects(a.read('k', 1.5), { code: 'INVALID_INPUT' });
    await assert.rejects(a.reset(7 as never), { code: 'INVALID_INPUT' });
    // Keys with Redis glob or protocol-looking characters are plain data.
    assert.equal((await a.hit('*\r\n{x}', 1000)).count, 1);
  });

  test('Redis unreachable: every call rejects with RATE_LIMIT_STORE_IO at once', async () => {
    const c = createRedisClient(`redis://127.0.0.1:${await freePort()}`);
    try {
      const s = createRedisRateLimitStore({ client: c });
      await assert.rejects(s.hit('k', 1000), { code: 'RATE_LIMIT_STORE_IO' });
      await assert.rejects(s.read('k', 1000), { code: 'RATE_LIMIT_STORE_IO' });
      await assert.rejects(s.reset('k'), { code: 'RATE_LIMIT_STORE_IO' });
    } finally { c.disconnect(); }
  });
});
