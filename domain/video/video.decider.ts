import { assertNever, DomainError } from '../shared/event.ts';
import type { Decider } from '../shared/decider.ts';
import { isNonBlank, isNonNegativeFinite } from '../shared/validation.ts';
import { normaliseVideoMetadata } from './video-metadata.ts';
import { decideCaptions, evolveCaptions, type CaptionTrack } from './captions.decider.ts';
import type { RenditionInfo, VideoEvent, VideoMetadataUpdated } from './video.events.ts';
import type { VideoCommand } from './video.commands.ts';
import { DEFAULT_VISIBILITY, isVideoVisibility, type VideoVisibility } from './video-visibility.ts';
import { decideRecordStoryboard } from './storyboard.decider.ts';
import { decideCustomThumbnail } from './thumbnails.ts';

/**
 * Lifecycle of a video:
 * pending_upload → uploaded → processing → ready | failed, and deleted from any of them.
 * Status only moves forward; `deleted` is terminal.
 */
export const VIDEO_STATUSES = ['pending_upload', 'uploaded', 'processing', 'ready', 'failed', 'deleted'] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];

/** A video that exists on the log (at least its UploadStarted was appended). */
export interface ExistingVideoState {
  readonly status: VideoStatus;
  readonly videoId: string;
  readonly ownerId: string;
  readonly uploadId: string;
  /** Object key of the raw upload. */
  readonly objectKey: string;
  readonly filename: string;
  readonly contentType: string;
  /** Declared size until the upload completes, then the assembled size; bytes. */
  readonly sizeBytes: number;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  /** Who may see the video (domain/video/video-visibility.ts). */
  readonly visibility: VideoVisibility;
  /** Planned renditions, lowest first (empty until processing starts). */
  readonly ladder: readonly RenditionInfo[];
  /** Encoded renditions in the order they were recorded. */
  readonly encoded: readonly RenditionInfo[];
  /** Source duration, seconds; null until processing starts. */
  readonly durationSeconds: number | null;
  /** Highest reported transcoding progress, 0–100. */
  readonly progress: number;
  readonly masterPlaylistKey: string | null;
  readonly thumbnailKey: string | null;
  /** Object key of the storyboard's WebVTT track (StoryboardGenerated); null/absent until then. */
  readonly storyboardKey?: string | null;
  /** Object key of the owner's custom thumbnail (CustomThumbnailSet); null/absent when none. */
  readonly customThumbnailKey?: string | null;
  readonly failure: { readonly code: string; readonly reason: string } | null;
  /** True once VideoProcessingCompleted: the ladder is final (some planned rungs may be omitted). */
  readonly completed: boolean;
  /** Caption tracks, in language order (domain/video/captions.decider.ts); absent in states folded before captions: none. */
  readonly captions?: readonly CaptionTrack[];
  /** Status before the video was deleted (for diagnostics), null while not deleted. */
  readonly statusBeforeDelete: Exclude<VideoStatus, 'deleted'> | null;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly publishedAt: number | null;
}

/** State of the video aggregate: `{ status: 'absent' }` before its first event. */
export type VideoState = { readonly status: 'absent' } | ExistingVideoState;

export const initialVideoState: VideoState = { status: 'absent' };

const invalid = (code: string, message: string) => new DomainError(code, message, 'invalid');
const conflict = (code: string, message: string) => new DomainError(code, message, 'conflict');

/**
 * The state of a video a command may act on.
 * @throws DomainError `VIDEO_NOT_FOUND` (not_found) when the video does not exist,
 *   `VIDEO_DELETED` (not_found) when it was deleted: deleted videos reject every command.
 */
export function requireLiveVideo(state: VideoState, videoId: string): ExistingVideoState & { status: Exclude<VideoStatus, 'deleted'> } {
  if (state.status === 'absent') throw new DomainError('VIDEO_NOT_FOUND', `video ${videoId} not found`, 'not_found');
  if (state.status === 'deleted') throw new DomainError('VIDEO_DELETED', `video ${videoId} was deleted`, 'not_found');
  return state as ExistingVideoState & { status: Exclude<VideoStatus, 'deleted'> };
}

/**
 * The video a viewer may watch: live and ready (what heartbeats and playback reports are decided against).
 * @throws DomainError `VIDEO_NOT_FOUND` / `VIDEO_DELETED` (not_found); `VIDEO_NOT_PUBLISHED` (conflict) unless ready.
 */
export function requireWatchableVideo(state: VideoState, videoId: string): ExistingVideoState {
  const video = requireLiveVideo(state, videoId);
  if (video.status !== 'ready') {
    throw new DomainError('VIDEO_NOT_PUBLISHED', `video ${videoId} is ${video.status}; only ready videos can be watched`, 'conflict');
  }
  return video;
}

