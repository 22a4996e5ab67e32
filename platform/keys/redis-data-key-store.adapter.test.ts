import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createRedisClient, redisReady } from '../redis/redis-client.ts';
import { freePort } from '../../test/support/kafka-broker.ts';
import { redisRequirement, startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { dataKeyStoreContract } from './data-key-store.contract.ts';
import type { DataKeyStore } from './data-key-store.port.ts';
import { createRedisDataKeyStore, REDIS_DATA_KEY_TOMBSTONE, redisDataKeyStoreKeys } from './redis-data-key-store.adapter.ts';

const skip = await redisRequirement();

/** Polls `check` every 20 ms until it returns true; fails with `what` after `deadlineMs`. */
async function waitFor(what: string, deadlineMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every file under `dir` (recursively) whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const found: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const bytes = await readFile(path).catch(() => Buffer.alloc(0)); // Redis may delete it meanwhile
    if (bytes.indexOf(needle) >= 0) found.push(path);
  }
  return found;
}

const persistence = async (c: Redis) => Object.fromEntries((await c.info('persistence')).split(/\r?\n/).filter((l) => l.includes(':')).map((l) => l.split(':') as [string, string]));

describe('redis data-key store (real redis-server)', { skip }, () => {
  let server: RedisServer;
  // Two connections = two processes sharing one Redis.
  let processA: Redis;
  let processB: Redis;
  before(async () => {
    server = await startRedisServer();
    processA = createRedisClient(server.url, { connectionName: 'dek-a' });
    processB = createRedisClient(server.url, { connectionName: 'dek-b' });
    await Promise.all([redisReady(processA), redisReady(processB)]);
  });
  after(async () => {
    processA?.disconnect();
    processB?.disconnect();
    await server?.stop();
  });

  // A cache TTL far above the contract's 2 s deadline: only the pub/sub eviction can pass it.
  let opened = 0;
  dataKeyStoreContract('redis', () => createRedisDataKeyStore({ client: ++opened % 2 ? processA : processB, prefix: 'sw:dek:contract', cacheTtlMs: 60_000 }),
    { eraseVisibleWithinMs: 2_000 });

  test('layout: sw:dek:{subject} holds the key bytes, then the tombstone; a value of another size is KEY_STORE_IO', async () => {
    assert.deepEqual(redisDataKeyStoreKeys('user-1'), { key: 'sw:dek:{user-1}', channel: 'sw:dek:erased' });
    assert.throws(() => redisDataKeyStoreKeys('a{b}'), { code: 'INVALID_SUBJECT' });
    const s = await createRedisDataKeyStore({ client: processA });
    try {
      const key = await s.getOrCreate('user-1');
      assert.deepEqual(await processA.getBuffer('sw:dek:{user-1}'), key);
      await s.erase('user-1');
      assert.equal(await processA.get('sw:dek:{user-1}'), REDIS_DATA_KEY_TOMBSTONE);
      await processA.set('sw:dek:{alien}', 'short');
      await assert.rejects(s.get('alien'), { code: 'KEY_STORE_IO' });
      await assert.rejects(s.getOrCreate('alien'), { code: 'KEY_STORE_IO' });
    } finally { await s.close(); }
  });

  test('a lost erasure message: the cache TTL bounds how long another process serves the key', async () => {
    const a = await createRedisDataKeyStore({ client: processA, prefix: 'sw:dek:lost' });
    const b = await createRedisDataKeyStore({ client: processB, prefix: 'sw:dek:lost', cacheTtlMs: 300 });
    try {
      const key = await a.getOrCreate('lost-1');
      assert.deepEqual(await b.get('lost-1'), key);
      // An erasure whose message never arrives: the tombstone written without PUBLISH.
      await processA.set(redisDataKeyStoreKeys('lost-1', 'sw:dek:lost').key, REDIS_DATA_KEY_TOMBSTONE);
      await waitFor('b stops serving the key once its cache entry expires', 3_000, async () => (await b.get('lost-1')) === null);
      await assert.rejects(b.getOrCreate('lost-1'), { code: 'KEY_ERASED' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('the subscriber connection drops: the cache is cleared, no erased key is served until the TTL', async () => {
    const a = await createRedisDataKeyStore({ client: processA, prefix: 'sw:dek:drop' });
    const b = await createRedisDataKeyStore({ client: processB, prefix: 'sw:dek:drop', cacheTtlMs: 60_000 });
    try {
      const key = await a.getOrCreate('drop-1');
      assert.deepEqual(await b.get('drop-1'), key);
      await processA.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await a.erase('drop-1'); // its message may reach nobody
      await waitFor('b stops serving the erased key', 2_000, async () => (await b.get('drop-1')) === null);
      // And the subscription comes back: a later erasure evicts through it again.
      const key2 = await a.getOrCreate('drop-2');
      await waitFor('b resubscribed and caches again', 5_000, async () => {
        const client = (await processA.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
        return client.split('\n').filter((l) => l.includes('name=sw:dek:drop:erasures')).length === 2;
      });
      assert.deepEqual(await b.get('drop-2'), key2);
      await a.erase('drop-2');
      await waitFor('b evicts drop-2 on the message', 2_000, async () => (await b.get('drop-2')) === null);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('Redis unreachable: calls reject with KEY_STORE_IO, the factory still returns', async () => {
    const c = createRedisClient(`redis://127.0.0.1:${await freePort()}`);
    let s: DataKeyStore | undefined;
    try {
      s = await createRedisDataKeyStore({ client: c, subscribeTimeoutMs: 100 });
      await assert.rejects(s.getOrCreate('x'), { name: 'DataKeyError', code: 'KEY_STORE_IO' });
      await assert.rejects(s.get('x'), { code: 'KEY_STORE_IO' });
      await assert.rejects(s.erase('x'), { code: 'KEY_STORE_IO' });
    } finally {
      await s?.close();
      c.disconnect();
    }
  });
});

describe('redis data-key store: the AOF (real redis-server with AOF)', { skip }, () => {
  let server: RedisServer;
  let client: Redis;
  before(async () => {
    server = await startRedisServer({ aof: true });
    client = createRedisClient(server.url, { connectionName: 'dek-aof' });
    await redisReady(client);
  });
  after(async () => {
    client?.disconnect();
    await server?.stop();
  });

  test('after erase + the AOF rewrite it triggers, no file in the server dir holds the key bytes; the rest survives a restart', async () => {
    const s = await createRedisDataKeyStore({ client });
    let bobKey: Buffer;
    let aliceKey: Buffer;
    try {
      aliceKey = await s.getOrCreate('alice');
      bobKey = await s.getOrCreate('bob');
      assert.notDeepEqual(await filesContaining(server.dir, aliceKey), [], 'the AOF holds the key before the erasure (the check can see it)');
      const before = Number((await persistence(client)).aof_rewrites);
      await s.erase('alice');
      await waitFor('the AOF rewrite after the erasure finished and the old AOF files are gone', 30_000, async () => {
        const p = await persistence(client);
        return Number(p.aof_rewrites) > before && p.aof_rewrite_in_progress === '0' && (await filesContaining(server.dir, aliceKey)).length === 0;
      });
    } finally { await s.close(); }
    await server.restart({ signal: 'SIGKILL' });
    await redisReady(client);
    const r = await createRedisDataKeyStore({ client });
    try {
      assert.equal(await r.isErased('alice'), true);
      await assert.rejects(r.getOrCreate('alice'), { code: 'KEY_ERASED' });
      assert.deepEqual(await r.get('bob'), bobKey);
    } finally { await r.close(); }
  });

  test('erasures closer together than the rewrite interval share a rewrite at its end; both keys leave the AOF', async () => {
    const s = await createRedisDataKeyStore({ client, prefix: 'sw:dek:burst', aofRewriteIntervalMs: 500 });
    try {
      const keys = await Promise.all(['c1', 'c2', 'c3'].map((subject) => s.getOrCreate(subject)));
      const rewrites = async () => Number((await persistence(client)).aof_rewrites);
      const before = await rewrites();
      await s.erase('c1');
      await waitFor('the rewrite after c1 finished', 30_000, async () => (await rewrites()) > before && (await persistence(client)).aof_rewrite_in_progress === '0');
      const afterFirst = await rewrites();
      // Within the 500 ms interval of c1's rewrite: its rewrite did not see this erasure, so a
      // second one must follow at the interval's end.
      await s.erase('c2');
      assert.notDeepEqual(await filesContaining(server.dir, keys[1]), [], 'c2 is still in the AOF right after its erasure');
      await waitFor('the AOF no longer holds c1 and c2', 30_000, async () => {
        const p = await persistence(client);
        return Number(p.aof_rewrites) > afterFirst && p.aof_rewrite_in_progress === '0'
          && (await filesContaining(server.dir, keys[0])).length === 0 && (await filesContaining(server.dir, keys[1])).length === 0;
      });
      assert.deepEqual(await s.get('c3'), keys[2]);
    } finally { await s.close(); }
  });
});
