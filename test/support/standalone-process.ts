import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export { freePort } from '../../deploy/local/local-cluster.ts';
import { freePort } from '../../deploy/local/local-cluster.ts';

export interface StandaloneProcess {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process printed (pino JSON lines). */
  output: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL (crash) and wait for exit. */
  kill9(): Promise<void>;
}

/**
 * Starts `streamwave start` (standalone mode) as a child process, exactly as `npm start` does,
 * and waits until GET /health answers 200 (with `waitFor: 'live'`, until GET /health/live does:
 * for tests that start a server expected to be unready).
 * @param opts.checkout the source tree to run (its `cli/main.ts`, with it as working directory);
 *   default this repository. The upgrade test runs an older release extracted from git this way.
 * @throws if it does not become healthy within `timeoutMs` (default 60 s) or exits early.
 */
export async function startStandaloneProcess(opts: { dataDir: string; port?: number; env?: Record<string, string>; timeoutMs?: number; checkout?: string; waitFor?: 'live' | 'ready' }): Promise<StandaloneProcess> {
  return startServerProcess({ ...opts, args: ['start'] });
}

/**
 * Starts cluster-mode role `role` (`streamwave run <role>`) on the brokers `kafkaBrokers` as a
 * child process and waits until GET /health answers 200. Roles other than `registry`/`all` need
 * STREAMWAVE_SCHEMA_REGISTRY_URL in `env`.
 * @throws like `startStandaloneProcess`.
 */
export async function startClusterRoleProcess(opts: {
  role: 'registry' | 'projector' | 'transcoder' | 'gateway' | 'all';
  kafkaBrokers: string;
  dataDir: string;
  port?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Another checkout to run (an earlier release, test/support/previous-release.ts); default this one. */
  checkout?: string;
}): Promise<StandaloneProcess> {
  return startServerProcess({
    ...opts,
    args: ['run', opts.role],
    env: { STREAMWAVE_KAFKA_BROKERS: opts.kafkaBrokers, ...opts.env },
  });
}

/** `streamwave <args>` as a child process serving HTTP on `port` (see `startStandaloneProcess`). */
async function startServerProcess(opts: { args: string[]; dataDir: string; port?: number; env?: Record<string, string>; timeoutMs?: number; checkout?: string; waitFor?: 'live' | 'ready' }): Promise<StandaloneProcess> {
  const checkout = opts.checkout ?? root;
  const what = `streamwave ${opts.args.join(' ')}${checkout === root ? '' : ` (from ${checkout})`}`;
  const port = opts.port ?? (await freePort());
  // STREAMWAVE_SERVER_NODE_ARGS: extra node flags for the servers started here only, split on
  // whitespace (no quoting), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile one under a
  // benchmark (node refuses --cpu-prof in NODE_OPTIONS; the profile is written on a clean exit,
  // so not after kill9()).
  const nodeArgs = process.env.STREAMWAVE_SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(checkout, 'cli', 'main.ts'), ...opts.args], {
    cwd: checkout,
    env: {
      ...process.env,
      STREAMWAVE_PORT: String(port),
      STREAMWAVE_DATA_DIR: opts.dataDir,
      STREAMWAVE_LOG_LEVEL: process.env.STREAMWAVE_TEST_LOG_LEVEL ?? 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; if (out.length > 2_000_000) out = out.slice(-1_000_000); });
  child.stderr!.on('data', (d) => { out += d; if (out.length > 2_000_000) out = out.slice(-1_000_000); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited early (${child.exitCode}):\n${out.slice(-4000)}`);
    try {
      const r = await fetch(`${url}${opts.waitFor === 'live' ? '/health/live' : '/health'}`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} did not become healthy:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // A server that dies on its own fails its test with a refused connection far from the cause:
  // its last output goes to the test's stderr, which the runner prints beside the failure.
  let stopping = false;
  child.once('close', (code, signal) => { // 'close': after its output is read to the end
    if (!stopping) process.stderr.write(`${what} on port ${port} exited on its own (${signal ?? code}); its last output:\n${out.slice(-6000)}\n`);
  });
  return {
    url, port, dataDir: opts.dataDir, child,
    output: () => out,
    async stop() {
      stopping = true;
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
    async kill9() {
      stopping = true;
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Runs `streamwave <args>` to completion as an operator would (bounded: SIGKILL after `timeoutMs`,
 * default 60 s, then `code` is null). STREAMWAVE_ADMIN_TOKEN is cleared unless `env` sets it, so
 * the CLI's own token lookup is what gets exercised.
 */
export function runStreamwave(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli', 'main.ts'), ...args], {
      cwd: root, env: { ...process.env, STREAMWAVE_ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}
