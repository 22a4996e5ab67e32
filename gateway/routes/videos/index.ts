/**
 * Videos resource (prefix `/api/v1/videos`):
 * - `GET /{id}` detail; `PATCH /{id}` (owner) edit → 200 detail; `DELETE /{id}` (owner) → 204.
 * - `GET /{id}/status` processing status.
 * - Detail and status answer 200 with a strong `ETag` of the body and 304 (no body) to a matching
 *   `If-None-Match` (gateway/plugins/etag.ts); both `Vary: Authorization`.
 * - `GET /{id}/stream` → `{ manifest_url, session_id, session_expires_at }`: a signed playback
 *   session bound to the video (gateway/playback, issue 8) that heartbeats must carry; 409 VIDEO_NOT_READY until the video is published
 *   (owner only until then); a private video's manifest URL is signed (media-url-signing.ts).
 * Deleted videos answer 404 VIDEO_NOT_FOUND everywhere. Detail, status and stream follow the
 * visibility rule (domain/video/video-visibility.ts): a private, processing or failed video is
 * 404 VIDEO_NOT_FOUND to anyone but its owner (issue 8); send the owner's token to see it.
 *
 * Ownership is checked on the read model for a clear 403 before the command is sent; the
 * video decider re-checks it against the aggregate (the authority).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { mediaAccessOf } from '../../../domain/video/video-visibility.ts';
import type { VideoDetail } from '../../../projections/video-detail/video-detail.port.ts';
import { Errors } from '../../errors.ts';
import { commandIdentity } from '../../idempotency.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { entityTagOf, sendWithEtag, varyOnAuthorization } from '../../plugins/etag.ts';
import { playbackSessionsOf } from '../../playback/playback-session.ts';
import { assertOwner, loadVideo, loadVisibleVideo, mediaUrlOf, videoDetailJson } from '../shared.ts';
import { deleteVideoSchema, getVideoSchema, patchVideoSchema, streamSchema, videoStatusJson, videoStatusSchema } from './videos.schemas.ts';

export const videosRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readYourWrites, now, config } = fastify.gateway;
  const playbackSessions = playbackSessionsOf(config, now);

  // The detail body of a document whose media URLs are plain depends on the document alone:
  // serialised once per version of it (getVideo shares one frozen document until the video
  // changes), the hot read skips the mapping and the serialiser (issue 12), and its ETag is
  // hashed once with it (issue 14). Signed URLs expire: such a body and its tag are per request.
  const bodies = new WeakMap<VideoDetail, { body: string; etag: string }>();
  fastify.get('/:id', { schema: getVideoSchema, onRequest: fastify.optionalAuthenticate }, async (request, reply) => {
    varyOnAuthorization(reply);
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    let tagged = bodies.get(video);
    if (tagged === undefined) {
      const body = reply.serialize(videoDetailJson(video, fastify)) as string;
      tagged = { body, etag: entityTagOf(body) };
      if (mediaAccessOf(video) === 'public') bodies.set(video, tagged);
    }
    // Already serialised by the route's own serialiser: sent as it is (the typed reply wants the object).
    return sendWithEtag(request, reply as FastifyReply, tagged.body, tagged.etag);
  });

  fastify.patch('/:id', { schema: patchVideoSchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    // 404 (not 403) for a video the caller may not even see: its existence is not leaked.
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    assertOwner(video, userId);
    const { title, description, tags, visibility } = request.body;
    const result = await commandBus.send({
      type: 'UpdateVideoMetadata',
      data: {
        videoId: video.videoId,
        ...(title !== undefined && { title }),
        ...(description !== undefined && { description }),
        ...(tags !== undefined && { tags }),
        ...(visibility !== undefined && { visibility }),
      },
      // A retry with the same Idempotency-Key is not applied twice (an edit made in between stays).
      metadata: { now: now(), actorId: userId, commandId: commandIdentity(request, fastify.gateway.ids).commandId },
    });
    // The response IS the next read: it must show the edit.
    await readYourWrites('video-detail', result.positions);
    return videoDetailJson(await loadVideo(fastify, video.videoId), fastify);
  });

  fastify.delete('/:id', { schema: deleteVideoSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const userId = requireUserId(request);
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    assertOwner(video, userId);
    const result = await commandBus.send({ type: 'DeleteVideo', data: { videoId: video.videoId }, metadata: { now: now(), actorId: userId } });
    await readYourWrites('video-detail', result.positions);
    return reply.status(204).send(null);
  });

  fastify.get('/:id/status', { schema: videoStatusSchema, onRequest: fastify.optionalAuthenticate }, async (request, reply) => {
    varyOnAuthorization(reply);
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    const status = videoStatusJson(video);
    // Serialised here by the route's serialiser, so that the ETag is the hash of the bytes sent.
    return sendWithEtag(request, reply as FastifyReply, reply.serialize(status) as string);
  });

  fastify.get('/:id/stream', { schema: streamSchema, onRequest: fastify.optionalAuthenticate }, async (request) => {
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    if (video.status !== 'ready' || !video.masterPlaylistKey) throw new Errors.VideoNotReady(video.videoId);
    const session = playbackSessions.issue(video.videoId);
    return {
      manifest_url: mediaUrlOf(fastify, video, video.masterPlaylistKey),
      session_id: session.sessionId,
      session_expires_at: new Date(session.expiresAt).toISOString(),
    };
  });
};
