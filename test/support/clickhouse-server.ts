/**
 * A real single-node ClickHouse server for tests, driven through `deploy/local/clickhouse.sh`
 * (Debian's `clickhouse-server` package, 18.16 here; nothing is downloaded).
 *
 *   const skip = await clickhouseRequirement();   // once per file, at module level
 *   describe('…', { skip }, () => {
 *     let server: ClickHouseServer;
 *     before(async () => { server = await startClickHouseServer(); });
 *     after(() => server?.stop());
 *     … createClient({ url: server.url }) …
 *
 * Each server listens on a free 127.0.0.1 port and keeps its data in `dir` (a fresh temp dir by
 * default, removed by `stop()`). If the test process exits without `stop()`, an exit hook
 * SIGKILLs the server's pid so no server outlives the test run.
 */
import { fetchFailure, missingCheck, scriptPath, scriptRunner, startLocalServer } from './local-server.ts';
import { requirement } from './requirements.ts';

export const CLICKHOUSE_SCRIPT = scriptPath('clickhouse');
const run = scriptRunner('clickhouse');

export interface ClickHouseServer {
  /** HTTP interface, `http://127.0.0.1:<port>` (what @clickhouse/client takes as `url`). */
  url: string;
  /** HTTP port. */
  port: number;
  /** Pid of the server process (changes on `restart`). */
  pid: number;
  /** Server directory (config.xml, users.xml, data/, logs/server.log and error.log). */
  dir: string;
  /** Stops the server (SIGTERM, SIGKILL after 30 s) and removes `dir` when it was a temp dir. */
  stop(): Promise<void>;
  /**
   * Stops and starts the same server: same port, same data (outage tests). `signal` 'SIGTERM'
   * (default) is a clean shutdown; 'SIGKILL' kills the process outright (a crash).
   */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

/**
 * Why a ClickHouse server cannot run here (no server binary: `apt-get install clickhouse-server`;
 * `STREAMWAVE_SKIP_CLICKHOUSE=1`), or undefined when it can. Cached per process.
 */
export const clickhouseMissing: () => Promise<string | undefined> = missingCheck('STREAMWAVE_SKIP_CLICKHOUSE', fetchFailure(run));

/**
 * The `skip` option for a test or suite that needs a ClickHouse server: see
 * test/support/requirements.ts (skips locally with the reason; under CI registers a failing test).
 * Call once per test file.
 */
export async function clickhouseRequirement(): Promise<string | false> {
  return requirement('a ClickHouse server (Debian package clickhouse-server)', await clickhouseMissing());
}

/**
 * Starts a server on a free port (well under a second here for 18.16).
 * @throws Error with the script's stderr (and the server's error log tail) when it cannot start.
 */
export async function startClickHouseServer(opts: { dir?: string } = {}): Promise<ClickHouseServer> {
  const server = await startLocalServer({ name: 'clickhouse', run, keys: ['url'], dir: opts.dir, startTimeoutMs: 120_000 });
  return Object.assign(server, { url: server.fields.url });
}
