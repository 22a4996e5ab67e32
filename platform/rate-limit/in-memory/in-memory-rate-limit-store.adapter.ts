/**
 * In-process RateLimitStore (standalone mode, tests). Memory is bounded: at most `maxKeys` keys are
 * kept (least recently hit evicted first), so a flood of fresh keys (forged session ids, random
 * usernames) cannot grow the heap; an evicted key simply starts a fresh window, which errs on the
 * side of letting a request through, never of blocking one wrongly.
 */
import { createHash } from 'node:crypto';
import type { RateLimitHit, RateLimitStore } from '../rate-limit-store.port.ts';

/**
 * Keys longer than this are kept as a 128-bit digest (22 base64url characters): a session id or
 * username can be long, and 100,000 of them must stay small (a forged-heartbeat flood).
 */
const MAX_RAW_KEY = 32;
const compact = (key: string) => (key.length <= MAX_RAW_KEY ? key : createHash('sha256').update(key).digest('base64url').slice(0, 22));

export interface InMemoryRateLimitStoreOptions {
  /** Most keys kept at once (default 50 000, ~10 MiB of heap: ~200 bytes a key). */
  maxKeys?: number;
  /** Clock, ms since epoch (default Date.now); tests move it. */
  now?: () => number;
}

/** `[count, openedAt ms, windowMs]`: a tuple of small numbers is the cheapest entry V8 keeps. */
type Window = [count: number, openedAt: number, windowMs: number];

/** Creates the store. @throws RangeError when `maxKeys` is not a positive integer. */
export function createInMemoryRateLimitStore(opts: InMemoryRateLimitStoreOptions = {}): RateLimitStore & { readonly size: number } {
  const maxKeys = opts.maxKeys ?? 50_000;
  if (!(Number.isInteger(maxKeys) && maxKeys > 0)) throw new RangeError('maxKeys must be a positive integer');
  const now = opts.now ?? Date.now;
  // A Map iterates in insertion order: delete + set moves a key to the end (most recent).
  const windows = new Map<string, Window>();

  const live = (key: string, at: number): Window | undefined => {
    const w = windows.get(key);
    if (w && at - w[1] < w[2]) return w;
    if (w) windows.delete(key);
    return undefined;
  };

  return {
    get size() {
      return windows.size;
    },
    async hit(rawKey, windowMs) {
      const key = compact(rawKey);
      const at = now();
      let w = live(key, at);
      if (w) {
        windows.delete(key);
        w[0] += 1;
      } else {
        w = [1, at, windowMs];
        if (windows.size >= maxKeys) windows.delete(windows.keys().next().value!);
      }
      windows.set(key, w);
      return { count: w[0], resetInMs: w[1] + w[2] - at };
    },
    async read(rawKey): Promise<RateLimitHit> {
      const at = now();
      const w = live(compact(rawKey), at);
      return w ? { count: w[0], resetInMs: w[1] + w[2] - at } : { count: 0, resetInMs: 0 };
    },
    async reset(rawKey) {
      windows.delete(compact(rawKey));
    },
  };
}
