/**
 * Shared pieces of the failure proofs (test/failure/*.failure.test.ts): role processes spawned as
 * children (`streamwave run <role>`), bounded polling, event generators and the read-model digest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/kafka-broker.ts';
import { prng } from '../../support/prng.ts';

/** Loads are random but reproducible from the printed seed. */
export { prng };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(ROOT, 'cli/main.ts');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false.
 * @throws Error naming `what` after `timeoutMs` (every wait in the proofs is bounded).
 */
export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** A role process (`node --import tsx cli/main.ts run <role>`). */
export interface RoleProcess {
  role: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** GET /health JSON, or undefined when not answering. */
  health(): Promise<{ status: string; lag?: Record<string, number> } | undefined>;
  kill9(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after `timeoutMs`. */
  terminate(timeoutMs?: number): Promise<void>;
  /** Last lines of stderr/stdout (for failure messages). */
  output(): string;
}

/**
 * Spawns a role with `STREAMWAVE_*` env. The child gets short consumer-group timings (session
 * 6 s) so a kill -9'ed member's partitions move within seconds.
 */
export async function spawnRole(role: string, env: Record<string, string>): Promise<RoleProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', role], {
    cwd: ROOT,
    env: {
      ...process.env,
      STREAMWAVE_PORT: String(port),
      STREAMWAVE_HOST: '127.0.0.1',
      STREAMWAVE_LOG_LEVEL: 'warn',
      STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer) => { out = (out + b.toString('utf8')).slice(-8000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let gone = false;
  void exited.then(() => { gone = true; });
  const url = `http://127.0.0.1:${port}`;
  return {
    role, port, url, child, exited,
    async health() {
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
        if (!res.ok) return undefined;
        return (await res.json()) as { status: string; lag?: Record<string, number> };
      } catch {
        return undefined;
      }
    },
    async kill9() {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
    async terminate(timeoutMs = 30_000) {
      if (gone) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (!gone) child.kill('SIGKILL'); }, timeoutMs);
      await exited;
      clearTimeout(t);
    },
    output: () => out,
  };
}

/** Waits until the role answers /health (bounded); fails early with the child's output if it exits. */
export async function waitHealthy(p: RoleProcess, timeoutMs = 90_000): Promise<void> {
  let exit: unknown;
  void p.exited.then((e) => { exit = e; });
  await waitUntil(`${p.role} /health`, timeoutMs, async () => {
    if (exit) throw new Error(`${p.role} exited ${JSON.stringify(exit)}: ${p.output()}`);
    return (await p.health())?.status === 'ok';
  });
}

/** Sum of the lags a role reports on /health, or undefined when it does not answer. */
export async function totalLag(p: RoleProcess): Promise<number | undefined> {
  const h = await p.health();
  if (!h?.lag) return undefined;
  return Object.values(h.lag).reduce((a, b) => a + b, 0);
}

