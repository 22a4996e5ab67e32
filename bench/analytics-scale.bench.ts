/**
 * Creator analytics read cost as a video's events pile up (issue 15: "materialized views or
 * incremental aggregation, not a re-scan per request"). The freshness benchmark runs 60 s on empty
 * tables, so it cannot show a read that grows with everything stored; this one can.
 *
 *   npm run bench:analytics-scale -- [--engine clickhouse|chdb|both] [--sessions 2000] [--sizes 20000,100000,400000,1600000]
 *
 * Workload: one video with a fixed number of playback sessions (`--sessions`, default 2,000). At
 * each size N the video has N heartbeats and N playback events in all (a start per session, then
 * rebuffer pairs and rendition switches), inserted through the AnalyticsStore in 20,000-row
 * inserts. Each session watches one stretch of the last hour (10 whole minutes, or fewer when the
 * smallest size has fewer events per session) and has events in every minute of it at every size.
 * The sessions and the minutes they watched stay the same, so only the events per session-minute
 * grow: a read built on incremental aggregation (per session, per minute) stays flat, a re-scan of
 * the raw events grows with N.
 * Read: `videoInsights` (what `GET /api/v1/videos/{id}/analytics` runs: seven statements in
 * parallel), once to warm up, then 7 times; the median and the max. On the ClickHouse server the
 * reads wait until the background merges of the size's inserts are done (printed), and each
 * statement is also timed alone (the best of 3), to show which ones grow.
 * Engines: the ClickHouse server (cluster mode; Debian's 18.16 here, started by
 * deploy/local/clickhouse.sh, skipped when it is missing or does not start) and chDB (standalone
 * mode, ClickHouse 26 in this process).
 * Figure per engine: the read at the largest size, with the read at the smallest as its baseline;
 * goal ≤ 2× the baseline (flat, within this machine's noise). A benchmark: exits 0 when missed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { AnalyticsStore, HeartbeatRow, PlaybackRow } from '../projections/analytics/analytics-store.port.ts';
import type { InsightsQuery } from '../projections/analytics/analytics.port.ts';
import { analyticsSql, type AnalyticsDialect } from '../projections/analytics/analytics.sql.ts';
import { createChdbAnalyticsStore } from '../projections/analytics/chdb-analytics-store.adapter.ts';
import { createClickHouseAnalyticsStore } from '../projections/analytics/clickhouse-analytics-store.adapter.ts';
import { insightsStatements } from '../projections/analytics/sql-analytics-store.ts';
import { clickhouseMissing, startClickHouseServer } from '../test/support/clickhouse-server.ts';
import { printResult, type BenchFigure } from './support/result.ts';
import { median, table } from './support/table.ts';

const VIDEO = 'scale-video';
const INSERT_ROWS = 20_000;
const READS = 7;
/** Flat within noise: the largest size's read may take at most this many times the smallest's. */
const GOAL_RATIO = 2;

const { values: opts } = parseArgs({
  options: {
    engine: { type: 'string', default: 'both' },
    sessions: { type: 'string', default: '2000' },
    sizes: { type: 'string', default: '20000,100000,400000,1600000' },
  },
});
const engines = opts.engine === 'both' ? ['clickhouse', 'chdb'] : [opts.engine!];
const sessions = Number(opts.sessions);
const sizes = opts.sizes!.split(',').map(Number);
/** Stops the run with a usage error (exit code 2). */
function usage(problem: string): never {
  console.error(`bench:analytics-scale: ${problem}`);
  process.exit(2);
}
if (!engines.every((e) => e === 'clickhouse' || e === 'chdb')) usage('--engine takes clickhouse, chdb or both');
if (!Number.isSafeInteger(sessions) || sessions < 1) usage('--sessions takes a positive integer');
if (!sizes.every((n, i) => Number.isSafeInteger(n) && n >= sessions && (i === 0 || n > sizes[i - 1]!))) usage('--sizes takes increasing integers, each at least --sessions');
/** Minutes each session watches: every one of them has an event at every size (at most 10). */
const WATCH_MINUTES = Math.min(10, Math.floor(sizes[0]! / sessions));

/** The golden ratio's fractional part: multiples of it spread evenly over [0, 1) (Weyl sequence). */
const GOLDEN = 0.6180339887;

