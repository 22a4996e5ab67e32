/**
 * Users resource (prefix `/api/v1/users`):
 * - `POST /` register → 201 `{ id }`; 409 USERNAME_TAKEN; 429 RATE_LIMITED past `register.ip`
 *   (gateway/rate-limit/rate-limit.rules.ts: account creation per address, issue 8 finding 4).
 * - `GET /me/history` (auth) → the caller's watch history.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { usernameKey } from '../../../domain/user/user.decider.ts';
import { hashPassword } from '../../auth/password.ts';
import { Errors } from '../../errors.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { iso } from '../shared.ts';
import { registerUserSchema, watchHistorySchema } from './users.schemas.ts';

export const usersRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readModels, readYourWrites, ids, now } = fastify.gateway;
  /**
   * Usernames being registered by this process right now. The user aggregate is keyed by user
   * id, so the decider cannot see other users: uniqueness is checked against the user read model,
   * and this set closes the race between two concurrent registrations on one gateway. (Across
   * gateways in cluster mode a reservation in the key-value store is needed; see the report.)
   */
  const pending = new Set<string>();

  fastify.post('', { schema: registerUserSchema }, async (request, reply) => {
    const { username, email, password } = request.body;
    const reservation = usernameKey(username);
    if (pending.has(reservation) || (await readModels['user-accounts'].findUserByUsername(username))) {
      throw new Errors.UsernameTaken(username);
    }
    pending.add(reservation);
    try {
      const passwordHash = await hashPassword(password);
      // Re-check after the (slow) hash: another gateway may have registered it meanwhile.
      if (await readModels['user-accounts'].findUserByUsername(username)) throw new Errors.UsernameTaken(username);
      const userId = ids.newId('usr');
      const result = await commandBus.send({
        type: 'RegisterUser',
        data: { userId, username, email, passwordHash },
        metadata: { now: now() },
      });
      // The client logs in next: the user read model must know the account.
      await readYourWrites('user-accounts', result.positions);
      return reply.status(201).send({ id: userId });
    } finally {
      pending.delete(reservation);
    }
  });

  fastify.get('/me/history', { schema: watchHistorySchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    const entries = await readModels['watch-history'].getWatchHistory(userId);
    return {
      history: entries.map((e) => ({ video_id: e.videoId, watched_at: iso(e.watchedAt), position_seconds: e.positionSeconds })),
    };
  });
};
