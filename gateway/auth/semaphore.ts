/**
 * A counting semaphore with a bounded wait queue: at most `concurrency` tasks run at once, at most
 * `queue` more wait (FIFO); a task arriving when both are full is refused at once (the caller
 * answers 503 with Retry-After rather than letting waiters pile up in memory).
 */
export interface Semaphore {
  /**
   * Runs `task` when a slot is free. Resolves or rejects with the task's outcome.
   * @throws (rejects with) the error `refused()` builds when the queue is full; the task never runs.
   */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now, waiting now, the most ever running at once, and refused so far. */
  stats(): { active: number; queued: number; peakActive: number; refused: number };
}

/** @throws RangeError when `concurrency` < 1 or `queue` < 0 (integers). */
export function createSemaphore(opts: { concurrency: number; queue: number; refused: () => Error }): Semaphore {
  const { concurrency, queue } = opts;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError('concurrency must be an integer ≥ 1');
  if (!(Number.isInteger(queue) && queue >= 0)) throw new RangeError('queue must be an integer ≥ 0');
  let active = 0;
  let peakActive = 0;
  let refused = 0;
  const waiting: Array<() => void> = [];

  // A finishing task hands its slot straight to the first waiter (active stays the same), so a
  // task arriving in between cannot take it and push `active` over `concurrency`.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return {
    async run(task) {
      if (active >= concurrency) {
        if (waiting.length >= queue) {
          refused++;
          throw opts.refused();
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        active++;
      }
      peakActive = Math.max(peakActive, active);
      try {
        return await task();
      } finally {
        release();
      }
    },
    stats: () => ({ active, queued: waiting.length, peakActive, refused }),
  };
}
