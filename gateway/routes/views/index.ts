/**
 * Views resource (prefix `/api/v1/videos`):
 * - `POST /{id}/views` (auth optional; a present but invalid token is still 401) → 202
 *   `{ accepted: true }` once the heartbeat is durable on the log. The playback path never waits
 *   on analytics: no read-your-writes here.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { recordViewSchema } from './views.schemas.ts';

export const viewsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, now } = fastify.gateway;

  fastify.post('/:id/views', { schema: recordViewSchema, onRequest: fastify.optionalAuthenticate }, async (request, reply) => {
    // No read-model lookup on the heartbeat path: the view decider checks the video against its
    // aggregate (404 VIDEO_NOT_FOUND / VIDEO_DELETED, 409 VIDEO_NOT_PUBLISHED unless ready).
    const viewerId = request.principal?.userId ?? null;
    await commandBus.send({
      type: 'RecordView',
      data: {
        videoId: request.params.id,
        sessionId: request.body.session_id,
        viewerId,
        watchedSeconds: request.body.watched_seconds,
        positionSeconds: request.body.position_seconds,
      },
      metadata: { now: now(), ...(viewerId && { actorId: viewerId }) },
    });
    return reply.status(202).send({ accepted: true });
  });
};
