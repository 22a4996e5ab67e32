/**
 * The playback tables of the analytics read model (issue 15, quality of experience) and their
 * queries, in both dialects of analytics.sql.ts:
 * - `playback_events`: one row per record of `streamwave.playback` (a skip marker, `type` '', for
 *   an undecodable one), keyed by log position like the heartbeats, so a redelivered record
 *   collapses and the checkpoint is the table's own max(offset)+1. Kept for rebuilds and
 *   backfills; no creator read touches it. On chDB (`buffered`) inserts go through a Buffer
 *   table in front of it (analytics.sql.ts CREATE_BUFFER_TABLE), and the checkpoint is read
 *   through it: buffered events lost in a crash take their offsets with them and are re-applied,
 *   and the running totals, written straight to their table, skip what their versions hold (as
 *   after a crash between the two inserts).
 * - `playback_sessions`: each session's running totals (playback-sessions.ts), one row per batch
 *   that touched it, a ReplacingMergeTree whose version is the log position of the last event
 *   folded in. The creator's reads aggregate these, one row per session (FINAL keeps the latest
 *   of rows no merge has collapsed yet), so a read's cost follows the video's sessions, not every
 *   playback event it ever had (`npm run bench:analytics-scale`).
 */
import {
  assertPosition, clampTimestamp, finite, finiteOrNull, hexIdList, idsIn, oneOffBackfill, SELECT_CHECKPOINT,
  viaBuffer, type BufferedTable, type Dialect, type HeartbeatJsonRow, type JsonRow, type OneOffBackfill,
} from './clickhouse-dialect.ts';
import type { PlaybackRow } from './analytics-store.port.ts';
import { storedHeight, type PlaybackSessionState } from './playback-sessions.ts';

export type { PlaybackRow } from './analytics-store.port.ts';

/** A row of selectSessionStates as JSONEachRow gives it (UInt64 may arrive as strings). */
export interface PlaybackSessionJsonRow {
  video_id: string;
  session_id: string;
  startup_ms: (number | string)[];
  rebuffers: number | string;
  rebuffer_ms: number | string;
  heights: (number | string)[];
  error_codes: string[];
  error_counts: (number | string)[];
  topic: string;
  partition: number | string;
  offset: number | string;
}

/** The playback statements of one database (they name `<database>.playback_events` and `<database>.playback_sessions`). */
export interface PlaybackSql {
  /** What the events are inserted into: `<database>.playback_events`, or its Buffer when `buffered`. */
  table: string;
  /** With `buffered`, playback_events and its Buffer (`table`), for analytics.sql.ts to create and flush; else empty. */
  buffers: BufferedTable[];
  createTable: string;
  selectCheckpoint: string;
  /** `<database>.playback_sessions`. */
  sessionsTable: string;
  /** max(offset)+1 of the running totals per topic and partition (the checkpoint is the lower of this and selectCheckpoint's). */
  selectSessionsCheckpoint: string;
  createSessionsTable: string;
  /**
   * The latest row of each session of a set (columns of PlaybackSessionJsonRow), to restore the
   * running totals of sessions the projection does not hold in memory. Params: video_ids_hex and
   * session_ids_hex (hexIdList, clickhouse-dialect.ts; see sessionStateParams); the rows may
   * include other pairs of those ids, which the caller ignores.
   */
  selectSessionStates: string;
  /**
   * Folds every stored playback event into playback_sessions, per session, as the projection
   * would have, once per database (a read model written before playback_sessions). Harmless
   * beside live inserts: every row is the session's totals at its version, and the greatest
   * version wins.
   */
  backfill: OneOffBackfill;
  /**
   * One row: `p50`, `p95` (nearest rank: the ⌈p·n⌉-th smallest) and `samples` of startup times,
   * ms (p50 and p95 are 0 without samples); `rebuffers` (RebufferStarted count) and `rebuffer_ms`
   * (sum of RebufferEnded). Params: video_id.
   */
  selectSummary: string;
  /**
   * Per rendition height and per error code, one statement: `failed` 0 with `key` a height
   * (pixels, as a string) and `sessions` the sessions that played it (PlaybackStarted or
   * RenditionSwitched); `failed` 1 with `key` an error code, `events` its PlaybackFailed count and
   * `sessions` the sessions that reported it. Unordered. Params: video_id.
   */
  selectBreakdown: string;
  /** `row` as JSONEachRow input; numbers not finite become 0 (nullable ones null), the time is clamped. @throws RangeError on a bad log position */
  toJsonRow(row: PlaybackRow): HeartbeatJsonRow;
  /** A session's running totals as a JSONEachRow row of playback_sessions. @throws RangeError on a bad log position */
  toSessionJsonRow(state: PlaybackSessionState): JsonRow;
}

