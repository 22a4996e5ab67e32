/**
 * Captions of a video (prefix `/api/v1/videos`; issue "Creators: a studio…"):
 * - `PUT /{id}/captions/{language}` (owner) with a WebVTT body (`Content-Type: text/vtt`, at most
 *   1 MiB) → 200 video detail, whose `captions` lists `{ language, url }`. The file is validated
 *   (domain/video/captions.ts validateWebVtt: W3C WebVTT signature, UTF-8, cue timings) and stored
 *   under the video's media keys with a content digest in its name (served `immutable`), then
 *   recorded (PublishCaptions → CaptionsPublished); the caption writer then lists it in the HLS
 *   master playlist (processors/transcoder/captions.processor.ts). Same file again: no new event.
 *   The language's earlier file stays until the video is collected: players that loaded the
 *   language's subtitle playlist before keep its URI for their session (a VOD playlist is not
 *   reloaded), and the playlists name the new file only once the caption writer rewrote them.
 * - `DELETE /{id}/captions/{language}` (owner) → 204 (also when the language had none); the
 *   language's file is deleted from the object store (shared.ts removeUnreferencedMedia): the
 *   creator asked for it to be gone, so a player that still holds its URI gets 404 for it (hls.js
 *   reports a subtitle load error and plays on), and the master drops it within seconds.
 * Errors: 401 without a token; 404 VIDEO_NOT_FOUND for a video the caller may not see; 403
 * NOT_OWNER; 400 INVALID_LANGUAGE (not a BCP 47 tag), INVALID_CAPTIONS (with the reason);
 * 413 PAYLOAD_TOO_LARGE over 1 MiB; 415 UNSUPPORTED_MEDIA_TYPE for another content type; 409
 * VIDEO_NOT_READY until the video's processing has completed.
 * The caption files follow the video's visibility and cache rules like its other media
 * (platform/object-store/http/media.plugin.ts): URLs are signed while the media is not public.
 */
import { createHash } from 'node:crypto';
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { canonicalCaptionLanguage, CAPTIONS_MAX_BYTES, captionKeys, validateWebVtt } from '../../../domain/video/captions.ts';
import { Errors, withErrors } from '../../errors.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import type { VideoDetail } from '../../../projections/video-detail/video-detail.port.ts';
import { assertOwner, BEARER, IdParam, loadVideo, loadVisibleVideo, removeUnreferencedMedia, videoDetailJson, VideoDetailJson } from '../shared.ts';

/** Object key of the video's caption file of `language`, if it has one. */
const captionKeyOf = (video: VideoDetail, language: string): string | undefined => video.captions?.find((c) => c.language === language)?.key;

/** Path of a caption route: the video id and a language tag (checked by canonicalCaptionLanguage, for a 400 INVALID_LANGUAGE). */
const CaptionParams = Type.Object({ id: IdParam, language: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

const putCaptionsSchema = {
  summary: 'Publish the WebVTT captions of one language (owner only)',
  description: 'Body: a WebVTT file (Content-Type text/vtt, UTF-8, at most 1 MiB) starting with the WEBVTT signature, cue timings hh:mm:ss.ttt --> hh:mm:ss.ttt. Replaces earlier captions of the language. The video must have completed processing (409 VIDEO_NOT_READY before).',
  tags: ['videos'],
  security: BEARER,
  params: CaptionParams,
  consumes: ['text/vtt'],
  response: withErrors({ 200: VideoDetailJson }),
};

const deleteCaptionsSchema = {
  summary: 'Remove the captions of one language (owner only)',
  description: 'The language leaves the video detail at once and the HLS master within seconds; its WebVTT file is deleted (a cache may serve it until it expires; a player that loaded it before gets 404 for it). 204 also when the language had none.',
  tags: ['videos'],
  security: BEARER,
  params: CaptionParams,
  response: withErrors({ 204: Type.Null() }),
};

/** The language of the path in canonical form. @throws 400 INVALID_LANGUAGE */
function languageOf(tag: string): string {
  const language = canonicalCaptionLanguage(tag);
  if (language === null) throw new Errors.InvalidLanguage(JSON.stringify(tag.slice(0, 64)));
  return language;
}

export const captionsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readYourWrites, objectStore, now } = fastify.gateway;

  // Encapsulated: only these routes read WebVTT bodies, as bytes (UTF-8 is checked, not assumed).
  fastify.addContentTypeParser('text/vtt', { parseAs: 'buffer', bodyLimit: CAPTIONS_MAX_BYTES }, (_request, body, done) => done(null, body));

  fastify.put('/:id/captions/:language', { schema: putCaptionsSchema, bodyLimit: CAPTIONS_MAX_BYTES, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    // 404 (not 403) for a video the caller may not even see: its existence is not leaked.
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    assertOwner(video, userId);
    const language = languageOf(request.params.language);
    const body: unknown = request.body;
    if (!Buffer.isBuffer(body)) throw new Errors.UnsupportedMediaType('the body must be a WebVTT file (Content-Type: text/vtt)');
    validateWebVtt(body);
    // Checked here too (the decider is the authority, and also waits for processing to complete), so that
    // a video still processing stores no file; one refused later stays under videos/<id>/ until the video is collected.
    if (video.status !== 'ready') throw new Errors.VideoNotReady(video.videoId);
    const key = captionKeys.file(video.videoId, language, createHash('sha256').update(body).digest('hex'));
    await objectStore.putObject(key, body, 'text/vtt; charset=utf-8');
    const result = await commandBus.send({
      type: 'PublishCaptions',
      data: { videoId: video.videoId, language, key, sizeBytes: body.byteLength },
      metadata: { now: now(), actorId: userId },
    });
    // The response IS the next read: it must list the captions.
    await readYourWrites('video-detail', result.positions);
    return videoDetailJson(await loadVideo(fastify, video.videoId), fastify);
  });

  fastify.delete('/:id/captions/:language', { schema: deleteCaptionsSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const userId = requireUserId(request);
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    assertOwner(video, userId);
    const language = languageOf(request.params.language);
    const result = await commandBus.send({ type: 'RemoveCaptions', data: { videoId: video.videoId, language }, metadata: { now: now(), actorId: userId } });
    await readYourWrites('video-detail', result.positions);
    // The removed file is not kept (the video's detail, read after the write, no longer names it).
    await removeUnreferencedMedia(fastify, request, captionKeyOf(video, language), await fastify.gateway.readModels['video-detail'].getVideo(video.videoId));
    return reply.status(204).send(null);
  });
};
