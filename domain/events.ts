import type { UserEvent } from './user/user.events.ts';
import type { VideoEvent } from './video/video.events.ts';
import type { CommentEvent } from './comment/comment.events.ts';
import type { ViewEvent } from './view/view.events.ts';
import type { LikeEvent } from './like/like.events.ts';
import type { SubscriptionEvent } from './subscription/subscription.events.ts';
import type { PlaybackEvent } from './playback/playback.events.ts';

export type * from './user/user.events.ts';
export type * from './video/video.events.ts';
export type * from './comment/comment.events.ts';
export type * from './view/view.events.ts';
export type * from './like/like.events.ts';
export type * from './subscription/subscription.events.ts';
export type * from './playback/playback.events.ts';

/** Every domain event StreamWave writes to the log. */
export type DomainEvent = UserEvent | VideoEvent | CommentEvent | ViewEvent | LikeEvent | SubscriptionEvent | PlaybackEvent;
export type DomainEventType = DomainEvent['type'];

/** Aggregate id used as the record key (Kafka partitioning key) of an event; its topic is `TOPIC_OF` in schemas/topics.ts. */
export function keyOf(e: DomainEvent): string {
  switch (e.type) {
    case 'UserRegistered':
    case 'UserErased':
      return e.data.userId;
    case 'ChannelSubscribed':
    case 'ChannelUnsubscribed':
      return e.data.channelId;
    default:
      return e.data.videoId;
  }
}
