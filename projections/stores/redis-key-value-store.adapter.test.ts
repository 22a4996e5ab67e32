import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createRedisClient, redisReady } from '../../platform/redis/redis-client.ts';
import { freePort } from '../../test/support/kafka-broker.ts';
import { redisRequirement, startRedisServer, type RedisServer } from '../../test/support/redis-server.ts';
import { keyValueStoreContract } from './key-value-store.contract.ts';
import type { KeyValueOp, KeyValueStore } from './key-value-store.port.ts';
import {
  createRedisKeyValueStore,
  deleteRedisKeyValueStore,
  redisKeyValueStoreKeys,
  renameRedisKeyValueStore,
} from './redis-key-value-store.adapter.ts';

const skip = await redisRequirement();

describe('redis key-value store (real redis-server)', { skip }, () => {
  let server: RedisServer;
  let client: Redis;
  before(async () => {
    server = await startRedisServer();
    client = createRedisClient(server.url, { connectionName: 'kv-test' });
    await redisReady(client);
  });
  after(async () => {
    client?.disconnect();
    await server?.stop();
  });

  // open(name) = a new handle on the same server and name: what a restarted projector sees. The
  // contract's torn-tail hook is for stores with a journal file; Redis applies a MULTI whole or
  // not at all, which "an unexecuted MULTI leaves nothing" below checks instead.
  keyValueStoreContract('redis', (name) => createRedisKeyValueStore({ client, name: `contract:${name}` }));

  test('key layout: one hash tag per family, shadows share it', () => {
    assert.deepEqual(redisKeyValueStoreKeys('video-detail'), { values: 'sw:{video-detail}:v', index: 'sw:{video-detail}:k', checkpoint: 'sw:{video-detail}:cp' });
    assert.equal(redisKeyValueStoreKeys('video-detail@replay').values, 'sw:{video-detail}@replay:v');
    for (const bad of ['', 'a{b}', 'a b', 'a@b@c', '@x', 'é']) {
      assert.throws(() => redisKeyValueStoreKeys(bad), { code: 'INVALID_KEY' }, bad);
    }
  });

  test('an unexecuted MULTI (client killed before EXEC) leaves nothing', async () => {
    const s = await createRedisKeyValueStore({ client, name: 'torn' });
    try {
      await s.commit([put('a', 1)], new Map([['t:0', 1]]));
      const k = redisKeyValueStoreKeys('torn');
      // What a projector killed mid-commit leaves: MULTI and queued writes, no EXEC.
      const raw = new Redis(server.url, { enableOfflineQueue: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      raw.on('error', () => undefined);
      assert.equal(await raw.call('MULTI'), 'OK');
      assert.equal(await raw.call('HSET', k.values, 'b', '2'), 'QUEUED');
      assert.equal(await raw.call('ZADD', k.index, '0', 'b'), 'QUEUED');
      assert.equal(await raw.call('HSET', k.checkpoint, 't:0', '2'), 'QUEUED');
      raw.disconnect();
      await new Promise((r) => raw.once('end', r));
      assert.equal(await s.get('b'), undefined);
      assert.deepEqual(await s.scan('', { limit: 10 }), [{ key: 'a', value: 1 }]);
      assert.deepEqual(await s.checkpoint(), new Map([['t:0', 1]]));
    } finally { await s.close(); }
  });

  test('bad input: typed errors, nothing applied, the store keeps working', async () => {
    const s = await createRedisKeyValueStore({ client, name: 'bad-input' });
    try {
      await s.commit([put('ok', 1)], new Map([['t:0', 1]]));
      const cases: [string, KeyValueOp[], Map<string, number>][] = [
        ['non-string key', [put('x', 1), { op: 'put', key: 42 as never, value: 1 }], new Map([['t:0', 9]])],
        ['lone surrogate', [put('x', 1), put('bad\uD800', 1)], new Map([['t:0', 9]])],
        ['undefined value', [put('x', 1), put('y', undefined)], new Map([['t:0', 9]])],
        ['function value', [put('x', 1), put('y', () => 1)], new Map([['t:0', 9]])],
        ['bigint value', [put('x', 1), put('y', 1n)], new Map([['t:0', 9]])],
        ['unknown op', [put('x', 1), { op: 'merge', key: 'y' } as never], new Map([['t:0', 9]])],
        ['NaN offset', [put('x', 1)], new Map([['t:0', Number.NaN]])],
      ];
      for (const [what, ops, cp] of cases) {
        await assert.rejects(s.commit(ops, cp), { name: 'KeyValueStoreError', code: 'INVALID_KEY' }, what);
      }
      await assert.rejects(s.get(7 as never), { code: 'INVALID_KEY' });
      await assert.rejects(s.getMany(['a', null as never]), { code: 'INVALID_KEY' });
      assert.equal(await s.get('x'), undefined, 'no op of a refused commit was applied');
      assert.deepEqual(await s.checkpoint(), new Map([['t:0', 1]]));
      await s.commit([put('x', 2)], new Map([['t:0', 2]]));
      assert.equal(await s.get('x'), 2);
      // A value somebody else wrote that is not JSON.
      await client.hset(redisKeyValueStoreKeys('bad-input').values, 'alien', '{nope');
      await assert.rejects(s.get('alien'), { code: 'STORE_CORRUPT' });
    } finally { await s.close(); }
  });

  test('commits apply in call order, a refused one in the middle does not stop the rest', async () => {
    const s = await createRedisKeyValueStore({ client, name: 'order' });
    try {
      const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) =>
        s.commit(i === 30 ? [{ op: 'put', key: 1 as never, value: 1 }] : [put('n', i), put(`k:${String(i).padStart(2, '0')}`, i)], new Map([['t:0', i + 1]]))));
      assert.deepEqual(results.map((r) => r.status).filter((st) => st === 'rejected').length, 1);
      assert.equal(await s.get('n'), 59);
      assert.deepEqual(await s.checkpoint(), new Map([['t:0', 60]]));
      assert.equal((await s.scan('k:', { limit: 100 })).length, 59);
    } finally { await s.close(); }
  });

  test('large batches are split into several commands inside one MULTI; scan over a bigger range', async () => {
    const s = await createRedisKeyValueStore({ client, name: 'big', maxFieldsPerCommand: 7 });
    try {
      // 2 500 keys: the commit is split into hundreds of commands; the scan script reads the 1 250
      // left in two HMGET chunks (of at most 1 000).
      const keys = Array.from({ length: 2_500 }, (_, i) => `p:${String(i).padStart(4, '0')}`);
      await s.commit(keys.map((k, i) => put(k, { i })), new Map([['t:0', 1], ['t:1', 1]]));
      await s.commit(keys.filter((_, i) => i % 2 === 1).map((key) => ({ op: 'delete', key })), new Map([['t:1', 2]]));
      const all = await s.scan<{ i: number }>('p:', { limit: 2_000 });
      assert.deepEqual(all.map((e) => e.value.i), keys.map((_, i) => i).filter((i) => i % 2 === 0));
      const page2 = await s.scan('p:', { limit: 5, after: all[4].key });
      assert.deepEqual(page2.map((e) => e.key), all.slice(5, 10).map((e) => e.key));
      assert.deepEqual(await s.scan('p:', { limit: 0 }), []);
      assert.deepEqual(await s.checkpoint(), new Map([['t:0', 1], ['t:1', 2]]));
    } finally { await s.close(); }
  });

  test('scan: prefixes with lex-range metacharacters and non-ASCII keys; after outside the prefix', async () => {
    const s = await createRedisKeyValueStore({ client, name: 'lex' });
    try {
      const ks = ['[a', '[b', '(a', '-', '+', 'é:1', 'é:2', 'e:1', 'f', '[', 'z'];
      await s.commit(ks.map((k) => put(k, k)), new Map());
      const keysOf = (es: { key: string }[]) => es.map((e) => e.key);
      assert.deepEqual(keysOf(await s.scan('[', { limit: 10 })), ['[', '[a', '[b']);
      assert.deepEqual(keysOf(await s.scan('(', { limit: 10 })), ['(a']);
      assert.deepEqual(keysOf(await s.scan('é:', { limit: 10, reverse: true })), ['é:2', 'é:1']);
      assert.deepEqual(keysOf(await s.scan('', { limit: 3 })), ['(a', '+', '-']);
      assert.deepEqual(keysOf(await s.scan('', { limit: 2, reverse: true, after: 'f' })), ['e:1', '[b']);
      // `after` beyond the prefix's range: forward finds nothing, reverse starts at the prefix's end.
      assert.deepEqual(keysOf(await s.scan('[', { limit: 10, after: 'zz' })), []);
      assert.deepEqual(keysOf(await s.scan('[', { limit: 10, after: 'zz', reverse: true })), ['[b', '[a', '[']);
      assert.deepEqual(keysOf(await s.scan('[', { limit: 10, after: '' })), ['[', '[a', '[b']);
      assert.deepEqual(keysOf(await s.scan('[', { limit: 10, after: '', reverse: true })), []);
    } finally { await s.close(); }
  });

  test('a shadow store is swapped in atomically; open handles read it at once; delete empties', async () => {
    const live = await createRedisKeyValueStore({ client, name: 'swap' });
    const shadow = await createRedisKeyValueStore({ client, name: 'swap@replay' });
    try {
      await live.commit([put('old', 1), put('both', 'live')], new Map([['t:0', 10]]));
      await shadow.commit([put('new', 2), put('both', 'shadow')], new Map([['t:0', 12], ['t:1', 3]]));
      await renameRedisKeyValueStore(client, 'swap@replay', 'swap');
      assert.deepEqual(await live.getMany(['old', 'new', 'both']), [undefined, 2, 'shadow']);
      assert.deepEqual(await live.checkpoint(), new Map([['t:0', 12], ['t:1', 3]]));
      assert.deepEqual(await shadow.scan('', { limit: 10 }), []);
      assert.deepEqual(await shadow.checkpoint(), new Map());
      // A shadow that never got a checkpoint replaces the live one too (no stale checkpoint left).
      await shadow.commit([put('only', 1)], new Map());
      await renameRedisKeyValueStore(client, 'swap@replay', 'swap');
      assert.deepEqual(await live.checkpoint(), new Map());
      await assert.rejects(renameRedisKeyValueStore(client, 'swap', 'swap'), { code: 'INVALID_KEY' });
      await deleteRedisKeyValueStore(client, 'swap');
      assert.deepEqual(await live.scan('', { limit: 10 }), []);
      assert.equal(await client.exists(...Object.values(redisKeyValueStoreKeys('swap'))), 0);
    } finally {
      await live.close();
      await shadow.close();
    }
  });

  test('close: later calls are STORE_CLOSED; ownsClient quits the client', async () => {
    const own = createRedisClient(server.url);
    await redisReady(own);
    const s = await createRedisKeyValueStore({ client: own, name: 'owned', ownsClient: true });
    const pending = s.commit([put('a', 1)], new Map());
    await s.close();
    await pending; // called before close: completes
    await assert.rejects(s.get('a'), { code: 'STORE_CLOSED' });
    await s.close(); // twice is fine
    assert.equal(own.status, 'end');
    const again = await createRedisKeyValueStore({ client, name: 'owned' });
    try { assert.equal(await again.get('a'), 1); } finally { await again.close(); }
  });
});

