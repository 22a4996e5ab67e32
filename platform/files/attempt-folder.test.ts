/**
 * Attempt folders: every attempt of a job works in a folder of its own, so neither a writer left
 * over from an earlier attempt (an FFmpeg orphaned by a process killed with SIGKILL) nor a
 * concurrent attempt of the same job (another process on the machine) touches its files; the
 * leftovers of dead processes and the old `<workDir>/<name>/` folder are removed when an attempt
 * starts, the folders of live processes never. Pids come from real child processes: a live one
 * (`sleep`) and an exited one (reaped, so `kill(pid, 0)` fails with ESRCH).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inAttemptFolder } from './attempt-folder.ts';

/** A folder `<workDir>/<entry>/` holding one file, as an attempt leaves it. */
async function plant(workDir: string, entry: string): Promise<void> {
  await mkdir(join(workDir, entry), { recursive: true });
  await writeFile(join(workDir, entry, 'source'), 'bytes');
}

describe('attempt folders', () => {
  let root = '';
  let live: ChildProcess;
  let deadPid = 0;
  let n = 0;
  /** A fresh, empty workDir per test. */
  const workDir = () => join(root, `work-${++n}`);
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sw-attempt-folder-'));
    live = spawn('sleep', ['600'], { stdio: 'ignore' });
    await once(live, 'spawn');
    const exited = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    deadPid = exited.pid!;
    await once(exited, 'exit');
  });
  after(async () => {
    live.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  test('given two attempts of the same job at once, then each works in a folder of its own, named <name>.<pid>.<random>, removed when it ends', async () => {
    const work = workDir();
    const seen: string[] = [];
    await inAttemptFolder(work, 'vid_1', async (first) => {
      await writeFile(join(first, 'seg-00001.m4s'), 'first attempt');
      await inAttemptFolder(work, 'vid_1', async (second) => {
        seen.push(first, second);
        assert.notEqual(second, first);
        assert.deepEqual(await readdir(first), ['seg-00001.m4s'], 'the second attempt left the first one\'s files alone');
        assert.deepEqual(await readdir(second), []);
      });
      assert.deepEqual(await readdir(work), [basename(first)], 'the second attempt\'s folder is gone once it ended');
    });
    for (const dir of seen) {
      assert.equal(dirname(dir), work);
      assert.match(basename(dir), new RegExp(`^vid_1\\.${process.pid}\\.[^./]+$`));
    }
    assert.deepEqual(await readdir(work), []);
  });

  test('given an attempt that fails, then its folder is removed too and its error is the caller\'s', async () => {
    const work = workDir();
    let used = '';
    await assert.rejects(inAttemptFolder(work, 'vid_1', async (dir) => {
      used = dir;
      await writeFile(join(dir, 'partial'), 'x');
      throw new Error('encode failed');
    }), /encode failed/);
    assert.notEqual(used, '');
    assert.deepEqual(await readdir(work), []);
  });

  test('given folders of the job left by a dead process and kept by a live one, when an attempt starts, then the dead one\'s are removed and the live one\'s kept, other jobs\' untouched', async () => {
    const work = workDir();
    const dead = `vid_1.${deadPid}.aB3_x-`;
    const alive = `vid_1.${live.pid}.Zz9-_q`;
    // An earlier process with this process's pid (a container restarted under tini): not this process's attempt.
    const samePid = `vid_1.${process.pid}.earlier`;
    const others = [`vid_10.${deadPid}.aB3_x-`, `vid_1-2.${deadPid}.aB3_x-`, 'vid_10', `thumbnail-XYZ123`];
    for (const entry of [dead, alive, samePid, ...others]) await plant(work, entry);
    const atStart = await inAttemptFolder(work, 'vid_1', async (dir) => ({ own: basename(dir), entries: await readdir(work) }));
    assert.deepEqual(atStart.entries.sort(), [alive, atStart.own, ...others].sort());
    assert.deepEqual(await readdir(join(work, alive)), ['source'], 'the live process\'s files are intact');
    assert.deepEqual((await readdir(work)).sort(), [alive, ...others].sort());
  });

  test('given an attempt running in this process, when another attempt of the job starts, then the running one\'s folder is kept although it bears this pid', async () => {
    const work = workDir();
    await inAttemptFolder(work, 'vid_1', async (running) => {
      await writeFile(join(running, 'source'), 'bytes');
      await inAttemptFolder(work, 'vid_1', async () => undefined);
      assert.deepEqual(await readdir(running), ['source']);
    });
  });

  test('given the old-style folder <workDir>/<name>/ (before per-attempt folders), when an attempt starts, then it is removed and the attempt works elsewhere', async () => {
    const work = workDir();
    await plant(work, 'vid_1');
    await plant(work, 'chunk-vid_1-3');
    const atStart = await inAttemptFolder(work, 'chunk-vid_1-3', async (dir) => ({ dir, entries: await readdir(work) }));
    assert.notEqual(atStart.dir, join(work, 'chunk-vid_1-3'));
    assert.deepEqual(atStart.entries.sort(), ['vid_1', basename(atStart.dir)].sort(), 'the old chunk folder is gone, another job\'s old folder kept');
    assert.deepEqual(await readdir(work), ['vid_1']);
  });

  test('given no workDir yet, then it is made; given a name that could not be parsed back from a folder name, then the attempt is refused', async () => {
    const work = join(workDir(), 'deeper');
    assert.equal(await inAttemptFolder(work, 'vid_1', async () => 'done'), 'done');
    assert.deepEqual(await readdir(work), []);
    for (const name of ['', 'a.b', '../x', 'a/b', 'a\\b']) {
      await assert.rejects(inAttemptFolder(work, name, async () => undefined), /invalid name/, name);
    }
  });
});
