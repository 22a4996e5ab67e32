/**
 * Polling for an outcome the system reaches asynchronously (a projection catching up, a replay
 * swapping, a job ending): the bound is a deadline for a test to fail by, not a figure it asserts.
 */
import assert from 'node:assert/strict';

/** How `eventually` polls. */
export interface EventuallyOptions {
  /** Fail after this long (milliseconds); default 60 000. */
  timeoutMs?: number;
  /** Pause between tries (milliseconds); default 250. */
  intervalMs?: number;
  /**
   * Treat an error thrown by `fn` as "not yet" (a server restarting, a resource not there yet);
   * default false: the first error fails the test at once.
   */
  retryErrors?: boolean;
}

/**
 * Calls `fn` until `ok` holds for its value, and returns that value.
 * @throws AssertionError naming `what` and the last value (or error) once `timeoutMs` has passed;
 *   `fn`'s own error unless `retryErrors`
 */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, opts: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 250, retryErrors = false } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: { value: T } | { error: unknown };
    try {
      last = { value: await fn() };
    } catch (error) {
      if (!retryErrors) throw error;
      last = { error };
    }
    if ('value' in last && ok(last.value)) return last.value;
    if (Date.now() > deadline) {
      assert.fail(`${what}: last ${'value' in last ? `value ${JSON.stringify(last.value)}` : `error ${(last.error as Error)?.message ?? String(last.error)}`}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
