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
import { fetchFailure, missingCheck, scriptPath, scriptRunner, startLocalServer } from './local-server.ts';
import { requirement } from './requirements.ts';

export const REDIS_SCRIPT = scriptPath('redis');
const run = scriptRunner('redis');

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

/**
 * Why a Redis server cannot run here (`redis-server` is not installed or does not run;
 * `STREAMWAVE_SKIP_REDIS=1`), or undefined when it can. Cached per process.
 */
export const redisMissing: () => Promise<string | undefined> = missingCheck('STREAMWAVE_SKIP_REDIS', fetchFailure(run));

/**
 * The `skip` option for a test or suite that needs Redis: see test/support/requirements.ts
 * (skips locally with the reason; under CI registers a failing test). Call once per test file.
 */
export async function redisRequirement(): Promise<string | false> {
  return requirement('a Redis server (apt-get install redis-server)', await redisMissing());
}

/**
 * Starts a server (~0.1 s). `aof: true` runs it with `--appendonly yes --appendfsync always` so
 * `restart()` keeps the data; default: no persistence at all.
 * @throws Error with the script's stderr (and the server's log tail) when it cannot start.
 */
export async function startRedisServer(opts: { dir?: string; aof?: boolean } = {}): Promise<RedisServer> {
  const aof = opts.aof ?? false;
  const server = await startLocalServer({
    name: 'redis', run, keys: [], dir: opts.dir, startTimeoutMs: 60_000, startArgs: aof ? ['--aof'] : [],
  });
  return Object.assign(server, { url: `redis://127.0.0.1:${server.port}`, host: '127.0.0.1' as const, aof });
}