describe('redis key-value store: outages (real redis-server with AOF)', { skip }, () => {
  test('nothing listens: every call rejects with STORE_IO at once', async () => {
    const c = createRedisClient(`redis://127.0.0.1:${await freePort()}`);
    const s = await createRedisKeyValueStore({ client: c, name: 'nowhere' });
    try {
      await assert.rejects(s.commit([put('a', 1)], new Map([['t:0', 1]])), { code: 'STORE_IO' });
      await assert.rejects(s.get('a'), { code: 'STORE_IO' });
      await assert.rejects(s.scan('', { limit: 1 }), { code: 'STORE_IO' });
      await assert.rejects(s.checkpoint(), { code: 'STORE_IO' });
    } finally {
      await s.close();
      c.disconnect();
    }
  });

  test('server hung (SIGSTOP): calls reject with STORE_IO after the command timeout, and work again once it resumes', async () => {
    const srv = await startRedisServer();
    const c = createRedisClient(srv.url, { commandTimeoutMs: 300 });
    try {
      await redisReady(c);
      const s = await createRedisKeyValueStore({ client: c, name: 'hung' });
      await s.commit([put('a', 1)], new Map([['t:0', 1]]));
      process.kill(srv.pid, 'SIGSTOP');
      try {
        await assert.rejects(s.get('a'), (e: Error & { code?: string }) => e.code === 'STORE_IO' && /timed out/i.test(e.message));
        await assert.rejects(s.commit([put('b', 2)], new Map([['t:0', 2]])), { code: 'STORE_IO' });
      } finally {
        process.kill(srv.pid, 'SIGCONT');
      }
      // The timed-out commit may still have been applied when the server resumed (it was sent);
      // it is the same batch the projector retries, so re-applying it is a no-op.
      await s.commit([put('b', 2)], new Map([['t:0', 2]]));
      assert.deepEqual(await s.getMany(['a', 'b']), [1, 2]);
      assert.deepEqual(await s.checkpoint(), new Map([['t:0', 2]]));
    } finally {
      c.disconnect();
      await srv.stop();
    }
  });

  test('server stopped: STORE_IO, state unchanged; restarted (clean or kill -9): acknowledged commits kept, the client reconnects', async () => {
    const srv = await startRedisServer({ aof: true });
    const c = createRedisClient(srv.url);
    let s: KeyValueStore | undefined;
    try {
      await redisReady(c);
      s = await createRedisKeyValueStore({ client: c, name: 'outage' });
      await s.commit([put('a', 1)], new Map([['t:0', 1]]));
      await srv.halt();
      await assert.rejects(s.commit([put('b', 2)], new Map([['t:0', 2]])), { code: 'STORE_IO' });
      await assert.rejects(s.get('a'), { code: 'STORE_IO' });
      await srv.start();
      await redisReady(c);
      assert.deepEqual(await s.getMany(['a', 'b']), [1, undefined]);
      assert.deepEqual(await s.checkpoint(), new Map([['t:0', 1]]));
      await s.commit([put('c', 3)], new Map([['t:0', 3]]));
      const t0 = Date.now();
      await srv.restart({ signal: 'SIGKILL' });
      await redisReady(c);
      console.log(`# redis kill -9 + restart with AOF until the client is ready again: ${Date.now() - t0} ms`);
      assert.deepEqual(await s.getMany(['a', 'b', 'c']), [1, undefined, 3]);
      assert.deepEqual(await s.checkpoint(), new Map([['t:0', 3]]));
    } finally {
      await s?.close();
      c.disconnect();
      await srv.stop();
    }
  });
});

function put(key: string, value: unknown): KeyValueOp {
  return { op: 'put', key, value: value as never };
}
