/**
 * Comments resource (prefix `/api/v1/videos`):
 * - `POST /{id}/comments` (auth) {body, parent_id?} → 201 `{ id }`. The comment decider decides
 *   whether the video accepts comments (published) and whether the parent exists.
 * - `DELETE /{id}/comments/{commentId}` (auth; issue 14) → 204: by its author or the video's owner
 *   (403 NOT_COMMENT_AUTHOR otherwise, 404 COMMENT_NOT_FOUND); it lists as a placeholder from then
 *   on and its replies stay. Deleting it again is 204 too.
 * - `GET /{id}/comments/{commentId}/replies?cursor=&limit=` → one thread's replies, oldest first,
 *   with a cursor of that thread (issue 14); a comment with no replies (or none at all) has `[]`.
 * - `GET /{id}/comments?cursor=&limit=` → newest first; a bad cursor → 400 INVALID_CURSOR. Each
 *   page has a strong `ETag`; a matching `If-None-Match` → 304 without a body (gateway/plugins/etag.ts).
 */
import type { FastifyPluginAsyncTypebox, Static } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { commandIdentity } from '../../idempotency.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { etagOnSend, sendWithEtag, varyOnAuthorization } from '../../plugins/etag.ts';
import { loadVisibleVideo } from '../shared.ts';
import { commentJson, CommentsPageBody, DEFAULT_COMMENTS_PAGE, deleteCommentSchema, listCommentsSchema, listRepliesSchema, postCommentSchema } from './comments.schemas.ts';

export const commentsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readModels, readYourWrites, ids, now } = fastify.gateway;

  fastify.post('/:id/comments', { schema: postCommentSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const authorId = requireUserId(request);
    // A video the author may not see (private, not ready) is 404 here too (issue 8, visibility).
    await loadVisibleVideo(fastify, request, request.params.id);
    // The comment decider checks the video (404 VIDEO_NOT_FOUND / VIDEO_DELETED, 409
    // VIDEO_NOT_PUBLISHED) and the parent (400 PARENT_COMMENT_NOT_FOUND) against the log.
    const identity = commandIdentity(request, ids);
    const commentId = identity.newId('cmt');
    const result = await commandBus.send({
      type: 'PostComment',
      data: { commentId, videoId: request.params.id, authorId, parentId: request.body.parent_id ?? null, body: request.body.body },
      metadata: { now: now(), actorId: authorId, commandId: identity.commandId },
    });
    // The client re-lists the comments next and expects to see its own.
    await readYourWrites('comments', result.positions);
    return reply.status(201).send({ id: commentId });
  });

  fastify.delete('/:id/comments/:commentId', { schema: deleteCommentSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const actorId = requireUserId(request);
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    const result = await commandBus.send({
      type: 'DeleteComment',
      data: { commentId: request.params.commentId, videoId: video.videoId },
      metadata: { now: now(), actorId, commandId: commandIdentity(request, ids).commandId },
    });
    await readYourWrites('comments', result.positions);
    return reply.status(204).send(null);
  });

  fastify.get('/:id/comments/:commentId/replies', { schema: listRepliesSchema, onRequest: fastify.optionalAuthenticate, onSend: etagOnSend }, async (request, reply) => {
    varyOnAuthorization(reply);
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    const { limit, cursor } = request.query;
    const page = await readModels.comments.listReplies(video.videoId, request.params.commentId, limit ?? DEFAULT_COMMENTS_PAGE, cursor);
    return { comments: page.comments.map(commentJson), next_cursor: page.nextCursor };
  });

  fastify.get('/:id/comments', { schema: listCommentsSchema, onRequest: fastify.optionalAuthenticate }, async (request, reply) => {
    varyOnAuthorization(reply);
    const video = await loadVisibleVideo(fastify, request, request.params.id);
    const { limit, cursor } = request.query;
    const page = await readModels.comments.listComments(video.videoId, limit ?? DEFAULT_COMMENTS_PAGE, cursor);
    const body: Static<typeof CommentsPageBody> = {
      comments: page.comments.map(commentJson),
      next_cursor: page.nextCursor,
    };
    // Serialised here by the route's serialiser, so that the ETag is the hash of the bytes sent.
    return sendWithEtag(request, reply as FastifyReply, reply.serialize(body) as string);
  });
};
