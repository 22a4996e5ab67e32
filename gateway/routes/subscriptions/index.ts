/**
 * Channel subscriptions (prefix `/api/v1/users`, issue 14); a channel is a user's public videos.
 * Each route answers `{ subscribed, subscriber_count }`:
 * - `PUT /{id}/subscription` (auth): subscribe; again changes nothing (the subscription decider:
 *   domain/subscription/subscription.decider.ts); your own channel is 400 CANNOT_SUBSCRIBE_TO_SELF.
 * - `DELETE /{id}/subscription` (auth): unsubscribe; without a subscription it changes nothing.
 * - `GET /{id}/subscription` (auth): the caller's subscription and the count.
 * An unknown or erased user is 404 CHANNEL_NOT_FOUND.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Errors } from '../../errors.ts';
import { commandIdentity } from '../../idempotency.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { getSubscriptionSchema, subscribeSchema, unsubscribeSchema } from './subscriptions.schemas.ts';

export const subscriptionsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { commandBus, readModels, readYourWrites, ids, now } = fastify.gateway;
  const accounts = readModels['user-accounts'];

  const requireChannel = async (channelId: string): Promise<void> => {
    if (!(await accounts.findUserById(channelId))) throw new Errors.ChannelNotFound(channelId);
  };
  const stateOf = async (channelId: string, userId: string) => {
    const [subscribed, count] = await Promise.all([accounts.isSubscribed(channelId, userId), accounts.subscriberCount(channelId)]);
    return { subscribed, subscriber_count: count };
  };
  const decide = async (type: 'SubscribeToChannel' | 'UnsubscribeFromChannel', request: FastifyRequest, channelId: string) => {
    const subscriberId = requireUserId(request);
    await requireChannel(channelId);
    const identity = commandIdentity(request, ids);
    const result = await commandBus.send({ type, data: { channelId, subscriberId }, metadata: { now: now(), actorId: subscriberId, commandId: identity.commandId } });
    await readYourWrites('user-accounts', result.positions);
    return stateOf(channelId, subscriberId);
  };

  fastify.put('/:id/subscription', { schema: subscribeSchema, onRequest: fastify.authenticate }, (request) => decide('SubscribeToChannel', request, request.params.id));
  fastify.delete('/:id/subscription', { schema: unsubscribeSchema, onRequest: fastify.authenticate }, (request) => decide('UnsubscribeFromChannel', request, request.params.id));
  fastify.get('/:id/subscription', { schema: getSubscriptionSchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    await requireChannel(request.params.id);
    return stateOf(request.params.id, userId);
  });
};
