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
  /** `p50`, `p95` (nearest rank: the ⌈p·n⌉-th smallest) and `samples` of startup times, ms. Params: video_id. */
  selectStartup: string;
  /** `rebuffers` (RebufferStarted count) and `rebuffer_ms` (sum of RebufferEnded). Params: video_id. */
  selectRebuffer: string;
  /** `height`, `sessions` (distinct sessions that played it), ascending height. Params: video_id. */
  selectRenditions: string;
  /** `code`, `errors`, `sessions`, most frequent first. Params: video_id. */
  selectErrors: string;
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
    selectStartup: `
SELECT arrayElement(s, toUInt64(ceil(0.5 * length(s)))) AS p50, arrayElement(s, toUInt64(ceil(0.95 * length(s)))) AS p95, length(s) AS samples
FROM (SELECT arraySort(groupArray(ms)) AS s FROM (SELECT assumeNotNull(startup_ms) AS ms FROM (${deduped}) WHERE kind = 'PlaybackStarted' AND isNotNull(startup_ms)))`,
    selectRebuffer: `
SELECT countIf(kind = 'RebufferStarted') AS rebuffers, sum(ifNull(rebuffer, 0)) AS rebuffer_ms
FROM (${deduped})
WHERE kind IN ('RebufferStarted', 'RebufferEnded')`,
    selectRenditions: `
SELECT h AS height, uniqExact(session_id) AS sessions
FROM (SELECT session_id, assumeNotNull(height) AS h FROM (${deduped}) WHERE kind IN ('PlaybackStarted', 'RenditionSwitched') AND isNotNull(height))
GROUP BY height
ORDER BY height`,
    selectErrors: `
SELECT code, count() AS errors, uniqExact(session_id) AS sessions
FROM (${deduped})
WHERE kind = 'PlaybackFailed'
GROUP BY code
ORDER BY errors DESC, code`,
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

/** One row per log position of one video's playback events (copies not merged yet collapse). */
const DEDUPED = (table: string) => `
SELECT session_id, any(type) AS kind, any(startup_time_ms) AS startup_ms, any(rendition_height) AS height, any(rebuffer_ms) AS rebuffer, any(error_code) AS code
FROM ${table}
WHERE video_id = {video_id:String}
GROUP BY session_id, topic, partition, offset`;
