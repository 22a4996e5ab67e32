/**
 * The upload reaper as the gateway's admin route sees it (`POST /admin/uploads/reap`, issue 8).
 */

/** What one reaper run did. */
export interface ReapReport {
  /** Multipart uploads older than the expiry that were aborted and failed on the log (UPLOAD_ABANDONED). */
  abandonedUploads: { videoId: string; uploadId: string }[];
  /**
   * Expired in the index but already completed (no open multipart upload, the source exists): left
   * alone. Happens when the index lags the log (cluster mode: another process completed it).
   */
  skipped: { videoId: string; uploadId: string }[];
  /** Orphaned temp entries (files or folders) older than the expiry that were removed. */
  removedTempEntries: number;
  /** Uploads or entries the run could not reap (left for the next run), with why. */
  errors: { what: string; error: string }[];
  /** Uploads started before this instant were abandoned; ms since the Unix epoch. */
  cutoff: number;
}

/** Runs the reaper once. */
export interface UploadReaperService {
  /** One run, now; concurrent calls share the run in progress. */
  reap(): Promise<ReapReport>;
}
