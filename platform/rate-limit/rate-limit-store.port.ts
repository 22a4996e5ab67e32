/**
 * RateLimitStore: the port behind every rate limit of the gateway (issue 8, findings 4, 6 and 9).
 * A fixed-window counter per key: the first hit of a key opens a window of `windowMs`; every hit
 * inside it increments the count; the window closes `windowMs` after it opened and the next hit
 * opens a new one. Standalone mode keeps the counters in process memory
 * (`createInMemoryRateLimitStore`); cluster mode shares them between gateway replicas in Redis
 * (`createRedisRateLimitStore`, platform/rate-limit/redis).
 *
 * Adapters pass `testRateLimitStore` (rate-limit-store.contract.ts).
 */

/** State of one key after a hit (or a read). */
export interface RateLimitHit {
  /** Hits counted in the current window (after this one for `hit`; 0 when no window is open). */
  count: number;
  /** Milliseconds until the current window closes (0 when no window is open). */
  resetInMs: number;
}

export interface RateLimitStore {
  /**
   * Counts one hit of `key` in a window of `windowMs` milliseconds and returns the state after it.
   * Never throws for a well-formed key; an unreachable shared store rejects (the gateway then answers 5xx).
   */
  hit(key: string, windowMs: number): Promise<RateLimitHit>;
  /** The state of `key` without counting a hit (a closed or unknown window reads as count 0). */
  read(key: string, windowMs: number): Promise<RateLimitHit>;
  /** Forgets `key` (e.g. its failures after a successful login). */
  reset(key: string): Promise<void>;
}

/** Errors of a RateLimitStore, with stable codes (adapters may subclass it). */
export class RateLimitStoreError extends Error {
  constructor(
    /** `RATE_LIMIT_STORE_IO` (a shared store that cannot answer: unreachable, timed out, refusing) or `INVALID_INPUT`. */
    readonly code: 'RATE_LIMIT_STORE_IO' | 'INVALID_INPUT',
    message: string,
  ) {
    super(message);
    this.name = 'RateLimitStoreError';
  }
}
