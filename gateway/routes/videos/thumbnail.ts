/**
 * Custom thumbnail of a video (prefix `/api/v1/videos`; issue 15):
 * - `PUT /{id}/thumbnail` (owner) with an image body (`Content-Type: image/jpeg`, `image/png` or
 *   `image/webp`, at most 5 MiB and 4096×4096 px) → 200 video detail, whose `thumbnail_url` is
 *   the new thumbnail. Checked here before anything runs or is stored (domain/video/thumbnails.ts):
 *   the format by its magic bytes (it must agree with the Content-Type), the pixel size by the
 *   image header (the `image-size` package, so a decompression bomb never reaches a decoder).
 *   Then re-encoded synchronously (processors/thumbnails/thumbnail-encoder.port.ts: FFmpeg, at
 *   most 1280 px wide, metadata stripped) and only that JPEG is stored, under a content-addressed
 *   key of the video's media (`videos/<id>/thumbnail-<digest>.jpg`, served `immutable`), then
 *   recorded (SetCustomThumbnail → CustomThumbnailSet). The uploaded bytes are never stored; the
 *   custom thumbnail replaced is removed (the media collector removes the last with the video).
 *   Why synchronous and not a processor on the log: see the port's comment.
 * Errors: 401 without a token; 404 VIDEO_NOT_FOUND for a video the caller may not see; 403
 * NOT_OWNER; 400 INVALID_THUMBNAIL (with the reason: not JPEG/PNG/WebP, Content-Type disagreeing
 * with the bytes, larger than 4096 px, undecodable); 413 PAYLOAD_TOO_LARGE over 5 MiB; 415
 * UNSUPPORTED_MEDIA_TYPE for a Content-Type that is not an image; 503 SERVICE_UNAVAILABLE when
 * this gateway has no encoder; 503 THUMBNAIL_ENCODER_UNAVAILABLE with Retry-After when the encoder
 * ran out of memory (its cap is the transcoder's, STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES): the
 * server's fault, not the image's, so never a 400 (gateway/errors.ts maps the port's error).
 * The thumbnail follows the video's visibility and cache rules like its generated thumbnail
 * (platform/object-store/http/media.plugin.ts): its URL is signed while the media is not public.
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { imageSize } from 'image-size';
import { DomainError } from '../../../domain/shared/event.ts';
import { supportsDeletion } from '../../../platform/object-store/object-store.port.ts';
import {
  assertThumbnailDimensions, customThumbnailKey, invalidThumbnail, sniffThumbnailFormat, THUMBNAIL_MAX_BYTES, type ThumbnailFormat,
} from '../../../domain/video/thumbnails.ts';
import { ThumbnailDecodeError } from '../../../processors/thumbnails/thumbnail-encoder.port.ts';
import { ErrorResponse, Errors, UNAVAILABLE_RETRY_AFTER_SECONDS, withErrors } from '../../errors.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { assertOwner, BEARER, loadVideo, loadVisibleVideo, removeUnreferencedMedia, videoDetailJson, VideoDetailJson, VideoIdParams } from '../shared.ts';

/**
 * The Content-Types of the image formats accepted (issue 15: JPEG, PNG or WebP; image/jpeg and
 * image/png per RFC 2046 §4.2, image/webp per RFC 9649), each naming its format
 * (domain/video/thumbnails.ts ThumbnailFormat, the rule's own term). HTTP vocabulary, so it lives
 * with the route, not in the domain.
 */
const THUMBNAIL_CONTENT_TYPES = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' } as const satisfies Record<string, ThumbnailFormat>;

const putThumbnailSchema = {
  summary: 'Set a custom thumbnail (owner only)',
  description: 'Body: a JPEG, PNG or WebP image (Content-Type image/jpeg, image/png or image/webp, matching the bytes), at most 5 MiB and 4096×4096 px. '
    + 'It is re-encoded to a JPEG at most 1280 px wide without metadata; the uploaded bytes are never served. '
    + 'Answers the video detail, whose thumbnail_url is the new thumbnail (signed while the video\'s media is not public).',
  tags: ['videos'],
  security: BEARER,
  params: VideoIdParams,
  consumes: Object.keys(THUMBNAIL_CONTENT_TYPES),
  response: withErrors({
    200: VideoDetailJson,
    503: {
      ...ErrorResponse,
      description: 'THUMBNAIL_ENCODER_UNAVAILABLE: the encoder ran out of memory (a server limit, not the image\'s fault): retry after Retry-After. '
        + 'SERVICE_UNAVAILABLE: this server has no thumbnail encoder, or a server the answer needs is unavailable.',
      headers: { 'retry-after': { type: 'integer', description: `Seconds to wait before retrying (${UNAVAILABLE_RETRY_AFTER_SECONDS}).` } },
    },
  }),
};

