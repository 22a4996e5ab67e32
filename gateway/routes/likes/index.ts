/**
 * Likes (prefix `/api/v1/videos`, issue 14), each answering `{ liked, like_count }`:
 * - `PUT /{id}/like` (auth): like a published video; liking again changes nothing (one standing
 *   like per user and video, decided by the like decider: domain/like/like.decider.ts).
 * - `DELETE /{id}/like` (auth): take the like back; without one it changes nothing.
 * - `GET /{id}/like` (auth): the caller's like and the count.
 * A video the caller may not see (private, unlisted is seen by link, not ready) is 404 as
 * everywhere; liking a video that is not published is 409 VIDEO_NOT_PUBLISHED.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { commandIdentity } from '../../idempotency.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { loadVisibleVideo } from '../shared.ts';
import { getLikeSchema, likeSchema, unlikeSchema } from './likes.schemas.ts';

/** `{ liked, like_count }` of `userId` on `videoId`, from the video-detail read model. */
async function likeState(fastify: FastifyInstance, request: FastifyRequest, videoId: string, userId: string) {
  const [video, liked] = await Promise.all([
    loadVisibleVideo(fastify, request, videoId),
    fastify.gateway.readModels['video-detail'].likes(videoId, userId),
  ]);
  return { liked, like_count: video.likeCount };
}

export const likesRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readYourWrites, ids, now } = fastify.gateway;

  const decide = async (type: 'LikeVideo' | 'UnlikeVideo', request: FastifyRequest, videoId: string) => {
    const userId = requireUserId(request);
    await loadVisibleVideo(fastify, request, videoId);
    const identity = commandIdentity(request, ids);
    const result = await commandBus.send({ type, data: { videoId, userId }, metadata: { now: now(), actorId: userId, commandId: identity.commandId } });
    // The answer carries the new count, and the watch page re-reads the detail next.
    await readYourWrites('video-detail', result.positions);
    return likeState(fastify, request, videoId, userId);
  };

  fastify.put('/:id/like', { schema: likeSchema, onRequest: fastify.authenticate }, (request) => decide('LikeVideo', request, request.params.id));
  fastify.delete('/:id/like', { schema: unlikeSchema, onRequest: fastify.authenticate }, (request) => decide('UnlikeVideo', request, request.params.id));
  fastify.get('/:id/like', { schema: getLikeSchema, onRequest: fastify.authenticate }, async (request) =>
    likeState(fastify, request, request.params.id, requireUserId(request)));
};
