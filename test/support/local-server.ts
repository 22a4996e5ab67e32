/**
 * What the test supports of the local servers share (kafka-broker.ts, redis-server.ts,
 * clickhouse-server.ts, typesense-server.ts, seaweedfs-server.ts): running a
 * `deploy/local/<name>.sh` script with a timeout and reading the `key=value` lines it prints, one
 * registry of started pids with a single process exit hook that SIGKILLs the survivors (so no
 * server outlives a test run that forgot `stop()`), the temp data dir, and the handle on one
 * started server (`startLocalServer`: start on a free port, halt/start, stop, restart).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runLocalScript, scriptFields } from '../../deploy/local/local-cluster.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Absolute path of `deploy/local/<name>.sh` (e.g. `kafka`). */
export const scriptPath = (name: string): string => join(ROOT, 'deploy/local', `${name}.sh`);

/**
 * Runs the script with `args` and resolves with its stdout. Rejects with an Error
 * `<name>.sh <args> failed: <reason>` followed by the script's stderr when it exits non-zero or
 * runs longer than `timeoutMs` (milliseconds; it is then killed).
 */
export type ScriptRunner = (args: string[], timeoutMs: number) => Promise<string>;

/** A `ScriptRunner` for `deploy/local/<name>.sh`; `maxBuffer` caps its stdout and stderr (bytes). */
export function scriptRunner(name: string, maxBuffer = 4 << 20): ScriptRunner {
  return (args, timeoutMs) => runLocalScript(name, args, { timeoutMs, maxBuffer });
}

/**
 * Reads what `<name>.sh start` printed: `pid=N` and a `key=value` line for each of `keys`.
 * @throws Error `unexpected <name>.sh output: …` when the pid or any key is missing.
 */
export function parseStartOutput<K extends string>(name: string, text: string, keys: readonly K[]): { pid: number; fields: Record<K, string> } {
  const all = scriptFields(text);
  const pid = Number(all.pid);
  const fields = {} as Record<K, string>;
  for (const key of keys) {
    const value = all[key];
    if (!value) throw new Error(`unexpected ${name}.sh output: ${text}`);
    fields[key] = value;
  }
  if (!pid) throw new Error(`unexpected ${name}.sh output: ${text}`);
  return { pid, fields };
}

/**
 * A cached "why can this server not run here" check: resolves to `<skipVar>=1 is set` while that
 * environment variable is `1`, otherwise to what `check` resolves to (a reason, or undefined when
 * the server can run), `check` running once per process.
 */
export function missingCheck(skipVar: string, check: () => Promise<string | undefined>): () => Promise<string | undefined> {
  let missing: Promise<string | undefined> | undefined;
  return () => {
    if (process.env[skipVar] === '1') return Promise.resolve(`${skipVar}=1 is set`);
    missing ??= check();
    return missing;
  };
}

/** A `missingCheck` body for servers from a Debian package: `<name>.sh fetch` (30 s) fails with the package to install as its last stderr line. */
export const fetchFailure = (run: ScriptRunner) => (): Promise<string | undefined> =>
  run(['fetch'], 30_000).then(() => undefined, (e: Error) => e.message.split('\n').filter((line) => line.trim()).pop()?.trim() ?? e.message);

export { freePort } from '../../deploy/local/local-cluster.ts';

const livePids = new Set<number>();
let hooked = false;

/** Registers a started server's pid: SIGKILLed when this process exits unless `untrackPid` came first. */
export function trackPid(pid: number): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const live of livePids) { try { process.kill(live, 'SIGKILL'); } catch { /* already gone */ } }
    });
  }
  livePids.add(pid);
}

/** The server with this pid has stopped: the exit hook leaves it alone. */
export function untrackPid(pid: number): void {
  livePids.delete(pid);
}

/** A fresh empty directory `streamwave-<name>-XXXXXX` under the OS temp dir. */
export const makeTempDir = (name: string): Promise<string> => mkdtemp(join(tmpdir(), `streamwave-${name}-`));

/** Removes a directory and everything in it; no error when it is already gone. */
export const removeDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true });

