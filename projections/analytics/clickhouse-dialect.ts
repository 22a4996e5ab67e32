/**
 * What the ClickHouse SQL of the analytics read model (analytics.sql.ts: heartbeats;
 * playback.sql.ts: playback events; engagement.sql.ts: likes and comments) shares: the dialects (`modern` for ClickHouse ≥ 23 and chDB,
 * `compat-18` for ClickHouse 18.16; see analytics.sql.ts) and how a row's values become
 * JSONEachRow input, and the checkpoint statement every table keyed by log position answers.
 */
import type { ClickHouseBindMode } from './clickhouse-binding.ts';
import type { AnalyticsInterval } from './analytics.port.ts';

/**
 * The SQL dialects of analyticsSql (see the module comment): `modern` for ClickHouse ≥ 23 (and
 * chDB), `compat-18` for ClickHouse 18.16 (probably 19–22 too; untested there).
 */
export type AnalyticsDialect = 'modern' | 'compat-18';

/** All dialects, for option validation and tests. */
export const ANALYTICS_DIALECTS: readonly AnalyticsDialect[] = ['modern', 'compat-18'];

/** One JSONEachRow input row of view_heartbeats (or another table of scalar columns) in a dialect's column types. */
export type HeartbeatJsonRow = Record<string, string | number | null>;

/** One JSONEachRow input row of any analytics table: scalars, or arrays (playback_sessions' columns). */
export type JsonRow = Record<string, string | number | null | readonly (string | number)[]>;

/** What differs between the dialects; everything else is shared text. */
export interface Dialect {
  bindMode: ClickHouseBindMode;
  /** Column type of a timestamp. */
  timestamp: string;
  /** Column type of the topic name. */
  topic: string;
  /** Trailing `SETTINGS …` of CREATE TABLE, or ''. */
  tableSettings: string;
  /** Whether `ALTER TABLE … ADD COLUMN IF NOT EXISTS` exists (not in 18.16). */
  addColumnIfNotExists: boolean;
  /** SQL: ms since the Unix epoch (Int64) of a timestamp column or expression. */
  epochMs(expr: string): string;
  /** SQL: Unix seconds of the UTC minute a timestamp falls in. */
  minuteSeconds(expr: string): string;
  /** SQL: Unix seconds of the first instant of the bucket a timestamp falls in; hours and days in the `{time_zone:String}` parameter's zone. */
  bucketSeconds(interval: AnalyticsInterval, expr: string): string;
  /** A timestamp (ms since the epoch, finite, in DateTime64's range) as JSONEachRow input. */
  encodeTimestamp(ms: number): string | number;
}

/** The two dialects' differences (see Dialect). */
export const DIALECTS: Record<AnalyticsDialect, Dialect> = {
  modern: {
    bindMode: 'server',
    timestamp: "DateTime64(3, 'UTC')",
    topic: 'LowCardinality(String)',
    // fsync settings make an acknowledged insert survive a machine crash, not just a process crash.
    tableSettings: '\nSETTINGS fsync_after_insert = 1, fsync_part_directory = 1',
    addColumnIfNotExists: true,
    epochMs: (e) => `toUnixTimestamp64Milli(${e})`,
    minuteSeconds: (e) => `toUnixTimestamp(toStartOfMinute(${e}))`,
    bucketSeconds: (interval, e) => (interval === 'minute' ? `toUnixTimestamp(toStartOfMinute(${e}))`
      : `toUnixTimestamp(${interval === 'hour' ? 'toStartOfHour' : 'toStartOfDay'}(${e}, {time_zone:String}))`),
    // 'YYYY-MM-DD hh:mm:ss.sss' in UTC (the column's zone).
    encodeTimestamp: dateTime64Text,
  },
  'compat-18': {
    bindMode: 'literal',
    timestamp: 'Int64',
    // LowCardinality is experimental in 18.16 (allow_experimental_low_cardinality_type).
    topic: 'String',
    // 18.16's MergeTree has no fsync_after_insert / fsync_part_directory settings.
    tableSettings: '',
    addColumnIfNotExists: false,
    epochMs: (e) => e,
    // floor, not intDiv (which truncates towards zero), so times before 1970 agree with minuteIso.
    minuteSeconds: (e) => `toInt64(floor(${e} / 60000)) * 60`,
    // Int64 ms → DateTime (whole seconds), then the zone's start of hour/day.
    bucketSeconds: (interval, e) => (interval === 'minute' ? `toInt64(floor(${e} / 60000)) * 60`
      : `toInt64(toUnixTimestamp(${interval === 'hour' ? 'toStartOfHour' : 'toStartOfDay'}(toDateTime(toInt64(floor(${e} / 1000))), {time_zone:String})))`),
    encodeTimestamp: (ms) => Math.trunc(ms),
  },
};

/** Range of ClickHouse DateTime64 (1900-01-01 … 2299-12-31 UTC), ms; both dialects keep timestamps in it. */
export const MIN_TIMESTAMP_MS = Date.UTC(1900, 0, 1);
export const MAX_TIMESTAMP_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);
/** `ms` clamped to DateTime64's range (not finite → 0, the epoch). */
export const clampTimestamp = (ms: number): number => Math.min(MAX_TIMESTAMP_MS, Math.max(MIN_TIMESTAMP_MS, finite(ms)));

