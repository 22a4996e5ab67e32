import type { UserEvent } from './user/user.events.ts';
import type { VideoEvent } from './video/video.events.ts';
import type { CommentEvent } from './comment/comment.events.ts';
import type { ViewEvent } from './view/view.events.ts';

export type * from './user/user.events.ts';
export type * from './video/video.events.ts';
export type * from './comment/comment.events.ts';
export type * from './view/view.events.ts';

/** Every domain event StreamWave writes to the log. */
export type DomainEvent = UserEvent | VideoEvent | CommentEvent | ViewEvent;
export type DomainEventType = DomainEvent['type'];

/**
 * Topic of each event. Several event types share a topic so that all events of one
 * aggregate are ordered in one partition (key = aggregate id); subjects in the
 * schema registry therefore use TopicRecordNameStrategy (`<topic>-<record full name>`).
 */
export const TOPICS = {
  users: 'streamwave.users',
  videos: 'streamwave.videos',
  comments: 'streamwave.comments',
  views: 'streamwave.views',
} as const;

export const TOPIC_OF: Record<DomainEventType, string> = {
  UserRegistered: TOPICS.users,
  UploadStarted: TOPICS.videos,
  UploadCompleted: TOPICS.videos,
  VideoProcessingStarted: TOPICS.videos,
  VideoProcessingProgressed: TOPICS.videos,
  RenditionEncoded: TOPICS.videos,
  VideoPublished: TOPICS.videos,
  VideoProcessingFailed: TOPICS.videos,
  VideoProcessingCompleted: TOPICS.videos,
  VideoMetadataUpdated: TOPICS.videos,
  VideoDeleted: TOPICS.videos,
  CommentPosted: TOPICS.comments,
  VideoViewed: TOPICS.views,
};

/** Aggregate id used as the record key (Kafka partitioning key) of an event. */
export function keyOf(e: DomainEvent): string {
  switch (e.type) {
    case 'UserRegistered':
      return e.data.userId;
    default:
      return e.data.videoId;
  }
}
