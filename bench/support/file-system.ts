/**
 * Whether a benchmark's data directory is on an ext4 file system without a journal, read from
 * Linux's /proc (proc(5) mountinfo; /proc/fs/jbd2 lists the devices whose ext4 has a journal).
 *
 * Why it matters (bench:freshness, 2026-12-05): without a journal, ext4's inode allocator does not
 * reuse an inode deleted in the last 60 s, or 300 s while its inode-table block is not written
 * back, and checks each candidate in the buffer cache (fs/ext4/ialloc.c, `recently_deleted`, which
 * runs only without a journal). ClickHouse creates a few thousand files a second under the load;
 * started within five minutes of the previous run's clean-up (tens of thousands of files deleted),
 * half of its CPU samples were that scan, and the runs missed. With a journal (mkfs.ext4's
 * default), on XFS or on tmpfs the scan does not exist.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';

/** A mountinfo path field with its octal escapes (`\040` for a space) decoded. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * The device (e.g. `vda`) when `path` is on an ext4 file system without a journal.
 * @returns undefined when it has one, is another file system, or /proc cannot tell (not Linux)
 */
export function journalLessExt4(path: string): string | undefined {
  try {
    const real = realpathSync(path);
    let best: { mountPoint: string; fsType: string; majorMinor: string } | undefined;
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      // id parent major:minor root mount-point options [optional fields] - fs-type source super-options
      const [left, right] = line.split(' - ');
      if (!left || !right) continue;
      const fields = left.split(' ');
      const mountPoint = unescape(fields[4] ?? '');
      const majorMinor = fields[2] ?? '';
      const fsType = right.split(' ')[0] ?? '';
      const inside = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
      if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, fsType, majorMinor };
    }
    if (best?.fsType !== 'ext4') return undefined;
    // The kernel's name of the block device (`vda`, `dm-0`), as /proc/fs/jbd2 names it: the
    // mount's source may be another name for it (`/dev/mapper/vg-root`, `/dev/root`).
    const device = basename(realpathSync(`/sys/dev/block/${best.majorMinor}`));
    let journals: string[] = [];
    try {
      journals = readdirSync('/proc/fs/jbd2'); // `<device>-<inode of the journal>`, e.g. `vda-8`
    } catch {
      // No /proc/fs/jbd2: no file system with a journal is mounted.
    }
    return journals.some((j) => j.startsWith(`${device}-`)) ? undefined : device;
  } catch {
    return undefined;
  }
}
