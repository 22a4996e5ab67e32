import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import type { ChannelAnalytics, InsightsQuery, VideoAnalytics, VideoInsights } from './analytics.port.ts';

/**
 * One consumed record of the views topic as stored in the analytics table: a VideoViewed
 * heartbeat, or a skip marker (`video_id` = '') for a record that could not be decoded, so the
 * checkpoint derived from the table still moves past it.
 */
export interface HeartbeatRow {
  video_id: string;
  session_id: string;
  /**
   * The viewer's pseudonym (platform/keys/pseudonyms.ts: keyed by the viewer's data key, so an
   * erasure unlinks it), never the user id; '' when anonymous.
   */
  viewer_id: string;
  /** Cumulative seconds watched in the session. */
  watched_seconds: number;
  /** Seconds. */
  video_duration_seconds: number;
  /** Milliseconds since the Unix epoch. */
  viewed_at: number;
  /** When the playback session was issued, ms since the Unix epoch; null before view rule v2 (then judged by v1). Absent = null. */
  session_started_at?: number | null;
  topic: string;
  partition: number;
  offset: number;
}

/** One consumed record of the playback topic as stored (see PlaybackEvent in domain/playback; playback.sql.ts stores it). */
export interface PlaybackRow {
  video_id: string;
  session_id: string;
  /** The event type (`PlaybackStarted`, …), or '' for a skip marker. */
  type: string;
  /** Seconds. */
  position_seconds: number;
  /** PlaybackStarted: ms from the play request to the first frame; else null. */
  startup_time_ms: number | null;
  /** PlaybackStarted / RenditionSwitched: pixels; else null. */
  rendition_height: number | null;
  /** RebufferEnded: ms stalled; else null. */
  rebuffer_ms: number | null;
  /** PlaybackFailed: the player's code; else ''. */
  error_code: string;
  /** When the gateway accepted it, ms since the Unix epoch. */
  at: number;
  topic: string;
  partition: number;
  offset: number;
}

/**
 * What one record of the likes, comments or subscriptions topic was, as stored in the engagement-events table:
 * `like` (VideoLiked), `unlike` (VideoUnliked), `comment` (CommentPosted, replies included),
 * `comment_deleted` (CommentDeleted), `subscribe` (ChannelSubscribed) and `unsubscribe`
 * (ChannelUnsubscribed), or '' for a skip marker (undecodable or unexpected).
 */
export type EngagementKind = 'like' | 'unlike' | 'comment' | 'comment_deleted' | 'subscribe' | 'unsubscribe';

/**
 * One consumed record of `streamwave.likes`, `streamwave.comments` or `streamwave.subscriptions` (issue 15: likes and comments
 * over time, engagement rate). No user column at all (issue 13): who liked or commented is not
 * needed for counts, so it is not stored, not even as a pseudonym.
 */
export interface EngagementRow {
  /** The video; for `subscribe` / `unsubscribe` the channel (its owner's user id); '' for a skip marker. */
  video_id: string;
  /** The event's kind, '' for a skip marker. */
  kind: EngagementKind | '';
  /** When it happened (the event's likedAt / unlikedAt / postedAt / deletedAt; a skip marker's record timestamp), ms since the Unix epoch. */
  at: number;
  topic: string;
  partition: number;
  offset: number;
}

/**
 * AnalyticsStore: raw heartbeats in a ClickHouse ReplacingMergeTree keyed by log position (chDB
 * in standalone mode, a ClickHouse server via @clickhouse/client in cluster mode; both run the
 * SQL in analytics.sql.ts). The checkpoint is derived from the table itself (max(offset)+1 per
 * partition), so state and checkpoint are the same data and one INSERT commits both.
 */
export interface AnalyticsStore {
  /**
   * Inserts rows with ONE INSERT (atomic: a single block/part). Re-inserting a row with the same
   * (topic, partition, offset) is harmless: every aggregate is duplicate-insensitive and merges
   * collapse the copies.
   * @throws AnalyticsStoreError `ANALYTICS_IO`
   */
  insertHeartbeats(rows: HeartbeatRow[]): Promise<void>;
  /**
   * Inserts records of the playback topic (issue 15) into the playback-events table (one INSERT,
   * keyed by log position, re-inserts harmless), after folding them into their sessions' running
   * totals (playback-sessions.ts): first a read of the totals of sessions not in memory (in
   * chunks), then one INSERT into playback_sessions. A record at or below its session's stored
   * version (same partition) is already in the totals and is skipped, so each partition's records
   * must come in offset order, as a log delivers them.
   * @throws AnalyticsStoreError `ANALYTICS_IO`
   */
  insertPlaybackEvents(rows: PlaybackRow[]): Promise<void>;
  /**
   * Inserts records of the likes, comments and subscriptions topics (issue 15) into the engagement-events table,
   * with ONE INSERT, under the same rules as insertHeartbeats (keyed by log position, re-inserts harmless).
   * @throws AnalyticsStoreError `ANALYTICS_IO`
   */
  insertEngagementEvents(rows: EngagementRow[]): Promise<void>;
  /**
   * `topic:partition` → max(offset) + 1 over stored rows of the heartbeats and engagement events;
   * for the playback topic, the lower of that of the playback events and that of the running
   * totals (0 for a partition without totals), so events stored without their totals (a release
   * before them, in a rolling upgrade) are applied again.
   */
  checkpoint(): Promise<OffsetMap>;
  /**
   * Forgets the playback sessions' running totals held in memory (playback-sessions.ts); later
   * batches restore them from `playback_sessions`. The projection calls it on every assignment of
   * partitions (ProjectionNode.onAssigned): another instance may have moved those sessions on
   * meanwhile. A batch in flight when it is called keeps its result out of memory.
   */
  forgetRunningTotals(): void;
  /** Numbers under the view rule (v2, v1 for heartbeats without a session start; docs/view-rule.md). @throws AnalyticsStoreError `ANALYTICS_IO` */
  videoAnalytics(videoId: string): Promise<VideoAnalytics>;
  /** The studio figures of one video (analytics.port.ts VideoInsights). @throws AnalyticsStoreError `ANALYTICS_IO` */
  videoInsights(videoId: string, query: InsightsQuery): Promise<VideoInsights>;
  /** The rollup of a channel's videos (analytics.port.ts ChannelAnalytics). @throws AnalyticsStoreError `ANALYTICS_IO` */
  channelAnalytics(channelId: string, videoIds: readonly string[], query: InsightsQuery): Promise<ChannelAnalytics>;
  /**
   * Lets the calls begun before it finish (an insert may still be gathering with others, SQL
   * stores), then closes; calls after it reject with AnalyticsStoreError `ANALYTICS_CLOSED`.
   */
  close(): Promise<void>;
}

export class AnalyticsStoreError extends Error {
  constructor(
    /** `ANALYTICS_IO` (query/insert failed), `ANALYTICS_CLOSED`, `ANALYTICS_BUSY` (chDB data dir held). */
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'AnalyticsStoreError';
  }
}
