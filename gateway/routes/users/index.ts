/**
 * Users resource (prefix `/api/v1/users`):
 * - `POST /` register → 201 `{ id }`; 409 USERNAME_TAKEN; 429 RATE_LIMITED past `register.ip`
 *   (gateway/rate-limit/rate-limit.rules.ts: account creation per address, issue 8 finding 4).
 * - `GET /me/history` (auth) → the caller's watch history.
 * - `DELETE /me` and `GET /me/export`: erasure.ts (issue 13).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { usernameKey } from '../../../domain/user/user.decider.ts';
import { hashPassword } from '../../auth/password.ts';
import { Errors } from '../../errors.ts';
import { commandIdentity } from '../../idempotency.ts';
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
  const pending = new Map<string, string | undefined>();

  fastify.post('', { schema: registerUserSchema }, async (request, reply) => {
    const { username, email, password } = request.body;
    const reservation = usernameKey(username);
    const identity = commandIdentity(request, ids, reservation);
    const userId = identity.newId('usr');
    /** The name is held by this very registration: a retry (same Idempotency-Key) of one that succeeded. */
    const heldByThis = (holder: { userId: string } | undefined) => identity.commandId !== undefined && holder?.userId === userId;
    const holder = pending.has(reservation) ? undefined : await readModels['user-accounts'].findUserByUsername(username);
    if (heldByThis(holder)) return reply.status(201).send({ id: userId });
    // Two registrations of one name at once on this gateway: the second is refused, unless it is a
    // retry of the first (same Idempotency-Key), which the deciders answer with the first's outcome.
    const retryOfPending = identity.commandId !== undefined && pending.get(reservation) === identity.commandId;
    if ((pending.has(reservation) && !retryOfPending) || holder) throw new Errors.UsernameTaken(username);
    if (!retryOfPending) pending.set(reservation, identity.commandId);
    try {
      const passwordHash = await hashPassword(password);
      // Re-check after the (slow) hash: another gateway may have registered it meanwhile.
      const again = await readModels['user-accounts'].findUserByUsername(username);
      if (heldByThis(again)) return reply.status(201).send({ id: userId });
      if (again) throw new Errors.UsernameTaken(username);
      const result = await commandBus.send({
        type: 'RegisterUser',
        data: { userId, username, email, passwordHash },
        metadata: { now: now(), commandId: identity.commandId },
      });
      // The client logs in next: the user read model must know the account.
      await readYourWrites('user-accounts', result.positions);
      return reply.status(201).send({ id: userId });
    } finally {
      if (!retryOfPending) pending.delete(reservation);
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
