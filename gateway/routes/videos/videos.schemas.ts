import { IdempotencyHeaders } from '../../idempotency.ts';
import { Type, type Static } from '@fastify/type-provider-typebox';
import { isProcessingFailureCode, processingFailureMessage } from '../../../domain/video/processing-failure.ts';
import type { VideoDetail } from '../../../projections/video-detail/video-detail.port.ts';
import { withErrors } from '../../errors.ts';
import { NotModified, withEtagHeaders } from '../../plugins/etag.ts';
import { BEARER, NullableString, VideoDetailJson, VideoIdParams, VideoStatusJson, VisibilityJson } from '../shared.ts';
import { Description, Tags, Title } from '../uploads/uploads.schemas.ts';

export const getVideoSchema = {
  summary: 'Video detail',
  description: 'The body has a strong ETag; with `If-None-Match` holding it (or `*`) the answer is 304 without a body until the video changes.',
  tags: ['videos'],
  params: VideoIdParams,
  response: withErrors({ 200: withEtagHeaders(VideoDetailJson), 304: NotModified }),
};

export const patchVideoSchema = {
  summary: "Edit a video's title, description, tags or visibility (owner only)",
  tags: ['videos'],
  security: BEARER,
  headers: IdempotencyHeaders,
  params: VideoIdParams,
  body: Type.Object(
    { title: Type.Optional(Title), description: Type.Optional(Description), tags: Type.Optional(Tags), visibility: Type.Optional(VisibilityJson) },
    { additionalProperties: false, minProperties: 1 },
  ),
  response: withErrors({ 200: VideoDetailJson }),
};

export const deleteVideoSchema = {
  summary: 'Delete a video (owner only)',
  tags: ['videos'],
  security: BEARER,
  params: VideoIdParams,
  response: withErrors({ 204: Type.Null() }),
};

/** Body of `GET /{id}/status` (200). */
export const VideoStatusBody = Type.Object({
  status: VideoStatusJson,
  progress: Type.Number({ description: '0–100: the share of the source encoded; 100 once every rendition is complete (or processing completed with some omitted).' }),
  renditions: Type.Array(
    Type.Object({
      name: Type.String(),
      width: Type.Integer(),
      height: Type.Integer(),
      bandwidth: Type.Integer({ description: 'Peak bandwidth, bits/s (planned until the rendition is complete).' }),
      complete: Type.Boolean({ description: 'false while its media playlist still grows (an HLS EVENT playlist without EXT-X-ENDLIST); true once encoded whole.' }),
    }),
    { description: 'The renditions the master playlist lists, lowest first. A video is playable (`status` ready) as soon as every listed rendition has its first segment.' },
  ),
  error: NullableString,
  error_code: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Stable failure code (e.g. RESOLUTION_TOO_HIGH) when failed; `error` is its fixed sentence.' })),
});

export const videoStatusSchema = {
  summary: 'Processing status of a video',
  description: 'The body has a strong ETag; with `If-None-Match` holding it (or `*`) the answer is 304 without a body until the status changes.',
  tags: ['videos'],
  params: VideoIdParams,
  response: withErrors({ 200: withEtagHeaders(VideoStatusBody), 304: NotModified }),
};

export const streamSchema = {
  summary: 'HLS master playlist URL of a playable video, and a signed playback session for its heartbeats',
  description: 'Each call starts a new playback session: `POST /videos/{id}/views` accepts only a `session_id` issued here for this video and not yet expired (400 INVALID_PLAYBACK_SESSION otherwise).',
  tags: ['videos'],
  params: VideoIdParams,
  response: withErrors({
    200: Type.Object({
      manifest_url: Type.String(),
      session_id: Type.String({ description: 'Signed playback session id (opaque to clients), bound to this video.' }),
      session_expires_at: Type.String({ format: 'date-time', description: 'When the session stops being accepted (RFC 3339, UTC).' }),
    }),
  }),
};

/** The body of `GET /{id}/status` (and of the `status` Server-Sent Event) for a video the caller may see. */
export function videoStatusJson(video: VideoDetail): Static<typeof VideoStatusBody> {
  return {
    status: video.status,
    progress: video.progress,
    renditions: video.renditions.map((r) => ({ name: r.name, width: r.width, height: r.height, bandwidth: r.bandwidth, complete: r.complete !== false })),
    // A fixed sentence per code (issue 8, finding 10): stored free text (older history held FFmpeg
    // stderr and dead-letter messages with server paths) never reaches a client.
    error: video.status === 'failed' ? processingFailureMessage(video.errorCode) : null,
    error_code: video.status === 'failed' ? (isProcessingFailureCode(video.errorCode) ? video.errorCode : 'PROCESSING_FAILED') : null,
  };
}
