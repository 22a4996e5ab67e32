/**
 * A user's rights over their data (issue 13), under the users resource (`/api/v1/users`):
 * - `DELETE /me` {password} (auth) → 204: erasure (GDPR art. 17). Re-authentication: a wrong
 *   password is 401 INVALID_CREDENTIALS and counts against `login.failures` like a failed login.
 *   Emits UserErased; the reply waits until the user-accounts read model has it, so the caller's
 *   tokens are refused from the next request on. The user-erasure processor then deletes the
 *   user's videos and shreds their data key (processors/user-erasure).
 * - `GET /me/export` (auth) → 200: everything the platform holds about the caller (GDPR art. 15
 *   and 20), a JSON document of shape USER_EXPORT_FORMAT (users.schemas.ts `UserExport`), streamed
 *   item by item as an attachment (the items are read first; only the JSON text is never whole).
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { loginSubject } from '../../auth/login-subject.ts';
import type { VideoDetail } from '../../../projections/video-detail/video-detail.port.ts';
import { verifyPassword } from '../../auth/password.ts';
import { Errors } from '../../errors.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { iso } from '../shared.ts';
import { eraseMeSchema, exportMeSchema, USER_EXPORT_FORMAT } from './users.schemas.ts';

const videoOf = (v: VideoDetail) => ({
  id: v.videoId, title: v.title, description: v.description, tags: v.tags, visibility: v.visibility, status: v.status,
  filename: v.filename, size_bytes: v.sizeBytes, duration_seconds: v.durationSeconds, views: v.views, comment_count: v.commentCount,
  created_at: iso(v.createdAt), published_at: v.publishedAt === null ? null : iso(v.publishedAt),
});

/** `"name":[` + the items, comma-separated, + `]`, one chunk per item. */
function* jsonArray<T>(name: string, items: readonly T[], map: (t: T) => unknown): Generator<string> {
  yield `${JSON.stringify(name)}:[`;
  for (let i = 0; i < items.length; i++) yield (i ? ',' : '') + JSON.stringify(map(items[i]));
  yield ']';
}

export const userDataRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readModels, readYourWrites, now } = fastify.gateway;

  fastify.delete('/me', { schema: eraseMeSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const userId = requireUserId(request);
    const account = await readModels['user-accounts'].findUserById(userId);
    if (!account) throw new Errors.InvalidToken();
    const subject = loginSubject(fastify.gateway.config.jwtSecret, account.username);
    await fastify.rateLimits.check('login.failures', request, reply, subject, 0);
    if (!(await verifyPassword(request.body.password, account.passwordHash))) {
      await fastify.rateLimits.hit('login.failures', request, reply, subject);
      throw new Errors.InvalidCredentials();
    }
    const result = await commandBus.send({
      type: 'EraseUser',
      data: { userId, username: account.username },
      metadata: { now: now(), actorId: userId, commandId: `erase:${userId}` },
    });
    await readYourWrites('user-accounts', result.positions);
    request.log.info({ userId }, 'user erased');
    return reply.status(204).send(null);
  });

  fastify.get('/me/export', { schema: exportMeSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const userId = requireUserId(request);
    const account = await readModels['user-accounts'].findUserById(userId);
    if (!account) throw new Errors.InvalidToken();
    const [videos, comments, history, likes, subscriptions] = await Promise.all([
      readModels['video-detail'].listUserVideos(userId),
      readModels.comments.listCommentsByAuthor(userId),
      readModels['watch-history'].getWatchHistory(userId),
      readModels['video-detail'].likedBy(userId),
      readModels['user-accounts'].subscriptionsOf(userId),
    ]);
    const exportedAt = iso(now());
    function* document(): Generator<string> {
      yield `{"format":${JSON.stringify(USER_EXPORT_FORMAT)},"exported_at":${JSON.stringify(exportedAt)},`;
      yield `"account":${JSON.stringify({ id: account!.userId, username: account!.username, email: account!.email })},`;
      yield* jsonArray('videos', videos, videoOf);
      yield ',';
      yield* jsonArray('comments', comments, (c) => ({ id: c.commentId, video_id: c.videoId, parent_id: c.parentId, body: c.body, posted_at: iso(c.postedAt) }));
      yield ',';
      yield* jsonArray('watch_history', history, (h) => ({ video_id: h.videoId, watched_at: iso(h.watchedAt), position_seconds: h.positionSeconds }));
      yield ',';
      yield* jsonArray('likes', likes, (l) => ({ video_id: l.videoId, liked_at: iso(l.likedAt) }));
      yield ',';
      yield* jsonArray('subscriptions', subscriptions, (s) => ({ channel_id: s.channelId, subscribed_at: iso(s.subscribedAt) }));
      const last = history.reduce<number | null>((m, h) => (m === null || h.watchedAt > m ? h.watchedAt : m), null);
      yield `,"views":${JSON.stringify({ videos_watched: new Set(history.map((h) => h.videoId)).size, last_watched_at: last === null ? null : iso(last) })}}`;
    }
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="streamwave-export-${userId}.json"`)
      .header('cache-control', 'no-store')
      // A stream is sent as it is (Fastify does not serialise it); the schema documents its shape.
      .send(Readable.from(document()) as never);
  });
};
