/**
 * A real Redis server (Debian's `redis-server`, tested 7.0) for tests, driven through
 * `deploy/local/redis.sh`.
 *
 *   const skip = await redisRequirement();   // once per file, at module level
 *   describe('…', { skip }, () => {
 *     let server: RedisServer;
 *     before(async () => { server = await startRedisServer(); });
 *     after(() => server?.stop());
 *     ... createRedisClient(server.url) ...
 *
 * Each server listens on a free 127.0.0.1 port (never the system service's 6379) and keeps its
 * files in `dir` (a fresh temp dir by default, removed by `stop()`). If the test process exits
 * without `stop()`, an exit hook SIGKILLs the server's pid so no server outlives the test run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './kafka-broker.ts';
import { requirement } from './requirements.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REDIS_SCRIPT = join(ROOT, 'deploy/local/redis.sh');

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (what `createRedisClient` takes). */
  url: string;
  host: '127.0.0.1';
  port: number;
  /** Pid of redis-server (changes on `restart`). */
  pid: number;
  /** Working directory (redis.log; appendonlydir/ with `aof`). */
  dir: string;
  /** True when started with the append-only file fsynced on every write (data survives restarts). */
  aof: boolean;
  /** Stops the server (SIGTERM, SIGKILL after 30 s) and removes `dir` when it was a temp dir. */
  stop(): Promise<void>;
  /**
   * Stops and starts the same server: same port, same dir. Data survives only with `aof: true`
   * (without it the server restarts empty). `signal` 'SIGTERM' (default) is a clean shutdown;
   * 'SIGKILL' kills the process outright (a crash; with AOF `appendfsync always` nothing
   * acknowledged is lost). `downMs` keeps the server down that long before starting it again
   * (outage tests); clients see connection refused meanwhile.
   */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL'; downMs?: number }): Promise<void>;
  /** Stops the process but keeps port and dir for a later `start()` (outage tests). */
  halt(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Starts the server again after `halt()` on the same port and dir. */
  start(): Promise<void>;
}

const run = (args: string[], timeoutMs: number) => new Promise<string>((res, rej) => {
  execFile('bash', [REDIS_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
    if (err) rej(new Error(`redis.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
    else res(stdout);
  });
});

let missing: Promise<string | undefined> | undefined;

/**
 * Why a Redis server cannot run here (`redis-server` is not installed or does not run;
 * `STREAMWAVE_SKIP_REDIS=1`), or undefined when it can. Cached per process.
 */
export function redisMissing(): Promise<string | undefined> {
  if (process.env.STREAMWAVE_SKIP_REDIS === '1') return Promise.resolve('STREAMWAVE_SKIP_REDIS=1 is set');
  missing ??= run(['fetch'], 30_000).then(() => undefined, (e: Error) => e.message.split('\n').filter(Boolean).pop() ?? e.message);
  return missing;
}

/**
 * The `skip` option for a test or suite that needs Redis: see test/support/requirements.ts
 * (skips locally with the reason; under CI registers a failing test). Call once per test file.
 */
export async function redisRequirement(): Promise<string | false> {
  return requirement('a Redis server (apt-get install redis-server)', await redisMissing());
}

const livePids = new Set<number>();
let hooked = false;
const hookExit = () => {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pid of livePids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
  });
};

/**
 * Starts a server (~0.1 s). `aof: true` runs it with `--appendonly yes --appendfsync always` so
 * `restart()` keeps the data; default: no persistence at all.
 * @throws Error with the script's stderr (and the server's log tail) when it cannot start.
 */
export async function startRedisServer(opts: { dir?: string; aof?: boolean } = {}): Promise<RedisServer> {
  const ownDir = !opts.dir;
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'streamwave-redis-'));
  const aof = opts.aof ?? false;
  hookExit();
  const startArgs = (port: number) => ['start', '--port', String(port), '--dir', dir, ...(aof ? ['--aof'] : [])];
  let port = 0;
  let out = '';
  // A free port can be taken between the probe and the bind; retry a few times.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      out = await run(startArgs(port), 60_000);
      break;
    } catch (e) {
      if (attempt >= 2) {
        if (ownDir) await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  const parsePid = (text: string) => {
    const pid = Number(/^pid=(\d+)$/m.exec(text)?.[1]);
    if (!pid) throw new Error(`unexpected redis.sh output: ${text}`);
    return pid;
  };
  const firstPid = parsePid(out);
  livePids.add(firstPid);
  let running = true;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    pid: firstPid,
    dir,
    aof,
    async halt({ signal = 'SIGTERM' } = {}) {
      if (!running) return;
      if (signal === 'SIGKILL') {
        try { process.kill(server.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      // After a SIGKILL this only waits for the pid to be gone and removes the pid file.
      await run(['stop', '--dir', dir], 60_000);
      livePids.delete(server.pid);
      running = false;
    },
    async start() {
      if (running) return;
      server.pid = parsePid(await run(startArgs(port), 60_000));
      livePids.add(server.pid);
      running = true;
    },
    async stop() {
      await server.halt();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
    async restart({ signal = 'SIGTERM', downMs = 0 } = {}) {
      await server.halt({ signal });
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await server.start();
    },
  };
  return server;
}
