/**
 * The AnalyticsStore both ClickHouse engines share (chDB in standalone mode, a ClickHouse server in
 * cluster mode): the statements of analytics.sql.ts run on whatever `SqlEngine` executes them, so
 * the two adapters differ only in how a statement reaches ClickHouse.
 */
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import { tpKey } from '../../platform/log/event-log.port.ts';
import { minuteIso } from '../../domain/view/view-rule.ts';
import { CHANNEL_TOP_VIDEOS, CONCURRENT_HISTORY_SECONDS, CONCURRENT_WINDOW_SECONDS, type ChannelAnalytics, type InsightsQuery, type VideoAnalytics, type VideoEngagement, type VideoInsights } from './analytics.port.ts';
import { AnalyticsStoreError, type AnalyticsStore, type HeartbeatRow } from './analytics-store.port.ts';
import { channelParams, videoParams, type AnalyticsSql } from './analytics.sql.ts';
import type { JsonRow } from './clickhouse-dialect.ts';
import { concurrentParams } from './concurrent.sql.ts';
import { sessionStateOf, sessionStateParams, type PlaybackRow, type PlaybackSessionJsonRow } from './playback.sql.ts';
import { foldPlaybackRows, isSessionEvent, playbackSessionCache, sessionKey, type PlaybackSessionState } from './playback-sessions.ts';
import { engagementOf, subscribersOf, type EngagementBucketRow, type EngagementRow } from './engagement.sql.ts';
import type { ClickHouseParams } from './clickhouse-binding.ts';
import { groupCommit } from '../../platform/shared/group-commit.ts';

/** How statements reach one ClickHouse engine. */
export interface SqlEngine {
  /** Shown in error messages: `chDB`, `ClickHouse`. */
  readonly name: string;
  /** Runs a SELECT (`queryParams` only in the modern dialect) and returns its JSONEachRow rows. */
  rows<T>(query: string, queryParams?: ClickHouseParams): Promise<T[]>;
  /**
   * As `rows`, for the creators' reads (the figures; not the checkpoint or the running totals the
   * projection reads back), where the engine runs them apart from the writes (chDB: a second
   * session); default `rows`.
   */
  reads?<T>(query: string, queryParams?: ClickHouseParams): Promise<T[]>;
  /** One INSERT of `rows` (JSONEachRow) into `table`: one block, atomic. */
  insert(table: string, rows: JsonRow[]): Promise<void>;
  /** Releases the engine (session, HTTP agent). */
  close(): Promise<void>;
}

/**
 * How long the oldest of the analytics inserts waiting for one table waits for the inserts of
 * other input partitions before they go, ms (a lone insert pays it too: a playback batch, whose
 * sessions insert comes before its events insert, twice). The projection applies up to twelve
 * partitions' batches at once (ANALYTICS_PARTITIONS_CONCURRENTLY), each one insert per table:
 * apart, each was its own INSERT, and each heartbeat insert four parts on a server (the table and
 * three materialized views; on chDB, buffers), the files ClickHouse spent most of its CPU creating
 * (issue 15). Gathered, they are one INSERT (one block: whole or not at all; each row keeps its own
 * log position, so each partition's checkpoint is still read back from the table).
 */
export const INSERT_GROUP_LINGER_MS = 5;
/**
 * Most rows one gathered insert carries (a single batch with more still goes whole). Below chDB's
 * Buffer table's max_rows of 1,000,000 and, at about 300 bytes per heartbeat row at most (a
 * 128-character session id), about 30 MB against its max_bytes of 100 MB (analytics.sql.ts
 * CREATE_BUFFER_TABLE: a bigger insert would bypass the buffer).
 */
export const INSERT_GROUP_MAX_ROWS = 100_000;

