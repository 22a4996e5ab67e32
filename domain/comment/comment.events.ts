import type { Event } from '../shared/event.ts';

/** A comment (or a reply, with parentId) was posted on a published video. Key: videoId. */
export type CommentPosted = Event<'CommentPosted', {
  commentId: string;
  videoId: string;
  authorId: string;
  parentId?: string | null;
  body: string;
  postedAt: number;
}>;

export type CommentEvent = CommentPosted;
