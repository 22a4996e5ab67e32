import { IdempotencyHeaders } from '../../idempotency.ts';
import { Type, type Static } from '@fastify/type-provider-typebox';
import type { CommentView } from '../../../projections/comments/comments.port.ts';
import { withErrors } from '../../errors.ts';
import { NotModified, withEtagHeaders } from '../../plugins/etag.ts';
import { BEARER, IdParam, iso, NullableString, VideoIdParams } from '../shared.ts';

/** Page size when `limit` is absent. */
export const DEFAULT_COMMENTS_PAGE = 20;

export const postCommentSchema = {
  summary: 'Comment on (or reply to a comment on) a published video',
  tags: ['comments'],
  security: BEARER,
  headers: IdempotencyHeaders,
  params: VideoIdParams,
  body: Type.Object(
    { body: Type.String({ minLength: 1, maxLength: 5000 }), parent_id: Type.Optional(Type.Union([IdParam, Type.Null()])) },
    { additionalProperties: false },
  ),
  response: withErrors({ 201: Type.Object({ id: Type.String() }) }),
};

/** One comment. */
export const CommentJson = Type.Object({
  id: Type.String(),
  author_id: Type.Union([Type.String(), Type.Null()], { description: 'null when the author was erased (issue 13).' }),
  parent_id: NullableString,
  body: Type.String({ description: '`[deleted]` when the author was erased: the thread keeps its shape.' }),
  deleted: Type.Optional(Type.Literal(true, { description: 'Present (true) only on a placeholder for a removed comment (its author was erased).' })),
  posted_at: Type.String({ format: 'date-time' }),
});

/** Body of `GET /{id}/comments` (200): one page. */
export const CommentsPageBody = Type.Object({
  comments: Type.Array(CommentJson),
  next_cursor: NullableString,
});

/** Snake_case JSON of a comment (a listing item, and the `comment` Server-Sent Event). */
export function commentJson(c: CommentView): Static<typeof CommentJson> {
  return {
    id: c.commentId,
    author_id: c.authorId,
    parent_id: c.parentId,
    body: c.body,
    ...(c.deleted === true && { deleted: true as const }),
    posted_at: iso(c.postedAt),
  };
}

const CommentsPageQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque; next_cursor of the previous page.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_COMMENTS_PAGE })),
  },
  { additionalProperties: false },
);

export const listCommentsSchema = {
  summary: 'Comments on a video, newest first (cursor pagination)',
  description: 'Each page has a strong ETag; with `If-None-Match` holding it (or `*`) the answer is 304 without a body until the page changes.',
  tags: ['comments'],
  params: VideoIdParams,
  querystring: CommentsPageQuery,
  response: withErrors({ 200: withEtagHeaders(CommentsPageBody), 304: NotModified }),
};

export const listRepliesSchema = {
  summary: 'The replies to one comment, oldest first (cursor pagination per thread)',
  tags: ['comments'],
  params: Type.Object({ id: IdParam, commentId: IdParam }, { additionalProperties: false }),
  querystring: CommentsPageQuery,
  response: withErrors({ 200: withEtagHeaders(CommentsPageBody), 304: NotModified }),
};

export const deleteCommentSchema = {
  summary: 'Delete a comment: its author or the owner of the video (it stays in its thread as a placeholder)',
  tags: ['comments'],
  security: BEARER,
  headers: IdempotencyHeaders,
  params: Type.Object({ id: IdParam, commentId: IdParam }, { additionalProperties: false }),
  response: withErrors({ 204: Type.Null() }),
};
