/** Test fixtures: events and commands of one video's life, for decider and command-bus tests. */
import { assertNever, type CommandMetadata } from '../shared/event.ts';
import type { RenditionInfo, VideoEvent } from './video.events.ts';
import type { VideoCommand } from './video.commands.ts';
import { captionKeys } from './captions.ts';

export const OWNER = 'user-owner';
export const STRANGER = 'user-stranger';
export const T0 = 1_700_000_000_000;

export const rendition = (name: string, height: number): RenditionInfo => ({
  name, width: Math.round((height * 16) / 9 / 2) * 2, height, bandwidth: height * 2000,
  codecs: 'avc1.64001f,mp4a.40.2', playlist: `${name}/index.m3u8`,
});
export const LADDER: RenditionInfo[] = [rendition('240p', 240), rendition('360p', 360)];

/** `actorId` null or absent: an anonymous command. */
const meta = (now = T0, actorId?: string | null): CommandMetadata => (actorId == null ? { now } : { now, actorId });

/** A caption file key of the video (captionKeys.file), `digest` 16 hex digits. */
export const captionKey = (videoId: string, language: string, digest = '0123456789abcdef'): string => captionKeys.file(videoId, language, digest);

type Data<T extends VideoCommand['type']> = Extract<VideoCommand, { type: T }>['data'];

/** Builds video commands for one video id. */
export function videoCommands(videoId: string) {
  return {
    startUpload: (over: Partial<Data<'StartUpload'>> = {}, m = meta(T0, OWNER)): VideoCommand => ({
      type: 'StartUpload',
      data: {
        videoId, ownerId: OWNER, uploadId: 'up-1', objectKey: `uploads/${videoId}/source`, filename: 'clip.mp4', sizeBytes: 1_048_576,
        contentType: 'video/mp4', title: 'A clip', description: 'desc', tags: ['cats'], partSizeBytes: 5_242_880, ...over,
      },
      metadata: m,
    }),
    completeUpload: (uploadId = 'up-1', sizeBytes = 1_048_000): VideoCommand => ({ type: 'CompleteUpload', data: { videoId, uploadId, sizeBytes }, metadata: meta(T0 + 1) }),
    startProcessing: (ladder = LADDER, durationSeconds = 12.5): VideoCommand => ({ type: 'StartProcessing', data: { videoId, ladder, durationSeconds }, metadata: meta(T0 + 2) }),
    progress: (progress: number): VideoCommand => ({ type: 'ReportProcessingProgress', data: { videoId, progress }, metadata: meta(T0 + 3) }),
    renditionEncoded: (r: RenditionInfo = LADDER[0]): VideoCommand => ({ type: 'RecordRenditionEncoded', data: { videoId, rendition: r }, metadata: meta(T0 + 4) }),
    publish: (renditions?: RenditionInfo[]): VideoCommand => ({
      type: 'PublishVideo',
      data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `hls/${videoId}/thumb.jpg`, durationSeconds: 12.5, ...(renditions ? { renditions } : {}) },
      metadata: meta(T0 + 5),
    }),
    fail: (code = 'UNREADABLE_MEDIA'): VideoCommand => ({ type: 'FailProcessing', data: { videoId, reason: 'ffmpeg said no', code }, metadata: meta(T0 + 6) }),
    complete: (renditions: string[] = [LADDER[0].name], omitted: Data<'CompleteProcessing'>['omitted'] = [], durationSeconds?: number): VideoCommand => ({
      type: 'CompleteProcessing', data: { videoId, renditions, omitted, ...(durationSeconds !== undefined ? { durationSeconds } : {}) }, metadata: meta(T0 + 9),
    }),
    storyboard: (over: Partial<Data<'RecordStoryboard'>> = {}): VideoCommand => ({
      type: 'RecordStoryboard',
      data: { videoId, storyboardKey: `videos/${videoId}/storyboard/storyboard.vtt`, intervalSeconds: 1, tiles: 13, tileWidth: 160, tileHeight: 90, ...over },
      metadata: meta(T0 + 10),
    }),
    update: (data: Omit<Data<'UpdateVideoMetadata'>, 'videoId'>, actorId: string | null = OWNER): VideoCommand => ({
      type: 'UpdateVideoMetadata', data: { videoId, ...data }, metadata: meta(T0 + 7, actorId),
    }),
    delete: (actorId: string | null = OWNER): VideoCommand => ({ type: 'DeleteVideo', data: { videoId }, metadata: meta(T0 + 8, actorId) }),
    publishCaptions: (language = 'en', key = captionKey(videoId, language), sizeBytes = 120, actorId: string | null = OWNER): VideoCommand => ({
      type: 'PublishCaptions', data: { videoId, language, key, sizeBytes }, metadata: meta(T0 + 10, actorId),
    }),
    removeCaptions: (language = 'en', actorId: string | null = OWNER): VideoCommand => ({
      type: 'RemoveCaptions', data: { videoId, language }, metadata: meta(T0 + 11, actorId),
    }),
    setThumbnail: (key = `videos/${videoId}/thumbnail-0123456789abcdef.jpg`, actorId: string | null = OWNER): VideoCommand => ({
      type: 'SetCustomThumbnail', data: { videoId, key, width: 640, height: 360, sizeBytes: 20_000 }, metadata: meta(T0 + 12, actorId),
    }),
  };
}

