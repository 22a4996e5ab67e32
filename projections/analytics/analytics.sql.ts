/**
 * All analytics SQL, one statement source for every ClickHouse the read model runs on:
 * - `modern` (ClickHouse ≥ 23: chDB in standalone mode, a ClickHouse server in cluster mode):
 *   `DateTime64(3, 'UTC')` timestamps, `LowCardinality`, fsync table settings, and parameters
 *   bound server-side (`{name:Type}`: chDB's queryBind, @clickhouse/client's `query_params`).
 * - `compat-18` (ClickHouse 18.16, the server Debian packages; the tests run it): no server-side
 *   parameters, no DateTime64, no `ADD COLUMN IF NOT EXISTS`, 2-argument `least`. Timestamps are
 *   `Int64` milliseconds since the Unix epoch (`DateTime` has whole seconds only, and view rule v2
 *   needs the exact milliseconds between session start and heartbeat), and the same `{name:Type}`
 *   placeholders are bound as escaped literals on the client (clickhouse-binding.ts).
 * The statements differ only where a dialect function below says so; the view rule lives once.
 * Nothing is interpolated from user input except through the typed placeholders.
 * UInt64/Int64 results may come back as JSON strings (output_format_json_quote_64bit_integers),
 * so callers convert with Number().
 */
import type { HeartbeatRow } from './analytics-store.port.ts';
import { bindStatement, type BoundStatement, type ClickHouseBindMode } from './clickhouse-binding.ts';
import type { AnalyticsInterval } from './analytics.port.ts';
import { playbackSql, type PlaybackSql } from './playback.sql.ts';
import { engagementSql, type EngagementSql } from './engagement.sql.ts';
import {
  assertPosition, clampTimestamp, DIALECTS, finite, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, SELECT_CHECKPOINT, viaBuffer,
  type AnalyticsDialect, type Dialect, type HeartbeatJsonRow,
} from './clickhouse-dialect.ts';
import { CHANNEL_SCOPE, sessionsSql, VIDEO_SCOPE, type SessionsSql } from './sessions.sql.ts';
import { concurrentSql, type ConcurrentSql } from './concurrent.sql.ts';

export { channelParams } from './sessions.sql.ts';

export { ANALYTICS_DIALECTS, type AnalyticsDialect, type HeartbeatJsonRow } from './clickhouse-dialect.ts';

/** Database of the live analytics read model; replay instances use `streamwave_replay_<ts>`. */
export const ANALYTICS_DATABASE = 'streamwave';

/** ClickHouse identifiers we accept as a database name (no quoting needed, nothing user-supplied). */
const DATABASE_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** True when `database` is a bare ClickHouse identifier `analyticsSql` accepts. */
export const isAnalyticsDatabaseName = (database: string): boolean => DATABASE_NAME.test(database);


