/** Query port of the watch-history read model (key-value store). */

/**
 * Max entries of a user's watch history: the read model keeps the newest 200 videos per user and
 * evicts the oldest, so it grows with the number of users, not with the number of views.
 */
export const WATCH_HISTORY_CAP = 200;

export interface WatchHistoryEntry {
  videoId: string;
  /** Last heartbeat time, ms since the Unix epoch. */
  watchedAt: number;
  /** Playhead at that heartbeat, seconds. */
  positionSeconds: number;
}

export interface WatchHistoryQueries {
  /** One entry per video, most recent first, at most WATCH_HISTORY_CAP. */
  getWatchHistory(userId: string): Promise<WatchHistoryEntry[]>;
}
