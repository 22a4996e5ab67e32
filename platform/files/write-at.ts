/**
 * Journal appends written synchronously into the page cache.
 *
 * An asynchronous write (`FileHandle.write`) hands the request to libuv's thread pool and costs
 * the event loop 10–25 µs to submit and complete on this class of machine (more while the pool is
 * busy with fdatasync calls), whatever its size; `writeSync` of a journal line or a group-committed
 * batch costs 1–3 µs (300 B–4 KiB), as it normally only copies into the page cache. It can block
 * the event loop when the kernel throttles writers (many dirty pages, e.g. while uploads fill the
 * cache) or on network file systems: the price of the cheaper common case. Durability still comes
 * from the fdatasync each caller does asynchronously, off the event loop. Measured on the
 * view-heartbeat path (issue 12): the read models' journal writes took 8 % of the gateway's thread
 * as thread-pool round trips.
 */
import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Writes all of `data` into `fh` at byte `position` (a positional write: the file offset is not
 * used; on a file opened for appending, Linux appends whatever the position), retrying short writes.
 * @throws the fs error of the write (ENOSPC, EIO, EBADF…), or `Error('short write')` when the
 *   system writes nothing; bytes before the failure may be in the file (the caller truncates).
 */
export function writeAllAt(fh: FileHandle, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    const written = writeSync(fh.fd, data, done, data.length - done, position + done);
    if (written <= 0) throw new Error('short write');
    done += written;
  }
}