export interface LocalServerOptions<K extends string> {
  /** Script name (`deploy/local/<name>.sh`), also the temp dir's prefix. */
  name: string;
  /** The script's runner (`scriptRunner(name)`). */
  run: ScriptRunner;
  /** Keys of the `key=value` lines `start` must print besides `pid` (e.g. `['url']`). */
  keys: readonly K[];
  /** Data directory; default a fresh temp dir, removed by `stop()`. */
  dir?: string;
  /** Runs `<name>.sh fetch` first with this timeout (ms) when set. */
  fetchTimeoutMs?: number;
  /** Timeout (ms) of each `<name>.sh start`. */
  startTimeoutMs: number;
  /** Arguments added to every `start` (e.g. `['--aof']`). */
  startArgs?: string[];
  /** Called at the start of `stop()` (e.g. to close a client). */
  beforeStop?: () => void;
}

/** A server started by `startLocalServer`; the support modules add their address fields to it. */
export interface LocalServer<K extends string> {
  /** The port `start` was given (kept across restarts). */
  port: number;
  /** Data directory. */
  dir: string;
  /** Pid of the server (changes on `start`/`restart`). */
  pid: number;
  /** What the first `start` printed, by key. */
  fields: Record<K, string>;
  /**
   * Stops the process (SIGTERM, SIGKILL after the script's timeout) but keeps port and dir; a
   * no-op when halted. `signal` 'SIGKILL' kills it outright first (a crash).
   */
  halt(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /**
   * Starts the server again after `halt()` on the same port and dir; a no-op while running. When
   * another process holds the port, retries for up to 30 s (PORT_BUSY_ATTEMPTS × PORT_BUSY_WAIT_MS).
   */
  start(): Promise<void>;
  /** `halt()`, then removes `dir` when it was a temp dir. */
  stop(): Promise<void>;
  /** `halt({ signal })`, waits `downMs` (default 0) and `start()`s again: same port, same data. */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL'; downMs?: number }): Promise<void>;
}

/** Attempts, and the wait between them (ms), of a restart whose kept port another process holds. */
const PORT_BUSY_ATTEMPTS = 15;
const PORT_BUSY_WAIT_MS = 2_000;

/**
 * Starts a server through its script on a free 127.0.0.1 port (a port can be taken between the
 * probe and the bind: three attempts) and registers its pid with the exit hook.
 * @throws the last attempt's Error (the script's stderr, with the server's log tail) when it
 *   cannot start; a temp dir it made is removed first.
 */
export async function startLocalServer<K extends string>(opts: LocalServerOptions<K>): Promise<LocalServer<K>> {
  const { name, run, keys } = opts;
  const ownDir = !opts.dir;
  const dir = opts.dir ?? await makeTempDir(name);
  const startArgs = (port: number) => ['start', '--port', String(port), '--dir', dir, ...(opts.startArgs ?? [])];
  let port = 0;
  let out = '';
  try {
    if (opts.fetchTimeoutMs !== undefined) await run(['fetch'], opts.fetchTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        out = await run(startArgs(port), opts.startTimeoutMs);
        break;
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
  } catch (e) {
    if (ownDir) await removeDir(dir);
    throw e;
  }
  // The port is kept across restarts (clients know it), but while the server is down another
  // process may hold it for a moment (freePort's probe binds each port it tries): wait for it.
  const startOnKeptPort = async (): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run(startArgs(port), opts.startTimeoutMs);
      } catch (e) {
        if (attempt >= PORT_BUSY_ATTEMPTS || !/already in use/.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, PORT_BUSY_WAIT_MS));
      }
    }
  };
  const first = parseStartOutput(name, out, keys);
  trackPid(first.pid);
  let running = true;
  const server: LocalServer<K> = {
    port,
    dir,
    pid: first.pid,
    fields: first.fields,
    async halt({ signal = 'SIGTERM' } = {}) {
      if (!running) return;
      if (signal === 'SIGKILL') {
        try { process.kill(server.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      // After a SIGKILL this only waits for the pid to be gone and removes the pid file.
      await run(['stop', '--dir', dir], 60_000);
      untrackPid(server.pid);
      running = false;
    },
    async start() {
      if (running) return;
      server.pid = parseStartOutput(name, await startOnKeptPort(), keys).pid;
      trackPid(server.pid);
      running = true;
    },
    async stop() {
      opts.beforeStop?.();
      await server.halt();
      if (ownDir) await removeDir(dir);
    },
    async restart({ signal = 'SIGTERM', downMs = 0 } = {}) {
      await server.halt({ signal });
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await server.start();
    },
  };
  return server;
}
