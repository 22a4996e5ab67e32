/**
 * Bounded child processes (issue 8, finding 3: "a hung FFmpeg blocks the partition and blocks
 * shutdown"): a child that hangs is killed at its time limit, on a stall and on abort (shutdown),
 * one that ignores SIGTERM gets SIGKILL, and `prlimit --as` really caps its address space.
 * Children report their pid on stderr; the test waits on that line, never on a sleep.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoundedProcessError, findPrlimit, findSetpriv, runBounded, setsParentDeathSignal } from './bounded-process.ts';
import { eventually } from '../../test/support/eventually.ts';

/** True while a process with this pid exists (and is not a zombie we could still reap). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True while `pid` runs: it exists and is not a zombie (an orphan's reaper may be slow). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Runs `sh -c script` bounded by `opts`; returns the error it failed with and the pid it printed (`pid=N` on stderr). */
async function failing(script: string, opts: Parameters<typeof runBounded>[2] = {}, onPid?: (pid: number) => void) {
  let pid = 0;
  const err = await runBounded('sh', ['-c', script], {
    ...opts,
    onStderrLine: (l) => {
      const m = /^pid=(\d+)/.exec(l);
      if (m) {
        pid = Number(m[1]);
        onPid?.(pid);
      }
    },
  }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof BoundedProcessError, `expected a BoundedProcessError, got ${String(err)}`);
  return { err, pid };
}

describe('runBounded', () => {
  test('a hung child (sleeps forever) is killed at its time limit: kind timeout, the process is gone', async () => {
    const { err, pid } = await failing('echo pid=$$ >&2; exec sleep 1000', { timeoutMs: 500, killGraceMs: 1000 });
    assert.equal(err.kind, 'timeout');
    assert.equal(err.details.limitMs, 500);
    assert.ok(pid > 0);
    assert.equal(alive(pid), false, 'the child was killed');
  });

  test('a child that ignores SIGTERM is killed with SIGKILL after the grace period', async () => {
    const { err, pid } = await failing("trap '' TERM; echo pid=$$ >&2; while :; do sleep 1; done", { timeoutMs: 300, killGraceMs: 300 });
    assert.equal(err.kind, 'timeout');
    assert.equal(err.details.signal, 'SIGKILL');
    assert.equal(alive(pid), false);
  });

  test('a child that stops making progress is killed at the stall limit, though its time limit is far', async () => {
    const { err } = await failing('echo pid=$$ >&2; echo progress 1 >&2; echo progress 2 >&2; exec sleep 1000', {
      timeoutMs: 600_000, stallMs: 500, isProgress: (l) => l.startsWith('progress'), killGraceMs: 1000,
    });
    assert.equal(err.kind, 'stalled');
    assert.match(err.stderrTail, /progress 2/);
  });

  test('on abort (shutdown) the running child is killed at once: kind aborted, and nothing waits for its time limit', async () => {
    const abort = new AbortController();
    const { err, pid } = await failing('echo pid=$$ >&2; exec sleep 1000', { timeoutMs: 600_000, killGraceMs: 1000, signal: abort.signal }, () => abort.abort());
    assert.equal(err.kind, 'aborted');
    assert.equal(alive(pid), false);
  });

  test('a child killed by a signal it was not sent by us (as by the OOM killer) is kind signal', async () => {
    const { err } = await failing('kill -9 $$');
    assert.equal(err.kind, 'signal');
    assert.equal(err.details.signal, 'SIGKILL');
  });

  test('a non-zero exit is kind exit with the stderr tail; a missing binary is kind spawn', async () => {
    const { err } = await failing('echo "/srv/data/work/x: Invalid data found" >&2; exit 3');
    assert.deepEqual([err.kind, err.details.exitCode], ['exit', 3]);
    assert.match(err.stderrTail, /Invalid data found/);
    const missing = await runBounded('/nonexistent/ffmpeg', []).then(() => null, (e: unknown) => e);
    assert.ok(missing instanceof BoundedProcessError);
    assert.equal(missing.kind, 'spawn');
    assert.equal(missing.details.spawnCode, 'ENOENT');
  });

  test('a missing binary behind the util-linux wrappers (setpriv, prlimit) is kind spawn too, not a failed run', async () => {
    const missing = await runBounded('/nonexistent/ffmpeg', [], { memoryLimitBytes: 1024 ** 3, prlimitPath: findPrlimit() }).then(() => null, (e: unknown) => e);
    assert.ok(missing instanceof BoundedProcessError);
    assert.deepEqual([missing.kind, missing.details.spawnCode], ['spawn', 'ENOENT']);
  });

  test('the child dies with its parent: kill -9 of the process that ran it leaves no child behind', { skip: findSetpriv() ? false : 'util-linux setpriv not installed' }, async () => {
    const module = fileURLToPath(new URL('./bounded-process.ts', import.meta.url));
    const script = `import { runBounded } from ${JSON.stringify(module)};
      await runBounded('sh', ['-c', 'echo pid=$$ >&2; exec sleep 600'], { onStderrLine: (l) => console.log(l) });`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const pid = await eventually(async () => Number(/pid=(\d+)/.exec(out)?.[1] ?? 0), (p) => p > 0, 'the child printed its pid');
    assert.ok(running(pid));
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    await eventually(async () => running(pid), (r) => !r, `child ${pid} gone after its parent was killed`);
  });

  test('a setpriv that refuses --pdeathsig (old util-linux, BusyBox) is not used: it would fail every run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-setpriv-'));
    try {
      const refusing = join(dir, 'setpriv');
      writeFileSync(refusing, '#!/bin/sh\necho "setpriv: unrecognized option \'--pdeathsig\'" >&2\nexit 1\n');
      chmodSync(refusing, 0o755);
      assert.equal(setsParentDeathSignal(refusing), false);
      assert.equal(setsParentDeathSignal(join(dir, 'missing')), false);
      const real = findSetpriv();
      if (real) assert.equal(setsParentDeathSignal(real), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stdout is captured when asked', async () => {
    assert.equal(await runBounded('sh', ['-c', 'printf "{}"'], { captureStdout: true }), '{}');
  });

  const prlimit = findPrlimit();
  test('memory cap: prlimit --as sets the child address-space limit', { skip: prlimit ? false : 'util-linux prlimit not installed' }, async () => {
    const limit = 1024 ** 3;
    const out = await runBounded('sh', ['-c', 'ulimit -v'], { captureStdout: true, memoryLimitBytes: limit, prlimitPath: prlimit });
    assert.equal(Number(out.trim()), limit / 1024, 'ulimit -v reports KiB');
    const uncapped = await runBounded('sh', ['-c', 'ulimit -v'], { captureStdout: true, prlimitPath: null, memoryLimitBytes: limit });
    assert.equal(uncapped.trim(), 'unlimited');
  });
});
