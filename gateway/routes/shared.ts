/**
 * Helpers shared by the route plugins: loading a video from the read model with the public
 * visibility rules, ownership checks, and the snake_case JSON mapping of read models.
 */
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VIDEO_STATUSES, type VideoStatus } from '../../domain/video/video.decider.ts';
import { canSeeVideo, mediaAccessOf, VIDEO_VISIBILITIES, type VideoVisibility } from '../../domain/video/video-visibility.ts';
import type { VideoDetail } from '../../projections/video-detail/video-detail.port.ts';
import { supportsDeletion } from '../../platform/object-store/object-store.port.ts';
import { Errors } from '../errors.ts';

/** Ids are opaque to clients; bound their size so a path param can never be abusive. */
export const IdParam = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.~-]+$' });
export const VideoIdParams = Type.Object({ id: IdParam }, { additionalProperties: false });

/** OpenAPI security requirement of routes behind `fastify.authenticate`. */
export const BEARER = [{ bearerAuth: [] as string[] }];

export const NullableString = Type.Union([Type.String(), Type.Null()]);
export const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

/** A video's lifecycle status (domain/video/video.decider.ts VIDEO_STATUSES). */
export const VideoStatusJson = Type.Unsafe<VideoStatus>({
  type: 'string',
  enum: [...VIDEO_STATUSES],
  description: 'pending_upload → uploaded → processing → ready | failed; deleted',
});

/** public | unlisted | private (domain/video/video-visibility.ts). */
export const VisibilityJson = Type.Unsafe<VideoVisibility>({
  type: 'string',
  enum: [...VIDEO_VISIBILITIES],
  description: 'public: listed in search; unlisted: playable by link, never listed; private: owner only, media through signed URLs',
});

/** ISO 8601 UTC timestamp of a ms-since-epoch number. */
export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined): string | null => (ms == null ? null : iso(ms));

/**
 * The video, or 404 VIDEO_NOT_FOUND when it does not exist or was deleted (a deleted video is
 * gone for every client, owner included).
 */
export async function loadVideo(fastify: FastifyInstance, videoId: string): Promise<VideoDetail> {
  const video = await fastify.gateway.readModels['video-detail'].getVideo(videoId);
  if (!video || video.status === 'deleted') throw new Errors.VideoNotFound(videoId);
  return video;
}

/**
 * The video if the caller (`request.principal`, null when anonymous) may see it under the
 * visibility rule (domain/video/video-visibility.ts canSeeVideo), else 404 VIDEO_NOT_FOUND —
 * never 403, so a private, processing or failed video's existence is not leaked (issue 8).
 * Routes using it run `fastify.optionalAuthenticate` (or `authenticate`) first.
 */
export async function loadVisibleVideo(fastify: FastifyInstance, request: FastifyRequest, videoId: string): Promise<VideoDetail> {
  const video = await loadVideo(fastify, videoId);
  if (!canSeeVideo(video, request.principal?.userId ?? null)) throw new Errors.VideoNotFound(videoId);
  return video;
}

/** URL of one of the video's media objects: plain while its media is public, signed otherwise (media-url-signing.ts). */
export function mediaUrlOf(fastify: FastifyInstance, video: VideoDetail, key: string): string {
  return fastify.gateway.mediaUrl(video.videoId, key, mediaAccessOf(video) !== 'public');
}

/**
 * Removes media object `key` that a write of the video replaced or removed (a custom thumbnail
 * replaced by another, a language's removed caption file): not when it is `written`, the key the
 * write itself stored, nor while `after` — the video detail read after the write, undefined when
 * the video is gone meanwhile (its media is collected with it) — still references it. The gateway
 * stored the file, so the gateway removes it: a processor could not tell, on a replay, whether a
 * later write stores the same content-addressed file again.
 * Left open: a concurrent request that stores this same file again and whose event lands after
 * this write's is not yet in `after`, so the file it references can go (the same image or caption
 * file re-sent while being replaced; the owner sending it again restores it). A store without
 * deletion keeps the object; a failed deletion is logged, not answered (the object goes when the
 * video is collected). A cache or CDN may still serve it until it expires.
 */
export async function removeUnreferencedMedia(fastify: FastifyInstance, request: FastifyRequest, key: string | null | undefined, after: VideoDetail | undefined, written?: string): Promise<void> {
  const { objectStore } = fastify.gateway;
  if (!key || key === written || !after || !supportsDeletion(objectStore)) return;
  // thumbnailKey is the custom thumbnail's key whenever one is set (video-detail.projection.ts).
  if (after.thumbnailKey === key || (after.captions ?? []).some((c) => c.key === key)) return;
  await objectStore.deleteObject(key).catch((err: unknown) => request.log.warn({ err, key }, 'could not remove a media object no longer referenced'));
}

/** Throws 403 NOT_OWNER unless `userId` owns the video. */
export function assertOwner(video: VideoDetail, userId: string): void {
  if (video.ownerId !== userId) throw new Errors.NotOwner();
}

export const VideoDetailJson = Type.Object({
  id: Type.String(),
  owner_id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  tags: Type.Array(Type.String()),
  status: VideoStatusJson,
  visibility: VisibilityJson,
  progress: Type.Number({ description: '0–100' }),
  duration_seconds: NullableNumber,
  views: Type.Integer(),
  comment_count: Type.Integer(),
  like_count: Type.Integer({ description: 'Standing likes (one per user; issue 14).' }),
  thumbnail_url: NullableString,
  captions: Type.Array(
    Type.Object({ language: Type.String({ description: 'BCP 47 tag, canonical form (e.g. pt-BR).' }), url: Type.String({ description: 'The WebVTT file (signed when the media is not public).' }) }),
    { description: 'Caption tracks in language order; the HLS master playlist lists them as subtitles.' },
  ),
  storyboard_url: Type.Union([Type.String(), Type.Null()], {
    description: 'WebVTT thumbnails track of the seek previews (cues point at sprite-N.jpg#xywh=x,y,w,h, relative to it); null when the video has none.',
  }),
  created_at: Type.String({ format: 'date-time' }),
  published_at: NullableString,
});

/** Snake_case JSON of the video detail read model (thumbnail and storyboard URLs signed when its media is not public). */
export function videoDetailJson(video: VideoDetail, fastify: FastifyInstance) {
  return {
    id: video.videoId,
    owner_id: video.ownerId,
    title: video.title,
    description: video.description,
    tags: video.tags,
    status: video.status,
    visibility: video.visibility,
    progress: video.progress,
    duration_seconds: video.durationSeconds,
    views: video.views,
    comment_count: video.commentCount,
    like_count: video.likeCount,
    thumbnail_url: video.thumbnailKey ? mediaUrlOf(fastify, video, video.thumbnailKey) : null,
    captions: (video.captions ?? []).map((c) => ({ language: c.language, url: mediaUrlOf(fastify, video, c.key) })),
    storyboard_url: video.storyboardKey ? mediaUrlOf(fastify, video, video.storyboardKey) : null,
    created_at: iso(video.createdAt),
    published_at: isoOrNull(video.publishedAt),
  };
}
