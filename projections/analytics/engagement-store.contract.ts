/**
 * The engagement part of the AnalyticsStore contract (issue 15: likes and comments over time,
 * engagement rate), registered by testAnalyticsStore (analytics-store.contract.ts) in its suite,
 * so it runs on every target: chDB in both dialects, @clickhouse/client over the chDB HTTP shim,
 * and a ClickHouse 18.16 server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TOPICS } from '../../schemas/topics.ts';
import type { AnalyticsStore, EngagementKind, EngagementRow, HeartbeatRow } from './analytics-store.port.ts';
import type { AnalyticsInterval } from './analytics.port.ts';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const NEXT_DAY = Date.UTC(2026, 10, 25, 3, 0, 0);
const at = (s: number) => T0 + s * 1000;

/** A video id with a quote and SQL in it: data, never SQL. */
const OTHER = "x' OR video_id != 'x";

/** Heartbeats of `sessions` sessions of `videoId` that each count as a view (20 s of a 60 s video). */
const viewsOf = (videoId: string, sessions: number, firstOffset: number): HeartbeatRow[] => Array.from({ length: sessions }, (_, i) => ({
  video_id: videoId, session_id: `${videoId}-s${i}`, viewer_id: '', watched_seconds: 20, video_duration_seconds: 60, viewed_at: at(5),
  session_started_at: at(-60), topic: TOPICS.views, partition: 0, offset: firstOffset + i,
}));

/**
 * Registers the engagement contract tests in the current suite.
 * @param withStore runs a test body on a store of a fresh database and closes it
 */