/** The analytics statements of one database (every statement names tables of `<database>`). */
export interface AnalyticsSql {
  dialect: AnalyticsDialect;
  /** How this dialect binds the `{name:Type}` placeholders of the select statements. */
  bindMode: ClickHouseBindMode;
  database: string;
  /** The table inserts go to: `<database>.view_heartbeats`, or its buffer when `buffered`. */
  heartbeatsTable: string;
  createDatabase: string;
  createHeartbeatsTable: string;
  /**
   * With `buffered` (see analyticsSql), the statements that (re)create the in-memory Buffer tables
   * in front of view_heartbeats, of the three tables its materialized views write
   * (video_sessions, concurrent_heartbeats, concurrent_minutes) and of playback_events, to run after every table is
   * created and before the views, in order (the views are dropped first, then the buffers, which
   * flushes them, so they always have the tables' current columns); and the statements that flush
   * them, to run in order, stopping at the first that fails: the views' tables first, the
   * heartbeats after them (the crash-safety argument of CREATE_BUFFER_TABLE), the playback
   * events' last; and the buffers the store inserts into (the heartbeats' and the playback
   * events'). Null without `buffered`.
   */
  buffer: { create: string[]; flush: string[]; inserts: string[] } | null;
  /**
   * Adds `session_started_at` (view rule v2) to a table created before it, as a nullable column
   * defaulting to NULL: a metadata-only ALTER, so a read model written by the previous version
   * keeps serving (its rows judged by v1) while a shadow replay rebuilds it.
   */
  addSessionStartedAtColumn: string | null;
  selectCheckpoint: string;
  /**
   * One video's sessions summed up in one pass, one row (issue 15 freshness: one statement where
   * there were three; a read's statements run one after the other on chDB's read session):
   * `views`, `unique_viewers`, `watch_time_seconds` (seconds), `sessions`; `reach` =
   * [percentages, sessions], the sessions per percentage of the duration their effective watched
   * seconds reached (0…100, -1 when the duration is unknown: the retention curve); `per_minute` =
   * [minute_s, views], the views per UTC minute a session first qualified in (Unix seconds). Both
   * pairs are sumMap's (keys ascending, sums). Params: video_id (see videoParams).
   */
  selectSessionSummary: string;
  /** The concurrent-viewers tables and their views (issue 15; concurrent.sql.ts). */
  concurrent: ConcurrentSql;
  /** Views and unique viewers per bucket of the interval, `bucket_s` Unix seconds. Params: video_id + time_zone (IANA). */
  selectViewsOverTime: Record<AnalyticsInterval, string>;
  /** The sessions aggregated incrementally by a materialized view (issue 15 freshness; sessions.sql.ts). */
  videoSessions: SessionsSql;
  /** The playback-events table (issue 15, quality of experience) of this database. */
  playback: PlaybackSql;
  /**
   * The per-channel rollup (issue 15): the same figures over the sessions of a set of videos,
   * param `video_ids_hex` (the videos' ids, each hex-encoded, joined by commas; never empty: an
   * empty set would match the skip markers' '' id; see channelParams).
   * `selectTotals` as selectVideoTotals; `selectPerVideo` the sessions, views and watched
   * seconds per video id; `selectViewsOverTime` as selectViewsOverTime (+ time_zone).
   */
  channel: { selectTotals: string; selectPerVideo: string; selectViewsOverTime: Record<AnalyticsInterval, string> };
  /** The engagement-events table (issue 15, likes and comments over time) of this database. */
  engagement: EngagementSql;
  /** `statement` with `params` bound the way this dialect binds them (server-side or literals). @throws TypeError on a missing or ill-typed parameter */
  bind(statement: string, params?: Record<string, string | number>): BoundStatement;
  /**
   * `row` as this dialect's JSONEachRow input. Numbers that are not finite become 0; timestamps
   * are clamped to DateTime64's range (1900-01-01 … 2299-12-31 UTC) so one bad clock cannot
   * stall the projection; a session start that is not finite or outside that range is no start
   * (the heartbeat is judged by view rule v1), in both dialects alike.
   * @throws RangeError when partition or offset is not a non-negative safe integer (that is a bug upstream, not data)
   */
  toJsonRow(row: HeartbeatRow): HeartbeatJsonRow;
}

/** The parameters of selectSessionSummary for one video. */
export function videoParams(videoId: string): Record<string, string | number> {
  return { video_id: videoId };
}

/**
 * The statements below in `dialect` (default `modern`), retargeted at `database` (default
 * `streamwave`), so a replay instance of the read model can live in its own database next to the
 * live one (libchdb binds one data directory per process, so a second directory is not an option).
 * @throws RangeError when `database` is not a bare identifier (see isAnalyticsDatabaseName) or
 *         `dialect` is unknown.
 */
export function analyticsSql(database: string = ANALYTICS_DATABASE, dialect: AnalyticsDialect = 'modern', options: { buffered?: boolean } = {}): AnalyticsSql {
  if (!isAnalyticsDatabaseName(database)) throw new RangeError(`illegal analytics database name "${database}"`);
  const d = DIALECTS[dialect];
  if (!d) throw new RangeError(`unknown analytics SQL dialect "${String(dialect)}"`);
  const table = `${database}.view_heartbeats`;
  const buffered = options.buffered ?? false;
  // Inserts, the checkpoint and the queries all go through the buffer when there is one: a Buffer
  // table reads its own rows and its destination's, so what was inserted is visible at once.
  const { target: source, buffers: heartbeatsBuffers } = viaBuffer(table, buffered);
  const videoSessions = sessionsSql(d, database, source, table, buffered);
  const concurrent = concurrentSql(d, database, source, table, buffered);
  const playback = playbackSql(d, database, buffered);
  // The buffers in the order they are flushed: the views' tables' before the heartbeats'; the
  // playback events' (no views) last.
  const buffers = [...videoSessions.buffers, ...concurrent.buffers, ...heartbeatsBuffers, ...playback.buffers];
  const sessions = videoSessions.sessions(VIDEO_SCOPE);
  const channelSessions = videoSessions.sessions(CHANNEL_SCOPE);
  return {
    dialect,
    bindMode: d.bindMode,
    database,
    heartbeatsTable: source,
    createDatabase: `CREATE DATABASE IF NOT EXISTS ${database}`,
    createHeartbeatsTable: CREATE_HEARTBEATS_TABLE(d, table),
    // The views read the heartbeats' buffer and write the others: dropped before them, made again after them (setup).
    buffer: buffered ? {
      create: [
        videoSessions.dropView, ...concurrent.dropViews,
        ...buffers.map((b) => `DROP TABLE IF EXISTS ${b.buffer}`),
        ...buffers.map((b) => CREATE_BUFFER_TABLE(b.buffer, b.table)),
      ],
      flush: buffers.map((b) => `OPTIMIZE TABLE ${b.buffer}`),
      inserts: [...heartbeatsBuffers, ...playback.buffers].map((b) => b.buffer),
    } : null,
    videoSessions,
    addSessionStartedAtColumn: d.addColumnIfNotExists ? `
ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS session_started_at Nullable(${d.timestamp}) DEFAULT NULL` : null,
    selectCheckpoint: SELECT_CHECKPOINT(source),
    selectSessionSummary: SELECT_SESSION_SUMMARY(d, sessions),
    concurrent,
    selectViewsOverTime: {
      minute: SELECT_VIEWS_OVER_TIME(d.bucketSeconds('minute', 'counted_at'), sessions),
      hour: SELECT_VIEWS_OVER_TIME(d.bucketSeconds('hour', 'counted_at'), sessions),
      day: SELECT_VIEWS_OVER_TIME(d.bucketSeconds('day', 'counted_at'), sessions),
    },
    playback,
    channel: {
      selectTotals: SELECT_VIDEO_TOTALS(channelSessions),
      selectPerVideo: SELECT_PER_VIDEO(channelSessions),
      selectViewsOverTime: {
        minute: SELECT_VIEWS_OVER_TIME(d.bucketSeconds('minute', 'counted_at'), channelSessions),
        hour: SELECT_VIEWS_OVER_TIME(d.bucketSeconds('hour', 'counted_at'), channelSessions),
        day: SELECT_VIEWS_OVER_TIME(d.bucketSeconds('day', 'counted_at'), channelSessions),
      },
    },
    engagement: engagementSql(d, database),
    bind: (statement, params = {}) => bindStatement(statement, params, d.bindMode),
    toJsonRow: (row) => toJsonRow(d, row),
  };
}


