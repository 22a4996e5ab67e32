/**
 * RateLimitStore on Redis (cluster mode): the fixed-window counters every gateway replica shares,
 * so a limit holds across gateways (issue 9). Same semantics as the in-memory adapter
 * (rate-limit-store.port.ts): the first hit of a key opens a window of `windowMs`, hits inside it
 * count up, the next hit after it closes opens a new one.
 *
 * One Lua script per call, so the read-modify-write of a window is atomic however many gateways
 * hit the same key at once. A window is a small hash `{n: count, t: opened at (ms), w: windowMs}`
 * with a PEXPIRE of its remaining time (set when the window opens), so Redis drops closed windows
 * by itself and memory stays bounded by the keys of the last window.
 *
 * Why not the bare INCR + PEXPIRE + PTTL pattern: it can only use Redis' own clock, and the port's
 * contract (and the gateway's tests) move a clock of their own. Storing when the window opened lets
 * one script honour either clock; with the default (Redis' clock, `TIME` inside the script) it
 * behaves exactly like INCR + PEXPIRE + PTTL: count = INCR, window end = PEXPIRE on the first hit,
 * resetInMs = PTTL. Using Redis' clock is also what makes windows agree across gateways whose
 * clocks differ.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { RateLimitStoreError, type RateLimitHit, type RateLimitStore } from '../rate-limit-store.port.ts';

export interface RedisRateLimitStoreOptions {
  /** A ready ioredis client or Cluster (platform/redis/redis-client.ts: `createRedisClient` + `redisReady`). */
  client: Redis | Cluster;
  /** Prefix of every key (default `sw:rl:`); one prefix per deployment sharing the Redis. */
  prefix?: string;
  /**
   * Clock, ms since epoch. Default: Redis' own clock (`TIME`, read inside the script), the same for
   * every gateway. A custom clock is for tests; keys then live `graceMs` longer than their window
   * (Redis expires them by its own clock, which does not follow the custom one).
   */
  now?: () => number;
  /** Extra key lifetime past the window's end, ms. Default 0 with Redis' clock, 60 000 with a custom `now`. */
  graceMs?: number;
}

/**
 * A shared store that cannot answer (unreachable, timed out, refusing) → `RATE_LIMIT_STORE_IO`;
 * a key that is not a string or a window that is not a positive whole number of ms → `INVALID_INPUT`.
 */
export class RedisRateLimitStoreError extends RateLimitStoreError {
  constructor(code: RateLimitStoreError['code'], message: string) {
    super(code, message);
    this.name = 'RedisRateLimitStoreError';
  }
}

/**
 * KEYS[1]: the window. ARGV: [1] windowMs, [2] now in ms ('' = Redis' clock), [3] 'hit' | 'read',
 * [4] grace ms. Returns `{count, resetInMs}` ({0, 0} for a read of a closed or unknown window).
 */
const SCRIPT = `
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[2])
end
local st = redis.call('HMGET', KEYS[1], 'n', 't', 'w')
local n, opened, w = tonumber(st[1]), tonumber(st[2]), tonumber(st[3])
local open = n ~= nil and opened ~= nil and w ~= nil and now - opened < w
if ARGV[3] == 'read' then
  if open then return {n, opened + w - now} end
  return {0, 0}
end
if open then
  n = redis.call('HINCRBY', KEYS[1], 'n', 1)
else
  n = 1
  opened = now
  w = tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'n', 1, 't', now, 'w', w)
  redis.call('PEXPIRE', KEYS[1], w + tonumber(ARGV[4]))
end
return {n, opened + w - now}
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

/**
 * Keys up to this length are stored as they are (readable in `redis-cli`); longer ones (session
 * ids, usernames chosen by a flooder) as a 128-bit digest, so a flood of long forged keys stays small.
 */
const MAX_RAW_KEY = 64;

/**
 * Creates the store. Calls reject with RedisRateLimitStoreError (`RATE_LIMIT_STORE_IO` when Redis
 * cannot answer: the gateway then answers 5xx; `INVALID_INPUT` for a non-string key or a window that
 * is not a positive whole number of ms).
 */
export function createRedisRateLimitStore(opts: RedisRateLimitStoreOptions): RateLimitStore {
  const { client } = opts;
  const prefix = opts.prefix ?? 'sw:rl:';
  const grace = String(Math.max(0, Math.floor(opts.graceMs ?? (opts.now ? 60_000 : 0))));
  const redisKey = (key: unknown) => {
    if (typeof key !== 'string') throw new RedisRateLimitStoreError('INVALID_INPUT', `rate-limit key must be a string, got ${typeof key}`);
    return key.length <= MAX_RAW_KEY
      ? `${prefix}k:${key}`
      : `${prefix}h:${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
  };
  const checkWindow = (windowMs: unknown) => {
    if (!(typeof windowMs === 'number' && Number.isSafeInteger(windowMs) && windowMs > 0)) {
      throw new RedisRateLimitStoreError('INVALID_INPUT', `window must be a positive whole number of ms, got ${String(windowMs)}`);
    }
    return String(windowMs);
  };

  const call = async (op: 'hit' | 'read', key: string, windowMs: number): Promise<RateLimitHit> => {
    const args = [redisKey(key), checkWindow(windowMs), opts.now ? String(Math.floor(opts.now())) : '', op, grace];
    let reply: unknown;
    try {
      try {
        reply = await client.evalsha(SHA, 1, ...args);
      } catch (e) {
        if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
        reply = await client.eval(SCRIPT, 1, ...args);
      }
    } catch (e) {
      throw new RedisRateLimitStoreError('RATE_LIMIT_STORE_IO', `rate-limit store: ${op} failed: ${(e as Error).message}`);
    }
    const [count, resetInMs] = reply as [number, number];
    return { count: Number(count), resetInMs: Number(resetInMs) };
  };

  return {
    hit: (key, windowMs) => call('hit', key, windowMs),
    read: (key, windowMs) => call('read', key, windowMs),
    async reset(key) {
      const k = redisKey(key);
      try { await client.del(k); } catch (e) {
        throw new RedisRateLimitStoreError('RATE_LIMIT_STORE_IO', `rate-limit store: reset failed: ${(e as Error).message}`);
      }
    },
  };
}
