import type { CommandMetadata } from '../shared/event.ts';

/** Post a comment (or, with `parentId`, a reply) on a video. Decided against the video's comment thread (key: `data.videoId`). */
export type PostComment = {
  type: 'PostComment'; data: { commentId: string; videoId: string; authorId: string; parentId?: string | null; body: string }; metadata: CommandMetadata;
};

/** Delete a comment: its author or the video's owner (`metadata.actorId`). Key: `data.videoId`. */
export type DeleteComment = {
  type: 'DeleteComment'; data: { commentId: string; videoId: string }; metadata: CommandMetadata;
};

export type CommentCommand = PostComment | DeleteComment;
