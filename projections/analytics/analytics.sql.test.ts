/**
 * The rows the analytics store inserts: timestamps as ClickHouse DateTime64(3) text in the modern
 * dialect (issue 12 formats one date per second instead of one per timestamp; the text must stay
 * what `toISOString()` gives), integers in the 18.16 one.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyticsSql } from './analytics.sql.ts';
import type { HeartbeatRow } from './analytics-store.port.ts';

const row = (viewedAt: number, sessionStartedAt: number | null): HeartbeatRow => ({
  video_id: 'v', session_id: 's', viewer_id: '', watched_seconds: 10, video_duration_seconds: 60,
  viewed_at: viewedAt, session_started_at: sessionStartedAt, topic: 'streamwave.views', partition: 1, offset: 7,
});
const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

describe('analytics rows', () => {
  test('given timestamps in and across seconds (negative, fractional, at the bounds), when encoded, then each is its toISOString text', () => {
    const modern = analyticsSql();
    const base = Date.UTC(2026, 10, 30, 17, 0, 0);
    const times = [base, base + 1, base + 999, base + 1000, base + 999.7, base - 1, Date.UTC(1900, 0, 1), Date.UTC(1969, 11, 31, 23, 59, 59, 1), -1.5, Date.UTC(2299, 11, 31, 23, 59, 59, 999)];
    for (let i = 0; i < 200; i++) times.push(base + Math.floor(((i * 7919) % 100_000) * 13.7));
    for (const t of times) {
      const r = modern.toJsonRow(row(t, t - 5_000));
      assert.equal(r.viewed_at, iso(t), `viewed_at of ${t}`);
      const start = t - 5_000;
      assert.equal(r.session_started_at, start >= Date.UTC(1900, 0, 1) ? iso(start) : null, `session_started_at of ${start} (null before 1900)`);
    }
    assert.equal(modern.toJsonRow(row(Date.UTC(1800, 0, 1), null)).viewed_at, iso(Date.UTC(1900, 0, 1)), 'clamped to the lower bound');
    assert.equal(modern.toJsonRow(row(base, null)).session_started_at, null);
    assert.equal(analyticsSql(undefined, 'compat-18').toJsonRow(row(base + 999.7, null)).viewed_at, base + 999);
  });

  test('given a row with a bad log position, when encoded, then a RangeError names the field', () => {
    assert.throws(() => analyticsSql().toJsonRow({ ...row(0, null), offset: -1 }), /offset must be a non-negative integer/);
    assert.throws(() => analyticsSql().toJsonRow({ ...row(0, null), partition: 1.5 }), /partition must be a non-negative integer/);
  });
});

describe('analytics buffers (chDB)', () => {
  test('given the buffered statements, then the flush order is the views\' tables first, the heartbeats after them, the playback events last, and every buffer is flushed and (re)created', () => {
    const sql = analyticsSql('sw', 'modern', { buffered: true });
    const flushed = sql.buffer!.flush.map((s) => s.replace('OPTIMIZE TABLE ', ''));
    assert.deepEqual(flushed, ['sw.video_sessions_buffer', 'sw.concurrent_heartbeats_buffer', 'sw.concurrent_minutes_buffer', 'sw.view_heartbeats_buffer', 'sw.playback_events_buffer']);
    for (const b of flushed) assert.ok(sql.buffer!.create.some((s) => s.includes(`CREATE TABLE ${b} AS`)), `${b} is created`);
    assert.deepEqual(sql.buffer!.inserts, ['sw.view_heartbeats_buffer', 'sw.playback_events_buffer']);
    assert.equal(sql.heartbeatsTable, 'sw.view_heartbeats_buffer');
    assert.equal(sql.playback.table, 'sw.playback_events_buffer');
    // The views write into their tables' buffers, and the reads read them.
    assert.match(sql.videoSessions.createView, /TO sw\.video_sessions_buffer AS/);
    assert.match(sql.selectSessionSummary, /FROM sw\.video_sessions_buffer/);
    for (const v of sql.concurrent.createViews) assert.match(v, /TO sw\.concurrent_(heartbeats|minutes)_buffer AS/);
  });

  test('given the unbuffered statements (a ClickHouse server), then there are no buffers and the views write their tables', () => {
    const sql = analyticsSql('sw', 'compat-18');
    assert.equal(sql.buffer, null);
    assert.match(sql.videoSessions.createView, /TO sw\.video_sessions AS/);
    assert.equal(sql.playback.table, 'sw.playback_events');
  });
});