/** Builds the events the commands above produce, for `given([...])`. */
export function videoEvents(videoId: string) {
  return {
    uploadStarted: (): VideoEvent => ({
      type: 'UploadStarted',
      data: {
        videoId, ownerId: OWNER, uploadId: 'up-1', objectKey: `uploads/${videoId}/source`, filename: 'clip.mp4', sizeBytes: 1_048_576,
        contentType: 'video/mp4', title: 'A clip', description: 'desc', tags: ['cats'], partSizeBytes: 5_242_880, startedAt: T0, visibility: 'public',
      },
    }),
    uploadCompleted: (): VideoEvent => ({
      type: 'UploadCompleted', data: { videoId, uploadId: 'up-1', objectKey: `uploads/${videoId}/source`, sizeBytes: 1_048_000, completedAt: T0 + 1 },
    }),
    processingStarted: (): VideoEvent => ({ type: 'VideoProcessingStarted', data: { videoId, ladder: LADDER, durationSeconds: 12.5, startedAt: T0 + 2 } }),
    progressed: (progress: number): VideoEvent => ({ type: 'VideoProcessingProgressed', data: { videoId, progress, at: T0 + 3 } }),
    renditionEncoded: (r: RenditionInfo = LADDER[0]): VideoEvent => ({ type: 'RenditionEncoded', data: { videoId, rendition: r, at: T0 + 4 } }),
    published: (renditions?: RenditionInfo[]): VideoEvent => ({
      type: 'VideoPublished',
      data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `hls/${videoId}/thumb.jpg`, durationSeconds: 12.5, publishedAt: T0 + 5, ...(renditions ? { renditions } : {}) },
    }),
    failed: (code = 'UNREADABLE_MEDIA'): VideoEvent => ({ type: 'VideoProcessingFailed', data: { videoId, reason: 'ffmpeg said no', code, failedAt: T0 + 6 } }),
    completed: (renditions: string[] = [LADDER[0].name], omitted: { name: string; reason: string }[] = []): VideoEvent => ({
      type: 'VideoProcessingCompleted', data: { videoId, renditions, omitted, completedAt: T0 + 9 },
    }),
    captionsPublished: (language = 'en', key = captionKey(videoId, language), sizeBytes = 120): VideoEvent => ({
      type: 'CaptionsPublished', data: { videoId, language, key, sizeBytes, durationSeconds: 12.5, publishedBy: OWNER, publishedAt: T0 + 10 },
    }),
    captionsRemoved: (language = 'en'): VideoEvent => ({ type: 'CaptionsRemoved', data: { videoId, language, removedBy: OWNER, removedAt: T0 + 11 } }),
    storyboardGenerated: (storyboardKey = `videos/${videoId}/storyboard/storyboard.vtt`): VideoEvent => ({
      type: 'StoryboardGenerated', data: { videoId, storyboardKey, intervalSeconds: 1, tiles: 13, tileWidth: 160, tileHeight: 90, generatedAt: T0 + 10 },
    }),
    thumbnailSet: (key = `videos/${videoId}/thumbnail-0123456789abcdef.jpg`): VideoEvent => ({
      type: 'CustomThumbnailSet', data: { videoId, key, width: 640, height: 360, sizeBytes: 20_000, setBy: OWNER, setAt: T0 + 12 },
    }),
    deleted: (): VideoEvent => ({ type: 'VideoDeleted', data: { videoId, deletedBy: OWNER, deletedAt: T0 + 8 } }),
  };
}

/** The events that bring a video to each status. */
export function historyUpTo(videoId: string, status: 'pending_upload' | 'uploaded' | 'processing' | 'ready' | 'failed' | 'deleted'): VideoEvent[] {
  const e = videoEvents(videoId);
  const pending = [e.uploadStarted()];
  const uploaded = [...pending, e.uploadCompleted()];
  const processing = [...uploaded, e.processingStarted()];
  const ready = [...processing, e.renditionEncoded(), e.published()];
  switch (status) {
    case 'pending_upload': return pending;
    case 'uploaded': return uploaded;
    case 'processing': return processing;
    case 'ready': return ready;
    case 'failed': return [...processing, e.failed()];
    case 'deleted': return [...ready, e.deleted()];
    default: return assertNever(status);
  }
}
