/**
 * Shutdown deadline (issue 8, finding 9): a component that never finishes closing makes the
 * process exit non-zero at the deadline, naming it; a clean stop exits 0. Child processes, real signals.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ShutdownTimeoutError, shutdownInOrder } from './shutdown.ts';

const child = join(dirname(fileURLToPath(import.meta.url)), 'testing', 'hung-shutdown.child.ts');

/** Starts the child, waits for READY, sends SIGTERM, resolves with its exit code and output. */
function sigtermChild(mode: 'hang' | 'ok'): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, mode, '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      if (/READY \d+/.test(out) && !p.killed) p.kill('SIGTERM');
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', (d) => { out += d; });
    // A bound for the test itself, not an assertion: the child must exit on its own long before.
    const guard = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`child did not exit:\n${out}`)); }, 60_000);
    p.once('exit', (code) => { clearTimeout(guard); resolve({ code, out }); });
  });
}

describe('shutdown deadline', () => {
  test('a component that never finishes closing: exit 1 at the deadline, the log names it and what never stopped', async () => {
    const { code, out } = await sigtermChild('hang');
    const fatal = out.split('\n').filter((l) => l.includes('"level":60')).map((l) => JSON.parse(l));
    console.log(`# hung transcoder: exit ${code}; ${fatal[0]?.err?.message}`);
    assert.equal(code, 1);
    assert.equal(fatal.length, 1, out);
    assert.equal(fatal[0].component, 'transcoder');
    assert.deepEqual(fatal[0].notStopped, ['log']);
    assert.match(out, /"component":"http".*"msg":"stopped"/, 'HTTP closed first');
    assert.doesNotMatch(out, /log closed/);
  });

  test('every component stops: exit 0', async () => {
    const { code, out } = await sigtermChild('ok');
    assert.equal(code, 0, out);
    assert.match(out, /log closed/);
  });

  test('a failing step is logged and the next still runs; the failure is reported', async () => {
    const order: string[] = [];
    const steps = [
      { name: 'a', close: async () => { order.push('a'); throw new Error('boom'); } },
      { name: 'b', close: async () => { order.push('b'); } },
    ];
    await assert.rejects(shutdownInOrder(steps, { timeoutSeconds: 30, logger: pino({ level: 'silent' }) }), AggregateError);
    assert.deepEqual(order, ['a', 'b']);
  });

  test('in process: the deadline rejects with ShutdownTimeoutError naming the step', async () => {
    const never = { name: 'projections', close: () => new Promise<void>(() => {}) };
    const err = await shutdownInOrder([never, { name: 'log', close: async () => {} }], { timeoutSeconds: 0.2, logger: pino({ level: 'silent' }) }).catch((e: unknown) => e);
    assert.ok(err instanceof ShutdownTimeoutError);
    assert.equal(err.component, 'projections');
    assert.deepEqual(err.notStopped, ['log']);
  });
});