const isPositiveSafeInteger = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) > 0;
const isNonNegativeSafeInteger = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const sameTags = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((t, i) => t === b[i]);

/**
 * Decides a video command against the video's state. Pure.
 *
 * Idempotent retries return `[]`: StartUpload/CompleteUpload with the same uploadId once done, StartProcessing
 * once processing, RecordRenditionEncoded for an already encoded rendition name (per (videoId, rendition)),
 * PublishVideo once ready, FailProcessing and FailUpload once failed, ReportProcessingProgress that does not
 * increase progress (or outside processing/ready), CompleteProcessing once completed, UpdateVideoMetadata that
 * changes nothing; RecordStoryboard: storyboard.decider.ts (errors included).
 *
 * @throws DomainError
 *  - `VIDEO_NOT_FOUND` / `VIDEO_DELETED` (not_found): unknown or deleted video (deleted rejects everything);
 *  - `VIDEO_ALREADY_EXISTS` (conflict): StartUpload for an existing video with another uploadId;
 *  - `UPLOAD_ID_MISMATCH` (conflict): CompleteUpload/FailUpload with another uploadId than the open upload;
 *  - `INVALID_TRANSITION` (conflict): a backward or skipped status move (e.g. FailProcessing after ready, CompleteProcessing before publishing);
 *  - `NO_RENDITION_ENCODED` (conflict): PublishVideo without `renditions` before any rendition is encoded (a
 *    published video must be playable; with `renditions`, the transcoder vouches that each has its first segments);
 *  - PublishCaptions / RemoveCaptions: see domain/video/captions.decider.ts decideCaptions;
 *  - SetCustomThumbnail: see domain/video/thumbnails.ts decideCustomThumbnail;
 *  - `NOT_OWNER` (forbidden): UpdateVideoMetadata/DeleteVideo by someone other than the owner (`metadata.actorId`);
 *  - `INVALID_METADATA`, `INVALID_VISIBILITY`, `INVALID_UPLOAD`, `INVALID_PROCESSING_PLAN`, `INVALID_PROGRESS`, `INVALID_RENDITION`,
 *    `INVALID_PUBLICATION`, `INVALID_FAILURE` (invalid): malformed command data;
 *  - `INVALID_COMPLETION` (invalid): CompleteProcessing without renditions, naming a rendition that was
 *    not encoded (a player must never see a missing variant) or twice, or a malformed omitted entry.
 */
