/**
 * The process-level lock of an embedded log directory: `<dir>/LOCK`, created with O_EXCL and
 * holding `pid@host`. One process (and one instance within it) owns the log at a time; a lock left
 * by a dead process (kill -9) is taken over.
 */
import { pidAlive } from '../../shared/pid-alive.ts';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EventLogError } from '../event-log.errors.ts';

/** A held lock. */
export interface DataDirLock {
  /** Deletes the lock file and forgets the directory; never throws. */
  release(): Promise<void>;
}

/** Data directories opened by this process (the pid in LOCK cannot tell two instances apart). */
const openInProcess = new Set<string>();


/**
 * Takes the lock of `dir` (which must exist).
 * @throws EventLogError LOG_LOCKED if a live process on this host (or this process) holds it, or
 *   a process on another host; fs errors other than EEXIST as they come.
 */
export async function acquireDataDirLock(dir: string, logger: Logger): Promise<DataDirLock> {
  const lockPath = join(dir, 'LOCK');
  if (openInProcess.has(dir)) throw new EventLogError('LOG_LOCKED', `event log ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.writeFile(`${process.pid}@${hostname()}\n`);
      await fh.close();
      openInProcess.add(dir);
      return {
        async release() {
          openInProcess.delete(dir);
          await unlink(lockPath).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const content = (await readFile(lockPath, 'utf8').catch(() => '')).trim();
    const [pidText, host] = content.split('@');
    const pid = Number(pidText);
    const sameHost = !host || host === hostname();
    // Our own pid with no open instance means a previous process with a recycled pid died.
    if (sameHost && Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new EventLogError('LOG_LOCKED', `event log ${dir} is locked by process ${pid} (${lockPath}); stop it first`);
    }
    if (!sameHost) {
      throw new EventLogError('LOG_LOCKED', `event log ${dir} is locked by ${content} on another host (${lockPath})`);
    }
    logger.warn({ lockPath, holder: content }, 'taking over stale event log lock');
    await unlink(lockPath).catch(() => {});
  }
  throw new EventLogError('LOG_LOCKED', `could not acquire ${lockPath}`);
}
