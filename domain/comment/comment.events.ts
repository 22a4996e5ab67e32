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

/**
 * A comment was deleted by its author or by the owner of the video (issue 14). Its place in the
 * thread stays (replies keep their parent) and shows a placeholder. Key: videoId.
 */
export type CommentDeleted = Event<'CommentDeleted', {
  commentId: string;
  videoId: string;
  /** The user who deleted it: the author or the video's owner. */
  deletedBy: string;
  deletedAt: number;
}>;

export type CommentEvent = CommentPosted | CommentDeleted;
