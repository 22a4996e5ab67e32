/**
 * The playback-events table of the analytics read model (issue 15, quality of experience) and its
 * queries, in both dialects of analytics.sql.ts. One row per record of `streamwave.playback`
 * (a skip marker, `type` '', for an undecodable one), keyed by log position like the heartbeats,
 * so a redelivered record collapses and the checkpoint is the table's own max(offset)+1. Every
 * query reads through DEDUPED (one row per log position), so a copy not merged yet counts once.
 */
import { assertPosition, clampTimestamp, finite, SELECT_CHECKPOINT, type Dialect, type HeartbeatJsonRow } from './clickhouse-dialect.ts';
import type { PlaybackRow } from './analytics-store.port.ts';

export type { PlaybackRow } from './analytics-store.port.ts';

/** The playback statements of one database (every one names `<database>.playback_events`). */
export interface PlaybackSql {
  table: string;
  createTable: string;
  selectCheckpoint: string;
  /**
   * One row: `p50`, `p95` (nearest rank: the ⌈p·n⌉-th smallest) and `samples` of startup times,
   * ms (p50 and p95 are 0 without samples); `rebuffers` (RebufferStarted count) and `rebuffer_ms`
   * (sum of RebufferEnded). Params: video_id.
   */
  selectSummary: string;
  /**
   * Per rendition height and per error code, one pass (issue 15 freshness: one statement where
   * there were two): `failed` 0 with `key` a height (pixels, as a string) and `sessions` the
   * distinct sessions that played it (PlaybackStarted or RenditionSwitched); `failed` 1 with `key`
   * an error code, `events` its PlaybackFailed count and `sessions` the distinct sessions that
   * reported it. Unordered. Params: video_id.
   */
  selectBreakdown: string;
  /** `row` as JSONEachRow input; numbers not finite become 0 (nullable ones null), the time is clamped. @throws RangeError on a bad log position */
  toJsonRow(row: PlaybackRow): HeartbeatJsonRow;
}

/** The PlaybackSql of `database` in dialect `d`. */
export function playbackSql(d: Dialect, database: string): PlaybackSql {
  const table = `${database}.playback_events`;
  const deduped = DEDUPED(table);
  return {
    table,
    createTable: `
CREATE TABLE IF NOT EXISTS ${table} (
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
    // Nearest rank (1-based index ⌈p·n⌉ of the sorted values); quantileExact takes index ⌊p·n⌋ (0-based), one above it when p·n is whole.
    selectSummary: `
SELECT s[toUInt64(ceil(0.5 * length(s)))] AS p50, s[toUInt64(ceil(0.95 * length(s)))] AS p95, length(s) AS samples, rebuffers, rebuffer_ms
FROM (
  SELECT arraySort(groupArrayIf(assumeNotNull(startup_time_ms), type = 'PlaybackStarted' AND isNotNull(startup_time_ms))) AS s,
    countIf(type = 'RebufferStarted') AS rebuffers,
    sumIf(assumeNotNull(rebuffer_ms), type = 'RebufferEnded' AND isNotNull(rebuffer_ms)) AS rebuffer_ms
  FROM ${deduped}
  WHERE video_id = {video_id:String})`,
    selectBreakdown: `
SELECT type = 'PlaybackFailed' AS failed, if(failed, error_code, toString(assumeNotNull(rendition_height))) AS key, count() AS events, uniqExact(session_id) AS sessions
FROM ${deduped}
WHERE video_id = {video_id:String} AND (type = 'PlaybackFailed' OR (type IN ('PlaybackStarted', 'RenditionSwitched') AND isNotNull(rendition_height)))
GROUP BY failed, key`,
    toJsonRow: (r) => {
      assertPosition('partition', r.partition);
      assertPosition('offset', r.offset);
      const orNull = (n: number | null) => (typeof n === 'number' && Number.isFinite(n) ? n : null);
      const height = orNull(r.rendition_height);
      return {
        video_id: r.video_id, session_id: r.session_id, type: r.type, position_seconds: finite(r.position_seconds),
        startup_time_ms: orNull(r.startup_time_ms), rendition_height: height === null ? null : Math.min(2 ** 32 - 1, Math.max(0, Math.trunc(height))),
        rebuffer_ms: orNull(r.rebuffer_ms), error_code: r.error_code, at: d.encodeTimestamp(clampTimestamp(r.at)),
        topic: r.topic, partition: r.partition, offset: r.offset,
      };
    },
  };
}

/**
 * The playback events, one row per log position: FINAL collapses the copies of a redelivered
 * record that no merge has collapsed yet (the table's key ends with the log position), as a
 * GROUP BY over the position did at twice the cost.
 */
const DEDUPED = (table: string) => `${table} FINAL`;
