import type { Event } from '../shared/event.ts';

/** A user subscribed to a channel (another user's videos). Key: channelId. Topic: streamwave.subscriptions. */
export type ChannelSubscribed = Event<'ChannelSubscribed', {
  /** The channel's owner (a user id). */
  channelId: string;
  subscriberId: string;
  /** ms since the Unix epoch. */
  subscribedAt: number;
}>;

/** A user's subscription to a channel ended. Key: channelId. Topic: streamwave.subscriptions. */
export type ChannelUnsubscribed = Event<'ChannelUnsubscribed', {
  channelId: string;
  subscriberId: string;
  /** ms since the Unix epoch. */
  unsubscribedAt: number;
}>;

export type SubscriptionEvent = ChannelSubscribed | ChannelUnsubscribed;
