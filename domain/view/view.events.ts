import type { Event } from '../shared/event.ts';

/**
 * A player heartbeat for one playback session (view rule v1 in docs/view-rule.md).
 * Key: videoId. Topic: `streamwave.views`.
 */
export type VideoViewed = Event<'VideoViewed', {
  videoId: string;
  sessionId: string;
  /** Authenticated viewer, or null for anonymous playback. */
  viewerId?: string | null;
  /** Cumulative seconds watched in this session (monotonic per session). */
  watchedSeconds: number;
  /** Current playhead, seconds. */
  positionSeconds: number;
  /** Duration of the video at the time of the heartbeat, seconds (needed by the view rule). */
  videoDurationSeconds: number;
  viewedAt: number;
  /** When the server issued the playback session, ms since the epoch; null on heartbeats recorded before view rule v2. */
  sessionStartedAt?: number | null;
}>;

export type ViewEvent = VideoViewed;
