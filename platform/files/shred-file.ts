import { open, unlink } from 'node:fs/promises';

/** Zeros are written this many bytes at a time, bytes. */
const CHUNK_BYTES = 1 << 20;

/**
 * Overwrites the file at `path` with zeros, fdatasyncs it, then unlinks it: the bytes leave the
 * file's blocks in place on ext4/xfs (on copy-on-write file systems and SSDs the old blocks may
 * survive until reused: whole-disk encryption covers those). Used where deleted bytes must not be
 * recoverable from the disk: erased data keys, plaintext segments replaced by the personal-data
 * migration (issue 13).
 * @returns false when there was no such file, true when it was shredded.
 * @throws fs errors other than ENOENT.
 */
export async function shredFile(path: string): Promise<boolean> {
  let fh;
  try { fh = await open(path, 'r+'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    const { size } = await fh.stat();
    const zeros = Buffer.alloc(Math.min(size, CHUNK_BYTES));
    for (let at = 0; at < size; at += zeros.length) await fh.write(zeros, 0, Math.min(zeros.length, size - at), at);
    await fh.datasync();
  } finally { await fh.close(); }
  try { await unlink(path); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return true;
}
