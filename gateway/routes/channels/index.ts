/**
 * Channel listings (prefix `/api/v1/users`, issue 14), newest first, paged with an opaque cursor
 * (`limit` 1–100, default 20; a cursor that does not decode is 400 INVALID_CURSOR):
 * - `GET /{id}/videos`: the channel of user `id`: its public, published videos only (never
 *   unlisted, private, unpublished or deleted ones: `isListed`), with the subscriber count; an
 *   unknown or erased user is 404 CHANNEL_NOT_FOUND.
 * - `GET /me/videos` (auth): the caller's uploads, whatever their status or visibility.
 * - `GET /me/feed` (auth): the subscriptions feed: the public, published videos of every channel
 *   the caller subscribes to (fan-out on read over the subscriptions in user-accounts; at most
 *   FEED_CHANNELS channels, the most recently subscribed first).
 * The owner's videos come from the video-detail read model's per-owner index (`listUserVideos`),
 * filtered and paged here.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { isListed } from '../../../domain/video/video-visibility.ts';
import type { VideoDetail } from '../../../projections/video-detail/video-detail.port.ts';
import { Errors } from '../../errors.ts';
import { etagOnSend, varyOnAuthorization } from '../../plugins/etag.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { videoDetailJson } from '../shared.ts';
import { channelVideosSchema, DEFAULT_CHANNEL_PAGE, myFeedSchema, myVideosSchema } from './channels.schemas.ts';

/** Position of a video in a newest-first listing: creation time (ms), then id, both descending. */
interface Position { c: number; v: string }

const encodeCursor = (p: Position): string => Buffer.from(JSON.stringify(p)).toString('base64url');

function decodeCursor(cursor: string): Position {
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Position;
    if (Number.isFinite(p.c) && typeof p.v === 'string') return p;
  } catch { /* answered below */ }
  throw new Errors.InvalidCursor();
}

/** True when `v` comes after position `p` in the newest-first order. */
const after = (v: VideoDetail, p: Position): boolean => v.createdAt < p.c || (v.createdAt === p.c && v.videoId < p.v);

/** One page of `videos` (any order) newest first, from `cursor`, as the API's JSON. */
function page(fastify: FastifyInstance, videos: VideoDetail[], limit: number, cursor: string | undefined) {
  const from = cursor === undefined ? undefined : decodeCursor(cursor);
  const sorted = videos
    .filter((v) => from === undefined || after(v, from))
    .sort((a, b) => b.createdAt - a.createdAt || (a.videoId < b.videoId ? 1 : a.videoId > b.videoId ? -1 : 0));
  const items = sorted.slice(0, limit);
  const last = items[items.length - 1];
  return {
    videos: items.map((v) => videoDetailJson(v, fastify)),
    next_cursor: sorted.length > limit && last ? encodeCursor({ c: last.createdAt, v: last.videoId }) : null,
  };
}

/** Channels a feed reads at most (the most recently subscribed). */
export const FEED_CHANNELS = 500;

export const channelsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readModels } = fastify.gateway;

  fastify.get('/me/feed', { schema: myFeedSchema, onRequest: fastify.authenticate, onSend: etagOnSend }, async (request, reply) => {
    varyOnAuthorization(reply);
    const userId = requireUserId(request);
    const channels = (await readModels['user-accounts'].subscriptionsOf(userId))
      .sort((a, b) => b.subscribedAt - a.subscribedAt)
      .slice(0, FEED_CHANNELS);
    const videos = (await Promise.all(channels.map((c) => readModels['video-detail'].listUserVideos(c.channelId)))).flat();
    return page(fastify, videos.filter(isListed), request.query.limit ?? DEFAULT_CHANNEL_PAGE, request.query.cursor);
  });

  fastify.get('/me/videos', { schema: myVideosSchema, onRequest: fastify.authenticate, onSend: etagOnSend }, async (request, reply) => {
    varyOnAuthorization(reply);
    const userId = requireUserId(request);
    const videos = await readModels['video-detail'].listUserVideos(userId);
    return page(fastify, videos, request.query.limit ?? DEFAULT_CHANNEL_PAGE, request.query.cursor);
  });

  fastify.get('/:id/videos', { schema: channelVideosSchema, onSend: etagOnSend }, async (request) => {
    const channelId = request.params.id;
    const account = await readModels['user-accounts'].findUserById(channelId);
    if (!account) throw new Errors.ChannelNotFound(channelId);
    const [videos, subscribers] = await Promise.all([
      readModels['video-detail'].listUserVideos(channelId),
      readModels['user-accounts'].subscriberCount(channelId),
    ]);
    return {
      channel: { id: channelId, username: account.username, subscriber_count: subscribers },
      ...page(fastify, videos.filter(isListed), request.query.limit ?? DEFAULT_CHANNEL_PAGE, request.query.cursor),
    };
  });
};
