/**
 * Videos resource (prefix `/api/v1/videos`):
 * - `GET /{id}` detail; `PATCH /{id}` (owner) edit → 200 detail; `DELETE /{id}` (owner) → 204.
 * - `GET /{id}/status` processing status (public read).
 * - `GET /{id}/stream` → `{ manifest_url, session_id, session_expires_at }`: a signed playback session
 *   bound to the video (gateway/playback, issue 8) that heartbeats must carry; 409 VIDEO_NOT_READY
 *   until the video is published.
 * Deleted videos answer 404 VIDEO_NOT_FOUND everywhere.
 *
 * Ownership is checked on the read model for a clear 403 before the command is sent; the
 * video decider re-checks it against the aggregate (the authority).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Errors } from '../../errors.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { playbackSessionsOf } from '../../playback/playback-session.ts';
import { assertOwner, loadVideo, videoDetailJson } from '../shared.ts';
import { deleteVideoSchema, getVideoSchema, patchVideoSchema, streamSchema, videoStatusSchema } from './videos.schemas.ts';

export const videosRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, objectStore, readYourWrites, now, config } = fastify.gateway;
  const playbackSessions = playbackSessionsOf(config, now);

  fastify.get('/:id', { schema: getVideoSchema }, async (request) => {
    return videoDetailJson(await loadVideo(fastify, request.params.id), objectStore);
  });

  fastify.patch('/:id', { schema: patchVideoSchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    const video = await loadVideo(fastify, request.params.id);
    assertOwner(video, userId);
    const { title, description, tags } = request.body;
    const result = await commandBus.send({
      type: 'UpdateVideoMetadata',
      data: {
        videoId: video.videoId,
        ...(title !== undefined && { title }),
        ...(description !== undefined && { description }),
        ...(tags !== undefined && { tags }),
      },
      metadata: { now: now(), actorId: userId },
    });
    // The response IS the next read: it must show the edit.
    await readYourWrites('video-detail', result.positions);
    return videoDetailJson(await loadVideo(fastify, video.videoId), objectStore);
  });

  fastify.delete('/:id', { schema: deleteVideoSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const userId = requireUserId(request);
    const video = await loadVideo(fastify, request.params.id);
    assertOwner(video, userId);
    const result = await commandBus.send({ type: 'DeleteVideo', data: { videoId: video.videoId }, metadata: { now: now(), actorId: userId } });
    await readYourWrites('video-detail', result.positions);
    return reply.status(204).send(null);
  });

  fastify.get('/:id/status', { schema: videoStatusSchema }, async (request) => {
    const video = await loadVideo(fastify, request.params.id);
    return {
      status: video.status,
      progress: video.progress,
      renditions: video.renditions.map((r) => ({ name: r.name, width: r.width, height: r.height, bandwidth: r.bandwidth })),
      error: video.status === 'failed' ? (video.error ?? 'processing failed') : null,
    };
  });

  fastify.get('/:id/stream', { schema: streamSchema }, async (request) => {
    const video = await loadVideo(fastify, request.params.id);
    if (video.status !== 'ready' || !video.masterPlaylistKey) throw new Errors.VideoNotReady(video.videoId);
    const session = playbackSessions.issue(video.videoId);
    return {
      manifest_url: objectStore.publicUrl(video.masterPlaylistKey),
      session_id: session.sessionId,
      session_expires_at: new Date(session.expiresAt).toISOString(),
    };
  });
};
