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
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './kafka-broker.ts';
import { requirement } from './requirements.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLICKHOUSE_SCRIPT = join(ROOT, 'deploy/local/clickhouse.sh');

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

const run = (args: string[], timeoutMs: number) => new Promise<string>((res, rej) => {
  execFile('bash', [CLICKHOUSE_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
    if (err) rej(new Error(`clickhouse.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
    else res(stdout);
  });
});

let missing: Promise<string | undefined> | undefined;

/**
 * Why a ClickHouse server cannot run here (no server binary: `apt-get install clickhouse-server`;
 * `STREAMWAVE_SKIP_CLICKHOUSE=1`), or undefined when it can. Cached per process.
 */
export function clickhouseMissing(): Promise<string | undefined> {
  if (process.env.STREAMWAVE_SKIP_CLICKHOUSE === '1') return Promise.resolve('STREAMWAVE_SKIP_CLICKHOUSE=1 is set');
  missing ??= run(['fetch'], 30_000).then(() => undefined, (e: Error) => e.message.trim().split('\n').pop() ?? e.message);
  return missing;
}

/**
 * The `skip` option for a test or suite that needs a ClickHouse server: see
 * test/support/requirements.ts (skips locally with the reason; under CI registers a failing test).
 * Call once per test file.
 */
export async function clickhouseRequirement(): Promise<string | false> {
  return requirement('a ClickHouse server (Debian package clickhouse-server)', await clickhouseMissing());
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
 * Starts a server on a free port (well under a second here for 18.16).
 * @throws Error with the script's stderr (and the server's error log tail) when it cannot start.
 */
export async function startClickHouseServer(opts: { dir?: string } = {}): Promise<ClickHouseServer> {
  const ownDir = !opts.dir;
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'streamwave-clickhouse-'));
  hookExit();
  let port = 0;
  let out = '';
  // A free port can be taken between the probe and the bind; retry a few times.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      out = await run(['start', '--port', String(port), '--dir', dir], 120_000);
      break;
    } catch (e) {
      if (attempt >= 2) {
        if (ownDir) await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  const parse = (text: string) => {
    const pid = Number(/^pid=(\d+)$/m.exec(text)?.[1]);
    const url = /^url=(\S+)$/m.exec(text)?.[1];
    if (!pid || !url) throw new Error(`unexpected clickhouse.sh output: ${text}`);
    return { pid, url };
  };
  const first = parse(out);
  livePids.add(first.pid);
  const server: ClickHouseServer = {
    url: first.url,
    port,
    pid: first.pid,
    dir,
    async stop() {
      await run(['stop', '--dir', dir], 60_000);
      livePids.delete(server.pid);
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
    async restart({ signal = 'SIGTERM' } = {}) {
      if (signal === 'SIGKILL') {
        try { process.kill(server.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      // After a SIGKILL this only waits for the pid to be gone and removes the pid file.
      await run(['stop', '--dir', dir], 60_000);
      livePids.delete(server.pid);
      const next = parse(await run(['start', '--port', String(port), '--dir', dir], 120_000));
      server.pid = next.pid;
      livePids.add(next.pid);
    },
  };
  return server;
}
