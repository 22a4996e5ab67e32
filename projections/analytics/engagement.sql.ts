/**
 * The engagement-events table of the analytics read model (issue 15: likes and comments over
 * time, engagement rate) and its query, in both dialects of analytics.sql.ts. One row per record
 * of `streamwave.likes`, `streamwave.comments` and `streamwave.subscriptions` (a subscription's subject, in `video_id`, is the channel) (a skip marker, `kind` '', for an undecodable or
 * unexpected one), keyed by log position like the heartbeats and playback events, so a
 * redelivered record collapses and the checkpoint is the table's own max(offset)+1. The query
 * reads through one row per log position, so a copy not merged yet counts once. No user column
 * (issue 13): counts need none.
 *
 * A table created by this release on a deployment of the previous one starts empty, so it holds
 * no checkpoint for the likes, comments and subscriptions topics: the projection runtime then reads those
 * partitions from offset 0 (projection.runtime.ts onAssigned: unseen partitions start at 0) while
 * the views and playback topics continue from their own tables' checkpoints. That is the backfill.
 */
import { minuteIso } from '../../domain/view/view-rule.ts';
import { assertPosition, clampTimestamp, SELECT_CHECKPOINT, type Dialect, type HeartbeatJsonRow } from './clickhouse-dialect.ts';
import type { AnalyticsInterval, ChannelSubscribers, InsightsQuery, VideoEngagement } from './analytics.port.ts';
import type { EngagementRow } from './analytics-store.port.ts';

export type { EngagementRow } from './analytics-store.port.ts';

/** The engagement statements of one database (every one names `<database>.engagement_events`). */
export interface EngagementSql {
  table: string;
  createTable: string;
  selectCheckpoint: string;
  /**
   * Per bucket of the interval (`bucket_s`, Unix seconds of its first instant; hours and days in
   * the `{time_zone:String}` zone) of the instant each event happened: `likes`, `unlikes`,
   * `comments` (posted) and `deleted` (comments deleted), and for a channel id `subscribed` and
   * `unsubscribed`, ascending; buckets without any left out. Params: video_id (or a channel id), time_zone.
   */
  selectPerBucket: Record<AnalyticsInterval, string>;
  /** `row` as JSONEachRow input; the time is clamped to DateTime64's range. @throws RangeError on a bad log position */
  toJsonRow(row: EngagementRow): HeartbeatJsonRow;
}

/** One row of EngagementSql.selectPerBucket (UInt64 may arrive as strings). */
export interface EngagementBucketRow {
  bucket_s: number | string;
  likes: number | string;
  unlikes: number | string;
  comments: number | string;
  deleted: number | string;
  /** Subscriptions to the channel (video_id a channel id), and cancelled ones. */
  subscribed: number | string;
  unsubscribed: number | string;
}

/** The EngagementSql of `database` in dialect `d`. */
export function engagementSql(d: Dialect, database: string): EngagementSql {
  const table = `${database}.engagement_events`;
  const perBucket = (interval: AnalyticsInterval) => `
SELECT ${d.bucketSeconds(interval, 't')} AS bucket_s,
  countIf(k = 'like') AS likes, countIf(k = 'unlike') AS unlikes,
  countIf(k = 'comment') AS comments, countIf(k = 'comment_deleted') AS deleted,
  countIf(k = 'subscribe') AS subscribed, countIf(k = 'unsubscribe') AS unsubscribed
FROM (
  SELECT any(kind) AS k, any(at) AS t
  FROM ${table}
  WHERE video_id = {video_id:String}
  GROUP BY topic, partition, offset)
WHERE k != ''
GROUP BY bucket_s
ORDER BY bucket_s`;
  return {
    table,
    createTable: `
CREATE TABLE IF NOT EXISTS ${table} (
  video_id String,
  kind ${d.topic},
  at ${d.timestamp},
  topic ${d.topic},
  partition UInt32,
  offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (video_id, topic, partition, offset)${d.tableSettings}`,
    selectCheckpoint: SELECT_CHECKPOINT(table),
    selectPerBucket: { minute: perBucket('minute'), hour: perBucket('hour'), day: perBucket('day') },
    toJsonRow: (r) => {
      assertPosition('partition', r.partition);
      assertPosition('offset', r.offset);
      return { video_id: r.video_id, kind: r.kind, at: d.encodeTimestamp(clampTimestamp(r.at)), topic: r.topic, partition: r.partition, offset: r.offset };
    },
  };
}

/**
 * The engagement figures of VideoInsights (analytics.port.ts VideoEngagement) from the rows of
 * selectPerBucket and the video's counted views (view rule v2, the answer's `views`).
 * Standing likes = likes − unlikes and standing comments = comments − deleted comments over all
 * buckets, each at least 0 (as video detail's like_count and comment_count count them: the like
 * and comment deciders emit an unlike only for a standing like and a deletion once per comment).
 */
export function engagementOf(buckets: EngagementBucketRow[], views: number, query: InsightsQuery): VideoEngagement {
  let likes = 0;
  let comments = 0;
  const likePoints: VideoEngagement['likes_over_time']['points'] = [];
  const commentPoints: VideoEngagement['comments_over_time']['points'] = [];
  for (const b of buckets) {
    const start = minuteIso(Number(b.bucket_s) * 1000);
    const [liked, unliked, posted, deleted] = [Number(b.likes), Number(b.unlikes), Number(b.comments), Number(b.deleted)];
    likes += liked - unliked;
    comments += posted - deleted;
    if (liked || unliked) likePoints.push({ start, likes: liked, unlikes: unliked });
    if (posted || deleted) commentPoints.push({ start, comments: posted, deleted });
  }
  const engaged = Math.max(0, likes) + Math.max(0, comments);
  return {
    likes_over_time: { interval: query.interval, time_zone: query.timeZone, points: likePoints },
    comments_over_time: { interval: query.interval, time_zone: query.timeZone, points: commentPoints },
    engagement_rate: views > 0 ? engaged / views : 0,
  };
}

/**
 * A channel's subscribers gained and lost (issue 15 "per channel") from the rows of
 * selectPerBucket asked for the channel's id: totals, and per bucket (buckets without any left out).
 */
export function subscribersOf(buckets: EngagementBucketRow[], query: InsightsQuery): ChannelSubscribers {
  const points: ChannelSubscribers['subscribers_over_time']['points'] = [];
  let gained = 0;
  let lost = 0;
  for (const b of buckets) {
    const [g, l] = [Number(b.subscribed), Number(b.unsubscribed)];
    gained += g;
    lost += l;
    if (g || l) points.push({ start: minuteIso(Number(b.bucket_s) * 1000), gained: g, lost: l });
  }
  return { subscribers_gained: gained, subscribers_lost: lost, subscribers_over_time: { interval: query.interval, time_zone: query.timeZone, points } };
}
