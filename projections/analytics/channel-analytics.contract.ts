/**
 * The per-channel rollup part of the AnalyticsStore contract (issue 15 "per channel"; registered
 * by testAnalyticsStore, so it runs on every target: chDB in both dialects, a ClickHouse server
 * through @clickhouse/client and ClickHouse 18.16). Given heartbeats of a channel's videos and of
 * another channel's, when the rollup of the channel's ids is asked, then its figures are the
 * channel's only, agree with the per-video figures, count a viewer of several videos once, and
 * treat ids as data (commas, quotes and the empty id included).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TOPICS } from '../../schemas/topics.ts';
import type { AnalyticsStore, EngagementRow, HeartbeatRow } from './analytics-store.port.ts';
import type { InsightsQuery } from './analytics.port.ts';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const DAY = 24 * 3600 * 1000;

/** One heartbeat row (view rule v1: no session start, so watched seconds count as sent). */
const hb = (video: string, session: string, viewer: string, watched: number, at: number, offset: number): HeartbeatRow => ({
  video_id: video, session_id: session, viewer_id: viewer, watched_seconds: watched, video_duration_seconds: 600,
  viewed_at: at, session_started_at: null, topic: TOPICS.views, partition: 0, offset,
});

const query = (interval: InsightsQuery['interval'] = 'day'): InsightsQuery => ({ now: T0 + 3 * DAY, interval, timeZone: 'UTC' });

/** Registers the channel-rollup tests; `withStore` runs a test on a store of a fresh database. */
export function testChannelAnalytics(withStore: (fn: (store: AnalyticsStore) => Promise<void>) => Promise<void>): void {
  describe('per-channel rollup (issue 15)', () => {
    // Channel videos c1 and c2; x1 belongs to another channel. Viewer u1 watches c1 and c2.
    const rows: HeartbeatRow[] = [
      hb('c1', 's1', 'u1', 5, T0, 0), hb('c1', 's1', 'u1', 40, T0 + 30_000, 1), // a view on day 0, 40 s
      hb('c1', 's2', '', 12, T0 + DAY, 2), // an anonymous view on day 1, 12 s
      hb('c1', 's3', 'u2', 4, T0 + DAY, 3), // a session, no view (4 s < 10 s)
      hb('c2', 's4', 'u1', 25, T0 + DAY, 4), // u1 again, on c2: day 1
      hb('x1', 's5', 'u3', 100, T0, 5), // another channel's
    ];

    test('given views on two of the channel\'s videos, then views, watch time, sessions, unique viewers, views over time and top videos are the channel\'s', () => withStore(async (store) => {
      await store.insertHeartbeats(rows);
      await store.insertHeartbeats(rows.slice(1, 4)); // redelivered: counted once
      const got = await store.channelAnalytics('ch', ['c1', 'c2', 'c3', 'c1'], query('day'));
      assert.equal(got.videos, 3, 'c1, c2 and the unwatched c3; the duplicate once');
      assert.equal(got.views, 3);
      assert.equal(got.watch_time_seconds, 40 + 12 + 4 + 25);
      assert.equal(got.sessions, 4);
      assert.equal(got.unique_viewers, 2, 'u1 once across c1 and c2, and the anonymous session');
      assert.equal(got.average_view_duration_seconds, (40 + 12 + 4 + 25) / 3);
      assert.deepEqual(got.views_over_time, {
        interval: 'day', time_zone: 'UTC',
        points: [
          { start: '2026-11-24T00:00:00Z', views: 1, unique_viewers: 1 },
          { start: '2026-11-25T00:00:00Z', views: 2, unique_viewers: 2 },
        ],
      });
      assert.deepEqual(got.top_videos, [{ video_id: 'c1', views: 2, watch_time_seconds: 56 }, { video_id: 'c2', views: 1, watch_time_seconds: 25 }]);
    }));

    test('then the rollup agrees with the per-video figures it sums', () => withStore(async (store) => {
      await store.insertHeartbeats(rows);
      const got = await store.channelAnalytics('ch', ['c1', 'c2'], query('hour'));
      const each = await Promise.all(['c1', 'c2'].map((v) => store.videoAnalytics(v)));
      assert.equal(got.views, each.reduce((n, a) => n + a.views, 0));
      assert.equal(got.watch_time_seconds, each.reduce((n, a) => n + a.watch_time_seconds, 0));
      assert.equal(got.views_over_time.points.reduce((n, p) => n + p.views, 0), got.views);
    }));

    test('given no video ids, then every figure is zero', () => withStore(async (store) => {
      await store.insertHeartbeats(rows);
      const got = await store.channelAnalytics('ch', [], query('minute'));
      assert.deepEqual(got, {
        videos: 0, views: 0, unique_viewers: 0, watch_time_seconds: 0, sessions: 0, average_view_duration_seconds: 0,
        views_over_time: { interval: 'minute', time_zone: 'UTC', points: [] }, top_videos: [],
        subscribers_gained: 0, subscribers_lost: 0, subscribers_over_time: { interval: 'minute', time_zone: 'UTC', points: [] },
      });
    }));

    test('given subscriptions to the channel and to another, when the rollup is asked, then the channel\'s subscribers gained and lost are counted once each, in total and per day', () => withStore(async (store) => {
      const sub = (channel: string, kind: 'subscribe' | 'unsubscribe', at: number, offset: number): EngagementRow => ({ video_id: channel, kind, at, topic: TOPICS.subscriptions, partition: 0, offset });
      const events = [sub('ch', 'subscribe', T0, 0), sub('ch', 'subscribe', T0 + 1000, 1), sub('ch', 'unsubscribe', T0 + DAY, 2), sub('other', 'subscribe', T0, 3), sub('ch', 'subscribe', T0 + DAY, 4)];
      await store.insertEngagementEvents(events);
      await store.insertEngagementEvents(events.slice(1, 3)); // redelivered
      const got = await store.channelAnalytics('ch', ['c1'], query('day'));
      assert.deepEqual([got.subscribers_gained, got.subscribers_lost], [3, 1]);
      assert.deepEqual(got.subscribers_over_time, {
        interval: 'day', time_zone: 'UTC',
        points: [{ start: '2026-11-24T00:00:00Z', gained: 2, lost: 0 }, { start: '2026-11-25T00:00:00Z', gained: 1, lost: 1 }],
      });
      assert.equal((await store.channelAnalytics('nobody', [], query('day'))).subscribers_gained, 0);
    }));

    test('ids are data: a comma, quotes or an empty id never widen the set', () => withStore(async (store) => {
      const odd = ['a,b', "it's", 'a'];
      await store.insertHeartbeats([
        ...odd.map((v, i) => hb(v, `s${i}`, '', 30, T0, i)),
        hb('b', 'sb', '', 30, T0, 10),
        { ...hb('', '', '', 0, T0, 11) }, // a skip marker's empty id
      ]);
      const got = await store.channelAnalytics('ch', ['a,b', "it's"], query());
      assert.equal(got.views, 2, 'a,b and it\'s: not a, not b');
      assert.deepEqual(got.top_videos.map((v) => v.video_id).sort(), ["a,b", "it's"]);
      assert.equal((await store.channelAnalytics('ch', [''], query())).views, 0, 'the empty id is a video id like any other: no views');
    }));
  });
}
