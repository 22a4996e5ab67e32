import { assertNever, DomainError } from '../shared/event.ts';
import type { Decider } from '../shared/decider.ts';
import { AppendOnlySet } from '../shared/append-only-set.ts';
import { charLength, isNonBlank } from '../shared/validation.ts';
import type { VideoEvent } from '../video/video.events.ts';
import { evolveVideo, initialVideoState, requireLiveVideo, type VideoState } from '../video/video.decider.ts';
import type { CommentEvent } from './comment.events.ts';
import type { CommentCommand } from './comment.commands.ts';

/**
 * State a comment is decided against: the video (comments only on ready videos) and the ids of
 * the comments already posted on it (replies must point at one of them). Key: videoId, so the
 * video's events (topic `streamwave.videos`) and its comments (`streamwave.comments`) share the key
 * and land on the same partition number of their topics.
 */
export interface CommentThreadState {
  readonly video: VideoState;
  /** Every comment posted on the video, each with its author as the value. */
  readonly commentIds: AppendOnlySet;
  /** The deleted ones (issue 14). */
  readonly deletedIds: AppendOnlySet;
}

const initialCommentThreadState: CommentThreadState = { video: initialVideoState, commentIds: AppendOnlySet.empty(), deletedIds: AppendOnlySet.empty() };

/** Comment body: 1..5000 characters after trimming. */
const COMMENT_BODY_MAX = 5000;

/**
 * Decides PostComment and DeleteComment. Pure. A retried PostComment whose commentId is already
 * on the thread, and a DeleteComment of a comment already deleted, return `[]`.
 * @throws DomainError `VIDEO_NOT_FOUND` / `VIDEO_DELETED` (not_found); `VIDEO_NOT_PUBLISHED` (conflict)
 *   unless the video is ready (posting); `INVALID_COMMENT` (invalid) for a blank or over-long body or missing ids;
 *   `PARENT_COMMENT_NOT_FOUND` (invalid) when parentId is not a comment of this video;
 *   `COMMENT_NOT_FOUND` (not_found) when deleting a comment that is not on this video;
 *   `NOT_COMMENT_AUTHOR` (forbidden) when the deleting actor is neither its author nor the video's owner.
 */
function decideComment(command: CommentCommand, state: CommentThreadState): CommentEvent[] {
  switch (command.type) {
    case 'PostComment': {
      const d = command.data;
      const video = requireLiveVideo(state.video, d.videoId);
      if (video.status !== 'ready') {
        throw new DomainError('VIDEO_NOT_PUBLISHED', `video ${d.videoId} is ${video.status}; comments need a published video`, 'conflict');
      }
      if (!isNonBlank(d.commentId) || !isNonBlank(d.authorId)) throw new DomainError('INVALID_COMMENT', 'commentId and authorId are required', 'invalid');
      if (state.commentIds.has(d.commentId)) return [];
      const body = typeof d.body === 'string' ? d.body.trim() : '';
      const n = charLength(body);
      if (n < 1 || n > COMMENT_BODY_MAX) {
        throw new DomainError('INVALID_COMMENT', `comment body must be 1..${COMMENT_BODY_MAX} characters after trimming (got ${n})`, 'invalid');
      }
      const parentId = d.parentId ?? null;
      if (parentId !== null && !state.commentIds.has(parentId)) {
        throw new DomainError('PARENT_COMMENT_NOT_FOUND', `comment ${parentId} is not a comment of video ${d.videoId}`, 'invalid');
      }
      return [{
        type: 'CommentPosted',
        data: { commentId: d.commentId, videoId: d.videoId, authorId: d.authorId, parentId, body, postedAt: command.metadata.now },
      }];
    }
    case 'DeleteComment': {
      const d = command.data;
      const video = requireLiveVideo(state.video, d.videoId);
      if (!state.commentIds.has(d.commentId)) throw new DomainError('COMMENT_NOT_FOUND', `comment ${d.commentId} is not a comment of video ${d.videoId}`, 'not_found');
      if (state.deletedIds.has(d.commentId)) return [];
      const actor = command.metadata.actorId;
      if (!actor || (actor !== state.commentIds.valueOf(d.commentId) && actor !== video.ownerId)) {
        throw new DomainError('NOT_COMMENT_AUTHOR', 'only the author of a comment or the owner of the video may delete it', 'forbidden');
      }
      return [{ type: 'CommentDeleted', data: { commentId: d.commentId, videoId: d.videoId, deletedBy: actor, deletedAt: command.metadata.now } }];
    }
    default:
      return assertNever(command);
  }
}

/** Applies a video event (to the video part) or a comment event (to the thread). Total and pure. */
function evolveComment(state: CommentThreadState, event: VideoEvent | CommentEvent): CommentThreadState {
  if (event.type === 'CommentPosted' || event.type === 'CommentDeleted') {
    // A thread holds the comments of one video only: a parent must be "an existing comment of the same video".
    if (state.video.status !== 'absent' && event.data.videoId !== state.video.videoId) return state;
    if (event.type === 'CommentDeleted') {
      const deletedIds = state.deletedIds.add(event.data.commentId);
      return deletedIds === state.deletedIds ? state : { ...state, deletedIds };
    }
    const commentIds = state.commentIds.add(event.data.commentId, event.data.authorId);
    return commentIds === state.commentIds ? state : { ...state, commentIds };
  }
  const video = evolveVideo(state.video, event);
  return video === state.video ? state : { ...state, video };
}

/** The comment thread of a video as a decider. */
export const commentDecider: Decider<CommentThreadState, CommentCommand, CommentEvent, VideoEvent | CommentEvent> = {
  initialState: initialCommentThreadState,
  decide: decideComment,
  evolve: evolveComment,
};