/**
 * The format of an uploaded image, checked by its bytes: its signature must be JPEG, PNG or WebP
 * and agree with `contentType`, and its header must give a size within 4096×4096 px.
 * @throws DomainError `INVALID_THUMBNAIL` (400) saying which rule failed.
 */
export function checkThumbnailUpload(body: Buffer, contentType: string): ThumbnailFormat {
  const format = sniffThumbnailFormat(body);
  if (format === null) throw invalidThumbnail('the image must be a JPEG, PNG or WebP file');
  const declared = THUMBNAIL_CONTENT_TYPES[contentType as keyof typeof THUMBNAIL_CONTENT_TYPES];
  if (declared !== format) throw invalidThumbnail(`the Content-Type is ${JSON.stringify(contentType.slice(0, 64))} but the bytes are a ${format.toUpperCase()} image`);
  let size: { width: number; height: number };
  try {
    size = imageSize(body);
  } catch {
    throw invalidThumbnail(`the ${format.toUpperCase()} header is unreadable`);
  }
  assertThumbnailDimensions(size.width, size.height);
  return format;
}

export const thumbnailRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readYourWrites, objectStore, now, thumbnailEncoder } = fastify.gateway;

  // Encapsulated: only this route reads image bodies, as bytes. Any image/* type is read, so that a
  // GIF or a mislabelled file is a 400 INVALID_THUMBNAIL that says why, not a bare 415.
  fastify.addContentTypeParser(/^image\//, { parseAs: 'buffer', bodyLimit: THUMBNAIL_MAX_BYTES }, (_request, body, done) => done(null, body));

  fastify.put('/:id/thumbnail', { schema: putThumbnailSchema, bodyLimit: THUMBNAIL_MAX_BYTES, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    // 404 (not 403) for a video the caller may not even see: its existence is not leaked.
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    assertOwner(video, userId);
    const body: unknown = request.body;
    if (!Buffer.isBuffer(body)) throw new Errors.UnsupportedMediaType('the body must be a JPEG, PNG or WebP image (Content-Type: image/jpeg, image/png or image/webp)');
    const contentType = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const format = checkThumbnailUpload(body, contentType);
    if (!thumbnailEncoder) throw new Errors.ServiceUnavailable('custom thumbnails are not available on this server');
    let encoded;
    try {
      encoded = await thumbnailEncoder.encode(body, format);
    } catch (e) {
      if (e instanceof ThumbnailDecodeError) throw invalidThumbnail(e.message);
      throw e;
    }
    const key = customThumbnailKey(video.videoId, createHash('sha256').update(encoded.jpeg).digest('hex'));
    await objectStore.putObject(key, encoded.jpeg, 'image/jpeg');
    let result;
    try {
      result = await commandBus.send({
        type: 'SetCustomThumbnail',
        data: { videoId: video.videoId, key, width: encoded.width, height: encoded.height, sizeBytes: encoded.jpeg.byteLength },
        metadata: { now: now(), actorId: userId },
      });
    } catch (e) {
      // Deleted meanwhile: the media collector may already have emptied the video's prefix, so the
      // file stored just now would stay behind (a failed write of another kind leaves it for the collector).
      if (e instanceof DomainError && e.kind === 'not_found' && supportsDeletion(objectStore)) {
        await objectStore.deleteObject(key).catch(() => {});
      }
      throw e;
    }
    // The response IS the next read: it must show the new thumbnail.
    await readYourWrites('video-detail', result.positions);
    const after = await loadVideo(fastify, video.videoId);
    // The custom thumbnail this one replaced, once the read model no longer references it.
    await removeUnreferencedMedia(fastify, request, video.customThumbnailKey, after, key);
    return videoDetailJson(after, fastify);
  });
};
