import type pino from 'pino';

/**
 * A task run at most once per `intervalMs`, after requests: at once when the last run is older
 * than the interval, else once at the interval's end (a replay from offset 0 meets many deletions
 * and must not repeat an expensive clean-up for each). `flush()` runs a pending one now and waits
 * for a running one (on close). A failure is logged with `what` and retried on the next request.
 * Used after batches that forgot personal data (issue 13): store compaction, the Typesense Raft-log
 * scrub.
 */
export function debouncedTask(task: () => Promise<void>, intervalMs: number, logger: pino.Logger, what: string): { request(): void; flush(): Promise<void> } {
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    last = Date.now();
    running = running.then(task).catch((err: unknown) => logger.error({ err }, `${what} failed; retried after the next request`));
    return running;
  };
  return {
    request() {
      if (timer) return;
      const wait = last + intervalMs - Date.now();
      if (wait <= 0) void run();
      else {
        timer = setTimeout(() => void run(), wait);
        timer.unref();
      }
    },
    async flush() {
      if (timer) await run();
      else await running;
    },
  };
}
