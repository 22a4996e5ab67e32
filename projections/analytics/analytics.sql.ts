/**
 * All analytics SQL, written for ClickHouse ≥ 23 so the same statements run on chDB (standalone)
 * and on a ClickHouse server (cluster mode, @clickhouse/client with `query_params`). Parameters use
 * ClickHouse's server-side `{name:Type}` binding; nothing is interpolated from user input.
 * UInt64 results may come back as JSON strings on a server (output_format_json_quote_64bit_integers),
 * so callers convert with Number().
 */
import { MAX_PLAYBACK_RATE, MIN_VIEW_SECONDS, SESSION_SLACK_SECONDS, WHOLE_VIDEO_TOLERANCE_SECONDS } from '../../domain/view/view-rule.ts';

/** Database of the live analytics read model; replay instances use `streamwave_replay_<ts>`. */
export const ANALYTICS_DATABASE = 'streamwave';

/** ClickHouse identifiers we accept as a database name (no quoting needed, nothing user-supplied). */
const DATABASE_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** True when `database` is a bare ClickHouse identifier `analyticsSql` accepts. */
export const isAnalyticsDatabaseName = (database: string): boolean => DATABASE_NAME.test(database);

/** The analytics statements of one database (every statement names `<database>.view_heartbeats`). */
export interface AnalyticsSql {
  database: string;
  /** `<database>.view_heartbeats`, for inserts. */
  heartbeatsTable: string;
  createDatabase: string;
  createHeartbeatsTable: string;
  /**
   * Adds `session_started_at` (view rule v2) to a table created before it, as a nullable column
   * defaulting to NULL: a metadata-only ALTER, so a read model written by the previous version
   * keeps serving (its rows judged by v1) while a shadow replay rebuilds it.
   */
  addSessionStartedAtColumn: string;
  selectCheckpoint: string;
  selectVideoTotals: string;
  selectViewsPerMinute: string;
}

/**
 * The statements below retargeted at `database` (default `streamwave`), so a replay instance of the
 * read model can live in its own database next to the live one (libchdb binds one data directory
 * per process, so a second directory is not an option).
 * @throws RangeError when `database` is not a bare identifier (see isAnalyticsDatabaseName).
 */
export function analyticsSql(database: string = ANALYTICS_DATABASE): AnalyticsSql {
  if (!isAnalyticsDatabaseName(database)) throw new RangeError(`illegal analytics database name "${database}"`);
  const table = `${database}.view_heartbeats`;
  const at = (sql: string) => sql.replaceAll(TABLE, table);
  return {
    database,
    heartbeatsTable: table,
    createDatabase: `CREATE DATABASE IF NOT EXISTS ${database}`,
    createHeartbeatsTable: at(CREATE_HEARTBEATS_TABLE),
    addSessionStartedAtColumn: at(ADD_SESSION_STARTED_AT),
    selectCheckpoint: at(SELECT_CHECKPOINT),
    selectVideoTotals: at(SELECT_VIDEO_TOTALS),
    selectViewsPerMinute: at(SELECT_VIEWS_PER_MINUTE),
  };
}

/** Placeholder the templates below carry for `<database>.view_heartbeats`. */
const TABLE = '{{heartbeats_table}}';

/**
 * Raw heartbeats, one row per consumed record. ReplacingMergeTree over a key that contains the log
 * position (topic, partition, offset): a redelivered record collapses into the same row. video_id
 * and session_id lead the key so per-video queries read one key range; they are functions of the
 * record, so the key still identifies exactly one record. fsync settings make an acknowledged
 * insert survive a machine crash, not just a process crash.
 */
const CREATE_HEARTBEATS_TABLE = `
CREATE TABLE IF NOT EXISTS ${TABLE} (
  video_id String,
  session_id String,
  viewer_id String,
  watched_seconds Float64,
  video_duration_seconds Float64,
  viewed_at DateTime64(3, 'UTC'),
  topic LowCardinality(String),
  partition UInt32,
  offset UInt64,
  session_started_at Nullable(DateTime64(3, 'UTC')) DEFAULT NULL
) ENGINE = ReplacingMergeTree
ORDER BY (video_id, session_id, topic, partition, offset)
SETTINGS fsync_after_insert = 1, fsync_part_directory = 1`;

