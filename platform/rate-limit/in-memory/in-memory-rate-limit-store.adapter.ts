/**
 * In-process RateLimitStore (standalone mode, tests). Memory is bounded: at most `maxKeys` keys are
 * kept (least recently hit evicted first), so a flood of fresh keys (forged session ids, random
 * usernames) cannot grow the heap; an evicted key simply starts a fresh window, which errs on the
 * side of letting a request through, never of blocking one wrongly.
 */
import type { RateLimitHit, RateLimitStore } from '../rate-limit-store.port.ts';

export interface InMemoryRateLimitStoreOptions {
  /** Most keys kept at once (default 100 000, ~10 MiB). */
  maxKeys?: number;
  /** Clock, ms since epoch (default Date.now); tests move it. */
  now?: () => number;
}

interface Window {
  count: number;
  openedAt: number;
  windowMs: number;
}

/** Creates the store. @throws RangeError when `maxKeys` is not a positive integer. */
export function createInMemoryRateLimitStore(opts: InMemoryRateLimitStoreOptions = {}): RateLimitStore & { readonly size: number } {
  const maxKeys = opts.maxKeys ?? 100_000;
  if (!(Number.isInteger(maxKeys) && maxKeys > 0)) throw new RangeError('maxKeys must be a positive integer');
  const now = opts.now ?? Date.now;
  // A Map iterates in insertion order: delete + set moves a key to the end (most recent).
  const windows = new Map<string, Window>();

  const live = (key: string, at: number): Window | undefined => {
    const w = windows.get(key);
    if (w && at - w.openedAt < w.windowMs) return w;
    if (w) windows.delete(key);
    return undefined;
  };

  return {
    get size() {
      return windows.size;
    },
    async hit(key, windowMs) {
      const at = now();
      let w = live(key, at);
      if (w) {
        windows.delete(key);
        w.count += 1;
      } else {
        w = { count: 1, openedAt: at, windowMs };
        if (windows.size >= maxKeys) windows.delete(windows.keys().next().value!);
      }
      windows.set(key, w);
      return { count: w.count, resetInMs: w.openedAt + w.windowMs - at };
    },
    async read(key): Promise<RateLimitHit> {
      const at = now();
      const w = live(key, at);
      return w ? { count: w.count, resetInMs: w.openedAt + w.windowMs - at } : { count: 0, resetInMs: 0 };
    },
    async reset(key) {
      windows.delete(key);
    },
  };
}