function toJsonRow(d: Dialect, r: HeartbeatRow): HeartbeatJsonRow {
  assertPosition('partition', r.partition);
  assertPosition('offset', r.offset);
  const viewedAt = clampTimestamp(r.viewed_at);
  const started = r.session_started_at;
  const usableStart = typeof started === 'number' && Number.isFinite(started) && started >= MIN_TIMESTAMP_MS && started <= MAX_TIMESTAMP_MS;
  return {
    video_id: r.video_id,
    session_id: r.session_id,
    viewer_id: r.viewer_id,
    watched_seconds: finite(r.watched_seconds),
    video_duration_seconds: finite(r.video_duration_seconds),
    viewed_at: d.encodeTimestamp(viewedAt),
    session_started_at: usableStart ? d.encodeTimestamp(started) : null,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
  };
}

/**
 * Raw heartbeats, one row per consumed record. ReplacingMergeTree over a key that contains the log
 * position (topic, partition, offset): a redelivered record collapses into the same row. video_id
 * and session_id lead the key so per-video queries read one key range; they are functions of the
 * record, so the key still identifies exactly one record.
 */
const CREATE_HEARTBEATS_TABLE = (d: Dialect, table: string) => `
CREATE TABLE IF NOT EXISTS ${table} (
  video_id String,
  session_id String,
  viewer_id String,
  watched_seconds Float64,
  video_duration_seconds Float64,
  viewed_at ${d.timestamp},
  topic ${d.topic},
  partition UInt32,
  offset UInt64,
  session_started_at Nullable(${d.timestamp}) DEFAULT NULL
) ENGINE = ReplacingMergeTree
ORDER BY (video_id, session_id, topic, partition, offset)${d.tableSettings}`;

/**
 * An in-memory Buffer table `buffer` in front of `table` (ClickHouse's Buffer engine): in front of
 * view_heartbeats, of the three tables its materialized views write (video_sessions,
 * concurrent_heartbeats, concurrent_minutes) and of playback_events (playback.sql.ts: why that
 * one is crash-safe). Inserts land in RAM and reach the table as one part
 * when the store flushes it (`buffer.flush`; the chDB store does so every 5 s while rows arrive,
 * before the rows since the last flush reach BUFFER_FLUSH_AT, and on close), or on its own at
 * 1,000,000 rows or 100 MB (inside the insert that reaches them); its time thresholds (a day)
 * keep it from flushing in the background, which could hide rows from a concurrent query (see
 * chdb-analytics-store.adapter.ts). A MergeTree insert writes, fsyncs and later merges a new
 * part: about 15 ms of CPU each. Unbuffered, one insert of heartbeats wrote four parts (the table
 * and the three views' tables): 47 ms a mean insert on chDB's one session in the freshness
 * benchmark over 12 videos, a third of that session's time, where playback events and the
 * creators' reads wait their turn.
 *
 * Crash safety holds because the checkpoint is read from the same rows (SELECT_CHECKPOINT through
 * the buffer): heartbeats lost with the process take their offsets with them, and the projection
 * re-applies them from the log, as a Kafka Streams store is restored from its changelog. That
 * needs the heartbeats' flushes in offset order: ONE layer (several layers take inserts at random
 * and flush independently), and every insert below max_rows and max_bytes (a bigger one would
 * bypass the buffer and could reach the table before older buffered rows; an insert carries at
 * most INSERT_GROUP_MAX_ROWS = 100,000 rows (sql-analytics-store.ts: the projection's batches of
 * 10,000, gathered across partitions), about 30 MB at the largest heartbeat row, about 300 bytes
 * with a 128-character session id: a third of max_bytes). And it needs the views' tables never
 * behind the heartbeats kept: their buffers are flushed first, so a crash between two flushes
 * leaves them ahead, which is harmless (their states are maxima, minima and distinct counts: a
 * re-applied heartbeat changes nothing), and the store flushes all of them before any buffer can
 * reach its own thresholds (BUFFER_FLUSH_AT).
 */
