/** Query port of creator analytics (ClickHouse in cluster mode, chDB in standalone mode). */
import type { ViewSummary } from '../../domain/view/view-rule.ts';

/**
 * Analytics of one video under the view rule (v2; v1 for heartbeats recorded before it; docs/view-rule.md): `views`, `unique_viewers`,
 * `watch_time_seconds` (seconds) and `views_per_minute` (`minute` ISO 8601 UTC at minute precision,
 * e.g. `2026-11-24T10:15:00Z`, ascending).
 */
export type VideoAnalytics = ViewSummary;

/** Bucket width of `views_over_time`. */
export type AnalyticsInterval = 'minute' | 'hour' | 'day';
/** Every AnalyticsInterval, shortest first. */
export const ANALYTICS_INTERVALS: readonly AnalyticsInterval[] = ['minute', 'hour', 'day'];

/** Seconds a session counts as concurrent after its last heartbeat (issue 15: "a heartbeat in the last 30 s"). */
export const CONCURRENT_WINDOW_SECONDS = 30;
/** How far back `concurrent_viewers.per_minute` reaches, seconds (a day of minutes). */
export const CONCURRENT_HISTORY_SECONDS = 24 * 3600;

/** What a video-insights query asks for. */
export interface InsightsQuery {
  /** The instant "now" is, ms since the Unix epoch (the gateway passes its clock). */
  now: number;
  /** Bucket width of views_over_time. */
  interval: AnalyticsInterval;
  /**
   * IANA time zone (e.g. `Europe/Paris`) whose local hours and days the `hour` and `day` buckets
   * follow; the gateway validates it. Minutes are the same instants in every zone.
   */
  timeZone: string;
}

/**
 * The creator-studio figures of one video (issue 15): VideoAnalytics' four, and beside them, all
 * from the heartbeats under the same view rule:
 * - `sessions`: playback sessions that sent at least one heartbeat.
 * - `average_view_duration_seconds`: watch time ÷ views, seconds (YouTube's definition; 0 without views).
 * - `retention`: 101 points, `position_percent` 0…100: the share (0…1) of sessions of known video
 *   duration whose effective watched seconds reached that percentage of the duration. Watched
 *   seconds are cumulative play time, so a viewer who seeks is placed by how much they watched,
 *   not where. Empty when no session has a known duration.
 * - `concurrent_viewers`: `now`, sessions with a heartbeat in the CONCURRENT_WINDOW_SECONDS up to
 *   `now`; `per_minute`, sessions with a heartbeat in each UTC minute of the last day (minutes
 *   without any are left out), ascending.
 * - `views_over_time`: views and unique viewers per bucket (the bucket a session first qualified
 *   as a view in), `start` the bucket's first instant as ISO 8601 UTC, ascending.
 * From the players' playback events (topic `streamwave.playback`):
 * - `startup_time_ms`: p50 and p95 (nearest rank) of the starts' startup times, ms; null without starts.
 * - `rebuffer_count` (stalls begun), `rebuffer_seconds` (stalled time, seconds) and
 *   `rebuffer_ratio` = stalled ÷ (watch time + stalled), 0…1 (Mux's "rebuffer percentage").
 * - `renditions_watched`: per rendition height (pixels), the sessions that played it, ascending.
 * - `playback_errors`: errors reported, and per code (most frequent first, at most 20).
 * From the likes and comments topics: VideoEngagement.
 */
export interface VideoInsights extends VideoAnalytics, VideoEngagement {
  sessions: number;
  average_view_duration_seconds: number;
  retention: { position_percent: number; share: number }[];
  concurrent_viewers: { now: number; window_seconds: number; per_minute: { minute: string; viewers: number }[] };
  views_over_time: { interval: AnalyticsInterval; time_zone: string; points: { start: string; views: number; unique_viewers: number }[] };
  startup_time_ms: { p50: number | null; p95: number | null; samples: number };
  rebuffer_count: number;
  rebuffer_seconds: number;
  rebuffer_ratio: number;
  renditions_watched: { height: number; sessions: number }[];
  playback_errors: { count: number; by_code: { code: string; errors: number; sessions: number }[] };
}

