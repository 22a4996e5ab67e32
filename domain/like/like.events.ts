import type { Event } from '../shared/event.ts';

/** A user liked a published video (at most one standing like per user and video). Key: videoId. Topic: streamwave.likes. */
export type VideoLiked = Event<'VideoLiked', {
  videoId: string;
  userId: string;
  /** ms since the Unix epoch. */
  likedAt: number;
}>;

/** A user took back their like of a video. Key: videoId. Topic: streamwave.likes. */
export type VideoUnliked = Event<'VideoUnliked', {
  videoId: string;
  userId: string;
  /** ms since the Unix epoch. */
  unlikedAt: number;
}>;

export type LikeEvent = VideoLiked | VideoUnliked;
