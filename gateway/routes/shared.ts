/**
 * Helpers shared by the route plugins: loading a video from the read model with the public
 * visibility rules, ownership checks, and the snake_case JSON mapping of read models.
 */
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { VIDEO_STATUSES, type VideoStatus } from '../../domain/video/video.decider.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { VideoDetail } from '../../projections/video-detail/video-detail.port.ts';
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
  progress: Type.Number({ description: '0–100' }),
  duration_seconds: NullableNumber,
  views: Type.Integer(),
  comment_count: Type.Integer(),
  thumbnail_url: NullableString,
  created_at: Type.String({ format: 'date-time' }),
  published_at: NullableString,
});

/** Snake_case JSON of the video detail read model. */
export function videoDetailJson(video: VideoDetail, store: ObjectStore) {
  return {
    id: video.videoId,
    owner_id: video.ownerId,
    title: video.title,
    description: video.description,
    tags: video.tags,
    status: video.status,
    progress: video.progress,
    duration_seconds: video.durationSeconds,
    views: video.views,
    comment_count: video.commentCount,
    thumbnail_url: video.thumbnailKey ? store.publicUrl(video.thumbnailKey) : null,
    created_at: iso(video.createdAt),
    published_at: isoOrNull(video.publishedAt),
  };
}
