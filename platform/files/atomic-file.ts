/**
 * Atomic file replacement: write a temp file in the same directory, fsync it, rename it over
 * the target, fsync the directory. After a crash (even kill -9 or power loss on a journaling
 * file system) the target holds either the old or the new content, never a mix. Used for
 * consumer-group offsets, topic metadata and any "state + checkpoint" file that must move together.
 */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let tmpCounter = 0;

/**
 * Replaces `path` with `data` atomically.
 * @param fsync when false, skip both fsyncs (still atomic against a process crash, not a power loss).
 * @throws the underlying fs error (ENOENT if the directory is missing, ENOSPC, …); the temp file is removed.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, fsync = true): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${++tmpCounter}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    if (fsync) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  if (fsync) await fsyncDir(dir);
}

/** fsyncs a directory so that a create/rename inside it is durable (POSIX: the entry lives in the directory). */
export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory (EINVAL/EISDIR); the rename is still atomic.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await dh.close();
  }
}
