/**
 * Query port of the video-detail read model: one document per video (metadata, processing status
 * and progress, renditions, counters) and the lookups the API needs. Key-value store: embedded in
 * standalone mode, Redis in cluster mode.
 */
import type { RenditionInfo } from '../../domain/events.ts';
import type { VideoStatus } from '../../domain/video/video.decider.ts';
import type { VideoVisibility } from '../../domain/video/video-visibility.ts';

export type { VideoStatus };

/** A rendition of a video's read model; `complete` false while its media playlist still grows (absent in older documents: complete). */
export interface VideoRendition extends RenditionInfo {
  complete?: boolean;
}

export interface VideoDetail {
  videoId: string;
  ownerId: string;
  title: string;
  description: string;
  tags: string[];
  status: VideoStatus;
  /** Who may see it (domain/video/video-visibility.ts); documents from before issue 8 read as public. */
  visibility: VideoVisibility;
  /**
   * 0–100: the share of the source encoded (at most 99 until every planned rung is complete);
   * 100 when the whole ladder is encoded or processing completed (VideoProcessingCompleted) with
   * some rungs omitted.
   */
  progress: number;
  /**
   * The renditions the master playlist lists, lowest first: complete ones (RenditionEncoded) and,
   * under progressive publishing (docs/adr/0007), growing ones (`complete: false`).
   */
  renditions: VideoRendition[];
  /** Planned ladder size (0 until processing starts). */
  plannedRenditions: number;
  /** Planned renditions that could not be encoded (VideoProcessingCompleted); [] otherwise. */
  omittedRenditions: { name: string; reason: string }[];
  /** Human-readable failure reason when status is failed. */
  error: string | null;
  errorCode: string | null;
  uploadId: string;
  filename: string;
  /** Bytes. */
  sizeBytes: number;
  /** Seconds; null until probed. */
  durationSeconds: number | null;
  masterPlaylistKey: string | null;
  /** Object key of the thumbnail JPEG: the owner's custom one when set (customThumbnailKey), else the generated one (VideoPublished). */
  thumbnailKey: string | null;
  /** Object key of the owner's custom thumbnail (CustomThumbnailSet, issue 15); null or absent when none. */
  customThumbnailKey?: string | null;
  /**
   * Caption tracks in language order: canonical BCP 47 `language`, object `key` of the WebVTT file
   * (CaptionsPublished / CaptionsRemoved). Absent in documents from before captions: none.
   */
  captions?: { language: string; key: string }[];
  /** Object key of the storyboard's WebVTT thumbnails track (StoryboardGenerated); null or absent (older documents) when there is none. */
  storyboardKey?: string | null;
  /** View counter (view rule v2, v1 for heartbeats recorded before it; domain/view/view-rule.ts). */
  views: number;
  commentCount: number;
  /** Standing likes (VideoLiked minus VideoUnliked, one per user; issue 14). */
  likeCount: number;
  /** ms since the Unix epoch. */
  createdAt: number;
  publishedAt: number | null;
  updatedAt: number;
}

export interface VideoDetailQueries {
  /**
   * The video's document, or undefined when there is none. The document is frozen and may be
   * shared with other readers until the video changes (it is memoised per video: issue 12).
   */
  getVideo(videoId: string): Promise<VideoDetail | undefined>;
  getVideoByUploadId(uploadId: string): Promise<VideoDetail | undefined>;
  /** The owner's videos, newest first, all visibilities; deleted ones are left out (filter with domain/video/video-visibility.ts before showing them to others). */
  listUserVideos(ownerId: string): Promise<VideoDetail[]>;
  /**
   * The trending videos (issue 14; projections/video-detail/trending.ts), best first, at most
   * `limit`, each with its view count decayed to `now` (ms) with a 6 h half-life; only those
   * `include` accepts (the caller's listing rule: public and published).
   */
  trending(limit: number, now: number, include: (video: VideoDetail) => boolean): Promise<{ video: VideoDetail; score: number }[]>;
  /** Whether `userId`'s like of the video stands (issue 14). */
  likes(videoId: string, userId: string): Promise<boolean>;
  /** The videos whose like by `userId` stands, with when (ms), in video-id order (their data export). */
  likedBy(userId: string): Promise<{ videoId: string; likedAt: number }[]>;
}
