import type { Event } from '../shared/event.ts';
import type { VideoVisibility } from './video-visibility.ts';

/** One rung of the HLS ladder as planned or encoded. */
export interface RenditionInfo {
  /** Ladder name, e.g. `360p`; for a source below 144p, `source`. */
  name: string;
  /** Output width in pixels (even). */
  width: number;
  /** Output height in pixels (even). */
  height: number;
  /** Peak bandwidth for the master playlist BANDWIDTH attribute, bits/s. */
  bandwidth: number;
  /** RFC 6381 codecs string for the master playlist CODECS attribute, e.g. `avc1.64001f,mp4a.40.2`. */
  codecs: string;
  /** Object key of the rendition's media playlist, relative to the video's HLS prefix, e.g. `360p/index.m3u8`. */
  playlist: string;
}

/** An owner asked to upload a video; the multipart upload is open. Key: videoId. */
export type UploadStarted = Event<'UploadStarted', {
  videoId: string;
  ownerId: string;
  uploadId: string;
  /** Object key of the raw upload in the object store. */
  objectKey: string;
  filename: string;
  /** Declared size, bytes. */
  sizeBytes: number;
  contentType: string;
  title: string;
  description: string;
  tags: string[];
  /** Part size the client must use, bytes. */
  partSizeBytes: number;
  startedAt: number;
  /** public | unlisted | private (domain/video/video-visibility.ts); absent on events before issue 8: public. */
  visibility?: VideoVisibility;
}>;

/** All parts arrived and the multipart upload was assembled. Key: videoId. */
export type UploadCompleted = Event<'UploadCompleted', {
  videoId: string;
  uploadId: string;
  objectKey: string;
  /** Actual assembled size, bytes. */
  sizeBytes: number;
  completedAt: number;
}>;

/** The transcoder probed the source and planned the ladder. Key: videoId. */
export type VideoProcessingStarted = Event<'VideoProcessingStarted', {
  videoId: string;
  /** Planned renditions, lowest first. */
  ladder: RenditionInfo[];
  /** Source duration, seconds. */
  durationSeconds: number;
  startedAt: number;
}>;

/** Coarse transcoding progress (throttled). Key: videoId. */
export type VideoProcessingProgressed = Event<'VideoProcessingProgressed', {
  videoId: string;
  /** 0–100. */
  progress: number;
  at: number;
}>;

/** One rendition is encoded and uploaded; it is in the master playlist. Key: videoId. */
export type RenditionEncoded = Event<'RenditionEncoded', {
  videoId: string;
  rendition: RenditionInfo;
  at: number;
}>;

/**
 * The video is playable. Key: videoId. Its master playlist lists `renditions` when present
 * (progressive publishing, docs/adr/0007: every rung has its first segments and keeps growing
 * until its RenditionEncoded), else its complete renditions (ADR 0002, before ADR 0007).
 */
export type VideoPublished = Event<'VideoPublished', {
  videoId: string;
  /** Object key of the master playlist. */
  masterPlaylistKey: string;
  /** Object key of the thumbnail JPEG. */
  thumbnailKey: string;
  /** Seconds. */
  durationSeconds: number;
  publishedAt: number;
  /** The rungs the master lists at publication, lowest first; null/absent before ADR 0007. */
  renditions?: RenditionInfo[] | null;
}>;

/** Processing failed for good (bad source, or retries exhausted). Key: videoId. */
export type VideoProcessingFailed = Event<'VideoProcessingFailed', {
  videoId: string;
  /** Human-readable reason shown in the status endpoint. */
  reason: string;
  /** Stable machine-readable code, e.g. `NO_VIDEO_STREAM`, `UNREADABLE_MEDIA`. */
  code: string;
  failedAt: number;
}>;

/**
 * Processing ended for good on a published video: the final master playlist is written and no
 * more renditions will come. Progress is 100 from here even when planned rungs are missing
 * (the transcoder keeps a video published when its higher rungs fail permanently). Key: videoId.
 */
export type VideoProcessingCompleted = Event<'VideoProcessingCompleted', {
  videoId: string;
  /** Names of the renditions in the final master playlist, lowest first. */
  renditions: string[];
  /** Planned renditions that could not be encoded, with the human-readable reason. */
  omitted: { name: string; reason: string }[];
  completedAt: number;
  /** The playable duration, seconds, when it differs from the published one (a truncated source); null/absent: unchanged. */
  durationSeconds?: number | null;
}>;

