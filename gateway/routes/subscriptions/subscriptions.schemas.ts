import { Type } from '@fastify/type-provider-typebox';
import { IdempotencyHeaders } from '../../idempotency.ts';
import { withErrors } from '../../errors.ts';
import { BEARER, IdParam } from '../shared.ts';

const ChannelParams = Type.Object({ id: IdParam }, { additionalProperties: false });

/** The caller's subscription to a channel and the channel's subscriber count. */
const SubscriptionState = Type.Object({
  subscribed: Type.Boolean({ description: 'Whether the caller\'s subscription stands.' }),
  subscriber_count: Type.Integer({ minimum: 0, description: 'Standing subscriptions to the channel.' }),
});

const base = { tags: ['subscriptions'], security: BEARER, params: ChannelParams, response: withErrors({ 200: SubscriptionState }) };

export const subscribeSchema = { ...base, summary: 'Subscribe to a user\'s channel (idempotent)', headers: IdempotencyHeaders };
export const unsubscribeSchema = { ...base, summary: 'End your subscription to a channel (idempotent)', headers: IdempotencyHeaders };
export const getSubscriptionSchema = { ...base, summary: 'Whether you subscribe to a channel, and its subscriber count' };
