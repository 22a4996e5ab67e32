/**
 * Graceful shutdown with a deadline (issue 8, finding 9). On SIGTERM/SIGINT a process stops
 * accepting (HTTP closes first: Fastify stops listening, closes idle keep-alive connections and
 * waits for in-flight requests), drains its consumers, then closes its stores and the log — each
 * a named step. If the whole sequence takes longer than STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS
 * (default 30), the process logs which step hung and which never ran, and exits 1, so an
 * orchestrator sees a failed stop instead of waiting for its own SIGKILL.
 */
import type { Logger } from 'pino';

/** One component to stop; `close` may take as long as it needs, the deadline bounds the whole sequence. */
export interface ShutdownStep {
  /** Stable component name for the logs (`http`, `transcoder`, `projections`, `log`). */
  name: string;
  close(): Promise<unknown>;
}

/** The deadline passed while `component` was stopping; `notStopped` never ran (in order). */
export class ShutdownTimeoutError extends Error {
  readonly code = 'SHUTDOWN_TIMEOUT';
  constructor(readonly component: string, readonly notStopped: string[], readonly timeoutSeconds: number) {
    super(`shutdown deadline of ${timeoutSeconds} s passed while stopping ${component}${notStopped.length ? `; not stopped: ${notStopped.join(', ')}` : ''}`);
    this.name = 'ShutdownTimeoutError';
  }
}

/**
 * Runs `steps` in order, each after the previous one settled; a step that fails is logged and the
 * next still runs (the log must close even if a consumer failed to).
 * @throws ShutdownTimeoutError when the steps together take longer than `timeoutSeconds` (seconds);
 *   AggregateError of the failures when some step rejected.
 */
export async function shutdownInOrder(steps: ShutdownStep[], opts: { timeoutSeconds: number; logger: Logger }): Promise<void> {
  const { logger, timeoutSeconds } = opts;
  let index = 0;
  const failures: unknown[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ShutdownTimeoutError(steps[index]?.name ?? 'nothing', steps.slice(index + 1).map((s) => s.name), timeoutSeconds));
    }, timeoutSeconds * 1000);
  });
  const work = (async () => {
    for (; index < steps.length; index++) {
      const step = steps[index]!;
      const started = Date.now();
      logger.info({ component: step.name }, 'stopping');
      try {
        await step.close();
        logger.info({ component: step.name, ms: Date.now() - started }, 'stopped');
      } catch (err) {
        failures.push(err);
        logger.error({ component: step.name, err }, 'failed to stop');
      }
    }
  })();
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
  if (failures.length) throw new AggregateError(failures, `${failures.length} component(s) failed to stop`);
}

/**
 * Stops `service` on the first SIGTERM or SIGINT and exits: 0 when it stopped, 1 when its stop
 * failed or passed its deadline (the error names the component). `timeoutSeconds` is a safety
 * net for services whose `stop` has no deadline of its own: past it (plus a second of grace) the
 * process exits 1 regardless.
 */
export function exitOnSignals(service: { stop(): Promise<void> }, opts: { timeoutSeconds: number; logger: Logger; name: string }): void {
  const { logger } = opts;
  const shutdown = async (signal: NodeJS.Signals) => {
    logger.info({ signal, timeoutSeconds: opts.timeoutSeconds }, `${opts.name}: shutting down`);
    setTimeout(() => {
      logger.fatal({ timeoutSeconds: opts.timeoutSeconds }, `${opts.name}: shutdown deadline passed; exiting`);
      process.exit(1);
    }, opts.timeoutSeconds * 1000 + 1000).unref();
    try {
      await service.stop();
      process.exit(0);
    } catch (err) {
      const hung = err instanceof ShutdownTimeoutError ? { component: err.component, notStopped: err.notStopped } : {};
      logger.fatal({ err, ...hung }, `${opts.name}: shutdown did not complete`);
      process.exit(1);
    }
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