/** `n` when finite, else 0 (a bad client number never fails an insert). */
export const finite = (n: number): number => (Number.isFinite(n) ? n : 0);
/** `n` when a finite number, else null (a nullable column's value; a bad client number is no value). */
export const finiteOrNull = (n: number | null): number | null => (typeof n === 'number' && Number.isFinite(n) ? n : null);
/** @throws RangeError when a row's `partition` or `offset` is not a non-negative safe integer (a bug upstream, not data). */
export const assertPosition = (name: string, v: number): void => {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`row ${name} must be a non-negative integer, got ${String(v)}`);
};

/** Seconds formatted by dateTime64Text (heartbeats of a batch share seconds; a row has two times), cleared past 256. */
const secondTexts = new Map<number, string>();

/**
 * `ms` (Unix time, ms, UTC) as ClickHouse DateTime64(3) text, `YYYY-MM-DD hh:mm:ss.mmm`: what
 * `toISOString()` gives without the `T` and `Z`, formatted once per second (issue 12: two dates
 * per heartbeat row were a fifth of an analytics insert).
 */
function dateTime64Text(at: number): string {
  const ms = Math.trunc(at); // as Date does (TimeClip)
  const second = Math.floor(ms / 1000);
  let text = secondTexts.get(second);
  if (text === undefined) {
    if (secondTexts.size >= 256) secondTexts.clear();
    text = new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
    secondTexts.set(second, text);
  }
  const millis = ms - second * 1000;
  return `${text}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`;
}

/**
 * A list of ids as one String parameter: each id hex-encoded (so no id can contain the separator),
 * distinct, joined by commas. Both dialects bind Strings, and ClickHouse 18.16 has no array
 * parameters. Read back in SQL by idsIn.
 */
export const hexIdList = (ids: Iterable<string>): string => [...new Set(ids)].map((id) => Buffer.from(id, 'utf8').toString('hex')).join(',');

/** SQL: the subquery of the ids in the hexIdList parameter `param`, for `column IN …` (which keeps a read on the table's key ranges). */
export const idsIn = (param: string): string => `(SELECT unhex(arrayJoin(splitByChar(',', {${param}:String}))))`;

/** A MergeTree table and the in-memory Buffer table in front of it (analytics.sql.ts CREATE_BUFFER_TABLE). */
export interface BufferedTable {
  table: string;
  buffer: string;
}

/**
 * Where `table`'s rows are written and read: its Buffer, `<table>_buffer`, when `buffered` (chDB),
 * else the table itself; and the buffer as a list of zero or one, for analytics.sql.ts to create
 * and flush.
 */
export function viaBuffer(table: string, buffered: boolean): { target: string; buffers: BufferedTable[] } {
  if (!buffered) return { target: table, buffers: [] };
  const buffer = `${table}_buffer`;
  return { target: buffer, buffers: [{ table, buffer }] };
}

/**
 * A one-off fill of tables from rows stored before they existed (a read model written by an older
 * release), run once per database when it is opened (createAnalyticsTables).
 */
export interface OneOffBackfill {
  /** What it fills, for logs. */
  tables: string;
  /**
   * `needed` = 1 until `markBackfilled` has run in this database. Asked after the tables and their
   * views exist, and decided by a marker table rather than by an empty table: in a rolling upgrade
   * the previous release's inserts already fill it through the new view, and the rows stored
   * before the view would be skipped. A backfill a crash interrupted runs again.
   */
  selectNeedsBackfill: string;
  /** The fill, in order; each is harmless to run twice or beside live inserts (see each table). */
  statements: string[];
  /** Records that the backfill completed (the marker table `<name>_backfilled`). */
  markBackfilled: string;
}

/**
 * The OneOffBackfill named `name` (its marker is `<database>.<name>_backfilled`). `database` is a
 * bare identifier (analytics.sql.ts checks it), so it may be quoted as is.
 */
export function oneOffBackfill(database: string, name: string, tables: string, statements: string[]): OneOffBackfill {
  return {
    tables,
    selectNeedsBackfill: `SELECT count() = 0 AS needed FROM system.tables WHERE database = '${database}' AND name = '${name}_backfilled'`,
    statements,
    markBackfilled: `CREATE TABLE IF NOT EXISTS ${database}.${name}_backfilled (done UInt8) ENGINE = TinyLog`,
  };
}

/** Checkpoint derived from the data: next offset per partition. */
export const SELECT_CHECKPOINT = (table: string) => `
SELECT topic, partition, max(offset) + 1 AS next_offset
FROM ${table}
GROUP BY topic, partition`;

/**
 * Which heartbeats the per-session subquery of analytics.sql.ts reads and what a session row is
 * keyed by: one video's sessions (`session_id`; param video_id), or the sessions of a set of
 * videos (`video_id, session_id`; channel.sql.ts).
 */
export interface SessionScope {
  /** The WHERE condition over the heartbeats table; its params are the scope's. */
  where: string;
  /** The GROUP BY key, also selected: `session_id` or `video_id, session_id`. */
  key: string;
}
