/**
 * Playback sessions aggregated incrementally (issue 15 freshness: "materialized views or
 * incremental aggregation, not a re-scan per request"). A materialized view turns every insert of
 * heartbeats into one row per (video, session) of idempotent aggregate states in an
 * AggregatingMergeTree, `video_sessions`: the greatest effective watched seconds, whether any
 * heartbeat qualified as a view, the first instant one did, the viewer and the duration. Every
 * state is a max or a min, so a redelivered heartbeat (the log is at-least-once) changes nothing,
 * and merges collapse a session's rows. The per-video and per-channel figures read these states
 * (`-Merge`) instead of aggregating every raw heartbeat on each request.
 *
 * The view rule (docs/view-rule.md, domain/view/view-rule.ts) is applied when a heartbeat is
 * inserted, so its constants are part of the view's text (bound as literals): a rule change is a
 * new content version of the read model and a rebuild by replay, as for any projection logic.
 *
 * Where inserts go through a Buffer table (chDB, analytics.sql.ts), the view reads the Buffer's
 * inserts, so a heartbeat is in its session's state as soon as its insert returns, and writes
 * into a Buffer of its own in front of video_sessions (`buffered`), which the reads read: the
 * store flushes it BEFORE the heartbeats' buffer, so the states are never behind the heartbeats
 * that a crash could keep (the checkpoint comes from the heartbeats); states ahead of them are
 * harmless, since re-applied heartbeats change no max or min.
 */
import { bindStatement } from './clickhouse-binding.ts';
import { hexIdList, idsIn, oneOffBackfill, viaBuffer, type BufferedTable, type Dialect, type OneOffBackfill } from './clickhouse-dialect.ts';
import { MAX_PLAYBACK_RATE, MIN_VIEW_SECONDS, SESSION_SLACK_SECONDS, WHOLE_VIDEO_TOLERANCE_SECONDS } from '../../domain/view/view-rule.ts';

/** Parameters of the view rule; values come from domain/view/view-rule.ts. */
export const VIEW_RULE_PARAMS = {
  min_view_seconds: MIN_VIEW_SECONDS,
  whole_tolerance_seconds: WHOLE_VIDEO_TOLERANCE_SECONDS,
  max_playback_rate: MAX_PLAYBACK_RATE,
  session_slack_seconds: SESSION_SLACK_SECONDS,
};

/**
 * Which sessions a read takes and what its rows are keyed by: one video's (`session_id`; param
 * video_id), or a set of videos' (`video_id, session_id`; param video_ids_hex).
 */
export interface SessionScope {
  /** The WHERE condition over video_sessions; its params are the scope's. */
  where: string;
  /** The GROUP BY key, also selected. */
  key: string;
}

/** One video's sessions. Param: video_id. */
export const VIDEO_SCOPE: SessionScope = { where: 'video_id = {video_id:String}', key: 'session_id' };

/**
 * The sessions of a set of videos, keyed by (video, session). The ids travel as one String
 * parameter (hexIdList, clickhouse-dialect.ts). Param: video_ids_hex (see channelParams).
 */
export const CHANNEL_SCOPE: SessionScope = { where: `video_id IN ${idsIn('video_ids_hex')}`, key: 'video_id, session_id' };

/** The parameters of the channel statements for the videos `videoIds` (at least one). @throws RangeError on an empty list */
export function channelParams(videoIds: readonly string[]): Record<string, string | number> {
  if (!videoIds.length) throw new RangeError('a channel rollup needs at least one video id');
  return { video_ids_hex: hexIdList(videoIds) };
}

/** The statements of video_sessions in one database. */
export interface SessionsSql {
  /** `<database>.video_sessions`. */
  table: string;
  /** With `buffered`, video_sessions and its Buffer (what the view writes and the reads read); else empty. */
  buffers: BufferedTable[];
  createTable: string;
  /**
   * The materialized view from the heartbeats' insert table into video_sessions (`IF NOT
   * EXISTS`). On chDB the Buffer it reads is re-created on every open, so analytics.sql.ts drops
   * the view (`dropView`) before the Buffer and this makes it again after it.
   */
  createView: string;
  dropView: string;
  /**
   * Aggregates every stored heartbeat into video_sessions, once per database (a read model written
   * before the view); harmless to run twice, or beside the view: the states are idempotent.
   */
  backfill: OneOffBackfill;
  /** One row per session of `scope` (columns: the scope's key, max_watched, counted, counted_at, viewer, duration). */
  sessions(scope: SessionScope): string;
}

