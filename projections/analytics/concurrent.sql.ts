/**
 * Concurrent viewers (issue 15) without reading every heartbeat a video ever had: two tables fed
 * by materialized views from the heartbeats' insert table (view_heartbeats, or its Buffer on
 * chDB, as video_sessions is; sessions.sql.ts):
 * - `concurrent_heartbeats`: (video, session, time) ordered by (video_id, viewed_at), so "now"
 *   (the last 30 s) reads 30 s of rows, not all time, as the heartbeats table ordered by session
 *   would (a ReplacingMergeTree: merges drop the copies of a redelivered heartbeat). It keeps
 *   every heartbeat, as view_heartbeats does: 18.16 has no TTL (a modern server could expire it
 *   after a day);
 * - `concurrent_minutes`: per video and UTC minute, a `uniqExact` state of the sessions with a
 *   heartbeat in it (AggregatingMergeTree), so "per minute over the day" merges at most 1,440
 *   states.
 * Both are duplicate-insensitive (a distinct count of sessions), so a redelivered heartbeat
 * changes nothing, and so is a heartbeat re-applied after a crash whose rows were flushed from
 * these tables' Buffers (`buffered`, chDB: flushed before the heartbeats', see sessions.sql.ts).
 * The per-minute read stays exact at the window's edges: the minutes wholly inside (since, now]
 * come from the states, the partial first and last minutes from concurrent_heartbeats (see
 * concurrentParams).
 */
import { oneOffBackfill, viaBuffer, type BufferedTable, type Dialect, type OneOffBackfill } from './clickhouse-dialect.ts';

/** The concurrent-viewers statements of one database. */
export interface ConcurrentSql {
  /** CREATE TABLE IF NOT EXISTS of the two tables. */
  createTables: string[];
  /** With `buffered`, the two tables and their Buffers (`<table>_buffer`, what the views write and the reads read); else empty. */
  buffers: BufferedTable[];
  /** The two materialized views (`IF NOT EXISTS`), after the tables and the Buffer. */
  createViews: string[];
  /** Drops the two views (chDB re-creates the Buffer they read on every open: dropped before it). */
  dropViews: string[];
  /** Both tables from every stored heartbeat, once per database (harmless beside the views: distinct counts). */
  backfill: OneOffBackfill;
  /** Distinct sessions with a heartbeat in (since_ms, now_ms]. Params: video_id, since_ms, now_ms. */
  selectNow: string;
  /**
   * Distinct sessions with a heartbeat per UTC minute in (since_ms, now_ms], `minute_s` Unix
   * seconds, ascending. Params: those of concurrentParams plus video_id.
   */
  selectPerMinute: string;
}

/**
 * The parameters of selectNow and selectPerMinute for (since_ms, now_ms] (ms since the epoch):
 * the whole minutes inside it are [full_from_ms, full_to_ms) (minute starts; in seconds too,
 * `full_from_s` and `full_to_s`, as the minute states are keyed); the rest of the
 * window, (since_ms, full_from_ms) and [full_to_ms, now_ms], is read from single heartbeats.
 */
export function concurrentParams(videoId: string, sinceMs: number, nowMs: number): Record<string, string | number> {
  const since = Math.trunc(sinceMs);
  const now = Math.trunc(nowMs);
  const fullFrom = (Math.floor(since / 60_000) + 1) * 60_000; // first minute starting after `since`
  // The minute `now` falls in is whole only when `now` is its last millisecond.
  const fullTo = Math.max(fullFrom, (Math.floor(now / 60_000) + ((now + 1) % 60_000 === 0 ? 1 : 0)) * 60_000);
  return { video_id: videoId, since_ms: since, now_ms: now, full_from_ms: fullFrom, full_to_ms: fullTo, full_from_s: fullFrom / 1000, full_to_s: fullTo / 1000 };
}

/**
 * The ConcurrentSql of `database` in dialect `d`, whose views read the inserts into `insertTable`
 * and whose backfill reads `heartbeatsTable`; with `buffered` the views write into, and the reads
 * read, the tables' Buffers (created by analytics.sql.ts).
 */
export function concurrentSql(d: Dialect, database: string, insertTable: string, heartbeatsTable: string, buffered = false): ConcurrentSql {
  const recentTable = `${database}.concurrent_heartbeats`;
  const minutesTable = `${database}.concurrent_minutes`;
  const { target: recent, buffers: recentBuffers } = viaBuffer(recentTable, buffered);
  const { target: minutes, buffers: minutesBuffers } = viaBuffer(minutesTable, buffered);
  const t = d.epochMs('viewed_at');
  // Unix seconds of the UTC minute, from the ms in both dialects (modern's toStartOfMinute is a
  // UInt32 DateTime: no minute before 1970 or after 2106, and the states decide what is read).
  const minute = `toInt64(floor(${t} / 60000)) * 60`;
  const recentRows = (from: string) => `
SELECT video_id, session_id, viewed_at FROM ${from} WHERE video_id != ''`;
  const minuteStates = (from: string) => `
SELECT video_id, ${minute} AS minute_s, uniqExactState(session_id) AS s_sessions
FROM ${from}
WHERE video_id != ''
GROUP BY video_id, minute_s`;
  return {
    createTables: [`
CREATE TABLE IF NOT EXISTS ${recentTable} (
  video_id String,
  session_id String,
  viewed_at ${d.timestamp}
) ENGINE = ReplacingMergeTree
ORDER BY (video_id, viewed_at, session_id)${d.tableSettings}`, `
CREATE TABLE IF NOT EXISTS ${minutesTable} (
  video_id String,
  minute_s Int64,
  s_sessions AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
ORDER BY (video_id, minute_s)${d.tableSettings}`],
    buffers: [...recentBuffers, ...minutesBuffers],
    createViews: [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${recentTable}_mv TO ${recent} AS${recentRows(insertTable)}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${minutesTable}_mv TO ${minutes} AS${minuteStates(insertTable)}`,
    ],
    dropViews: [`DROP TABLE IF EXISTS ${recentTable}_mv`, `DROP TABLE IF EXISTS ${minutesTable}_mv`],
    backfill: oneOffBackfill(database, 'concurrent', `${recentTable} and ${minutesTable}`,
      [`INSERT INTO ${recentTable}${recentRows(heartbeatsTable)}`, `INSERT INTO ${minutesTable}${minuteStates(heartbeatsTable)}`]),
    selectNow: `
SELECT uniqExact(session_id) AS viewers
FROM ${recent}
WHERE video_id = {video_id:String} AND ${t} > {since_ms:Int64} AND ${t} <= {now_ms:Int64}`,
    selectPerMinute: `
SELECT minute_s, viewers FROM (
  SELECT minute_s, uniqExactMerge(s_sessions) AS viewers
  FROM ${minutes}
  WHERE video_id = {video_id:String} AND minute_s >= {full_from_s:Int64} AND minute_s < {full_to_s:Int64}
  GROUP BY minute_s
  UNION ALL
  SELECT ${minute} AS minute_s, uniqExact(session_id) AS viewers
  FROM ${recent}
  WHERE video_id = {video_id:String}
    AND ${t} > {since_ms:Int64} AND ${t} <= {now_ms:Int64} AND (${t} < {full_from_ms:Int64} OR ${t} >= {full_to_ms:Int64})
  GROUP BY minute_s)
ORDER BY minute_s`,
  };
}
