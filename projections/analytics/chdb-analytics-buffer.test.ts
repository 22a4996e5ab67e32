/**
 * The chDB store's in-memory Buffer table (analytics.sql.ts CREATE_BUFFER_TABLE, issue 12): rows
 * are visible as soon as they are inserted, and a process that dies before the buffer is flushed
 * loses those rows TOGETHER with their checkpoint, so the projection re-applies them from the log
 * and nothing is skipped. Each step runs in a child process, because libchdb binds one data
 * directory per process and a kill -9 is the point.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANALYTICS_DATABASE, analyticsSql } from './analytics.sql.ts';

const adapter = fileURLToPath(new URL('./chdb-analytics-store.adapter.ts', import.meta.url));
const topics = fileURLToPath(new URL('../../schemas/topics.ts', import.meta.url));
/** chDB's entry, for a child script outside the repository (a second session on its directory). */
const chdb = import.meta.resolve('chdb');
let dir: string | undefined;
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Runs `body` in a child process with `store` open on the data directory `path`; what it prints on
 * its last line (JSON) is returned. `end` says how the child ends: `close` (flushes the buffer) or
 * `kill` (SIGKILL itself, nothing flushed).
 */
async function inChild(path: string, body: string, end: 'close' | 'kill', bufferFlushMs = 3_600_000, bufferFlushAt?: { rows: number; bytes: number }): Promise<{ checkpoint: Record<string, number>; views: number; samples: number }> {
  const script = join(dir!, `step-${Math.random().toString(36).slice(2)}.mts`);
  await writeFile(script, `
import { createChdbAnalyticsStore } from ${JSON.stringify(adapter)};
import { TOPICS } from ${JSON.stringify(topics)};
const store = await createChdbAnalyticsStore({ path: ${JSON.stringify(path)}, bufferFlushMs: ${bufferFlushMs}, bufferFlushAt: ${JSON.stringify(bufferFlushAt)} });
const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({
  video_id: 'v1', session_id: 's' + (from + i), viewer_id: '', watched_seconds: 30, video_duration_seconds: 60,
  viewed_at: T0 + from + i, session_started_at: T0 - 60_000, topic: TOPICS.views, partition: 0, offset: from + i,
}));
// A PlaybackStarted (startup 100 ms) of each of n sessions, at offsets from, from + 1, …
const starts = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({
  video_id: 'v1', session_id: 'p' + (from + i), type: 'PlaybackStarted', position_seconds: 0, startup_time_ms: 100,
  rendition_height: 360, rebuffer_ms: null, error_code: '', at: T0 + from + i, topic: TOPICS.playback, partition: 0, offset: from + i,
}));
${body}
const checkpoint = Object.fromEntries(await store.checkpoint());
const { views, startup_time_ms: { samples } } = await store.videoInsights('v1', { now: T0 + 60_000, interval: 'hour', timeZone: 'UTC' });
console.log(JSON.stringify({ checkpoint, views, samples }));
${end === 'close' ? 'await store.close();' : "process.kill(process.pid, 'SIGKILL');"}
`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000 });
  if (end === 'close') assert.equal(r.status, 0, r.stderr);
  else assert.equal(r.signal, 'SIGKILL', `the child should have killed itself: ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as { checkpoint: Record<string, number>; views: number; samples: number };
}

test('given rows in the analytics buffer, when the process is killed before a flush, then those rows and their checkpoint are gone together; rows flushed on close or as they arrive stay', async () => {
  dir = await mkdtemp(join(tmpdir(), 'sw-chdb-buffer-'));
  const path = join(dir, 'analytics');
  const key = 'streamwave.views:0';

  // Given 100 rows inserted and the store closed (which flushes the buffer into the table).
  const first = await inChild(path, 'await store.insertHeartbeats(rows(0, 100));', 'close');
  assert.equal(first.checkpoint[key], 100);
  assert.equal(first.views, 100, 'the buffered rows are visible before any flush');

  // When 50 more rows are inserted (visible at once) and the process dies before a flush (this
  // store flushes only on close: bufferFlushMs of an hour; the buffer itself never does, below
  // 1,000,000 rows).
  const second = await inChild(path, 'await store.insertHeartbeats(rows(100, 50));', 'kill');
  assert.equal(second.checkpoint[key], 150);
  assert.equal(second.views, 150);

  // Then a restart sees the 100 flushed rows and a checkpoint of 100: the lost 50 are re-applied
  // from the log, not skipped. The sessions' states (the views' tables have buffers of their own)
  // went with them: the figures say what the checkpoint says.
  const third = await inChild(path, '', 'close');
  assert.equal(third.checkpoint[key], 100);
  assert.equal(third.views, 100);
  const reapplied = await inChild(path, 'await store.insertHeartbeats(rows(100, 50));', 'close');
  assert.deepEqual([reapplied.checkpoint[key], reapplied.views], [150, 150], 're-applied from the log');

  // And when the process dies between two flushes (the store's flush statements before the
  // heartbeats' one run, that one not), the states are ahead of the checkpoint, and the
  // re-applied heartbeats are counted once (the states are maxima and minima).
  const flushes = analyticsSql(ANALYTICS_DATABASE, 'modern', { buffered: true }).buffer!.flush;
  const viewsFlushes = flushes.slice(0, flushes.findIndex((f) => f.includes('view_heartbeats_buffer')));
  assert.equal(viewsFlushes.length, 3, 'the three views\' tables are flushed before the heartbeats');
  const between = await inChild(path, `await store.insertHeartbeats(rows(150, 20));
const { Session } = await import(${JSON.stringify(chdb)});
const other = new Session(${JSON.stringify(path)});
for (const statement of ${JSON.stringify(viewsFlushes)}) other.query(statement);`, 'kill');
  assert.deepEqual([between.checkpoint[key], between.views], [170, 170]);
  const ahead = await inChild(path, '', 'close');
  assert.deepEqual([ahead.checkpoint[key], ahead.views], [150, 170], 'the states flushed ahead of their heartbeats');
  const once = await inChild(path, 'await store.insertHeartbeats(rows(150, 20));', 'close');
  assert.deepEqual([once.checkpoint[key], once.views], [170, 170], 're-applied from the log: counted once');

  // And rows the store flushed as they arrived (bufferFlushMs 0: after every insert) survive a kill.
  await inChild(path, 'await store.insertHeartbeats(rows(170, 10));', 'kill', 0);
  const fourth = await inChild(path, '', 'close');
  assert.equal(fourth.checkpoint[key], 180);
  assert.equal(fourth.views, 180);
});

test('given playback events in the analytics buffer, when the process is killed before a flush, then their checkpoint goes back with them and, re-applied, they are counted once (the running totals, written straight to their table, skip them)', async () => {
  dir ??= await mkdtemp(join(tmpdir(), 'sw-chdb-buffer-'));
  const path = join(dir, 'analytics-playback');
  const key = 'streamwave.playback:0';

  const first = await inChild(path, 'await store.insertPlaybackEvents(starts(0, 10));', 'close');
  assert.deepEqual([first.checkpoint[key], first.samples], [10, 10]);

  // When 5 more are inserted (their running totals stored, the events buffered) and the process dies.
  const second = await inChild(path, 'await store.insertPlaybackEvents(starts(10, 5));', 'kill');
  assert.deepEqual([second.checkpoint[key], second.samples], [15, 15]);

  // Then the checkpoint is back at 10, the totals already hold the 5, and re-applying them changes nothing.
  const third = await inChild(path, '', 'close');
  assert.deepEqual([third.checkpoint[key], third.samples], [10, 15]);
  const reapplied = await inChild(path, 'await store.insertPlaybackEvents(starts(10, 5));', 'close');
  assert.deepEqual([reapplied.checkpoint[key], reapplied.samples], [15, 15], 're-applied from the log: counted once');
});

/**
 * The JSON bytes the store inserts (one JSONEachRow line each) for the child's `rows(from, n)`:
 * the same heartbeats, built here.
 */
function heartbeatBytes(from: number, n: number): number {
  const sql = analyticsSql(ANALYTICS_DATABASE, 'modern', { buffered: true });
  const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
  return Array.from({ length: n }, (_, i) => Buffer.byteLength(JSON.stringify(sql.toJsonRow({
    video_id: 'v1', session_id: `s${from + i}`, viewer_id: '', watched_seconds: 30, video_duration_seconds: 60,
    viewed_at: T0 + from + i, session_started_at: T0 - 60_000, topic: 'streamwave.views', partition: 0, offset: from + i,
  }))) + 1).reduce((a, b) => a + b, 0);
}

for (const [half, flushAt] of [
  ['rows', () => ({ rows: 100, bytes: 1e9 })],
  ['JSON bytes', () => ({ rows: 1e9, bytes: heartbeatBytes(0, 100) })],
] as const) {
  test(`given a store whose buffers hold as many ${half} as it flushes at, when more come, then it flushes them first (no buffer ever reaches its own thresholds and flushes itself out of order)`, async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'sw-chdb-buffer-'));
    const path = join(dir, `analytics-flush-at-${half.replace(' ', '-')}`);
    const key = 'streamwave.views:0';
    // Flush at 100 rows (or their bytes): 60 + 60 are buffered, the third insert flushes those 120
    // first, then the process dies with that insert's 60 (and the next's 20: below the threshold
    // again) unflushed.
    const killed = await inChild(path, `for (const [from, n] of [[0, 60], [60, 60], [120, 60], [180, 20]]) await store.insertHeartbeats(rows(from, n));`, 'kill', 3_600_000, flushAt());
    assert.deepEqual([killed.checkpoint[key], killed.views], [200, 200]);
    const restarted = await inChild(path, '', 'close');
    assert.deepEqual([restarted.checkpoint[key], restarted.views], [120, 120], 'the flushed 120 stay; the rest goes with its checkpoint');
  });
}
