import type { CommandMetadata } from '../shared/event.ts';

/** Subscribe `subscriberId` to the channel of user `channelId`. Decided against the channel's subscribers (key: `data.channelId`). */
export type SubscribeToChannel = { type: 'SubscribeToChannel'; data: { channelId: string; subscriberId: string }; metadata: CommandMetadata };

/** End `subscriberId`'s subscription to `channelId`. Decided against the channel's subscribers (key: `data.channelId`). */
export type UnsubscribeFromChannel = { type: 'UnsubscribeFromChannel'; data: { channelId: string; subscriberId: string }; metadata: CommandMetadata };

export type SubscriptionCommand = SubscribeToChannel | UnsubscribeFromChannel;
