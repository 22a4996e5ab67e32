/**
 * The contract every AnalyticsStore adapter passes (chDB in standalone mode; a ClickHouse server
 * in cluster mode, in both SQL dialects): the view rule's tables of cases, the checkpoint derived
 * from the stored rows (skip markers included), duplicate-insensitive re-inserts, durability across
 * close/reopen, and ids that are data, never SQL.
 *
 *   describe('my adapter', () => {
 *     testAnalyticsStore({ open: (database) => createMyAnalyticsStore({ …, database }) });
 *   });
 *
 * Call it inside a describe: it registers tests (and one `after` that closes the store it shares
 * between the view-rule cases) in the current suite. Each test uses databases of its own, named
 * `ac<random>_<n>`, so a target may keep every database in one chDB directory or on one server.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { caseHeartbeats, VIEW_RULE_CASES, VIEW_RULE_V2_CASES, type ViewRuleCase } from '../../domain/view/view-rule.cases.ts';
import { summariseHeartbeats, type Heartbeat } from '../../domain/view/view-rule.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { AnalyticsStore, HeartbeatRow } from './analytics-store.port.ts';
import type { PlaybackRow } from './playback.sql.ts';
import { testChannelAnalytics } from './channel-analytics.contract.ts';
import { testEngagementStore } from './engagement-store.contract.ts';
import { testPlaybackSessions, type PlaybackSessionsTarget } from './playback-sessions.contract.ts';

/** What the contract needs from an adapter (`concurrent` and `exec`: see PlaybackSessionsTarget). */
export interface AnalyticsStoreTarget extends PlaybackSessionsTarget {
  /**
   * Opens the store of `database` (a bare identifier), creating its tables when missing; a
   * database the suite has not used yet is empty. Opening a database again after `close()` gives
   * the same data.
   */
  open(database: string): Promise<AnalyticsStore>;
}

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const VIEWS = TOPICS.views;
const EMPTY = { views: 0, unique_viewers: 0, watch_time_seconds: 0, views_per_minute: [] };

/** Rows of `heartbeats` for `videoId` at consecutive offsets from `firstOffset` of `partition`. */
function rowsOf(videoId: string, heartbeats: Heartbeat[], firstOffset: number, partition = 0): HeartbeatRow[] {
  return heartbeats.map((h, i) => ({
    video_id: videoId, session_id: h.sessionId, viewer_id: h.viewerId ?? '', watched_seconds: h.watchedSeconds,
    video_duration_seconds: h.videoDurationSeconds, viewed_at: h.viewedAt, session_started_at: h.sessionStartedAt ?? null,
    topic: VIEWS, partition, offset: firstOffset + i,
  }));
}

/** A skip marker (an undecodable record) at a log position. */
const skipMarker = (partition: number, offset: number, topic: string = VIEWS): HeartbeatRow => ({
  video_id: '', session_id: '', viewer_id: '', watched_seconds: 0, video_duration_seconds: 0, viewed_at: T0, topic, partition, offset,
});

/**
 * Strings that break naive SQL quoting: quotes, backslashes before quotes, SQL, ClickHouse
 * placeholders, control characters (NUL included), non-ASCII. The contract stores them as video,
 * session and viewer ids; the binding tests round-trip them through the servers as literals.
 */
export const HOSTILE_STRINGS: readonly string[] = [
  "it's", 'back\\slash', "\\'", "\\\\'\\'", "'; DROP TABLE view_heartbeats; --", "' OR '1'='1", "x' OR video_id != 'x",
  '{video_id:String}', '{min_view_seconds:Float64}', 'line\nbreak\ttab\rcr\0nul\bbs\fff\vvt', '`backtick`', '"double"', '%27 %5C',
  'emoji 🎬 ünïcödé ∑', 'trailing backslash\\', "'", '\\', "''", '\\x27 \\u0027 \\N',
];