/** Row `i` (0-based, log offset `i`) of each kind: session `i % sessions`, its `k`-th event. */
function rows(from: number, to: number, startedAt: number): { heartbeats: HeartbeatRow[]; playback: PlaybackRow[] } {
  const heartbeats: HeartbeatRow[] = [];
  const playback: PlaybackRow[] = [];
  for (let i = from; i < to; i++) {
    const session = `s${i % sessions}`;
    const k = Math.floor(i / sessions);
    // A session's events fall in one stretch of WATCH_MINUTES whole minutes of the hour, as a
    // viewer's heartbeats do while they watch (their order in time within it is not a real
    // session's: the figures read here do not depend on it), its k-th event in minute
    // k % WATCH_MINUTES of it (golden-ratio steps within the minute). So every size has the same
    // session-minutes and only the events in each grow; with events scattered over the whole
    // hour, a session would cover more minutes the more events it had, and a distinct count per
    // minute (concurrent viewers) would grow with that until every session covered all 60.
    const firstMinute = Math.floor(((i % sessions) * GOLDEN % 1) * (60 - WATCH_MINUTES + 1));
    const at = Math.floor(startedAt + (firstMinute + (k % WATCH_MINUTES) + ((i * GOLDEN) % 1)) * 60_000); // never the next minute
    heartbeats.push({ video_id: VIDEO, session_id: session, viewer_id: i % 3 ? `viewer${i % sessions}` : '', watched_seconds: 10 * (k + 1), video_duration_seconds: 600, viewed_at: at, session_started_at: startedAt - 5_000, topic: 'views', partition: 0, offset: i });
    const type = k === 0 ? 'PlaybackStarted' : k % 10 === 0 ? 'RenditionSwitched' : k % 2 ? 'RebufferStarted' : 'RebufferEnded';
    playback.push({
      video_id: VIDEO, session_id: session, type, position_seconds: k, at, topic: 'playback', partition: 0, offset: i, error_code: '',
      startup_time_ms: type === 'PlaybackStarted' ? 200 + (i % 800) : null,
      rendition_height: type === 'PlaybackStarted' || type === 'RenditionSwitched' ? [360, 720, 1080][i % 3]! : null,
      rebuffer_ms: type === 'RebufferEnded' ? 50 + (i % 200) : null,
    });
  }
  return { heartbeats, playback };
}

/** The seven statements of videoInsights (sql-analytics-store.ts' insightsStatements), each alone on the server (best of 3, ms). */
async function perStatement(client: ClickHouseClient, dialect: AnalyticsDialect, query: InsightsQuery): Promise<Record<string, number>> {
  const sql = analyticsSql(undefined, dialect);
  /** `playbackSummary` → `playback summary`. */
  const label = (name: string) => name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
  const out: Record<string, number> = {};
  for (const [name, { statement, params }] of Object.entries(insightsStatements(sql, VIDEO, query))) {
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      await (await client.query({ ...sql.bind(statement, params), format: 'JSONEachRow' })).json();
      times.push(performance.now() - t);
    }
    out[label(name)] = Math.min(...times);
  }
  return out;
}

/**
 * Waits until the server has run no background merge for 1 s (system.merges empty at four polls in
 * a row, 250 ms apart: a merge queued behind one that ends is not listed yet), at most 120 s;
 * returns the wait, ms. Each size is loaded in seconds, far faster than a video gets
 * its events, so without this the reads would share the cores with the merges of that burst.
 */
async function mergesSettled(client: ClickHouseClient): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  while (quiet < 4 && performance.now() - started < 120_000) {
    const [row] = await (await client.query({ query: 'SELECT count() AS merges FROM system.merges', format: 'JSONEachRow' })).json<{ merges: string | number }>();
    quiet = Number(row?.merges ?? 0) === 0 ? quiet + 1 : 0;
    await new Promise((r) => setTimeout(r, 250));
  }
  return performance.now() - started;
}

