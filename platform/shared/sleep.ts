/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (already aborted: at once).
 * Never rejects; the timer is cleared on abort, so nothing is left to keep the process alive.
 */
export const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (signal?.aborted) { resolve(); return; }
  const t = setTimeout(() => { signal?.removeEventListener('abort', done); resolve(); }, ms);
  const done = () => { clearTimeout(t); resolve(); };
  signal?.addEventListener('abort', done, { once: true });
});
