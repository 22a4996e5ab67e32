import { assertNever, DomainError } from '../shared/event.ts';
import type { Decider } from '../shared/decider.ts';
import { PersistentSet } from '../shared/persistent-set.ts';
import { isNonBlank } from '../shared/validation.ts';
import type { SubscriptionEvent } from './subscription.events.ts';
import type { SubscriptionCommand } from './subscription.commands.ts';

/**
 * A channel's subscribers (issue 14). Key: channelId (the owner's user id). Whether the channel
 * exists is the gateway's check against the user-accounts read model: the users' own aggregate
 * serialises on the registry-wide lock, which subscriptions must not contend for.
 */
export interface ChannelSubscribersState {
  readonly subscribers: PersistentSet;
}

/**
 * Decides SubscribeToChannel and UnsubscribeFromChannel. Pure. One subscription per user and
 * channel: subscribing again, or unsubscribing without a subscription, returns `[]`.
 * @throws DomainError `INVALID_SUBSCRIPTION` (invalid) for blank ids; `CANNOT_SUBSCRIBE_TO_SELF`
 *   (invalid) when a user subscribes to their own channel.
 */
function decideSubscription(command: SubscriptionCommand, state: ChannelSubscribersState): SubscriptionEvent[] {
  const { channelId, subscriberId } = command.data;
  if (!isNonBlank(channelId) || !isNonBlank(subscriberId)) throw new DomainError('INVALID_SUBSCRIPTION', 'channelId and subscriberId are required', 'invalid');
  switch (command.type) {
    case 'SubscribeToChannel':
      if (channelId === subscriberId) throw new DomainError('CANNOT_SUBSCRIBE_TO_SELF', 'you cannot subscribe to your own channel', 'invalid');
      if (state.subscribers.has(subscriberId)) return [];
      return [{ type: 'ChannelSubscribed', data: { channelId, subscriberId, subscribedAt: command.metadata.now } }];
    case 'UnsubscribeFromChannel':
      if (!state.subscribers.has(subscriberId)) return [];
      return [{ type: 'ChannelUnsubscribed', data: { channelId, subscriberId, unsubscribedAt: command.metadata.now } }];
    default:
      return assertNever(command);
  }
}

/** Applies a subscription event. Total and pure. */
function evolveSubscription(state: ChannelSubscribersState, event: SubscriptionEvent): ChannelSubscribersState {
  const { subscriberId } = event.data;
  const subscribers = event.type === 'ChannelSubscribed' ? state.subscribers.add(subscriberId) : state.subscribers.delete(subscriberId);
  return subscribers === state.subscribers ? state : { subscribers };
}

/** A channel's subscribers as a decider. */
export const subscriptionDecider: Decider<ChannelSubscribersState, SubscriptionCommand, SubscriptionEvent> = {
  initialState: { subscribers: PersistentSet.empty() },
  decide: decideSubscription,
  evolve: evolveSubscription,
};
