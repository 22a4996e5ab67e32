/**
 * The incrementally aggregated reads of the AnalyticsStore contract (issue 15: "materialized
 * views or incremental aggregation, not a re-scan per request"), registered by testAnalyticsStore
 * in its suite:
 * - the running playback totals (playback-sessions.ts) stay exact when a batch comes again after
 *   a restart (the totals restored from playback_sessions), after a reassignment (what memory
 *   held is dropped), while two instances share the database in a rebalance, and when a database
 *   written before playback_sessions is opened (the one-off backfill);
 * - concurrent viewers (concurrent.sql.ts) are exact at the edges of their windows, whatever was
 *   redelivered, and after the backfill of a database written before their tables.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TOPICS } from '../../schemas/topics.ts';
import type { AnalyticsStore, HeartbeatRow, PlaybackRow } from './analytics-store.port.ts';
import { minuteIso } from '../../domain/view/view-rule.ts';
import type { VideoInsights } from './analytics.port.ts';

/** What this part of the contract needs beyond `open`. */
export interface PlaybackSessionsTarget {
  open(database: string): Promise<AnalyticsStore>;
  /** True when two stores of one database may be open at once (a server; not chDB, one directory per process); else that test is not registered. */
  concurrent?: boolean;
  /** Runs one statement on the server (to make a database look as an older release left it); absent: those tests are not registered. */
  exec?: (statement: string) => Promise<void>;
}

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const QUERY = { now: T0 + 3_600_000, interval: 'hour', timeZone: 'UTC' } as const;
/** A video id with a quote in it: data, never SQL. */
const VIDEO = "p'q";

/** The quality-of-experience figures of an insights answer. */
const qoe = (i: VideoInsights) => ({
  startup: i.startup_time_ms, rebuffers: i.rebuffer_count, stalled: i.rebuffer_seconds, renditions: i.renditions_watched, errors: i.playback_errors,
});

/**
 * Playback events of two sessions over offsets 0…11 of partition 3, and the figures they make:
 * session a starts at 720p (400 ms), switches to 1080p, stalls twice (1.5 s) and fails once;
 * session b starts twice (200 and 600 ms), fails twice with one code and once with another.
 */
const events: PlaybackRow[] = ([
  ['a', 'PlaybackStarted', { startup_time_ms: 400, rendition_height: 720 }],
  ['b', 'PlaybackStarted', { startup_time_ms: 200, rendition_height: 480 }],
  ['a', 'RebufferStarted', {}],
  ['a', 'RebufferEnded', { rebuffer_ms: 1000 }],
  ['b', 'PlaybackFailed', { error_code: 'net' }],
  ['a', 'RenditionSwitched', { rendition_height: 1080 }],
  ['b', 'PlaybackStarted', { startup_time_ms: 600, rendition_height: 480 }],
  ['a', 'RebufferStarted', {}],
  ['b', 'PlaybackFailed', { error_code: 'net' }],
  ['a', 'RebufferEnded', { rebuffer_ms: 500 }],
  ['b', 'PlaybackFailed', { error_code: 'decode' }],
  ['a', 'PlaybackFailed', { error_code: 'net' }],
] as const).map(([session, type, extra], offset) => ({
  video_id: VIDEO, session_id: session, type, position_seconds: offset, startup_time_ms: null, rendition_height: null, rebuffer_ms: null,
  error_code: '', at: T0 + offset * 1000, topic: TOPICS.playback, partition: 3, offset, ...extra,
}));

const EXPECTED = {
  startup: { p50: 400, p95: 600, samples: 3 },
  rebuffers: 2,
  stalled: 1.5,
  renditions: [{ height: 480, sessions: 1 }, { height: 720, sessions: 1 }, { height: 1080, sessions: 1 }],
  errors: { count: 4, by_code: [{ code: 'net', errors: 3, sessions: 2 }, { code: 'decode', errors: 1, sessions: 1 }] },
};

