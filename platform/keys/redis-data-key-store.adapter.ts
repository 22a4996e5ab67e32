/**
 * DataKeyStore on Redis (cluster mode; docs/adr/0009-data-keys-outside-the-log.md).
 *
 * Layout: one string per subject, `<prefix>:{<subject>}` (default prefix `sw:dek`; the braces make
 * the subject the Redis Cluster hash tag), holding either the 32 key bytes or the tombstone
 * {@link REDIS_DATA_KEY_TOMBSTONE} (any value of another length is refused as corrupt). Erasures are
 * announced on the channel `<prefix>:erased` (the message is the subject).
 *
 * - getOrCreate: one Lua script (EVALSHA, EVAL on NOSCRIPT) that returns the stored value, or stores
 *   the fresh random key the caller passed when there is none and returns it. Redis runs scripts
 *   one at a time, so of many processes racing for a new subject exactly one key wins and all of
 *   them get it; a tombstone is returned as it is, so an erased subject never gets a new key.
 * - erase: one Lua script that SETs the tombstone over the value (the key bytes are overwritten, in
 *   memory and in what Redis propagates to its AOF and replicas) and PUBLISHes the subject. Every
 *   instance subscribes on a connection of its own (`client.duplicate()`) and evicts the subject
 *   from its cache when the message arrives, so other processes stop using the key at once.
 * - Cache: keys are cached in memory (LRU of `maxCachedKeys`) for at most `cacheTtlMs`, and only
 *   while the subscription is up: when the subscriber connection drops, the cache is cleared and
 *   stays off until it has subscribed again (messages sent meanwhile are lost). So a key erased by
 *   another process is used here at the latest until the message arrives, and never longer than
 *   `cacheTtlMs` (the bound if a message is lost some other way). A read that started before an
 *   eviction does not cache what it read.
 *
 * The AOF: Redis appends every write to its append-only file, so the `SET` that stored a key stays
 * in the AOF after the tombstone overwrote it, until the AOF is rewritten. After an erase the
 * store therefore asks Redis to rewrite it (`BGREWRITEAOF`), fire-and-forget: at most once per
 * `aofRewriteIntervalMs` (default 10 s; erasures in between are covered by one rewrite at the end
 * of the interval), retried every second while another rewrite is in progress (a rewrite that
 * started before the erase may have copied the key), skipped when Redis has no AOF; a failure is
 * logged as a warning and then left to Redis' own automatic rewrites. `close()` sends a pending
 * request at once. Not covered (see the ADR): RDB snapshots (Redis' default `save` rules, as in
 * deploy/compose) keep the key until the next snapshot, within the hour after the erasure; replicas rewrite their own AOF only on their own
 * schedule; freed memory is not zeroed; backups of the Redis files hold the key until they expire.
 *
 * Durability: keys and tombstones are only as durable as the Redis server: run it with
 * `appendonly yes` and `appendfsync always` (deploy/local/redis.sh `--aof`). A server without AOF
 * gets a warning at start-up: a restart would forget keys (unreadable data) and erasures.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { pino, type Logger } from 'pino';
import { checkSubject, DATA_KEY_BYTES, DataKeyError, type DataKeyStore } from './data-key-store.port.ts';
import { createAofRewriter } from '../redis/aof-rewriter.ts';

export interface RedisDataKeyStoreOptions {
  /**
   * A ready ioredis client (platform/redis/redis-client.ts: `createRedisClient` + `redisReady`).
   * It stays the caller's: `close()` does not disconnect it. Its options are reused for the
   * subscriber connection (`client.duplicate()`).
   */
  client: Redis;
  /** Longest time a key stays cached, ms (default 5 000; 0 turns the cache off). */
  cacheTtlMs?: number;
  /** Prefix of the keys and the channel (default `sw:dek`); one per deployment sharing the Redis. */
  prefix?: string;
  /** Structured logs (pino); default silent. Logs the subject of an erasure, never key bytes. */
  logger?: Logger;
  /** Most keys held in memory (LRU; default 10 000). Evicted keys are zeroed in memory. */
  maxCachedKeys?: number;
  /** Least time between two BGREWRITEAOF this instance sends, ms (default 10 000). */
  aofRewriteIntervalMs?: number;
  /** How long the factory waits for the subscription before it returns with the cache off, ms (default 2 000). */
  subscribeTimeoutMs?: number;
}

