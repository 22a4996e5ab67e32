import { assertNever, DomainError } from '../shared/event.ts';
import type { Decider } from '../shared/decider.ts';
import { PersistentSet } from '../shared/persistent-set.ts';
import { isNonBlank } from '../shared/validation.ts';
import type { VideoEvent } from '../video/video.events.ts';
import { evolveVideo, initialVideoState, requireLiveVideo, type VideoState } from '../video/video.decider.ts';
import type { LikeEvent } from './like.events.ts';
import type { LikeCommand } from './like.commands.ts';

/**
 * State a like is decided against: the video (likes only on published videos) and the users whose
 * like stands. Key: videoId, so the video's events (`streamwave.videos`) and its likes
 * (`streamwave.likes`) share the key and the partition number (issue 14).
 */
export interface VideoLikesState {
  readonly video: VideoState;
  readonly likers: PersistentSet;
}

const initialVideoLikesState: VideoLikesState = { video: initialVideoState, likers: PersistentSet.empty() };

/**
 * Decides LikeVideo and UnlikeVideo. Pure. One standing like per user and video: liking a liked
 * video, or unliking one the user does not like, returns `[]` (the request is idempotent, as
 * YouTube's like button is).
 * @throws DomainError `VIDEO_NOT_FOUND` / `VIDEO_DELETED` (not_found); `VIDEO_NOT_PUBLISHED`
 *   (conflict) when liking a video that is not ready; `INVALID_LIKE` (invalid) for a blank userId.
 */
function decideLike(command: LikeCommand, state: VideoLikesState): LikeEvent[] {
  const d = command.data;
  const video = requireLiveVideo(state.video, d.videoId);
  if (!isNonBlank(d.userId)) throw new DomainError('INVALID_LIKE', 'userId is required', 'invalid');
  switch (command.type) {
    case 'LikeVideo':
      if (video.status !== 'ready') {
        throw new DomainError('VIDEO_NOT_PUBLISHED', `video ${d.videoId} is ${video.status}; only published videos can be liked`, 'conflict');
      }
      if (state.likers.has(d.userId)) return [];
      return [{ type: 'VideoLiked', data: { videoId: d.videoId, userId: d.userId, likedAt: command.metadata.now } }];
    case 'UnlikeVideo':
      if (!state.likers.has(d.userId)) return [];
      return [{ type: 'VideoUnliked', data: { videoId: d.videoId, userId: d.userId, unlikedAt: command.metadata.now } }];
    default:
      return assertNever(command);
  }
}

/** Applies a video event (to the video part) or a like event (to the likers). Total and pure. */
function evolveLike(state: VideoLikesState, event: VideoEvent | LikeEvent): VideoLikesState {
  switch (event.type) {
    case 'VideoLiked':
    case 'VideoUnliked': {
      if (state.video.status !== 'absent' && event.data.videoId !== state.video.videoId) return state;
      const likers = event.type === 'VideoLiked' ? state.likers.add(event.data.userId) : state.likers.delete(event.data.userId);
      return likers === state.likers ? state : { ...state, likers };
    }
    default: {
      const video = evolveVideo(state.video, event);
      return video === state.video ? state : { ...state, video };
    }
  }
}

/** The likes of a video as a decider. */
export const likeDecider: Decider<VideoLikesState, LikeCommand, LikeEvent, VideoEvent | LikeEvent> = {
  initialState: initialVideoLikesState,
  decide: decideLike,
  evolve: evolveLike,
};
