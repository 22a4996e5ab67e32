/**
 * The upload reaper (issue 8, "Storage you can reason about"): an upload still `pending_upload`
 * `expirySeconds` after its UploadStarted is abandoned: its multipart upload is aborted (the store
 * drops its parts) and the upload is failed on the log (FailUpload, code UPLOAD_ABANDONED), so it
 * ends `failed` and frees its declared bytes from the owner's storage quota. Temp entries (the
 * transcoder's scratch folders, the embedded store's partial objects and leftover multipart
 * folders) whose newest modification is older than the expiry are removed.
 *
 * Runs every `intervalSeconds` (`start`), or once on demand (`reap`: admin route, CLI). Time comes
 * from an injected clock (ms since the epoch) so tests need no sleeps.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import type { PendingUpload } from '../../commands/storage-index.ts';
import { ObjectStoreError, type ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { ReapReport, UploadReaperService } from './upload-reaper.port.ts';

export interface UploadReaperOptions {
  commandBus: CommandBus;
  /** Uploads still pending that started at or before an instant (ms since the epoch): the command handler's storage index. */
  pendingUploads(startedBefore: number): PendingUpload[];
  objectStore: Pick<ObjectStore, 'abortMultipartUpload' | 'exists'>;
  /** Folders whose direct entries are temp files or folders (absent folders are skipped). */
  tempDirs: string[];
  /** Age past which an upload is abandoned and a temp entry orphaned, seconds (STREAMWAVE_UPLOAD_EXPIRY_SECONDS). */
  expirySeconds: number;
  /** Clock, ms since the epoch. Default Date.now. */
  now?: () => number;
  logger: Logger;
}

export interface UploadReaper extends UploadReaperService {
  /** Runs `reap` every `intervalSeconds` (seconds; STREAMWAVE_UPLOAD_REAPER_INTERVAL_SECONDS) until `stop`. */
  start(intervalSeconds: number): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** Newest mtime (ms) of a file or, recursively, of a folder and everything in it. */
async function newestMtime(path: string): Promise<number> {
  const st = await lstat(path);
  let newest = st.mtimeMs;
  if (st.isDirectory()) {
    for (const name of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, name)).catch(() => newest));
  }
  return newest;
}

export function createUploadReaper(opts: UploadReaperOptions): UploadReaper {
  const now = opts.now ?? Date.now;
  const { logger } = opts;
  let running: Promise<ReapReport> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function abandon(u: PendingUpload, at: number, report: ReapReport): Promise<void> {
    try {
      const gone = await opts.objectStore.abortMultipartUpload(u.objectKey, u.uploadId).then(
        () => false,
        (err: unknown) => {
          if (err instanceof ObjectStoreError && err.code === 'NoSuchUpload') return true;
          throw err;
        },
      );
      // No open multipart upload but a source object: it was completed, by a process whose events
      // this (possibly stale, cluster mode) index has not seen yet. Never fail a completed upload.
      if (gone && (await opts.objectStore.exists(u.objectKey))) {
        report.skipped.push({ videoId: u.videoId, uploadId: u.uploadId });
        return;
      }
      // Aborted now, or already gone without a source (aborted by an earlier run): fail it.
      await opts.commandBus.send({
        type: 'FailUpload',
        data: {
          videoId: u.videoId, uploadId: u.uploadId, code: 'UPLOAD_ABANDONED',
          reason: `the upload was not completed within ${opts.expirySeconds} seconds of its start`,
        },
        metadata: { now: at },
      });
      report.abandonedUploads.push({ videoId: u.videoId, uploadId: u.uploadId });
    } catch (err) {
      report.errors.push({ what: `upload ${u.uploadId}`, error: err instanceof Error ? err.message : String(err) });
    }
  }

  async function sweep(dir: string, cutoff: number, report: ReapReport): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // not created yet
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        if ((await newestMtime(path)) > cutoff) continue;
        await rm(path, { recursive: true, force: true });
        report.removedTempEntries++;
      } catch (err) {
        report.errors.push({ what: `temp entry ${name}`, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  async function run(): Promise<ReapReport> {
    const at = now();
    const cutoff = at - opts.expirySeconds * 1000;
    const report: ReapReport = { abandonedUploads: [], skipped: [], removedTempEntries: 0, errors: [], cutoff };
    const expired = opts.pendingUploads(cutoff);
    logger.info({ expired: expired.length, cutoff: new Date(cutoff).toISOString() }, 'upload reaper: run started');
    for (const [i, u] of expired.entries()) {
      await abandon(u, at, report);
      if ((i + 1) % 100 === 0) logger.info({ done: i + 1, total: expired.length }, 'upload reaper: abandoning uploads');
    }
    for (const dir of opts.tempDirs) await sweep(dir, cutoff, report);
    logger.info(
      { abandoned: report.abandonedUploads.length, removedTempEntries: report.removedTempEntries, errors: report.errors.length },
      'upload reaper: run finished',
    );
    return report;
  }

  const reaper: UploadReaper = {
    reap() {
      running ??= run().finally(() => { running = undefined; });
      return running;
    },
    start(intervalSeconds) {
      if (timer) return;
      timer = setInterval(() => {
        reaper.reap().catch((err: unknown) => logger.error({ err }, 'upload reaper: run failed'));
      }, intervalSeconds * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
  return reaper;
}