/** The value that replaces an erased subject's key bytes (13 bytes: never mistaken for a key). */
export const REDIS_DATA_KEY_TOMBSTONE = 'sw-dek-erased';
const TOMBSTONE = Buffer.from(REDIS_DATA_KEY_TOMBSTONE);

/** The Redis key of `subject`'s data key and the erasure channel, for a `prefix` (default `sw:dek`). */
export function redisDataKeyStoreKeys(subject: string, prefix = 'sw:dek'): { key: string; channel: string } {
  return { key: `${prefix}:{${checkSubject(subject)}}`, channel: `${prefix}:erased` };
}

/** KEYS[1] the subject's key; ARGV[1] a fresh key. Returns the stored value (key or tombstone), storing ARGV[1] when there is none. */
const GET_OR_CREATE = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`;
/** KEYS[1] the subject's key; ARGV[1] the tombstone, ARGV[2] the channel, ARGV[3] the subject. */
const ERASE = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`;
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const SCRIPTS = { getOrCreate: { lua: GET_OR_CREATE, sha: sha1(GET_OR_CREATE) }, erase: { lua: ERASE, sha: sha1(ERASE) } };

/**
 * Opens the store: subscribes to the erasure channel on a duplicate connection (waiting up to
 * `subscribeTimeoutMs`; until it is subscribed the cache is off) and warns when Redis has no AOF.
 * Calls reject with DataKeyError (`KEY_STORE_IO` when Redis cannot answer: unreachable, timed out,
 * refusing, or a stored value that is neither a key nor the tombstone).
 */