export function testEngagementStore(withStore: (fn: (store: AnalyticsStore) => Promise<void>) => Promise<void>): void {
  describe('likes and comments over time, engagement rate (issue 15): given the likes and comments of a video with four views', () => {
    const like = (videoId: string, kind: EngagementKind, when: number, offset: number): EngagementRow => ({ video_id: videoId, kind, at: when, topic: TOPICS.likes, partition: 0, offset });
    const comment = (kind: EngagementKind, when: number, offset: number): EngagementRow => ({ video_id: 'e', kind, at: when, topic: TOPICS.comments, partition: 2, offset });
    // Three likes (two at 10:00, one the next day at 03:00 UTC), one taken back at 11:01:40; two
    // comments at 10:00, one deleted at 11:03:20. Another video's like and a skip marker beside them.
    const likes = [
      like('e', 'like', at(10), 0), like('e', 'like', at(20), 1), like('e', 'unlike', at(3700), 2), like('e', 'like', NEXT_DAY, 3),
      like(OTHER, 'like', at(15), 4), { video_id: '', kind: '', at: at(16), topic: TOPICS.likes, partition: 0, offset: 5 } as EngagementRow,
    ];
    const comments = [comment('comment', at(30), 0), comment('comment', at(40), 1), comment('comment_deleted', at(3800), 2)];
    const query = (interval: AnalyticsInterval, timeZone = 'UTC') => ({ now: at(60), interval, timeZone });
    const given = (fn: (store: AnalyticsStore) => Promise<void>) => withStore(async (store) => {
      await store.insertEngagementEvents(likes.slice(0, 3));
      await store.insertEngagementEvents(likes); // 0..2 redelivered
      await store.insertEngagementEvents(comments);
      await store.insertEngagementEvents(comments.slice(1)); // redelivered
      await store.insertHeartbeats(viewsOf('e', 4, 0));
      await fn(store);
    });

    test('when the hourly figures are asked for in UTC, then each event counts once in the hour it happened', () => given(async (store) => {
      const got = await store.videoInsights('e', query('hour'));
      assert.deepEqual(got.likes_over_time, {
        interval: 'hour', time_zone: 'UTC', points: [
          { start: '2026-11-24T10:00:00Z', likes: 2, unlikes: 0 }, { start: '2026-11-24T11:00:00Z', likes: 0, unlikes: 1 },
          { start: '2026-11-25T03:00:00Z', likes: 1, unlikes: 0 }],
      });
      assert.deepEqual(got.comments_over_time, {
        interval: 'hour', time_zone: 'UTC', points: [{ start: '2026-11-24T10:00:00Z', comments: 2, deleted: 0 }, { start: '2026-11-24T11:00:00Z', comments: 0, deleted: 1 }],
      });
    }));

    test('when days and minutes are asked for in other time zones, then the buckets follow the zone as views_over_time does', () => given(async (store) => {
      const points = async (interval: AnalyticsInterval, tz?: string) => {
        const got = await store.videoInsights('e', query(interval, tz));
        return { likes: got.likes_over_time.points, comments: got.comments_over_time.points };
      };
      assert.deepEqual(await points('day'), {
        likes: [{ start: '2026-11-24T00:00:00Z', likes: 2, unlikes: 1 }, { start: '2026-11-25T00:00:00Z', likes: 1, unlikes: 0 }],
        comments: [{ start: '2026-11-24T00:00:00Z', comments: 2, deleted: 1 }],
      });
      assert.deepEqual(await points('day', 'America/New_York'), {
        likes: [{ start: '2026-11-24T05:00:00Z', likes: 3, unlikes: 1 }], comments: [{ start: '2026-11-24T05:00:00Z', comments: 2, deleted: 1 }],
      });
      assert.deepEqual((await points('hour', 'Asia/Kolkata')).likes.map((p) => p.start), ['2026-11-24T09:30:00Z', '2026-11-24T10:30:00Z', '2026-11-25T02:30:00Z']);
      assert.deepEqual((await points('minute', 'Asia/Kolkata')).comments, [{ start: '2026-11-24T10:00:00Z', comments: 2, deleted: 0 }, { start: '2026-11-24T11:03:00Z', comments: 0, deleted: 1 }]);
      const got = await store.videoInsights('e', query('day', 'America/New_York'));
      assert.deepEqual([got.comments_over_time.interval, got.comments_over_time.time_zone], ['day', 'America/New_York']);
    }));

    test('then the engagement rate is (standing likes + standing comments) ÷ views: (3 − 1 + 2 − 1) ÷ 4', () => given(async (store) => {
      assert.equal((await store.videoInsights('e', query('hour'))).engagement_rate, 3 / 4);
    }));

    test('then the checkpoint covers the likes and comments topics beside the views topic, skip markers included', () => given(async (store) => {
      assert.deepEqual(await store.checkpoint(), new Map([[`${TOPICS.views}:0`, 4], [`${TOPICS.likes}:0`, 6], [`${TOPICS.comments}:2`, 3]]));
    }));

    test('then another video keeps its own engagement, and a video without views has an engagement rate of 0', () => given(async (store) => {
      const other = await store.videoInsights(OTHER, query('hour'));
      assert.deepEqual(other.likes_over_time.points, [{ start: '2026-11-24T10:00:00Z', likes: 1, unlikes: 0 }]);
      assert.deepEqual([other.comments_over_time.points, other.engagement_rate], [[], 0]);
      const none = await store.videoInsights('none', query('hour'));
      assert.deepEqual([none.likes_over_time.points, none.comments_over_time.points, none.engagement_rate], [[], [], 0]);
    }));
  });

  test('engagement: standing counts never go below 0 (an unlike or deletion whose like or comment is not stored), and a bad log position fails the batch', () => withStore(async (store) => {
    await store.insertEngagementEvents([{ video_id: 'n', kind: 'unlike', at: at(1), topic: TOPICS.likes, partition: 0, offset: 0 }]);
    await store.insertEngagementEvents([{ video_id: 'n', kind: 'comment', at: at(2), topic: TOPICS.comments, partition: 0, offset: 0 }]);
    await store.insertHeartbeats(viewsOf('n', 2, 0));
    assert.equal((await store.videoInsights('n', { now: at(60), interval: 'day', timeZone: 'UTC' })).engagement_rate, 1 / 2);
    const good: EngagementRow = { video_id: 'n', kind: 'like', at: at(3), topic: TOPICS.likes, partition: 0, offset: 1 };
    await assert.rejects(store.insertEngagementEvents([good, { ...good, offset: -1 }]), { name: 'AnalyticsStoreError', code: 'ANALYTICS_IO' });
    assert.equal((await store.checkpoint()).get(`${TOPICS.likes}:0`), 1);
  }));
}