/**
 * `SqlEngine.insert` with the inserts into one table gathered (see INSERT_GROUP_LINGER_MS; the
 * ClickHouse adapter, and chDB's since a standalone load over many videos, hence many partitions,
 * made one insert per partition and table, one after the other on chDB's one session). A gathered
 * insert that fails with an error `retryAlone` returns true for is sent again batch by batch, so a
 * batch the engine refuses fails only itself.
 * @returns insert(table, rows): resolves once the INSERT carrying `rows` succeeded; rejects with its error
 */
export function gatheredInserts(insertNow: (table: string, rows: JsonRow[]) => Promise<void>, retryAlone: (err: unknown) => boolean): SqlEngine['insert'] {
  const inserts = groupCommit<JsonRow, never>(insertNow, { maxItems: INSERT_GROUP_MAX_ROWS, lingerMs: INSERT_GROUP_LINGER_MS, retryAlone });
  return async (table, rows) => { await inserts.submit(table, rows); };
}

/**
 * Creates (or upgrades) the tables of `sql` in order, the same on every engine: the database, the
 * heartbeats table and its ALTER, the playback and engagement tables, video_sessions, the
 * concurrent-viewers tables, the Buffers (chDB), then the views, and the one-off backfills of a read model written before the
 * view (sessions.sql.ts), before playback_sessions (playback.sql.ts) or before the concurrent-viewers
 * tables (concurrent.sql.ts); `onBackfill` is told the table(s) each fills. `run` executes a statement, `rows` a SELECT (JSONEachRow rows).
 * @throws whatever `run` or `rows` throws (the adapter wraps it as ANALYTICS_IO)
 */
export async function createAnalyticsTables(
  sql: AnalyticsSql,
  run: (statement: string) => Promise<unknown>,
  rows: <T>(statement: string) => Promise<T[]>,
  onBackfill: (table: string) => void = () => {},
): Promise<void> {
  for (const statement of [
    sql.createDatabase, sql.createHeartbeatsTable, ...(sql.addSessionStartedAtColumn ? [sql.addSessionStartedAtColumn] : []),
    sql.playback.createTable, sql.playback.createSessionsTable, sql.engagement.createTable, sql.videoSessions.createTable,
    ...sql.concurrent.createTables, ...(sql.buffer?.create ?? []), sql.videoSessions.createView, ...sql.concurrent.createViews,
  ]) await run(statement);
  for (const backfill of [sql.videoSessions.backfill, sql.playback.backfill, sql.concurrent.backfill]) {
    const [needs] = await rows<{ needed: number | string }>(backfill.selectNeedsBackfill);
    if (!Number(needs?.needed ?? 0)) continue;
    onBackfill(backfill.tables);
    for (const statement of backfill.statements) await run(statement);
    await run(backfill.markBackfilled);
  }
}

/**
 * ANALYTICS_IO carrying the underlying (server, engine or transport) message.
 * @param what what failed, e.g. `ClickHouse insert`
 */
