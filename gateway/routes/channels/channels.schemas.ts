import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { NotModified, withEtagHeaders } from '../../plugins/etag.ts';
import { BEARER, IdParam, NullableString, VideoDetailJson } from '../shared.ts';

/** Page size when `limit` is absent. */
export const DEFAULT_CHANNEL_PAGE = 20;

const PageQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Opaque; next_cursor of the previous page.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_CHANNEL_PAGE })),
  },
  { additionalProperties: false },
);

export const channelVideosSchema = {
  summary: 'A channel: a user\'s public, published videos, newest first, and its subscriber count',
  tags: ['channels'],
  params: Type.Object({ id: IdParam }, { additionalProperties: false }),
  querystring: PageQuery,
  response: withErrors({
    200: withEtagHeaders(Type.Object({
      channel: Type.Object({ id: Type.String(), username: Type.String(), subscriber_count: Type.Integer({ minimum: 0 }) }),
      videos: Type.Array(VideoDetailJson),
      next_cursor: NullableString,
    })),
    304: NotModified,
  }),
};

export const myVideosSchema = {
  summary: 'Your uploads, newest first, whatever their status (processing, failed) or visibility',
  tags: ['channels'],
  security: BEARER,
  querystring: PageQuery,
  response: withErrors({ 200: withEtagHeaders(Type.Object({ videos: Type.Array(VideoDetailJson), next_cursor: NullableString })), 304: NotModified }),
};

export const myFeedSchema = {
  summary: 'Your subscriptions feed: the public, published videos of the channels you subscribe to, newest first',
  tags: ['channels'],
  security: BEARER,
  querystring: PageQuery,
  response: withErrors({ 200: withEtagHeaders(Type.Object({ videos: Type.Array(VideoDetailJson), next_cursor: NullableString })), 304: NotModified }),
};