/**
 * Seek previews are ready: a storyboard (JPEG sprite sheets of tiles and a WebVTT thumbnails track
 * mapping time ranges to `sprite-N.jpg#xywh=x,y,w,h`) is in the object store. Key: videoId.
 * An event of its own rather than a field of VideoPublished or VideoProcessingCompleted: the
 * storyboard comes after publishing (its failure must never hold a video back) and, for videos
 * published before it existed, long after completion (the storyboard backfill), when those events
 * can no longer be sent. A later one replaces an earlier one.
 */
export type StoryboardGenerated = Event<'StoryboardGenerated', {
  videoId: string;
  /** Object key of the WebVTT thumbnails track; the sprite sheets sit next to it. */
  storyboardKey: string;
  /** Time each tile stands for, seconds (≥ 1). */
  intervalSeconds: number;
  /** Number of tiles (cues), ≥ 1. */
  tiles: number;
  /** Size of one tile, pixels. */
  tileWidth: number;
  tileHeight: number;
  generatedAt: number;
}>;

/** The owner edited title, description, tags or visibility. Absent (null) fields are unchanged. Key: videoId. */
export type VideoMetadataUpdated = Event<'VideoMetadataUpdated', {
  videoId: string;
  title?: string | null;
  description?: string | null;
  tags?: string[] | null;
  /** New visibility (domain/video/video-visibility.ts), or null/absent if unchanged. */
  visibility?: VideoVisibility | null;
  updatedBy: string;
  updatedAt: number;
}>;

/** The owner deleted the video. Key: videoId. */
export type VideoDeleted = Event<'VideoDeleted', {
  videoId: string;
  deletedBy: string;
  deletedAt: number;
}>;

/**
 * The owner published the captions of one language (issue "Creators: a studio…"): the WebVTT file
 * is at `key` (domain/video/captions.ts captionKeys.file); it replaces an earlier file of the
 * language. The master playlist lists it as a subtitles rendition (RFC 8216 §4.3.4.1). Key: videoId.
 */
export type CaptionsPublished = Event<'CaptionsPublished', {
  videoId: string;
  /** Canonical BCP 47 tag (domain/video/captions.ts canonicalCaptionLanguage), e.g. `en-US`. */
  language: string;
  /** Object key of the WebVTT file. */
  key: string;
  /** Size of the file, bytes. */
  sizeBytes: number;
  /** The video's duration when published, seconds (the subtitle playlist's one segment spans it). */
  durationSeconds: number;
  publishedBy: string;
  publishedAt: number;
}>;

/** The owner removed the captions of one language; the master playlist no longer lists them. Key: videoId. */
export type CaptionsRemoved = Event<'CaptionsRemoved', {
  videoId: string;
  /** Canonical BCP 47 tag. */
  language: string;
  removedBy: string;
  removedAt: number;
}>;

/**
 * The owner set a custom thumbnail (issue 15): a JPEG the gateway re-encoded from the uploaded
 * image (domain/video/thumbnails.ts) is at `key`. From now on it is the video's thumbnail, in place
 * of the generated one (VideoPublished.thumbnailKey), also when that comes later. A later one
 * replaces an earlier one. Key: videoId.
 */
export type CustomThumbnailSet = Event<'CustomThumbnailSet', {
  videoId: string;
  /** Object key of the JPEG (domain/video/thumbnails.ts customThumbnailKey). */
  key: string;
  /** Size of the JPEG, pixels. */
  width: number;
  height: number;
  /** Size of the JPEG file, bytes. */
  sizeBytes: number;
  setBy: string;
  setAt: number;
}>;

export type VideoEvent =
  | UploadStarted
  | UploadCompleted
  | VideoProcessingStarted
  | VideoProcessingProgressed
  | RenditionEncoded
  | VideoPublished
  | VideoProcessingFailed
  | VideoProcessingCompleted
  | StoryboardGenerated
  | VideoMetadataUpdated
  | VideoDeleted
  | CaptionsPublished
  | CaptionsRemoved
  | CustomThumbnailSet;