function decideVideo(command: VideoCommand, state: VideoState): VideoEvent[] {
  const now = command.metadata.now;
  switch (command.type) {
    case 'StartUpload': {
      const d = command.data;
      if (state.status === 'deleted') requireLiveVideo(state, d.videoId);
      if (state.status !== 'absent') {
        if (state.uploadId === d.uploadId) return [];
        throw conflict('VIDEO_ALREADY_EXISTS', `video ${d.videoId} already exists with another upload`);
      }
      for (const f of ['videoId', 'ownerId', 'uploadId', 'objectKey', 'filename', 'contentType'] as const) {
        if (!isNonBlank(d[f])) throw invalid('INVALID_UPLOAD', `${f} is required`);
      }
      if (!isPositiveSafeInteger(d.sizeBytes)) throw invalid('INVALID_UPLOAD', 'sizeBytes must be a positive integer (bytes)');
      if (!isPositiveSafeInteger(d.partSizeBytes)) throw invalid('INVALID_UPLOAD', 'partSizeBytes must be a positive integer (bytes)');
      const m = normaliseVideoMetadata({ title: d.title, description: d.description ?? '', tags: d.tags ?? [] });
      const visibility = d.visibility ?? DEFAULT_VISIBILITY;
      if (!isVideoVisibility(visibility)) throw invalid('INVALID_VISIBILITY', 'visibility must be public, unlisted or private');
      return [{
        type: 'UploadStarted',
        data: {
          videoId: d.videoId, ownerId: d.ownerId, uploadId: d.uploadId, objectKey: d.objectKey, filename: d.filename,
          sizeBytes: d.sizeBytes, contentType: d.contentType, title: m.title!, description: m.description!, tags: m.tags!,
          partSizeBytes: d.partSizeBytes, startedAt: now, visibility,
        },
      }];
    }
    case 'CompleteUpload': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (v.uploadId !== d.uploadId) {
        throw conflict('UPLOAD_ID_MISMATCH', `upload ${d.uploadId} is not the upload of video ${d.videoId}`);
      }
      if (v.status !== 'pending_upload') return []; // completes once; a retry of the same upload is a no-op
      if (!isNonNegativeSafeInteger(d.sizeBytes)) throw invalid('INVALID_UPLOAD', 'sizeBytes must be a non-negative integer (bytes)');
      return [{ type: 'UploadCompleted', data: { videoId: d.videoId, uploadId: d.uploadId, objectKey: v.objectKey, sizeBytes: d.sizeBytes, completedAt: now } }];
    }
    case 'FailUpload': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (v.uploadId !== d.uploadId) {
        throw conflict('UPLOAD_ID_MISMATCH', `upload ${d.uploadId} is not the upload of video ${d.videoId}`);
      }
      if (v.status === 'failed') return []; // a retried failure (e.g. two reaper runs)
      if (v.status !== 'pending_upload') throw conflict('INVALID_TRANSITION', `cannot fail the upload of a video that is ${v.status}`);
      if (!isNonBlank(d.code)) throw invalid('INVALID_FAILURE', 'a failure code is required');
      return [{ type: 'VideoProcessingFailed', data: { videoId: d.videoId, reason: String(d.reason ?? ''), code: d.code, failedAt: now } }];
    }
    case 'StartProcessing': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      // A redelivered UploadCompleted makes the transcoder start again: not an error once started.
      if (v.status === 'processing' || v.status === 'ready') return [];
      if (v.status !== 'uploaded') throw conflict('INVALID_TRANSITION', `cannot start processing a video that is ${v.status}`);
      if (!Array.isArray(d.ladder) || d.ladder.length === 0) throw invalid('INVALID_PROCESSING_PLAN', 'the ladder must have at least one rendition');
      const names = new Set<string>();
      for (const r of d.ladder) {
        if (!isNonBlank(r?.name)) throw invalid('INVALID_PROCESSING_PLAN', 'every rendition needs a name');
        if (names.has(r.name)) throw invalid('INVALID_PROCESSING_PLAN', `rendition ${r.name} is planned twice`);
        names.add(r.name);
      }
      if (!isNonNegativeFinite(d.durationSeconds) || d.durationSeconds === 0) {
        throw invalid('INVALID_PROCESSING_PLAN', 'durationSeconds must be a finite number > 0 (seconds)');
      }
      return [{ type: 'VideoProcessingStarted', data: { videoId: d.videoId, ladder: d.ladder, durationSeconds: d.durationSeconds, startedAt: now } }];
    }
    case 'ReportProcessingProgress': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (!isNonNegativeFinite(d.progress) || d.progress > 100) throw invalid('INVALID_PROGRESS', 'progress must be a number in 0..100');
      if (v.status !== 'processing' && v.status !== 'ready') return [];
      if (d.progress <= v.progress) return [];
      return [{ type: 'VideoProcessingProgressed', data: { videoId: d.videoId, progress: d.progress, at: now } }];
    }
    case 'RecordRenditionEncoded': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (v.status !== 'processing' && v.status !== 'ready') {
        throw conflict('INVALID_TRANSITION', `cannot record a rendition of a video that is ${v.status}`);
      }
      if (!isNonBlank(d.rendition?.name)) throw invalid('INVALID_RENDITION', 'the rendition needs a name');
      if (v.encoded.some((r) => r.name === d.rendition.name)) return []; // idempotent per (videoId, rendition)
      return [{ type: 'RenditionEncoded', data: { videoId: d.videoId, rendition: d.rendition, at: now } }];
    }
    case 'PublishVideo': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (v.status === 'ready') return [];
      if (v.status !== 'processing') throw conflict('INVALID_TRANSITION', `cannot publish a video that is ${v.status}`);
      const listed = d.renditions ?? null;
      if (listed !== null) {
        // Progressive publishing (ADR 0007): the master lists growing rungs, none complete yet.
        if (!Array.isArray(listed) || listed.length === 0) throw invalid('INVALID_PUBLICATION', 'renditions, when given, must list at least one rendition');
        const names = new Set<string>();
        for (const r of listed) {
          if (!isNonBlank(r?.name)) throw invalid('INVALID_RENDITION', 'every rendition needs a name');
          if (names.has(r.name)) throw invalid('INVALID_PUBLICATION', `rendition ${r.name} is listed twice`);
          names.add(r.name);
        }
      } else if (v.encoded.length === 0) {
        throw conflict('NO_RENDITION_ENCODED', `video ${d.videoId} has no encoded rendition yet`);
      }
      if (!isNonBlank(d.masterPlaylistKey) || !isNonBlank(d.thumbnailKey)) {
        throw invalid('INVALID_PUBLICATION', 'masterPlaylistKey and thumbnailKey are required');
      }
      if (!isNonNegativeFinite(d.durationSeconds)) throw invalid('INVALID_PUBLICATION', 'durationSeconds must be a finite number ≥ 0 (seconds)');
      return [{
        type: 'VideoPublished',
        data: {
          videoId: d.videoId, masterPlaylistKey: d.masterPlaylistKey, thumbnailKey: d.thumbnailKey, durationSeconds: d.durationSeconds, publishedAt: now,
          ...(listed ? { renditions: listed.map((r) => ({ ...r })) } : {}),
        },
      }];
    }
    case 'FailProcessing': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (v.status === 'failed') return [];
      // The transcoder may fail while probing, i.e. before VideoProcessingStarted: uploaded → failed is forward.
      if (v.status !== 'uploaded' && v.status !== 'processing') {
        throw conflict('INVALID_TRANSITION', `cannot fail processing of a video that is ${v.status}`);
      }
      if (!isNonBlank(d.code)) throw invalid('INVALID_FAILURE', 'a failure code is required');
      return [{ type: 'VideoProcessingFailed', data: { videoId: d.videoId, reason: String(d.reason ?? ''), code: d.code, failedAt: now } }];
    }
    case 'CompleteProcessing': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (v.completed) return []; // a redelivered transcoder job completes again
      // Completion is the end of a published video's processing; a failed video ends with VideoProcessingFailed.
      if (v.status !== 'ready') throw conflict('INVALID_TRANSITION', `cannot complete processing of a video that is ${v.status}`);
      if (!Array.isArray(d.renditions) || d.renditions.length === 0) {
        throw invalid('INVALID_COMPLETION', 'at least one rendition must be in the master playlist');
      }
      const encoded = new Set(v.encoded.map((r) => r.name));
      const listed = new Set<string>();
      for (const name of d.renditions) {
        if (!encoded.has(name)) throw invalid('INVALID_COMPLETION', `rendition ${String(name)} was not encoded`);
        if (listed.has(name)) throw invalid('INVALID_COMPLETION', `rendition ${name} is listed twice`);
        listed.add(name);
      }
      const omitted = d.omitted ?? [];
      if (!Array.isArray(omitted)) throw invalid('INVALID_COMPLETION', 'omitted must be an array');
      for (const o of omitted) {
        if (!isNonBlank(o?.name)) throw invalid('INVALID_COMPLETION', 'every omitted rendition needs a name');
        if (listed.has(o.name)) throw invalid('INVALID_COMPLETION', `rendition ${o.name} is both listed and omitted`);
      }
      if (d.durationSeconds != null && !isNonNegativeFinite(d.durationSeconds)) throw invalid('INVALID_COMPLETION', 'durationSeconds must be a finite number ≥ 0 (seconds)');
      return [{
        type: 'VideoProcessingCompleted',
        data: {
          videoId: d.videoId, renditions: [...d.renditions],
          omitted: omitted.map((o) => ({ name: o.name, reason: String(o.reason ?? '') })), completedAt: now,
          ...(d.durationSeconds != null ? { durationSeconds: d.durationSeconds } : {}),
        },
      }];
    }
    case 'RecordStoryboard':
      return decideRecordStoryboard(command, requireLiveVideo(state, command.data.videoId));
    case 'UpdateVideoMetadata': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (command.metadata.actorId !== v.ownerId) throw new DomainError('NOT_OWNER', 'only the owner may edit a video', 'forbidden');
      const m = normaliseVideoMetadata({ title: d.title, description: d.description, tags: d.tags });
      const title = m.title !== undefined && m.title !== v.title ? m.title : null;
      const description = m.description !== undefined && m.description !== v.description ? m.description : null;
      const tags = m.tags !== undefined && !sameTags(m.tags, v.tags) ? m.tags : null;
      if (d.visibility !== undefined && !isVideoVisibility(d.visibility)) {
        throw invalid('INVALID_VISIBILITY', 'visibility must be public, unlisted or private');
      }
      const visibility = d.visibility !== undefined && d.visibility !== v.visibility ? d.visibility : null;
      if (title === null && description === null && tags === null && visibility === null) return [];
      const event: VideoMetadataUpdated = {
        type: 'VideoMetadataUpdated',
        data: {
          videoId: d.videoId, title, description, tags, ...(visibility !== null && { visibility }),
          updatedBy: command.metadata.actorId, updatedAt: now,
        },
      };
      return [event];
    }
    case 'PublishCaptions':
    case 'RemoveCaptions': {
      const v = requireLiveVideo(state, command.data.videoId);
      return decideCaptions(command, { ...v, captions: v.captions ?? [] });
    }
    case 'SetCustomThumbnail':
      return decideCustomThumbnail(command, requireLiveVideo(state, command.data.videoId));
    case 'DeleteVideo': {
      const d = command.data;
      const v = requireLiveVideo(state, d.videoId);
      if (command.metadata.actorId !== v.ownerId) throw new DomainError('NOT_OWNER', 'only the owner may delete a video', 'forbidden');
      return [{ type: 'VideoDeleted', data: { videoId: d.videoId, deletedBy: command.metadata.actorId, deletedAt: now } }];
    }
    default:
      return assertNever(command);
  }
}