export function analyticsIoError(what: string, e: unknown): AnalyticsStoreError {
  if (e instanceof AnalyticsStoreError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new AnalyticsStoreError('ANALYTICS_IO', `${what} failed: ${message.trim()}`, e);
}

/** One statement of a read with its parameters (bound by AnalyticsSql.bind). */
export interface BoundableStatement {
  statement: string;
  params: Record<string, string | number>;
}

/**
 * The seven statements `videoInsights` issues for `videoId` (what `GET /api/v1/videos/{id}/analytics`
 * reads), by name, in the order it issues them; the session summary is the one `videoAnalytics`
 * reads too. Exported for bench/analytics-scale.bench.ts, which times each alone.
 */
export function insightsStatements(sql: AnalyticsSql, videoId: string, query: InsightsQuery) {
  const now = Math.trunc(query.now);
  const window = (seconds: number) => ({ video_id: videoId, since_ms: now - seconds * 1000, now_ms: now });
  const video = videoParams(videoId);
  const zoned = { ...video, time_zone: query.timeZone };
  return {
    sessionSummary: { statement: sql.selectSessionSummary, params: video },
    concurrentNow: { statement: sql.concurrent.selectNow, params: window(CONCURRENT_WINDOW_SECONDS) },
    concurrentPerMinute: { statement: sql.concurrent.selectPerMinute, params: concurrentParams(videoId, now - CONCURRENT_HISTORY_SECONDS * 1000, now) },
    viewsOverTime: { statement: sql.selectViewsOverTime[query.interval], params: zoned },
    playbackSummary: { statement: sql.playback.selectSummary, params: video },
    playbackBreakdown: { statement: sql.playback.selectBreakdown, params: video },
    engagement: { statement: sql.engagement.selectPerBucket[query.interval], params: zoned },
  } satisfies Record<string, BoundableStatement>;
}

/**
 * The AnalyticsStore over `engine`, whose tables `sql` has already created.
 * @throws (from its methods) AnalyticsStoreError `ANALYTICS_CLOSED` after close, `ANALYTICS_IO`
 *   when a statement fails or the video id is not a string.
 */
export function sqlAnalyticsStore(sql: AnalyticsSql, engine: SqlEngine): AnalyticsStore {
  let closed = false;
  /** Calls begun before close(), which close() lets finish (an insert may still be gathering). */
  const inFlight = new Set<Promise<unknown>>();
  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new AnalyticsStoreError('ANALYTICS_CLOSED', 'analytics store is closed');
    const call = fn().catch((e: unknown) => { throw analyticsIoError(`${engine.name} ${what}`, e); });
    inFlight.add(call);
    return call.finally(() => inFlight.delete(call));
  };
  // async: a binding error is a rejection like any other, also inside a Promise.all of statements.
  const rows = async <T>(statement: string, params: Record<string, string | number> = {}, creators = false): Promise<T[]> => {
    const bound = sql.bind(statement, params);
    return creators && engine.reads ? engine.reads<T>(bound.query, bound.query_params) : engine.rows<T>(bound.query, bound.query_params);
  };
  /** As `rows`, for a creator's read (SqlEngine.reads). */
  const reads = <T>(statement: string, params?: Record<string, string | number>) => rows<T>(statement, params, true);
  const playbackSessions = playbackSessionCache();
  /**
   * The running totals of the sessions `batch` touches, from memory or, for the ones not there,
   * from playback_sessions in reads of RESTORE_CHUNK sessions (a session never seen has no row:
   * it starts empty).
   */
  const knownSessions = async (batch: PlaybackRow[]): Promise<Map<string, PlaybackSessionState>> => {
    const known = new Map<string, PlaybackSessionState>();
    const missing = new Map<string, PlaybackRow>();
    for (const r of batch) {
      if (!isSessionEvent(r)) continue;
      const key = sessionKey(r.video_id, r.session_id);
      const state = playbackSessions.get(key);
      if (state) known.set(key, state);
      else missing.set(key, r);
    }
    const pending = [...missing.values()];
    // In chunks: compat-18 binds the ids into the text (max_query_size 256 KiB), modern sends them
    // in the URL; a real session id is about 100 characters, 200 as hex.
    for (let i = 0; i < pending.length; i += RESTORE_CHUNK) {
      for (const row of await rows<PlaybackSessionJsonRow>(sql.playback.selectSessionStates, sessionStateParams(pending.slice(i, i + RESTORE_CHUNK)))) {
        const key = sessionKey(row.video_id, row.session_id);
        if (missing.has(key)) known.set(key, sessionStateOf(row));
      }
    }
    return known;
  };
  /** The one row of selectSessionSummary for `videoId`. */
  const sessionSummary = async (videoId: string): Promise<SessionSummaryRow | undefined> => {
    if (typeof videoId !== 'string') throw new AnalyticsStoreError('ANALYTICS_IO', `video id must be a string, got ${typeof videoId}`);
    return (await reads<SessionSummaryRow>(sql.selectSessionSummary, videoParams(videoId)))[0];
  };
  return {
    insertHeartbeats(batch: HeartbeatRow[]) {
      return guard('insert', async () => {
        if (batch.length) await engine.insert(sql.heartbeatsTable, batch.map((r) => sql.toJsonRow(r)));
      });
    },
    insertPlaybackEvents(batch: PlaybackRow[]) {
      return guard('insert', async () => {
        if (!batch.length) return;
        const raw = batch.map((r) => sql.playback.toJsonRow(r)); // validates every position before anything is written
        const epoch = playbackSessions.epoch;
        const touched = foldPlaybackRows(batch, await knownSessions(batch));
        // The sessions' rows first, then the events, whose table is the checkpoint: a crash in
        // between re-applies the events, and the sessions skip what their versions already hold.
        if (touched.size) await engine.insert(sql.playback.sessionsTable, [...touched.values()].map((s) => sql.playback.toSessionJsonRow(s)));
        await engine.insert(sql.playback.table, raw);
        playbackSessions.commit(touched, epoch);
      });
    },
    insertEngagementEvents(batch: EngagementRow[]) {
      return guard('insert', async () => {
        if (batch.length) await engine.insert(sql.engagement.table, batch.map((r) => sql.engagement.toJsonRow(r)));
      });
    },
    forgetRunningTotals() {
      playbackSessions.clear();
    },
    checkpoint() {
      return guard('checkpoint', async () => {
        type CheckpointRow = { topic: string; partition: number | string; next_offset: number | string };
        const positions = async (statement: string) => new Map((await rows<CheckpointRow>(statement)).map((r) => [tpKey(r.topic, Number(r.partition)), Number(r.next_offset)]));
        // The three tables hold different topics, so their positions never overlap.
        const out: OffsetMap = new Map([...await positions(sql.selectCheckpoint), ...await positions(sql.engagement.selectCheckpoint)]);
        // Playback: the lower of the events' and the running totals' positions (a partition without
        // totals from 0), so events stored without their totals (by a release before them, in a
        // rolling upgrade) are folded in when read again; what the totals hold is skipped.
        const totals = await positions(sql.playback.selectSessionsCheckpoint);
        for (const [tp, next] of await positions(sql.playback.selectCheckpoint)) out.set(tp, Math.min(next, totals.get(tp) ?? 0));
        return out;
      });
    },
    videoAnalytics(videoId: string) {
      return guard('query', async () => summaryOf(await sessionSummary(videoId)).analytics);
    },
    videoInsights(videoId: string, query: InsightsQuery) {
      return guard('query', async () => {
        const st = insightsStatements(sql, videoId, query);
        // All at once: a ClickHouse server runs them in parallel (the read waits for the slowest,
        // not for the sum); chDB's adapter queues them in this order on its read session.
        const [summaryRow, [current], perMinute, buckets, [playback], breakdown, engagement] = await Promise.all([
          sessionSummary(videoId),
          reads<{ viewers: Num }>(st.concurrentNow.statement, st.concurrentNow.params),
          reads<{ minute_s: Num; viewers: Num }>(st.concurrentPerMinute.statement, st.concurrentPerMinute.params),
          reads<{ bucket_s: Num; views: Num; unique_viewers: Num }>(st.viewsOverTime.statement, st.viewsOverTime.params),
          reads<{ p50: Num; p95: Num; samples: Num; rebuffers: Num; rebuffer_ms: Num }>(st.playbackSummary.statement, st.playbackSummary.params),
          reads<{ failed: Num; key: string; events: Num; sessions: Num }>(st.playbackBreakdown.statement, st.playbackBreakdown.params),
          reads<EngagementBucketRow>(st.engagement.statement, st.engagement.params),
        ]);
        const summary = summaryOf(summaryRow);
        const { views, watch_time_seconds: watched } = summary.analytics;
        const samples = Number(playback?.samples ?? 0);
        const stalledSeconds = Number(playback?.rebuffer_ms ?? 0) / 1000;
        const errors = breakdown.filter((r) => Number(r.failed))
          .map((e) => ({ code: e.key, errors: Number(e.events), sessions: Number(e.sessions) }))
          .sort((a, b) => b.errors - a.errors || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
        return {
          ...summary.analytics,
          ...insightsOf(summary, Number(current?.viewers ?? 0), perMinute, buckets, query),
          startup_time_ms: { p50: samples ? Number(playback!.p50) : null, p95: samples ? Number(playback!.p95) : null, samples },
          rebuffer_count: Number(playback?.rebuffers ?? 0),
          rebuffer_seconds: stalledSeconds,
          rebuffer_ratio: stalledSeconds > 0 ? stalledSeconds / (watched + stalledSeconds) : 0,
          renditions_watched: breakdown.filter((r) => !Number(r.failed))
            .map((r) => ({ height: Number(r.key), sessions: Number(r.sessions) }))
            .sort((a, b) => a.height - b.height),
          playback_errors: { count: errors.reduce((n, e) => n + e.errors, 0), by_code: errors.slice(0, MAX_ERROR_CODES) },
          ...engagementOf(engagement, views, query),
        };
      });
    },
    channelAnalytics(channelId: string, videoIds: readonly string[], query: InsightsQuery) {
      return guard('query', async () => {
        const ids = [...new Set(videoIds)];
        if (typeof channelId !== 'string' || ids.some((id) => typeof id !== 'string')) throw new AnalyticsStoreError('ANALYTICS_IO', 'channel and video ids must be strings');
        const params = ids.length ? channelParams(ids) : null;
        // All at once, as in videoInsights.
        const [subscribers, [totals], perVideo, buckets] = await Promise.all([
          reads<EngagementBucketRow>(sql.engagement.selectPerBucket[query.interval], { video_id: channelId, time_zone: query.timeZone }),
          params ? reads<{ views: Num; unique_viewers: Num; watch_time_seconds: Num }>(sql.channel.selectTotals, params) : [],
          params ? reads<{ video_id: string; sessions: Num; views: Num; watch_time_seconds: Num }>(sql.channel.selectPerVideo, params) : [],
          params ? reads<{ bucket_s: Num; views: Num; unique_viewers: Num }>(sql.channel.selectViewsOverTime[query.interval], { ...params, time_zone: query.timeZone }) : [],
        ]);
        const rollup: ChannelAnalytics = {
          videos: ids.length, views: 0, unique_viewers: 0, watch_time_seconds: 0, sessions: 0, average_view_duration_seconds: 0,
          views_over_time: { interval: query.interval, time_zone: query.timeZone, points: [] }, top_videos: [],
          ...subscribersOf(subscribers, query),
        };
        if (!params) return rollup;
        rollup.views = Number(totals?.views ?? 0);
        rollup.unique_viewers = Number(totals?.unique_viewers ?? 0);
        rollup.watch_time_seconds = Number(totals?.watch_time_seconds ?? 0);
        rollup.sessions = perVideo.reduce((n, v) => n + Number(v.sessions), 0);
        rollup.average_view_duration_seconds = rollup.views > 0 ? rollup.watch_time_seconds / rollup.views : 0;
        rollup.views_over_time.points = viewPoints(buckets);
        rollup.top_videos = perVideo
          .map((v) => ({ video_id: v.video_id, views: Number(v.views), watch_time_seconds: Number(v.watch_time_seconds) }))
          .filter((v) => v.views > 0)
          .sort((a, b) => b.views - a.views || b.watch_time_seconds - a.watch_time_seconds || (a.video_id < b.video_id ? -1 : a.video_id > b.video_id ? 1 : 0))
          .slice(0, CHANNEL_TOP_VIDEOS);
        return rollup;
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled(inFlight);
      await engine.close();
    },
  };
}

type Num = number | string;

/** Most sessions one read of running totals asks for (about 100 KB of hex ids at 100-character ids). */
const RESTORE_CHUNK = 250;

/** Most error codes `playback_errors.by_code` lists. */
const MAX_ERROR_CODES = 20;

/** `views_over_time.points` from the rows of a views-over-time statement (per video or per channel). */
const viewPoints = (buckets: { bucket_s: Num; views: Num; unique_viewers: Num }[]): VideoInsights['views_over_time']['points'] =>
  buckets.map((b) => ({ start: minuteIso(Number(b.bucket_s) * 1000), views: Number(b.views), unique_viewers: Number(b.unique_viewers) }));

/** The row of selectSessionSummary (UInt64 may arrive as strings; the pairs are sumMap's [keys, sums]). */
interface SessionSummaryRow {
  views: Num;
  unique_viewers: Num;
  watch_time_seconds: Num;
  sessions: Num;
  reach: [Num[], Num[]];
  per_minute: [Num[], Num[]];
}

/** A video's session summary: its VideoAnalytics, its session count and sessions per percentage reached. */
interface SessionSummary {
  analytics: VideoAnalytics;
  sessions: number;
  /** [percentage reached (0…100, -1 unknown duration), sessions], ascending. */
  reach: [number, number][];
}

/** The SessionSummary of a selectSessionSummary row (none: a video without heartbeats). */
function summaryOf(row: SessionSummaryRow | undefined): SessionSummary {
  const pairs = (p: [Num[], Num[]] | undefined): [number, number][] => (p ? p[0].map((k, i) => [Number(k), Number(p[1][i])]) : []);
  return {
    analytics: {
      views: Number(row?.views ?? 0),
      unique_viewers: Number(row?.unique_viewers ?? 0),
      watch_time_seconds: Number(row?.watch_time_seconds ?? 0),
      views_per_minute: pairs(row?.per_minute).map(([minute, views]) => ({ minute: minuteIso(minute * 1000), views })),
    },
    sessions: Number(row?.sessions ?? 0),
    reach: pairs(row?.reach),
  };
}

/** The figures of VideoInsights that come from the heartbeats alone, beside VideoAnalytics'. */
type HeartbeatInsights = Omit<VideoInsights, keyof VideoAnalytics | 'startup_time_ms' | 'rebuffer_count' | 'rebuffer_seconds' | 'rebuffer_ratio' | 'renditions_watched' | 'playback_errors' | keyof VideoEngagement>;

/** HeartbeatInsights from the session summary and the rows of the concurrency and views-over-time statements. */
function insightsOf(
  summary: SessionSummary,
  concurrentNow: number,
  perMinute: { minute_s: Num; viewers: Num }[],
  buckets: { bucket_s: Num; views: Num; unique_viewers: Num }[],
  query: InsightsQuery,
): HeartbeatInsights {
  const { views, watch_time_seconds: watched } = summary.analytics;
  /** reachedExactly[p] = sessions of known duration whose reach is exactly p (0…100). */
  const reachedExactly = new Array<number>(101).fill(0);
  let known = 0;
  for (const [p, n] of summary.reach) {
    if (p >= 0) {
      reachedExactly[Math.min(100, p)]! += n;
      known += n;
    }
  }
  const retention: HeartbeatInsights['retention'] = [];
  if (known > 0) {
    let atLeast = known;
    for (let p = 0; p <= 100; p++) {
      retention.push({ position_percent: p, share: atLeast / known });
      atLeast -= reachedExactly[p]!;
    }
  }
  return {
    sessions: summary.sessions,
    average_view_duration_seconds: views > 0 ? watched / views : 0,
    retention,
    concurrent_viewers: {
      now: concurrentNow,
      window_seconds: CONCURRENT_WINDOW_SECONDS,
      per_minute: perMinute.map((m) => ({ minute: minuteIso(Number(m.minute_s) * 1000), viewers: Number(m.viewers) })),
    },
    views_over_time: {
      interval: query.interval,
      time_zone: query.timeZone,
      points: viewPoints(buckets),
    },
  };
}
