import { assertNever, DomainError } from '../shared/event.ts';
import type { Decider } from '../shared/decider.ts';
import { isNonBlank, isNonNegativeFinite } from '../shared/validation.ts';
import type { VideoEvent } from '../video/video.events.ts';
import { evolveVideo, initialVideoState, requireWatchableVideo, type VideoState } from '../video/video.decider.ts';
import type { ViewEvent } from './view.events.ts';
import type { ViewCommand } from './view.commands.ts';

/**
 * Decides RecordView against the video's state. Pure. Every heartbeat is a new fact (the view rule
 * in the analytics projection counts views from them), so there is no idempotency here.
 * `videoDurationSeconds` is taken from the video, not from the client.
 * @throws DomainError `VIDEO_NOT_FOUND` / `VIDEO_DELETED` (not_found); `VIDEO_NOT_PUBLISHED` (conflict)
 *   unless the video is ready; `INVALID_VIEW` (invalid) when watchedSeconds/positionSeconds are not
 *   finite numbers ≥ 0 or sessionId is blank.
 */
function decideView(command: ViewCommand, state: VideoState): ViewEvent[] {
  switch (command.type) {
    case 'RecordView': {
      const d = command.data;
      const video = requireWatchableVideo(state, d.videoId);
      if (!isNonBlank(d.sessionId)) throw new DomainError('INVALID_VIEW', 'sessionId is required', 'invalid');
      if (!isNonNegativeFinite(d.watchedSeconds)) throw new DomainError('INVALID_VIEW', 'watchedSeconds must be a finite number ≥ 0', 'invalid');
      if (!isNonNegativeFinite(d.positionSeconds)) throw new DomainError('INVALID_VIEW', 'positionSeconds must be a finite number ≥ 0', 'invalid');
      return [{
        type: 'VideoViewed',
        data: {
          videoId: d.videoId, sessionId: d.sessionId, viewerId: d.viewerId ?? null, watchedSeconds: d.watchedSeconds,
          positionSeconds: d.positionSeconds, videoDurationSeconds: video.durationSeconds ?? 0, viewedAt: command.metadata.now,
          sessionStartedAt: d.sessionStartedAt ?? null,
        },
      }];
    }
    default:
      return assertNever(command.type);
  }
}

/** Views do not change the video: only video events evolve the state. */
function evolveView(state: VideoState, event: VideoEvent | ViewEvent): VideoState {
  return event.type === 'VideoViewed' ? state : evolveVideo(state, event);
}

/** Views of a video as a decider (key: videoId, topic `streamwave.views`). */
export const viewDecider: Decider<VideoState, ViewCommand, ViewEvent, VideoEvent | ViewEvent> = {
  initialState: initialVideoState,
  decide: decideView,
  evolve: evolveView,
};
