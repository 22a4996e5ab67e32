/**
 * BGREWRITEAOF on request (issue 13): Redis' append-only file keeps every write ever made until it
 * is rewritten, so an erased data key or a read model's deleted value stays on disk until then.
 * `requestAofRewrite(client)` asks for one rewrite that starts after the call; requests within
 * `minIntervalMs` (10 s) of the last rewrite share one at the interval's end; a rewrite already in
 * progress (which may have copied the old bytes) is waited out and followed by a new one. One
 * rewriter per client, shared by every store on it. A server without AOF needs none.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long to wait before asking again while another AOF rewrite is in progress, ms. */
const REWRITE_RETRY_MS = 1_000;

/**
 * Sends BGREWRITEAOF after erasures: `request()` asks for one rewrite that starts after the call;
 * requests within `minIntervalMs` of the last rewrite share one rewrite at the interval's end.
 * `flush()` sends a pending request at once and stops the rewriter.
 */
export function createAofRewriter(client: Redis, minIntervalMs: number, logger: Logger): { request(): void; flush(): Promise<void> } {
  let pending = false;
  let stopped = false;
  let notBefore = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const attempt = async (): Promise<void> => {
    pending = false;
    try {
      const info = await client.info('persistence');
      if (/^aof_enabled:0/m.test(info)) return; // no AOF: nothing holds the old bytes on disk
      if (/^aof_rewrite_in_progress:1/m.test(info)) return retryLater();
      await client.bgrewriteaof();
      notBefore = Date.now() + minIntervalMs;
      logger.info({}, 'asked Redis to rewrite its AOF after an erasure');
    } catch (e) {
      const message = (e as Error).message;
      if (/already in progress/i.test(message)) return retryLater();
      logger.warn({ err: message }, 'AOF rewrite after an erasure failed; erased bytes stay in the AOF until its next rewrite');
    }
  };
  const retryLater = () => {
    pending = true;
    notBefore = Date.now() + REWRITE_RETRY_MS;
    if (stopped) logger.warn({}, 'closed while Redis was rewriting its AOF; erased bytes stay in the AOF until its next rewrite');
  };
  const run = () => {
    timer = undefined;
    running = attempt().finally(() => {
      running = undefined;
      schedule();
    });
  };
  const schedule = () => {
    if (stopped || !pending || running || timer) return;
    timer = setTimeout(run, Math.max(0, notBefore - Date.now()));
    timer.unref();
  };

  return {
    request() {
      pending = true;
      schedule();
    },
    async flush() {
      stopped = true;
      if (running) await running;
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      if (pending) await attempt();
    },
  };
}

const shared = new WeakMap<Redis, ReturnType<typeof createAofRewriter>>();

/** Asks for an AOF rewrite on `client`'s server (see the file comment), through the client's shared rewriter. */
export function requestAofRewrite(client: Redis, logger: Logger, minIntervalMs = 10_000): void {
  let r = shared.get(client);
  if (!r) {
    r = createAofRewriter(client, minIntervalMs, logger);
    shared.set(client, r);
  }
  r.request();
}

/**
 * Sends a rewrite still waiting for its interval on `client`'s server now (a process stopping
 * must not drop it: its timer does not hold the process open). The next request starts afresh.
 */
export async function flushAofRewrite(client: Redis): Promise<void> {
  const r = shared.get(client);
  if (!r) return;
  shared.delete(client);
  await r.flush();
}