/** Registers the tests in the current suite; `freshDatabase` names a database no test has used. */
export function testPlaybackSessions(target: PlaybackSessionsTarget, freshDatabase: () => string): void {
  /** Opens `database`, runs `fn`, closes it even on failure. */
  const using = async <T>(database: string, fn: (store: AnalyticsStore) => Promise<T>): Promise<T> => {
    const store = await target.open(database);
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
  const figures = async (store: AnalyticsStore) => qoe(await store.videoInsights(VIDEO, QUERY));

  describe('running playback totals (issue 15: incremental aggregation): given two sessions\' events in three batches', () => {
    test('when the store restarts between batches and each batch comes again after it, then every event counts once', async () => {
      const database = freshDatabase();
      await using(database, (s) => s.insertPlaybackEvents(events.slice(0, 5)));
      // Restarted: no totals in memory; 3…4 come again beside new events, as after a crash before the checkpoint moved.
      await using(database, (s) => s.insertPlaybackEvents(events.slice(3, 9)));
      const got = await using(database, async (s) => {
        await s.insertPlaybackEvents(events.slice(0, 12));
        await s.insertPlaybackEvents(events.slice(10, 12));
        return figures(s);
      });
      assert.deepEqual(got, EXPECTED);
    });

    test('when the events come in one batch per event, then the figures are those of one batch of all', async () => {
      const database = freshDatabase();
      const got = await using(database, async (s) => {
        for (const e of events) await s.insertPlaybackEvents([e]);
        return figures(s);
      });
      assert.deepEqual(got, EXPECTED);
    });

    // Registered only where they can run (CI allows no skipped test): two stores at once, a statement runner.
    if (target.concurrent) test('when another instance applies the middle batch while this one is reassigned, then this one continues from what that one wrote', async () => {
      const database = freshDatabase();
      const first = await target.open(database);
      try {
        await first.insertPlaybackEvents(events.slice(0, 4));
        await using(database, async (second) => {
          second.forgetRunningTotals(); // assigned: as the projection runtime does, then seeks to the checkpoint
          await second.checkpoint();
          await second.insertPlaybackEvents(events.slice(4, 8));
        });
        first.forgetRunningTotals(); // the partition comes back to the first instance
        await first.checkpoint();
        await first.insertPlaybackEvents(events.slice(8));
        assert.deepEqual(await figures(first), EXPECTED);
      } finally {
        await first.close();
      }
    });

    if (target.exec) test('when events were stored without their totals (a release before them, in a rolling upgrade), then the checkpoint goes back for them and they count once', async () => {
      const database = freshDatabase();
      await using(database, (s) => s.insertPlaybackEvents(events));
      await target.exec!(`TRUNCATE TABLE ${database}.playback_sessions`); // the backfill's marker stays: it ran before those events
      const got = await using(database, async (s) => {
        const from = (await s.checkpoint()).get(`${TOPICS.playback}:3`) ?? 0; // where the projection would seek
        await s.insertPlaybackEvents(events.slice(from));
        return figures(s);
      });
      assert.deepEqual(got, EXPECTED);
    });

    test('when one batch brings 1,500 new sessions with ids as long as real ones, then their totals are read and stored', async () => {
      const database = freshDatabase();
      const long = (i: number) => `ps1.1764000000000.1764003600000.${String(i).padStart(22, '0')}.${'m'.repeat(43)}`;
      const many = Array.from({ length: 1500 }, (_, i): PlaybackRow => ({ ...events[0]!, video_id: 'many', session_id: long(i), startup_time_ms: i, offset: i }));
      const samples = await using(database, async (s) => {
        await s.insertPlaybackEvents(many);
        s.forgetRunningTotals(); // as on an assignment: the next batch reads every session's totals, in chunks
        await s.insertPlaybackEvents(many.map((r) => ({ ...r, type: 'RebufferStarted', offset: r.offset + 1500 })));
        return (await s.videoInsights('many', QUERY));
      });
      assert.equal(long(0).length, 98);
      assert.deepEqual([samples.startup_time_ms.samples, samples.rebuffer_count], [1500, 1500]);
    });

    if (target.exec) test('when a database written before playback_sessions is opened, then the stored events are folded in once and new ones add to them', async () => {
      const database = freshDatabase();
      await using(database, (s) => s.insertPlaybackEvents(events.slice(0, 7)));
      // As an older release left it: the events, and neither totals nor the backfill's marker.
      await target.exec!(`TRUNCATE TABLE ${database}.playback_sessions`);
      await target.exec!(`DROP TABLE ${database}.playback_sessions_backfilled`);
      const got = await using(database, async (s) => {
        await s.insertPlaybackEvents(events.slice(5)); // 5…6 again
        return figures(s);
      });
      assert.deepEqual(got, EXPECTED);
      // Opened again: no second backfill (it would be harmless, but it is a full scan).
      assert.deepEqual(await using(database, figures), EXPECTED);
    });
  });

  describe('concurrent viewers (issue 15): given heartbeats on both sides of the edges of the 30 s and 24 h windows', () => {
    const now = Date.UTC(2026, 10, 24, 12, 0, 30, 500); // mid-minute
    const since = now - 24 * 3600_000;
    const beats: [session: string, at: number][] = [
      ['early', since - 1000], ['edge', since], ['first', since + 1], // only `first` is inside the day, in its partial first minute
      ['a', Date.UTC(2026, 10, 24, 10, 0, 5)], ['b', Date.UTC(2026, 10, 24, 10, 0, 59, 999)], ['a', Date.UTC(2026, 10, 24, 10, 0, 30)],
      ['e', Date.UTC(2026, 10, 24, 12, 0, 0)], ['f', now - 29_999], ['c', now], ['late', now + 1], // the partial last minute
    ];
    const rows: HeartbeatRow[] = beats.map(([session, at], offset) => ({
      video_id: VIDEO, session_id: session, viewer_id: '', watched_seconds: 5, video_duration_seconds: 60, viewed_at: at, session_started_at: null,
      topic: TOPICS.views, partition: 0, offset,
    }));
    const expected = {
      now: 2, // f and c; e is 30.5 s before now
      window_seconds: 30,
      per_minute: [
        { minute: minuteIso(Date.UTC(2026, 10, 23, 12, 0)), viewers: 1 },
        { minute: minuteIso(Date.UTC(2026, 10, 24, 10, 0)), viewers: 2 },
        { minute: minuteIso(Date.UTC(2026, 10, 24, 12, 0)), viewers: 3 },
      ],
    };
    const concurrent = async (s: AnalyticsStore) => (await s.videoInsights(VIDEO, { now, interval: 'minute', timeZone: 'UTC' })).concurrent_viewers;

    test('when they are stored, some twice, then only the sessions inside each window count, once', async () => {
      const got = await using(freshDatabase(), async (s) => {
        await s.insertHeartbeats(rows.slice(0, 6));
        await s.insertHeartbeats(rows); // 0…5 again
        return concurrent(s);
      });
      assert.deepEqual(got, expected);
    });

    if (target.exec) test('when a database written before the concurrent-viewers tables is opened, then its heartbeats are in them', async () => {
      const database = freshDatabase();
      await using(database, (s) => s.insertHeartbeats(rows));
      for (const table of ['concurrent_heartbeats', 'concurrent_minutes']) await target.exec!(`TRUNCATE TABLE ${database}.${table}`);
      await target.exec!(`DROP TABLE ${database}.concurrent_backfilled`);
      assert.deepEqual(await using(database, concurrent), expected);
    });
  });
}