const CREATE_BUFFER_TABLE = (buffer: string, table: string) => {
  const [database, name] = table.split('.');
  return `
CREATE TABLE ${buffer} AS ${table}
ENGINE = Buffer(${database}, ${name}, 1, 86400, 86400, ${BUFFER_MAX_ROWS}, ${BUFFER_MAX_ROWS}, ${BUFFER_MAX_BYTES}, ${BUFFER_MAX_BYTES})`;
};

/** A Buffer table flushes itself at this many rows (see CREATE_BUFFER_TABLE). */
const BUFFER_MAX_ROWS = 1_000_000;
/** A Buffer table flushes itself at this many bytes (see CREATE_BUFFER_TABLE). */
const BUFFER_MAX_BYTES = 100_000_000;
/**
 * The chDB store flushes its buffers itself before an insert into a buffer when the rows or the
 * JSON bytes inserted into them since the last flush reach these (half the buffers' own
 * thresholds): with one insert's at most INSERT_GROUP_MAX_ROWS rows and about 30 MB on top, no
 * buffer ever reaches its threshold and flushes itself, out of the order CREATE_BUFFER_TABLE needs
 * (a view's rows are at most as many as the heartbeats', each smaller than a heartbeat's JSON).
 */
export const BUFFER_FLUSH_AT = { rows: BUFFER_MAX_ROWS / 2, bytes: BUFFER_MAX_BYTES / 2 };


/** The viewer a session counts as for unique viewers: its viewer's pseudonym, or the session itself when anonymous. */
const VIEWER_KEY = "if(viewer != '', concat('u:', viewer), concat('s:', session_id))";

/** Sessions, views and watched seconds per video of a channel's sessions. */
const SELECT_PER_VIDEO = (sessions: string) => `
SELECT video_id, count() AS sessions, countIf(counted) AS views, sum(max_watched) AS watch_time_seconds
FROM (${sessions})
GROUP BY video_id`;

/** views, unique_viewers and watch_time_seconds over a subquery of sessions (columns of SessionsSql.sessions). */
const TOTALS_COLUMNS = `
  countIf(counted) AS views,
  uniqExactIf(${VIEWER_KEY}, counted) AS unique_viewers,
  sum(max_watched) AS watch_time_seconds`;

/** The totals of a channel's sessions (one video's come with selectSessionSummary). */
const SELECT_VIDEO_TOTALS = (sessions: string) => `
SELECT${TOTALS_COLUMNS}
FROM (${sessions})`;

/**
 * See AnalyticsSql.selectSessionSummary. The percentage reached is floored; the tiny epsilon keeps
 * 0.29 × 100 (28.999…) at 29. sumMap and sumMapIf exist in ClickHouse 18.16 as in 26.x, and both
 * print a tuple as a JSON array.
 */
const SELECT_SESSION_SUMMARY = (d: Dialect, sessions: string) => `
SELECT${TOTALS_COLUMNS},
  count() AS sessions,
  sumMap([if(duration > 0, toInt32(floor(least(1., max_watched / duration) * 100 + 0.000001)), toInt32(-1))], [toUInt64(1)]) AS reach,
  sumMapIf([${d.minuteSeconds('counted_at')}], [toUInt64(1)], counted) AS per_minute
FROM (${sessions})`;

/** Views and unique viewers (as SELECT_SESSION_SUMMARY counts them) per bucket of the instant a session first qualified. */
const SELECT_VIEWS_OVER_TIME = (bucket: string, sessions: string) => `
SELECT ${bucket} AS bucket_s, count() AS views,
  uniqExact(${VIEWER_KEY}) AS unique_viewers
FROM (${sessions})
WHERE counted
GROUP BY bucket_s
ORDER BY bucket_s`;
