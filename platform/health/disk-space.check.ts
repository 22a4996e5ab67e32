/**
 * Readiness check `DISK_SPACE_LOW`: free space of the file system holding the data directory
 * (issue 8, finding 7). A full disk makes every fsync fail and stops the log; going unready
 * before that lets the operator act while writes still succeed.
 */
import { statfs } from 'node:fs/promises';
import type { ReadinessCheck } from './readiness.port.ts';

/** Free and total bytes of the file system holding a path (what `statfs(2)` gives an unprivileged user). */
export interface DiskSpace {
  /** Bytes available to unprivileged users (`bavail × bsize`). */
  freeBytes: number;
  /** Size of the file system, bytes (`blocks × bsize`). */
  totalBytes: number;
}

/** Reads the free space of the file system holding `path` (default: `fs.statfs`). */
export type DiskSpaceProbe = (path: string) => Promise<DiskSpace>;

export const statfsProbe: DiskSpaceProbe = async (path) => {
  const s = await statfs(path);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
};

export interface DiskSpaceCheckOptions {
  /** The data directory. */
  dir: string;
  /** Floor of free bytes (STREAMWAVE_MIN_FREE_DISK_BYTES, default 512 MiB); 0 disables it. */
  minFreeBytes: number;
  /** Floor of free space in percent of the file system (STREAMWAVE_MIN_FREE_DISK_PERCENT, default 0 = off). */
  minFreePercent: number;
  probe?: DiskSpaceProbe;
}

/**
 * Not ready (`DISK_SPACE_LOW`) when free space is below either floor. The message gives the
 * free bytes and the floor, never the path (the answer is public).
 * @throws (inside the check: becomes CHECK_FAILED) when statfs fails.
 */
export function diskSpaceCheck(opts: DiskSpaceCheckOptions): ReadinessCheck {
  const probe = opts.probe ?? statfsProbe;
  return async () => {
    const { freeBytes, totalBytes } = await probe(opts.dir);
    if (opts.minFreeBytes > 0 && freeBytes < opts.minFreeBytes) {
      return { code: 'DISK_SPACE_LOW', message: `data directory has ${freeBytes} bytes free, below the floor of ${opts.minFreeBytes} bytes` };
    }
    const pct = totalBytes > 0 ? (100 * freeBytes) / totalBytes : 100;
    if (opts.minFreePercent > 0 && pct < opts.minFreePercent) {
      return { code: 'DISK_SPACE_LOW', message: `data directory has ${pct.toFixed(1)} % free, below the floor of ${opts.minFreePercent} %` };
    }
    return undefined;
  };
}