/** The parameters of selectSessionStates for the (video, session) pairs `pairs` (at least one). */
export function sessionStateParams(pairs: readonly { video_id: string; session_id: string }[]): Record<string, string> {
  return { video_ids_hex: hexIdList(pairs.map((p) => p.video_id)), session_ids_hex: hexIdList(pairs.map((p) => p.session_id)) };
}

/** A row of selectSessionStates as a PlaybackSessionState. */
export function sessionStateOf(r: PlaybackSessionJsonRow): PlaybackSessionState {
  return {
    video_id: r.video_id, session_id: r.session_id, startup_ms: r.startup_ms.map(Number), rebuffers: Number(r.rebuffers),
    rebuffer_ms: Number(r.rebuffer_ms), heights: r.heights.map(Number).sort((a, b) => a - b),
    errors: r.error_codes.map((code, i) => [code, Number(r.error_counts[i] ?? 0)]),
    topic: r.topic, partition: Number(r.partition), offset: Number(r.offset),
  };
}

/** The PlaybackSql of `database` in dialect `d`; with `buffered` the events go through a Buffer (see the file's comment). */
export function playbackSql(d: Dialect, database: string, buffered = false): PlaybackSql {
  const stored = `${database}.playback_events`;
  const { target: table, buffers } = viaBuffer(stored, buffered);
  const sessions = `${database}.playback_sessions`;
  const ofVideo = `FROM ${sessions} FINAL
  WHERE video_id = {video_id:String}`;
  return {
    table,
    buffers,
    createTable: `
CREATE TABLE IF NOT EXISTS ${stored} (
  video_id String,
  session_id String,
  type ${d.topic},
  position_seconds Float64,
  startup_time_ms Nullable(Float64),
  rendition_height Nullable(UInt32),
  rebuffer_ms Nullable(Float64),
  error_code String,
  at ${d.timestamp},
  topic ${d.topic},
  partition UInt32,
  offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (video_id, session_id, topic, partition, offset)${d.tableSettings}`,
    selectCheckpoint: SELECT_CHECKPOINT(table),
    sessionsTable: sessions,
    selectSessionsCheckpoint: SELECT_CHECKPOINT(sessions),
    createSessionsTable: `
CREATE TABLE IF NOT EXISTS ${sessions} (
  video_id String,
  session_id String,
  startup_ms Array(Float64),
  rebuffers UInt64,
  rebuffer_ms Float64,
  heights Array(UInt32),
  error_codes Array(String),
  error_counts Array(UInt64),
  topic ${d.topic},
  partition UInt32,
  offset UInt64
) ENGINE = ReplacingMergeTree(offset)
ORDER BY (video_id, session_id)${d.tableSettings}`,
    selectSessionStates: `
SELECT video_id, session_id, startup_ms, rebuffers, rebuffer_ms, heights, error_codes, error_counts, topic, partition, offset
FROM ${sessions} FINAL
WHERE video_id IN ${idsIn('video_ids_hex')} AND session_id IN ${idsIn('session_ids_hex')}`,
    backfill: oneOffBackfill(database, 'playback_sessions', sessions, [BACKFILL(stored, sessions)]),
    // Nearest rank (1-based index ⌈p·n⌉ of the sorted values); quantileExact takes index ⌊p·n⌋ (0-based), one above it when p·n is whole.
    selectSummary: `
SELECT s[toUInt64(ceil(0.5 * length(s)))] AS p50, s[toUInt64(ceil(0.95 * length(s)))] AS p95, length(s) AS samples, rebuffers, rebuffer_ms
FROM (
  SELECT arraySort(groupArrayArray(startup_ms)) AS s, sum(rebuffers) AS rebuffers, sum(rebuffer_ms) AS rebuffer_ms
  ${ofVideo})`,
    selectBreakdown: `
SELECT toUInt8(0) AS failed, toString(h) AS key, count() AS events, count() AS sessions
FROM (SELECT heights
  ${ofVideo})
ARRAY JOIN heights AS h
GROUP BY key
UNION ALL
SELECT toUInt8(1) AS failed, code AS key, sum(n) AS events, count() AS sessions
FROM (SELECT error_codes, error_counts
  ${ofVideo})
ARRAY JOIN error_codes AS code, error_counts AS n
GROUP BY key`,
    toJsonRow: (r) => {
      assertPosition('partition', r.partition);
      assertPosition('offset', r.offset);
      return {
        video_id: r.video_id, session_id: r.session_id, type: r.type, position_seconds: finite(r.position_seconds),
        startup_time_ms: finiteOrNull(r.startup_time_ms), rendition_height: storedHeight(r.rendition_height),
        rebuffer_ms: finiteOrNull(r.rebuffer_ms), error_code: r.error_code, at: d.encodeTimestamp(clampTimestamp(r.at)),
        topic: r.topic, partition: r.partition, offset: r.offset,
      };
    },
    toSessionJsonRow: (s) => {
      assertPosition('partition', s.partition);
      assertPosition('offset', s.offset);
      return {
        video_id: s.video_id, session_id: s.session_id, startup_ms: s.startup_ms, rebuffers: s.rebuffers, rebuffer_ms: s.rebuffer_ms,
        heights: s.heights, error_codes: s.errors.map(([code]) => code), error_counts: s.errors.map(([, n]) => n),
        topic: s.topic, partition: s.partition, offset: s.offset,
      };
    },
  };
}

