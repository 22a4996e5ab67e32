/**
 * Query ports the gateway reads through. Each is served by a projection (a read model built
 * from the log); the gateway never touches a store directly.
 */
import type { RenditionInfo } from '../domain/events.ts';

import type { VideoStatus } from '../domain/video/video.decider.ts';

export type { VideoStatus };

/** Video detail read model (key-value: Redis in cluster mode). */
export interface VideoDetail {
  videoId: string;
  ownerId: string;
  title: string;
  description: string;
  tags: string[];
  status: VideoStatus;
  /**
   * 0–100: ready at the first rendition, 100 when the whole ladder is encoded or processing
   * completed (VideoProcessingCompleted) with some rungs omitted.
   */
  progress: number;
  /** Encoded renditions, lowest first. */
  renditions: RenditionInfo[];
  /** Planned ladder size (0 until processing starts). */
  plannedRenditions: number;
  /** Planned renditions that could not be encoded (VideoProcessingCompleted); [] otherwise. */
  omittedRenditions: { name: string; reason: string }[];
  /** Human-readable failure reason when status is failed. */
  error: string | null;
  errorCode: string | null;
  uploadId: string;
  filename: string;
  sizeBytes: number;
  durationSeconds: number | null;
  masterPlaylistKey: string | null;
  thumbnailKey: string | null;
  /** View counter (view rule v1). */
  views: number;
  commentCount: number;
  createdAt: number;
  publishedAt: number | null;
  updatedAt: number;
}

export interface CommentView {
  commentId: string;
  videoId: string;
  authorId: string;
  parentId: string | null;
  body: string;
  postedAt: number;
}

export interface WatchHistoryEntry {
  videoId: string;
  /** Last heartbeat time, ms since epoch. */
  watchedAt: number;
  positionSeconds: number;
}

export interface UserAccount {
  userId: string;
  username: string;
  email: string;
  passwordHash: string;
}

export interface VideoQueries {
  getVideo(videoId: string): Promise<VideoDetail | undefined>;
  getVideoByUploadId(uploadId: string): Promise<VideoDetail | undefined>;
  listUserVideos(ownerId: string): Promise<VideoDetail[]>;
  /** Newest first; `cursor` is opaque (from a previous page's next cursor). */
  listComments(videoId: string, limit: number, cursor?: string): Promise<{ comments: CommentView[]; nextCursor: string | null }>;
  /** Most recent first, capped (WATCH_HISTORY_CAP entries). */
  getWatchHistory(userId: string): Promise<WatchHistoryEntry[]>;
  findUserByUsername(username: string): Promise<UserAccount | undefined>;
}

/** Creator analytics (ClickHouse). Numbers follow view rule v1 (docs/view-rule.md). */
export interface VideoAnalytics {
  views: number;
  unique_viewers: number;
  /** Seconds. */
  watch_time_seconds: number;
  /** `minute` is ISO 8601 UTC at minute precision, e.g. `2026-11-24T10:15:00Z`, ascending. */
  views_per_minute: { minute: string; views: number }[];
}

export interface AnalyticsQueries {
  videoAnalytics(videoId: string): Promise<VideoAnalytics>;
}

export interface SearchHit {
  videoId: string;
  title: string;
  description: string;
  tags: string[];
  ownerId: string;
  thumbnailKey: string | null;
  durationSeconds: number | null;
  publishedAt: number | null;
}

export interface SearchQueries {
  /** Full-text search with typo tolerance over title, description and tags; only ready videos. */
  search(q: string, pageSize: number, cursor?: string): Promise<{ videos: SearchHit[]; nextCursor: string | null }>;
}

/** Raised for an invalid or tampered cursor; the gateway maps it to 400 INVALID_CURSOR. */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
}
