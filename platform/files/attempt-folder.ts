/**
 * A scratch folder of its own for every attempt of a job: `<workDir>/<name>.<pid>.<random>/`,
 * where `name` names the job (a video id, a chunk) and `pid` is the process that made it. No
 * writer left over from an earlier attempt (an FFmpeg orphaned by a transcoder killed with
 * SIGKILL where setpriv is missing) and no concurrent attempt of the same job (another process
 * sharing the workDir, during a consumer-group rebalance) can touch the files of another attempt.
 *
 * Leftovers are removed when an attempt starts: the folders of the same `name` whose process is
 * no longer alive on this machine (`kill(pid, 0)` fails with ESRCH), those bearing this process's
 * pid that this process did not make (an earlier process that had the same pid: a container
 * restarted under tini gets the same pid again), and the folder `<workDir>/<name>/` itself (the
 * layout before per-attempt folders; during a rolling upgrade, a process of the older release on the
 * same machine and workDir working on the same video at that moment would lose it: accepted, as
 * narrow). A folder whose process is alive is never removed, nor one
 * this process is using. The pids are those of this machine: a workDir must not be shared by
 * processes in different pid namespaces (containers); the roles' scratch folders never are.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** What an attempt folder is given. */
export interface AttemptFolderOptions {
  /** Called when a folder (a leftover at the start, the attempt's own at the end) cannot be removed; the error is not thrown. */
  onRemoveError?(err: unknown, dir: string): void;
}

/** The attempt folders this process made and has not removed yet (absolute paths). */
const mine = new Set<string>();

/**
 * Runs `work` in a new folder of its own under `workDir` (created if missing), named after `name`
 * (see the file comment), after removing the leftovers of `name`; the folder is removed when
 * `work` ends, whether it succeeds or fails.
 * @param name the job's name: not empty, without `.`, `/` or `\` (it is parsed back from folder names)
 * @returns what `work` returns
 * @throws what `work` throws; fs errors making `workDir` or the folder, or listing `workDir`
 */
export async function inAttemptFolder<T>(workDir: string, name: string, work: (dir: string) => Promise<T>, opts: AttemptFolderOptions = {}): Promise<T> {
  if (!/^[^./\\]+$/.test(name)) throw new Error(`attempt folder: invalid name ${JSON.stringify(name)} (empty, or with '.', '/' or '\\')`);
  await mkdir(workDir, { recursive: true });
  await removeLeftovers(workDir, name, opts);
  const dir = await makeOwnFolder(workDir, name);
  try {
    return await work(dir);
  } finally {
    mine.delete(dir);
    await rm(dir, { recursive: true, force: true }).catch((err: unknown) => opts.onRemoveError?.(err, dir));
  }
}

/** Makes `<workDir>/<name>.<pid>.<random>/`, known as this process's before it exists (a concurrent sweep keeps it). */
async function makeOwnFolder(workDir: string, name: string): Promise<string> {
  for (;;) {
    const dir = join(workDir, `${name}.${process.pid}.${randomBytes(6).toString('base64url')}`);
    mine.add(dir);
    try {
      await mkdir(dir);
      return dir;
    } catch (err) {
      mine.delete(dir);
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Removes the folders of `name` no live attempt is using (see the file comment). */
async function removeLeftovers(workDir: string, name: string, opts: AttemptFolderOptions): Promise<void> {
  for (const entry of await readdir(workDir)) {
    const dir = join(workDir, entry);
    if (entry !== name && !isLeftover(entry, name, dir)) continue;
    await rm(dir, { recursive: true, force: true }).catch((err: unknown) => opts.onRemoveError?.(err, dir));
  }
}

/** Whether `entry` is an attempt folder of `name` whose process is gone (or an earlier process with this pid). */
function isLeftover(entry: string, name: string, dir: string): boolean {
  if (!entry.startsWith(`${name}.`)) return false;
  const pid = /^(\d+)\.[^.]+$/.exec(entry.slice(name.length + 1))?.[1];
  if (pid === undefined) return false;
  const n = Number(pid);
  if (n === process.pid) return !mine.has(dir);
  return Number.isSafeInteger(n) && n > 0 && !isAlive(n);
}

/** Whether a process `pid` exists on this machine (EPERM: it exists, owned by another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
