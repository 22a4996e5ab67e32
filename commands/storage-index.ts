import type { VideoState } from '../domain/video/video.decider.ts';

/** Default per-user storage quota, bytes: 50 GiB (issue 8, "Storage you can reason about"). */
export const DEFAULT_USER_STORAGE_QUOTA_BYTES = 50 * 1024 ** 3;

/** An upload still waiting for its parts, for the reaper. */
export interface PendingUpload {
  videoId: string;
  ownerId: string;
  uploadId: string;
  objectKey: string;
  /** When UploadStarted was decided, ms since the Unix epoch. */
  startedAt: number;
}

/**
 * Storage each user holds, for the per-user quota no single video aggregate can check (issue 8).
 * A video counts its `sizeBytes` (declared until the upload completes, then the assembled size)
 * while it is neither `failed` nor `deleted`. Fed by the aggregate-state cache with every change of
 * a video's state, in log order, so it is rebuilt from the videos topic at start.
 *
 * Cluster mode: each command-handler process keeps its own index over the whole videos topic, but
 * two StartUploads of one user decided at once by two processes (or on two video keys in one
 * process) may both pass; the quota is a bound per process, not a global lock.
 */
export interface StorageIndex {
  /** Bytes counted against `ownerId` (0 for an unknown user). */
  usedBy(ownerId: string): number;
  /** Uploads in `pending_upload` whose UploadStarted is at or before `startedBefore` (ms since the epoch), oldest first. */
  pendingUploads(startedBefore: number): PendingUpload[];
  /** Records that video `videoId` went from `before` (undefined: not cached) to `after`. */
  videoChanged(videoId: string, before: VideoState | undefined, after: VideoState): void;
}

const counted = (s: VideoState | undefined): s is Extract<VideoState, { ownerId: string }> =>
  s !== undefined && s.status !== 'absent' && s.status !== 'deleted' && s.status !== 'failed';

/** An empty index; the cache fills it while it rebuilds and evolves video states. */
export function createStorageIndex(): StorageIndex {
  const used = new Map<string, number>();
  const pending = new Map<string, PendingUpload>();
  const add = (owner: string, bytes: number) => {
    const n = (used.get(owner) ?? 0) + bytes;
    if (n <= 0) used.delete(owner);
    else used.set(owner, n);
  };
  return {
    usedBy: (ownerId) => used.get(ownerId) ?? 0,
    pendingUploads: (startedBefore) =>
      [...pending.values()].filter((p) => p.startedAt <= startedBefore).sort((a, b) => a.startedAt - b.startedAt),
    videoChanged(videoId, before, after) {
      if (counted(before)) add(before.ownerId, -before.sizeBytes);
      if (counted(after)) add(after.ownerId, after.sizeBytes);
      if (after.status === 'pending_upload') {
        pending.set(videoId, { videoId, ownerId: after.ownerId, uploadId: after.uploadId, objectKey: after.objectKey, startedAt: after.createdAt });
      } else {
        pending.delete(videoId);
      }
    },
  };
}
