import { Type, type TProperties } from '@fastify/type-provider-typebox';
import { CHANNEL_TOP_VIDEOS, CONCURRENT_WINDOW_SECONDS } from '../../../projections/analytics/analytics.port.ts';
import { withErrors } from '../../errors.ts';
import { BEARER, NullableNumber, VideoIdParams } from '../shared.ts';

/** Longest IANA time zone name accepted (the longest in tzdata is 32 characters). */
const MAX_TIME_ZONE_LENGTH = 64;

/** Query of both analytics routes: the bucket width and time zone of views_over_time. */
const AnalyticsQuery = Type.Object({
  interval: Type.Optional(Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')], { default: 'hour', description: 'Bucket width of views_over_time (and of likes_over_time and comments_over_time per video).' })),
  time_zone: Type.Optional(Type.String({
    minLength: 1, maxLength: MAX_TIME_ZONE_LENGTH, default: 'UTC',
    description: 'IANA time zone (e.g. `Europe/Paris`) whose local hours and days the buckets of views_over_time (and likes_over_time and comments_over_time per video) follow. Unknown zone → 400 VALIDATION_ERROR.',
  })),
}, { additionalProperties: false });

/** Views and unique viewers per bucket (the bucket a session first qualified as a view in). */
const ViewsOverTime = Type.Object({
  interval: Type.String(),
  time_zone: Type.String({ description: 'The zone the buckets follow: the name asked for, as sent, or as ICU spells it when the two differ only in case (`utc` → `UTC`); a link name comes back as sent (`Asia/Kolkata`, not the `Asia/Calcutta` ICU resolves it to).' }),
  points: Type.Array(Type.Object({
    start: Type.String({ description: 'First instant of the bucket, ISO 8601 UTC (a day in Asia/Kolkata starts at 18:30Z), ascending.' }),
    views: Type.Integer(),
    unique_viewers: Type.Integer(),
  })),
});

/**
 * A series in the buckets of views_over_time (same interval and time zone): `points` of `start`
 * (the bucket's first instant, ISO 8601 UTC, ascending) and the counts `fields`.
 */
const bucketSeries = <T extends TProperties>(fields: T, description: string) => Type.Object({
  interval: Type.String(),
  time_zone: Type.String({ description: 'As in views_over_time.' }),
  points: Type.Array(Type.Object({
    start: Type.String({ description: 'First instant of the bucket, ISO 8601 UTC, ascending (the buckets of views_over_time).' }),
    ...fields,
  })),
}, { description });

export const videoAnalyticsSchema = {
  summary: 'Creator analytics of a video (owner only; view rule v2, docs/view-rule.md)',
  description: 'The four original figures (views, unique_viewers, watch_time_seconds, views_per_minute) and, beside them, the studio figures of issue 15: '
    + 'sessions, average view duration, the retention curve, concurrent viewers (live and per minute), views over time in the `interval` and `time_zone` asked for, '
    + 'the quality of experience the players reported, likes and comments over time in the same buckets, and the engagement rate.',
  tags: ['analytics'],
  security: BEARER,
  params: VideoIdParams,
  querystring: AnalyticsQuery,
  response: withErrors({
    200: Type.Object({
      views: Type.Integer(),
      unique_viewers: Type.Integer(),
      watch_time_seconds: Type.Number(),
      views_per_minute: Type.Array(
        Type.Object({ minute: Type.String({ description: 'ISO 8601 UTC, minute precision, ascending.' }), views: Type.Integer() }),
      ),
      view_rule_version: Type.String({ description: 'The view rule the figures are counted under (v2; heartbeats recorded before it stay counted under v1).' }),
      sessions: Type.Integer({ description: 'Playback sessions that sent at least one heartbeat.' }),
      average_view_duration_seconds: Type.Number({ description: 'Watch time ÷ views, seconds (0 without views).' }),
      retention: Type.Array(Type.Object({
        position_percent: Type.Integer({ minimum: 0, maximum: 100 }),
        share: Type.Number({ minimum: 0, maximum: 1, description: 'Share of sessions whose watched seconds reached position_percent of the duration.' }),
      }), { description: '101 points (0 … 100 %) over the sessions of known duration; empty without any. Watched seconds are cumulative play time (view rule v2 caps them), so a viewer who seeks counts by how much they watched.' }),
      concurrent_viewers: Type.Object({
        now: Type.Integer({ description: `Sessions with a heartbeat in the last ${CONCURRENT_WINDOW_SECONDS} s.` }),
        window_seconds: Type.Integer(),
        per_minute: Type.Array(Type.Object({
          minute: Type.String({ description: 'ISO 8601 UTC, minute precision, ascending; the last 24 h, minutes without heartbeats left out.' }),
          viewers: Type.Integer({ description: 'Sessions with a heartbeat in that minute.' }),
        })),
      }),
      views_over_time: ViewsOverTime,
      startup_time_ms: Type.Object({
        p50: NullableNumber, p95: NullableNumber, samples: Type.Integer({ description: 'Playback starts reported.' }),
      }, { description: 'Startup time (play request to first frame) of the playback starts players reported, ms: median and 95th percentile by nearest rank; null without starts.' }),
      rebuffer_count: Type.Integer({ description: 'Stalls begun (rebuffer_start reports).' }),
      rebuffer_seconds: Type.Number({ description: 'Time stalled (rebuffer_end reports), seconds.' }),
      rebuffer_ratio: Type.Number({ minimum: 0, maximum: 1, description: 'rebuffer_seconds ÷ (watch_time_seconds + rebuffer_seconds); 0 without stalls.' }),
      renditions_watched: Type.Array(Type.Object({ height: Type.Integer({ description: 'Rendition height, pixels.' }), sessions: Type.Integer() }), {
        description: 'Per rendition, the sessions that played it (starts and switches), ascending height.',
      }),
      playback_errors: Type.Object({
        count: Type.Integer(),
        by_code: Type.Array(Type.Object({ code: Type.String(), errors: Type.Integer(), sessions: Type.Integer() }), { description: 'Most frequent first, at most 20 codes.' }),
      }),
      likes_over_time: bucketSeries({
        likes: Type.Integer({ description: 'Likes given in the bucket.' }),
        unlikes: Type.Integer({ description: 'Likes taken back in the bucket; its net change is likes − unlikes.' }),
      }, 'Likes given and taken back per bucket of the instant they happened; buckets without either are left out.'),
      comments_over_time: bucketSeries({
        comments: Type.Integer({ description: 'Comments posted in the bucket, replies included.' }),
        deleted: Type.Integer({ description: 'Comments deleted in the bucket (counted when deleted, not when posted).' }),
      }, 'Comments posted and deleted per bucket of the instant it happened; buckets without either are left out.'),
      engagement_rate: Type.Number({
        minimum: 0,
        description: '(standing likes + standing comments) ÷ views: standing likes = likes − unlikes and standing comments = posted − deleted over the whole history '
          + '(the video\'s like_count and comment_count), views = `views` (view rule v2). A ratio (0.05 = 5 %), not a percentage; 0 without views; may exceed 1.',
      }),
    }),
  }),
};

export const channelAnalyticsSchema = {
  summary: 'Creator analytics of the caller\'s channel: the figures rolled up over all their videos (view rule v2)',
  description: 'Views, unique viewers (a viewer of several videos counts once), watch time, sessions, average view duration and views over time across every video the caller uploaded, '
    + `whatever its status or visibility, the top ${CHANNEL_TOP_VIDEOS} videos by views, and the subscribers gained and lost, in total and over time (issue 15 "per channel").`,
  tags: ['analytics'],
  security: BEARER,
  querystring: AnalyticsQuery,
  response: withErrors({
    200: Type.Object({
      channel_id: Type.String(),
      videos: Type.Integer({ description: 'Videos the rollup covers.' }),
      views: Type.Integer(),
      unique_viewers: Type.Integer(),
      watch_time_seconds: Type.Number(),
      sessions: Type.Integer(),
      average_view_duration_seconds: Type.Number({ description: 'Watch time ÷ views, seconds (0 without views).' }),
      views_over_time: ViewsOverTime,
      top_videos: Type.Array(Type.Object({
        video_id: Type.String(),
        title: Type.String(),
        views: Type.Integer(),
        watch_time_seconds: Type.Number(),
      }), { description: `At most ${CHANNEL_TOP_VIDEOS} videos with views, most views first (then most watch time).` }),
      subscribers_gained: Type.Integer({ description: 'Subscriptions to the channel over its whole history.' }),
      subscribers_lost: Type.Integer({ description: 'Subscriptions cancelled over its whole history.' }),
      subscribers_over_time: bucketSeries({ gained: Type.Integer(), lost: Type.Integer() }, 'Subscriptions and cancellations per bucket; buckets without either are left out.'),
      view_rule_version: Type.String(),
    }),
  }),
};