/** See AnalyticsSql.addSessionStartedAtColumn; a no-op on a table that has the column. */
const ADD_SESSION_STARTED_AT = `
ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS session_started_at Nullable(DateTime64(3, 'UTC')) DEFAULT NULL`;

/** Checkpoint derived from the data: next offset per partition. */
const SELECT_CHECKPOINT = `
SELECT topic, partition, max(offset) + 1 AS next_offset
FROM ${TABLE}
GROUP BY topic, partition`;

/** Parameters every view-rule query takes; values come from domain/view/view-rule.ts. */
export const VIEW_RULE_PARAMS = {
  min_view_seconds: MIN_VIEW_SECONDS,
  whole_tolerance_seconds: WHOLE_VIDEO_TOLERANCE_SECONDS,
  max_playback_rate: MAX_PLAYBACK_RATE,
  session_slack_seconds: SESSION_SLACK_SECONDS,
};

/**
 * One row per session of a video (view rule v2, docs/view-rule.md; view-rule.ts
 * effectiveWatchedSeconds and heartbeatQualifies say the same in TypeScript):
 * - effective watched = greatest(0, watched) when session_started_at is NULL (v1 history), else
 *   least(greatest(0, watched), duration when > 0, rate × greatest(0, viewed_at − session_started_at) s + slack);
 *   the elapsed time is exact milliseconds divided by 1000 as a Float64, as in JS.
 * - a heartbeat qualifies when effective > 0 and effective ≥ threshold(duration), threshold =
 *   duration − tolerance (≥ 0) for 0 < duration < min_view_seconds, else min_view_seconds.
 */
const SESSIONS = `
SELECT
  session_id,
  max(watched) AS max_watched,
  countIf(qualifies) > 0 AS counted,
  minIf(viewed_at, qualifies) AS counted_at,
  minIf(viewer_id, viewer_id != '') AS viewer
FROM (
  SELECT
    session_id, viewer_id, viewed_at, watched,
    watched > 0 AND watched >= if(
      video_duration_seconds > 0 AND video_duration_seconds < {min_view_seconds:Float64},
      greatest(0, video_duration_seconds - {whole_tolerance_seconds:Float64}),
      {min_view_seconds:Float64}) AS qualifies
  FROM (
    SELECT
      session_id, viewer_id, viewed_at, video_duration_seconds,
      if(isNull(session_started_at),
        greatest(0, watched_seconds),
        least(
          greatest(0, watched_seconds),
          if(video_duration_seconds > 0, video_duration_seconds, inf),
          {max_playback_rate:Float64} * (toFloat64(greatest(0, toUnixTimestamp64Milli(viewed_at) - toUnixTimestamp64Milli(assumeNotNull(session_started_at)))) / 1000)
            + {session_slack_seconds:Float64})) AS watched
    FROM ${TABLE}
    WHERE video_id = {video_id:String}
  )
)
GROUP BY session_id`;

/** views, unique_viewers, watch_time_seconds of one video. Params: video_id + VIEW_RULE_PARAMS. */
const SELECT_VIDEO_TOTALS = `
SELECT
  countIf(counted) AS views,
  uniqExactIf(if(viewer != '', concat('u:', viewer), concat('s:', session_id)), counted) AS unique_viewers,
  sum(max_watched) AS watch_time_seconds
FROM (${SESSIONS})`;

/** Views per UTC minute (the minute a session first qualified), ascending; minute as Unix seconds. */
const SELECT_VIEWS_PER_MINUTE = `
SELECT toUnixTimestamp(toStartOfMinute(counted_at)) AS minute_s, count() AS views
FROM (${SESSIONS})
WHERE counted
GROUP BY minute_s
ORDER BY minute_s`;