export async function createRedisDataKeyStore(opts: RedisDataKeyStoreOptions): Promise<DataKeyStore> {
  const { client } = opts;
  const logger = opts.logger ?? pino({ level: 'silent' });
  const prefix = opts.prefix ?? 'sw:dek';
  const channel = `${prefix}:erased`;
  const ttl = Math.max(0, opts.cacheTtlMs ?? 5_000);
  const max = Math.max(1, opts.maxCachedKeys ?? 10_000);
  const cache = new LRUCache<string, Buffer>({ max, ...(ttl > 0 ? { ttl } : {}), dispose: (key) => key.fill(0) });
  const erasedCache = new LRUCache<string, true>({ max });
  let subscribed = false;
  let evictions = 0;
  let closed = false;
  const evict = (subject?: string) => {
    evictions++;
    if (subject === undefined) cache.clear(); else cache.delete(subject);
  };

  const subscriber = client.duplicate({ autoResubscribe: false, connectionName: `${prefix}:erasures` });
  let lastError = '';
  subscriber.on('error', (err: Error) => {
    if (err.message !== lastError) logger.warn({ err: err.message, channel }, 'data-key store: subscriber connection error');
    lastError = err.message;
  });
  subscriber.on('close', () => {
    if (subscribed && !closed) logger.warn({ channel }, 'data-key store: erasure subscription lost; cache off until it is back');
    subscribed = false;
    evict();
  });
  subscriber.on('message', (ch: string, subject: string) => {
    // Only evicts: a message is no proof of an erasure (anyone with access to Redis may publish),
    // the next call reads the truth from Redis.
    if (ch === channel) evict(subject);
  });
  const subscribedOnce = new Promise<void>((resolve) => {
    const subscribe = () => {
      subscriber.subscribe(channel).then(() => {
        if (subscriber.status !== 'ready') return;
        evict(); // anything cached before or while the subscription was down may be stale
        subscribed = true;
        lastError = '';
        resolve();
      }, (err: Error) => logger.warn({ err: err.message, channel }, 'data-key store: subscribe failed; retried on reconnect'));
    };
    subscriber.on('ready', subscribe);
    if (subscriber.status === 'ready') subscribe();
  });
  const subscribeTimeoutMs = opts.subscribeTimeoutMs ?? 2_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    subscribedOnce.then(() => false),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), subscribeTimeoutMs); }),
  ]);
  clearTimeout(timer);
  if (timedOut) logger.warn({ channel, subscribeTimeoutMs }, 'data-key store: not subscribed to erasures yet; keys are not cached until it is');

  const rewriter = createAofRewriter(client, Math.max(0, opts.aofRewriteIntervalMs ?? 10_000), logger);
  client.info('persistence').then((info) => {
    if (/^aof_enabled:0/m.test(info)) logger.warn({}, 'data-key store: Redis runs without AOF: a restart loses data keys and erasures (run it with appendonly yes, appendfsync always)');
  }, () => undefined);

  const redisKey = (s: string) => `${prefix}:{${s}}`;
  const runScript = async (script: { lua: string; sha: string }, key: string, ...args: (string | Buffer)[]): Promise<unknown> => {
    try {
      return await client.callBuffer('EVALSHA', script.sha, 1, key, ...args);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      return client.callBuffer('EVAL', script.lua, 1, key, ...args);
    }
  };
  /** Validates the subject and store state, runs `fn`, maps Redis failures to KEY_STORE_IO. */
  const inFlight = new Set<Promise<unknown>>();
  const call = async <T>(what: string, subject: unknown, fn: (s: string) => Promise<T>): Promise<T> => {
    if (closed) throw new DataKeyError('KEY_STORE_IO', `data-key store is closed (${what})`);
    const s = checkSubject(subject);
    const p = fn(s);
    inFlight.add(p);
    try {
      return await p;
    } catch (e) {
      if (e instanceof DataKeyError) throw e;
      throw new DataKeyError('KEY_STORE_IO', `data-key store: ${what} ${s} failed: ${(e as Error).message}`, { cause: e });
    } finally {
      inFlight.delete(p);
    }
  };
  /** A stored value as a key (a copy is cached), null for the tombstone. */
  const asKey = (s: string, value: unknown, epoch: number): Buffer | null => {
    if (!Buffer.isBuffer(value)) throw new DataKeyError('KEY_STORE_IO', `data-key store: unexpected reply for ${s}`);
    if (value.equals(TOMBSTONE)) {
      erasedCache.set(s, true);
      return null;
    }
    if (value.length !== DATA_KEY_BYTES) throw new DataKeyError('KEY_STORE_IO', `data key of ${s} in Redis holds ${value.length} bytes, neither a key nor the tombstone`);
    if (subscribed && ttl > 0 && epoch === evictions) cache.set(s, Buffer.from(value));
    return value;
  };
  const erased = (s: string) => new DataKeyError('KEY_ERASED', `the data key of ${s} was erased; no new key is created`);

  return {
    getOrCreate: (subject) => call('getOrCreate', subject, async (s) => {
      const hit = cache.get(s);
      if (hit) return Buffer.from(hit);
      if (erasedCache.has(s)) throw erased(s);
      const epoch = evictions;
      const key = asKey(s, await runScript(SCRIPTS.getOrCreate, redisKey(s), randomBytes(DATA_KEY_BYTES)), epoch);
      if (!key) throw erased(s);
      return key;
    }),
    get: (subject) => call('get', subject, async (s) => {
      const hit = cache.get(s);
      if (hit) return Buffer.from(hit);
      if (erasedCache.has(s)) return null;
      const epoch = evictions;
      const value = await client.getBuffer(redisKey(s));
      return value === null ? null : asKey(s, value, epoch);
    }),
    isErased: (subject) => call('isErased', subject, async (s) => {
      if (erasedCache.has(s)) return true;
      const value = await client.getBuffer(redisKey(s));
      return value !== null && asKey(s, value, -1) === null;
    }),
    erase: (subject) => call('erase', subject, async (s) => {
      evict(s);
      await runScript(SCRIPTS.erase, redisKey(s), TOMBSTONE, channel, s);
      evict(s);
      erasedCache.set(s, true);
      logger.info({ subject: s, key: redisKey(s) }, 'data key erased');
      rewriter.request();
    }),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inFlight]);
      await rewriter.flush();
      subscribed = false;
      subscriber.disconnect();
      cache.clear();
      erasedCache.clear();
    },
  };
}