/** Most videos `ChannelAnalytics.top_videos` lists. */
export const CHANNEL_TOP_VIDEOS = 10;

/**
 * A channel's figures rolled up over its videos (issue 15 "per channel"), under the same view
 * rule as VideoAnalytics, over the sessions of every video given:
 * - `videos`: how many videos the rollup covers (those given, watched or not).
 * - `views`, `watch_time_seconds` (seconds), `sessions`: sums over the videos.
 * - `unique_viewers`: distinct viewers across the videos (a signed-in viewer of three of them
 *   counts once; an anonymous session counts as its own viewer, as per video).
 * - `average_view_duration_seconds`: watch time ÷ views (0 without views).
 * - `views_over_time`: as VideoInsights', over all the videos.
 * - `top_videos`: at most CHANNEL_TOP_VIDEOS videos with views, most views first (then most
 *   watch time, then id), each with its `video_id`, `views`, `watch_time_seconds`.
 * - ChannelSubscribers: subscribers gained and lost, in total and over time.
 */
/**
 * A channel's subscribers gained (ChannelSubscribed) and lost (ChannelUnsubscribed) over its whole
 * history, and per bucket of `views_over_time`'s interval and time zone (`start` as there;
 * buckets without any left out; ascending).
 */
export interface ChannelSubscribers {
  subscribers_gained: number;
  subscribers_lost: number;
  subscribers_over_time: { interval: AnalyticsInterval; time_zone: string; points: { start: string; gained: number; lost: number }[] };
}

export interface ChannelAnalytics extends ChannelSubscribers {
  videos: number;
  views: number;
  unique_viewers: number;
  watch_time_seconds: number;
  sessions: number;
  average_view_duration_seconds: number;
  views_over_time: VideoInsights['views_over_time'];
  top_videos: { video_id: string; views: number; watch_time_seconds: number }[];
}

/**
 * The engagement figures of VideoInsights (issue 15), from the records of `streamwave.likes` and
 * `streamwave.comments`, in the same buckets (`interval`, `time_zone`, `start`) as `views_over_time`:
 * - `likes_over_time`: per bucket of the instant they happened, likes given (VideoLiked) and taken
 *   back (VideoUnliked); the bucket's net change is likes − unlikes. Buckets without either are
 *   left out; ascending.
 * - `comments_over_time`: per bucket, comments posted (CommentPosted, replies included) and
 *   comments deleted (CommentDeleted, counted when deleted, not when posted); likewise.
 * - `engagement_rate` = (standing likes + standing comments) ÷ views, where standing likes =
 *   likes − unlikes and standing comments = posted − deleted over the video's whole history (what
 *   video detail's like_count and comment_count show), and views are the counted views under the
 *   view rule (the answer's `views`). 0 when there are no views. A plain ratio (0.05 = 5 %), not a
 *   percentage; it can exceed 1 (a like or comment needs no counted view).
 */
export interface VideoEngagement {
  likes_over_time: { interval: AnalyticsInterval; time_zone: string; points: { start: string; likes: number; unlikes: number }[] };
  comments_over_time: { interval: AnalyticsInterval; time_zone: string; points: { start: string; comments: number; deleted: number }[] };
  engagement_rate: number;
}

export interface AnalyticsQueries {
  /** @throws AnalyticsStoreError `ANALYTICS_IO` */
  videoAnalytics(videoId: string): Promise<VideoAnalytics>;
  /** Everything videoAnalytics answers and more, in one read. @throws AnalyticsStoreError `ANALYTICS_IO` */
  videoInsights(videoId: string, query: InsightsQuery): Promise<VideoInsights>;
  /**
   * The rollup of channel `channelId` (its owner's user id: subscribers) over the videos
   * `videoIds` (the channel's, as the caller lists them; duplicates count once; none gives zero
   * views). `query.now` is not used.
   * @throws AnalyticsStoreError `ANALYTICS_IO`
   */
  channelAnalytics(channelId: string, videoIds: readonly string[], query: InsightsQuery): Promise<ChannelAnalytics>;
}
