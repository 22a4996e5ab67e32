import { describe, test } from 'node:test';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { subscriptionDecider } from './subscription.decider.ts';
import type { SubscriptionCommand } from './subscription.commands.ts';
import type { SubscriptionEvent } from './subscription.events.ts';

const T0 = Date.UTC(2026, 10, 30);
const C = 'u-creator';
const spec = DeciderSpecification.for(subscriptionDecider);
const subscribe = (subscriberId: string, channelId = C): SubscriptionCommand => ({ type: 'SubscribeToChannel', data: { channelId, subscriberId }, metadata: { now: T0, actorId: subscriberId } });
const unsubscribe = (subscriberId: string): SubscriptionCommand => ({ type: 'UnsubscribeFromChannel', data: { channelId: C, subscriberId }, metadata: { now: T0 + 1, actorId: subscriberId } });
const subscribed = (subscriberId: string): SubscriptionEvent => ({ type: 'ChannelSubscribed', data: { channelId: C, subscriberId, subscribedAt: T0 } });
const unsubscribed = (subscriberId: string): SubscriptionEvent => ({ type: 'ChannelUnsubscribed', data: { channelId: C, subscriberId, unsubscribedAt: T0 + 1 } });

describe('subscription decider', () => {
  test('given no subscription, when a user subscribes, then ChannelSubscribed; subscribing again decides nothing', () => {
    spec.given([]).when(subscribe('u1')).then([subscribed('u1')]);
    spec.given([subscribed('u1')]).when(subscribe('u1')).then([]);
    spec.given([subscribed('u1')]).when(subscribe('u2')).then([subscribed('u2')]);
  });
  test('given a subscription, when the user unsubscribes, then ChannelUnsubscribed once', () => {
    spec.given([subscribed('u1')]).when(unsubscribe('u1')).then([unsubscribed('u1')]);
    spec.given([subscribed('u1'), unsubscribed('u1')]).when(unsubscribe('u1')).then([]);
    spec.given([]).when(unsubscribe('u1')).then([]);
    spec.given([subscribed('u1'), unsubscribed('u1')]).when(subscribe('u1')).then([subscribed('u1')]);
  });
  test('a user cannot subscribe to their own channel; blank ids are refused', () => {
    spec.given([]).when(subscribe(C)).thenThrows('CANNOT_SUBSCRIBE_TO_SELF', 'invalid');
    spec.given([]).when(subscribe(' ')).thenThrows('INVALID_SUBSCRIPTION', 'invalid');
    spec.given([]).when(subscribe('u1', '')).thenThrows('INVALID_SUBSCRIPTION', 'invalid');
  });
});