/**
 * Applies a video event. Total and pure: events are facts, so it never throws; an event that
 * cannot apply (no UploadStarted yet) leaves the state unchanged, and `deleted` is terminal.
 */
export function evolveVideo(state: VideoState, event: VideoEvent): VideoState {
  if (event.type === 'UploadStarted') {
    if (state.status !== 'absent') return state;
    const d = event.data;
    return {
      status: 'pending_upload', videoId: d.videoId, ownerId: d.ownerId, uploadId: d.uploadId, objectKey: d.objectKey,
      filename: d.filename, contentType: d.contentType, sizeBytes: d.sizeBytes, title: d.title, description: d.description,
      tags: d.tags, visibility: d.visibility ?? DEFAULT_VISIBILITY, ladder: [], encoded: [], durationSeconds: null, progress: 0, masterPlaylistKey: null, thumbnailKey: null,
      failure: null, completed: false, statusBeforeDelete: null, createdAt: d.startedAt, updatedAt: d.startedAt, publishedAt: null,
    };
  }
  if (state.status === 'absent' || state.status === 'deleted') return state;
  switch (event.type) {
    case 'UploadCompleted':
      return { ...state, status: 'uploaded', sizeBytes: event.data.sizeBytes, updatedAt: event.data.completedAt };
    case 'VideoProcessingStarted':
      return {
        ...state, status: 'processing', ladder: event.data.ladder, durationSeconds: event.data.durationSeconds, updatedAt: event.data.startedAt,
      };
    case 'VideoProcessingProgressed':
      return { ...state, progress: Math.max(state.progress, event.data.progress), updatedAt: event.data.at };
    case 'RenditionEncoded':
      if (state.encoded.some((r) => r.name === event.data.rendition.name)) return state;
      return { ...state, encoded: [...state.encoded, event.data.rendition], updatedAt: event.data.at };
    case 'VideoPublished':
      return {
        ...state, status: 'ready', masterPlaylistKey: event.data.masterPlaylistKey, thumbnailKey: event.data.thumbnailKey,
        durationSeconds: event.data.durationSeconds, publishedAt: event.data.publishedAt, updatedAt: event.data.publishedAt,
      };
    case 'VideoProcessingFailed':
      return { ...state, status: 'failed', failure: { code: event.data.code, reason: event.data.reason }, updatedAt: event.data.failedAt };
    case 'VideoProcessingCompleted':
      // A truncated source's playable duration (what the view rule measures watching against).
      return { ...state, completed: true, durationSeconds: event.data.durationSeconds ?? state.durationSeconds, updatedAt: event.data.completedAt };
    case 'StoryboardGenerated':
      return { ...state, storyboardKey: event.data.storyboardKey, updatedAt: event.data.generatedAt };
    case 'VideoMetadataUpdated': {
      const d = event.data;
      return {
        ...state, title: d.title ?? state.title, description: d.description ?? state.description, tags: d.tags ?? state.tags,
        visibility: d.visibility ?? state.visibility, updatedAt: d.updatedAt,
      };
    }
    case 'CaptionsPublished':
      return { ...state, captions: evolveCaptions(state.captions, event), updatedAt: event.data.publishedAt };
    case 'CaptionsRemoved':
      return { ...state, captions: evolveCaptions(state.captions, event), updatedAt: event.data.removedAt };
    case 'CustomThumbnailSet':
      return { ...state, customThumbnailKey: event.data.key, updatedAt: event.data.setAt };
    case 'VideoDeleted':
      return { ...state, status: 'deleted', statusBeforeDelete: state.status, updatedAt: event.data.deletedAt };
    default:
      return assertNever(event);
  }
}

/** The video aggregate as a decider (key: videoId, topic `streamwave.videos`). */
export const videoDecider: Decider<VideoState, VideoCommand, VideoEvent> = {
  initialState: initialVideoState,
  decide: decideVideo,
  evolve: evolveVideo,
};