/** Fills the store size by size and times the reads; returns the median read per size, ms. */
async function measure(engine: string, store: AnalyticsStore, server?: { client: ClickHouseClient; dialect: AnalyticsDialect }): Promise<number[]> {
  const startedAt = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000; // a whole minute: sessions watch whole minutes
  const medians: number[] = [];
  const lines: string[][] = [];
  const statementTimes: Record<string, number>[] = [];
  /** Per size on the server: how long the reads waited for its merges (at least the quiet second), ms. */
  const settled: number[] = [];
  let stored = 0;
  for (const size of sizes) {
    while (stored < size) {
      const upTo = Math.min(size, stored + INSERT_ROWS);
      const { heartbeats, playback } = rows(stored, upTo, startedAt);
      await store.insertHeartbeats(heartbeats);
      await store.insertPlaybackEvents(playback);
      stored = upTo;
      if (stored % 200_000 === 0 || stored === size) process.stderr.write(`  ${engine}: ${stored.toLocaleString('en')} of ${size.toLocaleString('en')} events of each kind stored\n`);
    }
    if (server) settled.push(await mergesSettled(server.client));
    const query: InsightsQuery = { now: Date.now(), interval: 'minute', timeZone: 'UTC' };
    await store.videoInsights(VIDEO, query); // warm-up
    const times: number[] = [];
    for (let r = 0; r < READS; r++) {
      const t = performance.now();
      await store.videoInsights(VIDEO, query);
      times.push(performance.now() - t);
    }
    medians.push(median(times));
    lines.push([size.toLocaleString('en'), ...(server ? [(settled.at(-1)! / 1000).toFixed(1)] : []), median(times).toFixed(0), Math.max(...times).toFixed(0)]);
    if (server) statementTimes.push(await perStatement(server.client, server.dialect, query));
  }
  console.log(`\n${engine}: one video, ${sessions.toLocaleString('en')} sessions; the read is videoInsights (GET /api/v1/videos/{id}/analytics), ${READS} reads per size`);
  const names = Object.keys(statementTimes[0] ?? {});
  if (names.length) console.log('(each statement alone: the best of 3)');
  console.log(table(['events of each kind', ...(server ? ['waited for merges s'] : []), 'read p50 ms', 'max ms', ...names.map((n) => `${n} ms`)],
    lines.map((l, i) => [...l, ...names.map((n) => statementTimes[i]![n]!.toFixed(0))])));
  return medians;
}

const figures: BenchFigure[] = [];
for (const engine of engines) {
  let medians: number[];
  let label: string;
  if (engine === 'clickhouse') {
    const missing = await clickhouseMissing();
    if (missing) { console.log(`clickhouse: skipped (${missing})`); continue; }
    process.stderr.write('starting a ClickHouse server…\n');
    const server = await startClickHouseServer().catch((e: unknown) => { console.log(`clickhouse: skipped (it did not start: ${(e as Error).message})`); });
    if (!server) continue;
    try {
      const store = await createClickHouseAnalyticsStore({ url: server.url, requestTimeoutMs: 300_000 });
      label = `ClickHouse server ${store.serverVersion}`;
      // Its own client for the merge waits and the statements timed alone (the store's is internal).
      const client = createClient({ url: server.url, request_timeout: 300_000 });
      try {
        medians = await measure(`${label} (cluster mode)`, store, { client, dialect: store.dialect });
      } finally {
        await client.close();
        await store.close();
      }
    } finally {
      await server.stop();
    }
  } else {
    label = 'chDB';
    const dir = await mkdtemp(join(tmpdir(), 'sw-analytics-scale-'));
    try {
      const store = await createChdbAnalyticsStore({ path: join(dir, 'analytics') });
      try { medians = await measure('chDB (standalone mode)', store); } finally { await store.close(); }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const [first, last] = [medians[0]!, medians.at(-1)!];
  figures.push({
    name: `creator analytics read (${label}) at ${sizes.at(-1)!.toLocaleString('en')} events of each kind, ${sessions.toLocaleString('en')} sessions`,
    value: last, unit: 'ms',
    baseline: { name: `the same read at ${sizes[0]!.toLocaleString('en')} events`, value: first },
    goal: `≤ ${GOAL_RATIO}× the baseline (incremental aggregation: flat as events per session grow)`,
    met: last <= GOAL_RATIO * first,
  });
  console.log(`${label}: ${(last / first).toFixed(1)}× the read at ${sizes[0]!.toLocaleString('en')} events (goal ≤ ${GOAL_RATIO}×: ${last <= GOAL_RATIO * first ? 'met' : 'MISSED'})`);
}
printResult({ bench: 'analytics-scale', figures, notes: ['analytics-scale: one video, fixed sessions, events per session growing; a re-scan of raw events grows with them'] });
