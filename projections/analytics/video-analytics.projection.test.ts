import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent, VideoViewed } from '../../domain/events.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { createJsonEventCodec } from '../../test/support/json-event-codec.ts';
import { appendEvents, createScriptedLog, duplicatingLog, within } from '../testing/projection-test-kit.ts';
import { summariseHeartbeats } from '../view-rule.ts';
import { createChdbAnalyticsStore } from './chdb-analytics-store.adapter.ts';
import { createVideoAnalyticsProjection } from './video-analytics.projection.ts';

const codec = createJsonEventCodec();
const root = await mkdtemp(join(tmpdir(), 'sw-an-'));
after(() => rm(root, { recursive: true, force: true }));

const at = (hh: number, mm: number, ss: number) => Date.UTC(2026, 10, 24, hh, mm, ss);
const hb = (videoId: string, sessionId: string, watchedSeconds: number, viewerId: string | null, viewedAt: number, videoDurationSeconds = 60): VideoViewed => ({
  type: 'VideoViewed', data: { videoId, sessionId, viewerId, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds, viewedAt },
});

const script: VideoViewed[] = [
  hb('v1', 's1', 4, 'u1', at(10, 0, 5)), hb('v1', 's1', 11, 'u1', at(10, 0, 15)), hb('v1', 's1', 25, 'u1', at(10, 0, 30)),
  hb('v1', 's2', 15, 'u1', at(10, 1, 10)), // same viewer, second session
  hb('v1', 's3', 9, null, at(10, 1, 20)), hb('v1', 's3', 3, null, at(10, 1, 30)), // below 10 s
  hb('v1', 's4', 12, null, at(10, 2, 5)), hb('v1', 's4', 8, null, at(10, 2, 10)), // decreasing heartbeat
  hb('short', 's6', 5.75, 'u2', at(11, 0, 0), 6), // whole 6 s video (≥ 6 − 0.5)
  hb('short', 's7', 5.25, 'u3', at(11, 0, 0), 6), // not whole
];

// One chDB data directory per process at a time: every test closes its store before the next opens.
async function run(log: EventLog, dir: string) {
  const store = await createChdbAnalyticsStore({ path: join(root, dir) });
  const p = createVideoAnalyticsProjection({ store, codec });
  const h = await p.start(log);
  await within(h.caughtUp(), 10_000, 'caughtUp');
  return { p, h, store, async close() { await h.stop(); await p.close(); } };
}

describe('video-analytics projection (chDB)', () => {
  test('views, unique viewers, watch time and views per minute follow rule v1', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, script);
    const r = await run(log, 'numbers');
    try {
      const v1 = await r.p.queries.videoAnalytics('v1');
      assert.deepEqual(v1, {
        views: 3,
        unique_viewers: 2,
        watch_time_seconds: 25 + 15 + 9 + 12,
        views_per_minute: [
          { minute: '2026-11-24T10:00:00Z', views: 1 },
          { minute: '2026-11-24T10:01:00Z', views: 1 },
          { minute: '2026-11-24T10:02:00Z', views: 1 },
        ],
      });
      const short = await r.p.queries.videoAnalytics('short');
      assert.deepEqual(short, { views: 1, unique_viewers: 1, watch_time_seconds: 11, views_per_minute: [{ minute: '2026-11-24T11:00:00Z', views: 1 }] });
      // SQL and the in-memory rule agree.
      assert.deepEqual(v1, summariseHeartbeats(script.filter((e) => e.data.videoId === 'v1').map((e) => e.data)));
      assert.deepEqual(await r.p.queries.videoAnalytics('unknown'), { views: 0, unique_viewers: 0, watch_time_seconds: 0, views_per_minute: [] });
    } finally {
      await r.close();
    }
  });

  test('redelivered batches and re-inserted rows change nothing', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, script);
    const r = await run(duplicatingLog(log), 'dup');
    try {
      const before = await r.p.queries.videoAnalytics('v1');
      assert.equal(before.views, 3);
      // Re-insert rows at positions already stored (as a crash between insert and offset commit would).
      await r.store.insertHeartbeats(log.records(TOPICS.views).slice(0, 3).map((rec) => {
        const d = (JSON.parse(rec.value!.toString()) as VideoViewed).data;
        return { video_id: d.videoId, session_id: d.sessionId, viewer_id: d.viewerId ?? '', watched_seconds: d.watchedSeconds, video_duration_seconds: d.videoDurationSeconds, viewed_at: d.viewedAt, topic: rec.topic, partition: rec.partition, offset: rec.offset };
      }));
      assert.deepEqual(await r.p.queries.videoAnalytics('v1'), before);
    } finally {
      await r.close();
    }
  });

  test('restart resumes from the checkpoint derived from the table; undecodable records are checkpointed', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, script.slice(0, 4));
    const bad = await log.append(TOPICS.views, [{ key: 'v1', value: Buffer.from('garbage') }]);
    let r = await run(log, 'restart');
    assert.equal(await r.h.waitFor(bad, 5_000), true);
    assert.equal((await r.p.queries.videoAnalytics('v1')).views, 2);
    const ends = await log.endOffsets(TOPICS.views);
    const cp = await r.store.checkpoint();
    ends.forEach((end, partition) => { if (end > 0) assert.equal(cp.get(`${TOPICS.views}:${partition}`), end); });
    await r.close();

    await appendEvents(log, codec, script.slice(4) as DomainEvent[]);
    r = await run(log, 'restart');
    try {
      const v1 = await r.p.queries.videoAnalytics('v1');
      assert.equal(v1.views, 3);
      assert.equal(v1.watch_time_seconds, 61);
      const more = await appendEvents(log, codec, [hb('v1', 's9', 30, 'u9', at(10, 5, 0))]);
      assert.equal(await r.h.waitFor(more, 5_000), true);
      assert.equal((await r.p.queries.videoAnalytics('v1')).unique_viewers, 3);
    } finally {
      await r.close();
    }
  });

  test('the database option keeps two read models apart in one chDB directory; an illegal name is refused', async () => {
    const path = join(root, 'databases');
    const row = { session_id: 's', viewer_id: '', watched_seconds: 30, video_duration_seconds: 60, viewed_at: at(9, 0, 0), topic: TOPICS.views, partition: 0 };
    const live = await createChdbAnalyticsStore({ path });
    const shadow = await createChdbAnalyticsStore({ path, database: 'streamwave_replay_1' });
    try {
      await live.insertHeartbeats([{ ...row, video_id: 'v1', offset: 0 }]);
      await shadow.insertHeartbeats([{ ...row, video_id: 'v1', offset: 0 }, { ...row, session_id: 's2', video_id: 'v1', offset: 1 }]);
      assert.equal((await live.videoAnalytics('v1')).views, 1);
      assert.equal((await shadow.videoAnalytics('v1')).views, 2);
      assert.equal((await shadow.checkpoint()).get(`${TOPICS.views}:0`), 2);
      await assert.rejects(createChdbAnalyticsStore({ path, database: 'x; DROP DATABASE streamwave' }), { code: 'ANALYTICS_IO' });
    } finally {
      await shadow.close();
      await live.close();
    }
  });
});