/**
 * The SessionsSql of `database` in dialect `d`, whose view reads the inserts into `insertTable`
 * (view_heartbeats or its Buffer) and whose backfill reads `heartbeatsTable`; with `buffered` the
 * view writes into, and the reads read, `buffer` (created by analytics.sql.ts).
 */
export function sessionsSql(d: Dialect, database: string, insertTable: string, heartbeatsTable: string, buffered = false): SessionsSql {
  const table = `${database}.video_sessions`;
  const { target, buffers } = viaBuffer(table, buffered);
  const view = `${database}.video_sessions_mv`;
  const states = (from: string) => bindStatement(SESSION_STATES(d, from), VIEW_RULE_PARAMS, 'literal').query;
  return {
    table,
    buffers,
    createTable: `
CREATE TABLE IF NOT EXISTS ${table} (
  video_id String,
  session_id String,
  s_max_watched AggregateFunction(max, Float64),
  s_counted AggregateFunction(max, UInt8),
  s_counted_at AggregateFunction(minIf, ${d.timestamp}, UInt8),
  s_viewer AggregateFunction(minIf, String, UInt8),
  s_duration AggregateFunction(max, Float64)
) ENGINE = AggregatingMergeTree
ORDER BY (video_id, session_id)${d.tableSettings}`,
    createView: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${view} TO ${target} AS${states(insertTable)}`,
    dropView: `DROP TABLE IF EXISTS ${view}`,
    backfill: oneOffBackfill(database, 'video_sessions', table, [`INSERT INTO ${table}${states(heartbeatsTable)}`]),
    sessions: (scope) => `
SELECT
  ${scope.key},
  maxMerge(s_max_watched) AS max_watched,
  maxMerge(s_counted) = 1 AS counted,
  minIfMerge(s_counted_at) AS counted_at,
  minIfMerge(s_viewer) AS viewer,
  maxMerge(s_duration) AS duration
FROM ${target}
WHERE ${scope.where}
GROUP BY ${scope.key}`,
  };
}

/**
 * The states of the heartbeats in `table` per (video, session), under the view rule (v2; v1 for
 * heartbeats without a session start; view-rule.ts effectiveWatchedSeconds and heartbeatQualifies
 * say the same in TypeScript):
 * - effective watched = greatest(0, watched) when session_started_at is NULL (v1 history), else
 *   least(greatest(0, watched), duration when > 0, rate × greatest(0, viewed_at − session_started_at) s + slack);
 *   the elapsed time is exact milliseconds divided by 1000 as a Float64, as in JS. (`least` nests:
 *   18.16's takes two arguments.)
 * One level, the per-heartbeat values as aliases inside the states: ClickHouse 18.16 pushing an
 * insert through a view with nested subqueries lost the inner aliases ("Unknown identifier").
 * - a heartbeat qualifies when effective > 0 and effective ≥ threshold(duration), threshold =
 *   duration − tolerance (≥ 0) for 0 < duration < min_view_seconds, else min_view_seconds.
 */
const SESSION_STATES = (d: Dialect, table: string) => `
SELECT
  video_id,
  session_id,
  maxState(toFloat64(if(isNull(session_started_at),
    greatest(0, watched_seconds),
    least(least(
      greatest(0, watched_seconds),
      if(video_duration_seconds > 0, video_duration_seconds, inf)),
      {max_playback_rate:Float64} * (toFloat64(greatest(0, ${d.epochMs('viewed_at')} - ${d.epochMs('assumeNotNull(session_started_at)')})) / 1000)
        + {session_slack_seconds:Float64}))) AS watched) AS s_max_watched,
  maxState(toUInt8(watched > 0 AND watched >= if(
    video_duration_seconds > 0 AND video_duration_seconds < {min_view_seconds:Float64},
    greatest(0, video_duration_seconds - {whole_tolerance_seconds:Float64}),
    {min_view_seconds:Float64})) AS qualifies) AS s_counted,
  minIfState(viewed_at, qualifies) AS s_counted_at,
  minIfState(viewer_id, viewer_id != '') AS s_viewer,
  maxState(video_duration_seconds) AS s_duration
FROM ${table}
GROUP BY video_id, session_id`;