/** Registers the AnalyticsStore contract tests in the current suite (see the module comment). */
export function testAnalyticsStore(target: AnalyticsStoreTarget): void {
  const prefix = `ac${Math.random().toString(36).slice(2, 8)}`;
  let n = 0;
  const freshDatabase = () => `${prefix}_${++n}`;
  /** Runs `fn` on a store of a fresh database and closes it, even on failure. */
  const withStore = async (fn: (store: AnalyticsStore, database: string) => Promise<void>) => {
    const database = freshDatabase();
    const store = await target.open(database);
    try {
      await fn(store, database);
    } finally {
      await store.close();
    }
  };

  // The cases share one database (one video per case), so the table is created once.
  let shared: Promise<AnalyticsStore> | undefined;
  let sharedOffset = 0;
  const sharedStore = () => (shared ??= target.open(freshDatabase()));
  after(async () => { if (shared) await (await shared).close(); });

  describe('the view rule v1 and v2 tables of cases (domain/view/view-rule.cases.ts), delivered in two batches and then redelivered whole', () => {
    const cases: ViewRuleCase[] = [...VIEW_RULE_CASES, ...VIEW_RULE_V2_CASES];
    cases.forEach((c, i) => {
      test(c.name, async () => {
        const store = await sharedStore();
        const videoId = `case_${i}`;
        const rows = rowsOf(videoId, caseHeartbeats(c), sharedOffset);
        sharedOffset += rows.length;
        const half = Math.ceil(rows.length / 2);
        await store.insertHeartbeats(rows.slice(0, half));
        if (half < rows.length) await store.insertHeartbeats(rows.slice(half));
        assert.deepEqual(await store.videoAnalytics(videoId), c.expected);
        await store.insertHeartbeats(rows);
        assert.deepEqual(await store.videoAnalytics(videoId), c.expected);
        const { views, unique_viewers, watch_time_seconds, views_per_minute } = await store.videoInsights(videoId, { now: Date.now(), interval: 'day', timeZone: 'UTC' });
        assert.deepEqual({ views, unique_viewers, watch_time_seconds, views_per_minute }, c.expected, 'the insights carry the same four figures');
      });
    });
  });

  test('an empty store has no checkpoint and all-zero analytics', () => withStore(async (store) => {
    assert.deepEqual(await store.checkpoint(), new Map());
    assert.deepEqual(await store.videoAnalytics('unknown'), EMPTY);
  }));

  test('the checkpoint is max(offset) + 1 per topic and partition, skip markers included; skip markers count in no video', () => withStore(async (store) => {
    const hb = (s: string, at: number): Heartbeat => ({ sessionId: s, viewerId: null, watchedSeconds: 20, videoDurationSeconds: 60, viewedAt: T0 + at * 1000 });
    await store.insertHeartbeats([...rowsOf('v1', [hb('s1', 1), hb('s2', 2)], 0, 0), skipMarker(0, 2), ...rowsOf('v1', [hb('s3', 3)], 7, 2)]);
    // Partition 1 holds only undecodable records: its checkpoint still moves past them.
    await store.insertHeartbeats([skipMarker(1, 0), skipMarker(1, 1), skipMarker(0, 5)]);
    await store.insertHeartbeats([skipMarker(0, 0, 'other.topic')]);
    assert.deepEqual(await store.checkpoint(), new Map([[`${VIEWS}:0`, 6], [`${VIEWS}:1`, 2], [`${VIEWS}:2`, 8], ['other.topic:0', 1]]));
    assert.equal((await store.videoAnalytics('v1')).views, 3);
    assert.deepEqual(await store.videoAnalytics(''), EMPTY);
  }));

  test('a redelivered batch, whole, in part or within itself, changes neither the numbers nor the checkpoint', () => withStore(async (store) => {
    const c = VIEW_RULE_CASES[0]!;
    const script: Heartbeat[] = [
      ...caseHeartbeats(c),
      { sessionId: 's2', viewerId: 'u1', watchedSeconds: 15, videoDurationSeconds: 60, viewedAt: T0 + 70_000 },
      { sessionId: 's3', viewerId: null, watchedSeconds: 9, videoDurationSeconds: 60, viewedAt: T0 + 80_000, sessionStartedAt: T0 + 60_000 },
    ];
    const rows = rowsOf('v1', script, 10);
    await store.insertHeartbeats(rows);
    const before = await store.videoAnalytics('v1');
    assert.deepEqual(before, summariseHeartbeats(script));
    const checkpoint = await store.checkpoint();
    assert.deepEqual(checkpoint, new Map([[`${VIEWS}:0`, 10 + rows.length]]));
    await store.insertHeartbeats(rows);
    await store.insertHeartbeats(rows.slice(1, 3));
    await store.insertHeartbeats([rows[0]!, rows[0]!, rows[4]!]);
    assert.deepEqual(await store.videoAnalytics('v1'), before);
    assert.deepEqual(await store.checkpoint(), checkpoint);
  }));

  test('given six partitions\' batches inserted at once (the projection applies up to twelve at once), then every row counts and each partition\'s checkpoint is its own', () => withStore(async (store) => {
    const hb = (s: string, watched: number, at: number): Heartbeat => ({ sessionId: s, viewerId: `u_${s}`, watchedSeconds: watched, videoDurationSeconds: 60, viewedAt: T0 + at * 1000 });
    const perPartition = Array.from({ length: 6 }, (_, p) => Array.from({ length: p + 1 }, (_, i) => hb(`p${p}s${i}`, 10 + i, p * 10 + i)));
    const firstOffsets = [0, 7, 100, 3, 42, 9];
    await Promise.all(perPartition.map((hbs, p) => store.insertHeartbeats(rowsOf('v1', hbs, firstOffsets[p]!, p))));
    assert.deepEqual(await store.videoAnalytics('v1'), summariseHeartbeats(perPartition.flat()));
    assert.deepEqual(await store.checkpoint(), new Map(perPartition.map((hbs, p) => [`${VIEWS}:${p}`, firstOffsets[p]! + hbs.length])));
  }));

  test('what was inserted survives close and reopen; the reopened store keeps counting', async () => {
    const database = freshDatabase();
    const hb = (s: string, viewer: string | null, watched: number, at: number): Heartbeat => ({ sessionId: s, viewerId: viewer, watchedSeconds: watched, videoDurationSeconds: 60, viewedAt: T0 + at * 1000 });
    const first = [hb('s1', 'u1', 12, 5), hb('s2', null, 4, 6)];
    let store = await target.open(database);
    try {
      await store.insertHeartbeats([...rowsOf('v1', first, 0), skipMarker(0, 2)]);
    } finally {
      await store.close();
    }
    store = await target.open(database);
    try {
      assert.deepEqual(await store.checkpoint(), new Map([[`${VIEWS}:0`, 3]]));
      assert.deepEqual(await store.videoAnalytics('v1'), summariseHeartbeats(first));
      const more = [hb('s2', null, 11, 65), hb('s3', 'u1', 30, 70)];
      await store.insertHeartbeats(rowsOf('v1', more, 3));
      assert.deepEqual(await store.videoAnalytics('v1'), { views: 3, unique_viewers: 2, watch_time_seconds: 53, views_per_minute: [{ minute: '2026-11-24T10:00:00Z', views: 1 }, { minute: '2026-11-24T10:01:00Z', views: 2 }] });
      assert.deepEqual(await store.checkpoint(), new Map([[`${VIEWS}:0`, 5]]));
    } finally {
      await store.close();
    }
  });

  test('ids with quotes, backslashes, SQL, placeholders and control characters are data: each video gets exactly its own numbers', () => withStore(async (store) => {
    const hostile = HOSTILE_STRINGS;
    let offset = 0;
    const rows: HeartbeatRow[] = [];
    hostile.forEach((videoId, i) => {
      // Video i gets i + 1 views from sessions (and one viewer) whose ids are hostile too.
      const hbs: Heartbeat[] = Array.from({ length: i + 1 }, (_, k) => ({
        sessionId: `${videoId}#${k}`, viewerId: k === 0 ? hostile[(i + 1) % hostile.length]! : null,
        watchedSeconds: 20, videoDurationSeconds: 60, viewedAt: T0 + k * 1000, sessionStartedAt: T0 - 60_000,
      }));
      rows.push(...rowsOf(videoId, hbs, offset));
      offset += hbs.length;
    });
    await store.insertHeartbeats(rows);
    for (const [i, videoId] of hostile.entries()) {
      assert.deepEqual(await store.videoAnalytics(videoId), {
        views: i + 1, unique_viewers: i + 1, watch_time_seconds: 20 * (i + 1), views_per_minute: [{ minute: '2026-11-24T10:00:00Z', views: i + 1 }],
      }, `video id ${JSON.stringify(videoId)}`);
    }
    for (const absent of ["x' OR '1'='1' --", "it''s", "it\\'s", 'it', '', "back\\\\slash"]) {
      assert.deepEqual(await store.videoAnalytics(absent), EMPTY, `video id ${JSON.stringify(absent)}`);
    }
    assert.deepEqual(await store.checkpoint(), new Map([[`${VIEWS}:0`, offset]]));
  }));

  test('an empty batch is a no-op', () => withStore(async (store) => {
    await store.insertHeartbeats([]);
    assert.deepEqual(await store.checkpoint(), new Map());
  }));

  test('numbers that are not finite and times out of range are stored without failing the batch', () => withStore(async (store) => {
    const row = (session: string, over: Partial<HeartbeatRow>, offset: number): HeartbeatRow => ({
      video_id: 'v1', session_id: session, viewer_id: '', watched_seconds: 30, video_duration_seconds: 60, viewed_at: T0 + 1000, session_started_at: null, topic: VIEWS, partition: 0, offset, ...over,
    });
    await store.insertHeartbeats([
      row('s1', { watched_seconds: Number.NaN }, 0), // no watch time, no view
      row('s2', { video_duration_seconds: Number.POSITIVE_INFINITY, viewed_at: Number.NaN }, 1), // unknown duration, time 0: a view in 1970's first minute
      row('s3', { session_started_at: 1e300 }, 2), // no usable session start: v1
      row('s4', { session_started_at: Number.NaN }, 3), // no usable session start: v1
      row('s5', { watched_seconds: Number.NEGATIVE_INFINITY, video_duration_seconds: Number.NaN }, 4),
    ]);
    assert.deepEqual(await store.videoAnalytics('v1'), {
      views: 3, unique_viewers: 3, watch_time_seconds: 90,
      views_per_minute: [{ minute: '1970-01-01T00:00:00Z', views: 1 }, { minute: '2026-11-24T10:00:00Z', views: 2 }],
    });
    assert.deepEqual(await store.checkpoint(), new Map([[`${VIEWS}:0`, 5]]));
  }));

  test('a row without a valid log position fails its whole batch with ANALYTICS_IO', () => withStore(async (store) => {
    const good = skipMarker(0, 0);
    for (const bad of [{ ...good, offset: -1 }, { ...good, offset: 1.5 }, { ...good, partition: Number.NaN }]) {
      await assert.rejects(store.insertHeartbeats([good, bad]), { name: 'AnalyticsStoreError', code: 'ANALYTICS_IO' });
    }
    assert.deepEqual(await store.checkpoint(), new Map());
  }));

  test('one batch of 5,000 rows (1,000 sessions) is one insert the queries see whole', () => withStore(async (store) => {
    const hbs: Heartbeat[] = [];
    for (let s = 0; s < 1000; s++) {
      for (let k = 1; k <= 5; k++) hbs.push({ sessionId: `s${s}`, viewerId: s % 2 ? `u${s % 10}` : null, watchedSeconds: 3 * k, videoDurationSeconds: 60, viewedAt: T0 + (s % 120) * 1000 + k, sessionStartedAt: null });
    }
    await store.insertHeartbeats(rowsOf('big', hbs, 0));
    assert.deepEqual(await store.checkpoint(), new Map([[`${VIEWS}:0`, 5000]]));
    assert.deepEqual(await store.videoAnalytics('big'), summariseHeartbeats(hbs));
  }));

  describe('studio insights (issue 15): given five sessions of a 100 s video, one of unknown duration and one capped by view rule v2', () => {
    // s1 (u1) watches half; s2 the whole video an hour later; s3 5 s (no view); s4 40 s of a video of
    // unknown duration the next UTC day (still 24 Nov in New York); s5 (u1 again) claims 100 s ten
    // seconds into its session: view rule v2 caps it at 2 × 10 s + 5 s slack = 25 s.
    const at = (s: number) => T0 + s * 1000;
    const nextDay = Date.UTC(2026, 10, 25, 3, 0, 0);
    const script: Heartbeat[] = [
      { sessionId: 's1', viewerId: 'u1', watchedSeconds: 10, videoDurationSeconds: 100, viewedAt: at(10) },
      { sessionId: 's1', viewerId: 'u1', watchedSeconds: 50, videoDurationSeconds: 100, viewedAt: at(50) },
      { sessionId: 's3', viewerId: 'u1', watchedSeconds: 5, videoDurationSeconds: 100, viewedAt: at(20) },
      { sessionId: 's5', viewerId: 'u1', watchedSeconds: 100, videoDurationSeconds: 100, viewedAt: at(110), sessionStartedAt: at(100) },
      { sessionId: 's2', viewerId: null, watchedSeconds: 100, videoDurationSeconds: 100, viewedAt: at(3700) },
      { sessionId: 's4', viewerId: null, watchedSeconds: 40, videoDurationSeconds: 0, viewedAt: nextDay },
    ];
    const query = (interval: 'minute' | 'hour' | 'day', timeZone = 'UTC') => ({ now: at(55), interval, timeZone });
    const given = async (fn: (store: AnalyticsStore) => Promise<void>) => withStore(async (store) => {
      await store.insertHeartbeats(rowsOf('v', script, 0));
      await store.insertHeartbeats(rowsOf('v', script.slice(0, 2), 0)); // redelivered: no change
      await store.insertHeartbeats(rowsOf('other', script, script.length));
      await fn(store);
    });

    test('then sessions, average view duration (watch time ÷ views) and the retention curve follow the effective watched seconds', () => given(async (store) => {
      const got = await store.videoInsights('v', query('day'));
      assert.equal(got.sessions, 5);
      assert.equal(got.average_view_duration_seconds, (50 + 100 + 5 + 40 + 25) / 4);
      assert.equal(got.retention.length, 101);
      const share = (p: number) => (p <= 5 ? 1 : p <= 25 ? 3 / 4 : p <= 50 ? 2 / 4 : 1 / 4);
      assert.deepEqual(got.retention, Array.from({ length: 101 }, (_, p) => ({ position_percent: p, share: share(p) })));
    }));

    test('then concurrent viewers are the sessions with a heartbeat in the 30 s up to now, and per minute over the day before now', () => given(async (store) => {
      const got = await store.videoInsights('v', query('minute'));
      assert.deepEqual(got.concurrent_viewers, { now: 1, window_seconds: 30, per_minute: [{ minute: '2026-11-24T10:00:00Z', viewers: 2 }] });
      const later = await store.videoInsights('v', { ...query('minute'), now: at(3710) });
      assert.deepEqual(later.concurrent_viewers.now, 1, 's2 alone at 11:01:40');
      assert.deepEqual(later.concurrent_viewers.per_minute.map((m) => m.viewers), [2, 1, 1]);
    }));

    test('then views and unique viewers fall in the bucket each session first counted in, in the time zone asked for', () => given(async (store) => {
      const points = async (interval: 'minute' | 'hour' | 'day', tz?: string) => (await store.videoInsights('v', query(interval, tz))).views_over_time.points;
      assert.deepEqual(await points('day'), [
        { start: '2026-11-24T00:00:00Z', views: 3, unique_viewers: 2 }, { start: '2026-11-25T00:00:00Z', views: 1, unique_viewers: 1 }]);
      assert.deepEqual(await points('day', 'America/New_York'), [{ start: '2026-11-24T05:00:00Z', views: 4, unique_viewers: 3 }]);
      assert.deepEqual(await points('hour'), [
        { start: '2026-11-24T10:00:00Z', views: 2, unique_viewers: 1 }, { start: '2026-11-24T11:00:00Z', views: 1, unique_viewers: 1 },
        { start: '2026-11-25T03:00:00Z', views: 1, unique_viewers: 1 }]);
      assert.deepEqual(await points('hour', 'Asia/Kolkata'), [
        { start: '2026-11-24T09:30:00Z', views: 2, unique_viewers: 1 }, { start: '2026-11-24T10:30:00Z', views: 1, unique_viewers: 1 },
        { start: '2026-11-25T02:30:00Z', views: 1, unique_viewers: 1 }]);
      assert.deepEqual((await points('minute', 'Asia/Kolkata')).map((p) => p.start), ['2026-11-24T10:00:00Z', '2026-11-24T10:01:00Z', '2026-11-24T11:01:00Z', '2026-11-25T03:00:00Z']);
      const got = await store.videoInsights('v', query('day', 'America/New_York'));
      assert.deepEqual([got.views_over_time.interval, got.views_over_time.time_zone], ['day', 'America/New_York']);
    }));

    test('then a video without heartbeats has zero figures and empty series', () => given(async (store) => {
      assert.deepEqual(await store.videoInsights('none', query('hour', 'Europe/Paris')), {
        views: 0, unique_viewers: 0, watch_time_seconds: 0, views_per_minute: [],
        sessions: 0, average_view_duration_seconds: 0, retention: [],
        concurrent_viewers: { now: 0, window_seconds: 30, per_minute: [] },
        views_over_time: { interval: 'hour', time_zone: 'Europe/Paris', points: [] },
        startup_time_ms: { p50: null, p95: null, samples: 0 }, rebuffer_count: 0, rebuffer_seconds: 0, rebuffer_ratio: 0,
        renditions_watched: [], playback_errors: { count: 0, by_code: [] },
        likes_over_time: { interval: 'hour', time_zone: 'Europe/Paris', points: [] },
        comments_over_time: { interval: 'hour', time_zone: 'Europe/Paris', points: [] },
        engagement_rate: 0,
      });
    }));
  });

  describe('quality of experience (issue 15): given the playback events of three sessions beside their heartbeats', () => {
    const PLAYBACK = TOPICS.playback;
    let at = T0;
    const ev = (session: string, type: string, extra: Partial<PlaybackRow> = {}): Omit<PlaybackRow, 'offset'> => ({
      video_id: 'q', session_id: session, type, position_seconds: 1, startup_time_ms: null, rendition_height: null, rebuffer_ms: null, error_code: '',
      at: (at += 1000), topic: PLAYBACK, partition: 1, ...extra,
    });
    const events = [
      ev('a', 'PlaybackStarted', { startup_time_ms: 300, rendition_height: 720 }),
      ev('a', 'RenditionSwitched', { rendition_height: 1080 }),
      ev('a', 'RebufferStarted'), ev('a', 'RebufferEnded', { rebuffer_ms: 2000 }),
      ev('b', 'PlaybackStarted', { startup_time_ms: 100, rendition_height: 720 }),
      ev('b', 'PlaybackFailed', { error_code: 'fragLoadError' }), ev('b', 'PlaybackFailed', { error_code: 'fragLoadError' }),
      ev('c', 'PlaybackStarted', { startup_time_ms: 900 }),
      ev('c', 'RebufferStarted'), ev('c', 'RebufferEnded', { rebuffer_ms: 1000 }), ev('c', 'PlaybackFailed', { error_code: 'MEDIA_ERR_DECODE' }),
      ev('c', 'PlaybackEnded'),
      ev('other', 'PlaybackStarted', { video_id: 'elsewhere', startup_time_ms: 5, rendition_height: 240 }),
      ev('other2', 'PlaybackStarted', { video_id: 'elsewhere', startup_time_ms: 15 }),
    ].map((e, offset): PlaybackRow => ({ ...e, offset }));
    // 27 s watched in all: the ratio is 3 s stalled ÷ (27 + 3).
    const heartbeats: Heartbeat[] = [
      { sessionId: 'a', viewerId: null, watchedSeconds: 20, videoDurationSeconds: 60, viewedAt: T0 + 20_000 },
      { sessionId: 'c', viewerId: null, watchedSeconds: 7, videoDurationSeconds: 60, viewedAt: T0 + 20_000 },
    ];

    test('then startup p50/p95, rebuffers, the ratio, the renditions and the errors are counted once per event, whatever was redelivered', () => withStore(async (store) => {
      await store.insertPlaybackEvents(events.slice(0, 6));
      await store.insertPlaybackEvents(events.slice(3)); // 3..5 redelivered
      await store.insertHeartbeats(rowsOf('q', heartbeats, 0));
      await store.insertPlaybackEvents([{ ...events[0]!, offset: 100, video_id: '', session_id: '', type: '' }]); // a skip marker
      const got = await store.videoInsights('q', { now: T0 + 60_000, interval: 'hour', timeZone: 'UTC' });
      assert.deepEqual(got.startup_time_ms, { p50: 300, p95: 900, samples: 3 });
      assert.deepEqual([got.rebuffer_count, got.rebuffer_seconds, got.rebuffer_ratio], [2, 3, 3 / 30]);
      assert.deepEqual(got.renditions_watched, [{ height: 720, sessions: 2 }, { height: 1080, sessions: 1 }]);
      assert.deepEqual(got.playback_errors, { count: 3, by_code: [{ code: 'fragLoadError', errors: 2, sessions: 1 }, { code: 'MEDIA_ERR_DECODE', errors: 1, sessions: 1 }] });
      // Playback: the lower of the events' (101, the skip marker's) and the running totals' (14) positions.
      assert.deepEqual(await store.checkpoint(), new Map([[`${VIEWS}:0`, 2], [`${PLAYBACK}:1`, 14]]), 'both topics, each from its own table');
      const elsewhere = await store.videoInsights('elsewhere', { now: T0, interval: 'hour', timeZone: 'UTC' });
      assert.deepEqual(elsewhere.renditions_watched, [{ height: 240, sessions: 1 }]);
      assert.deepEqual(elsewhere.startup_time_ms, { p50: 5, p95: 15, samples: 2 }, 'nearest rank: the 1st of 2 is the median, not the 2nd');
    }));
  });

  testChannelAnalytics((fn) => withStore((store) => fn(store)));
  testEngagementStore((fn) => withStore((store) => fn(store)));
  testPlaybackSessions(target, freshDatabase);

  test('a closed store refuses with ANALYTICS_CLOSED; closing twice is fine', async () => {
    const store = await target.open(freshDatabase());
    await store.close();
    await store.close();
    await assert.rejects(store.insertHeartbeats([skipMarker(0, 0)]), { code: 'ANALYTICS_CLOSED' });
    await assert.rejects(store.insertEngagementEvents([]), { code: 'ANALYTICS_CLOSED' });
    await assert.rejects(store.checkpoint(), { code: 'ANALYTICS_CLOSED' });
    await assert.rejects(store.videoAnalytics('v1'), { code: 'ANALYTICS_CLOSED' });
  });
}