/**
 * playback_sessions from every stored playback event (PlaybackSql.backfill), the rules of
 * foldPlaybackEvent in SQL: per (video, session, error code) first, so each code's count is a
 * plain count, then per session. Startup samples may come in another order than the log's: the
 * reads sort them. The inner aliases differ from the columns they read (ClickHouse resolves an
 * alias before a column of the same name).
 */
const BACKFILL = (events: string, sessions: string) => `
INSERT INTO ${sessions} (video_id, session_id, startup_ms, rebuffers, rebuffer_ms, heights, error_codes, error_counts, topic, partition, offset)
SELECT video_id, session_id, groupArrayArray(b_startup), sum(b_rebuffers), sum(b_stalled), arraySort(groupUniqArrayArray(b_heights)),
  arrayMap(e -> e.1, groupArrayIf((error_code, b_errors), b_errors > 0) AS b_error_pairs), arrayMap(e -> e.2, b_error_pairs),
  any(b_topic), any(b_partition), max(b_last)
FROM (
  SELECT video_id, session_id, error_code,
    groupArrayIf(assumeNotNull(startup_time_ms), type = 'PlaybackStarted' AND isNotNull(startup_time_ms)) AS b_startup,
    countIf(type = 'RebufferStarted') AS b_rebuffers,
    sumIf(assumeNotNull(rebuffer_ms), type = 'RebufferEnded' AND isNotNull(rebuffer_ms)) AS b_stalled,
    groupUniqArrayIf(assumeNotNull(rendition_height), type IN ('PlaybackStarted', 'RenditionSwitched') AND isNotNull(rendition_height)) AS b_heights,
    countIf(type = 'PlaybackFailed') AS b_errors,
    any(topic) AS b_topic, any(partition) AS b_partition, max(offset) AS b_last
  FROM ${events} FINAL
  WHERE type != '' AND session_id != ''
  GROUP BY video_id, session_id, error_code)
GROUP BY video_id, session_id`;
