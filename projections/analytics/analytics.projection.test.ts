import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent, VideoViewed } from '../../domain/events.ts';
import { caseHeartbeats, VIEW_RULE_CASES, VIEW_RULE_V2_CASES } from '../../domain/view/view-rule.cases.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { appendEvents, createScriptedLog, driveReadModel, inMemoryStores, within } from '../testing/projection-test-kit.ts';
import { Session } from 'chdb';
import { createChdbAnalyticsStore } from './chdb-analytics-store.adapter.ts';
import { ANALYTICS, ANALYTICS_FETCH_WAIT_MS, ANALYTICS_VIEWER_PURPOSE, createAnalyticsProjection } from './analytics.projection.ts';
import { openReadModel } from '../read-models.ts';
import type { AnalyticsStore, HeartbeatRow } from './analytics-store.port.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { keyedPseudonyms } from '../../platform/keys/pseudonyms.ts';

const codec = await sharedAvroTestCodec();
const root = await mkdtemp(join(tmpdir(), 'sw-an-'));
after(() => rm(root, { recursive: true, force: true }));
// libchdb binds one data directory per process: every store of this file lives in this one,
// each test in a database of its own.
const chdbPath = join(root, 'chdb');
let databases = 0;
const freshStore = () => createChdbAnalyticsStore({ path: chdbPath, database: `t_${++databases}` });

const at = (hh: number, mm: number, ss: number) => Date.UTC(2026, 10, 24, hh, mm, ss);
const hb = (videoId: string, sessionId: string, watchedSeconds: number, viewerId: string | null, viewedAt: number, videoDurationSeconds = 60): VideoViewed => ({
  type: 'VideoViewed', data: { videoId, sessionId, viewerId, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds, viewedAt },
});
const script: VideoViewed[] = [
  hb('v1', 's1', 4, 'u1', at(10, 0, 5)), hb('v1', 's1', 11, 'u1', at(10, 0, 15)), hb('v1', 's1', 25, 'u1', at(10, 0, 30)),
  hb('v1', 's2', 15, 'u1', at(10, 1, 10)), // same viewer, second session
  hb('v1', 's3', 9, null, at(10, 1, 20)), hb('v1', 's3', 3, null, at(10, 1, 30)), // below 10 s
  hb('v1', 's4', 12, null, at(10, 2, 5)), hb('v1', 's4', 8, null, at(10, 2, 10)), // decreasing heartbeat
];

async function run(log: EventLog) {
  const store = await freshStore();
  const p = createAnalyticsProjection({ store });
  const h = await runProjection(p, { log, codec });
  await within(h.caughtUp(), 10_000, 'caughtUp');
  return { p, h, store, async close() { await h.stop(); await p.close(); } };
}

describe('analytics projection (chDB)', () => {
  describe('the SQL passes the view rule v1 and v2 tables of cases (domain/view/view-rule.cases.ts)', () => {
    // v2 cases go through the JSON codec: `sessionStartedAt` joins the VideoViewed Avro schema in
    // the playback-session change (issue 8, vcontract); the rule does not depend on the codec.
    for (const [c, codec] of [...VIEW_RULE_CASES.map((c) => [c, 'avro'] as const), ...VIEW_RULE_V2_CASES.map((c) => [c, 'json'] as const)]) {
      test(c.name, async () => {
        const { apply, queries, driver } = await driveReadModel('analytics', { codec, stores: { ...inMemoryStores(), analytics: freshStore } });
        try {
          await apply(caseHeartbeats(c).map((d): VideoViewed => ({ type: 'VideoViewed', data: { videoId: 'v', positionSeconds: d.watchedSeconds, ...d } })));
          assert.deepEqual(await queries.videoAnalytics('v'), c.expected);
        } finally {
          await driver.close();
        }
      });
    }
  });

  test('viewer ids are stored as pseudonyms keyed by the viewer\'s data key; an erasure unlinks them and a replay keeps the counts (issue 13)', async () => {
    const keys = await createEmbeddedDataKeyStore({ dir: join(root, 'keys') });
    const viewerPseudonyms = keyedPseudonyms(keys, ANALYTICS_VIEWER_PURPOSE);
    const log = await createScriptedLog();
    await appendEvents(log, codec, [...script, hb('v1', 's5', 30, 'u2', at(10, 3, 0))]);
    /** Runs the projection into a fresh table; returns the rows it inserted and the video's numbers. */
    const build = async () => {
      const rows: HeartbeatRow[] = [];
      const inner = await freshStore();
      const store: AnalyticsStore = { ...inner, insertHeartbeats: (r) => { rows.push(...r); return inner.insertHeartbeats(r); } };
      const p = createAnalyticsProjection({ store, viewerPseudonyms });
      const h = await runProjection(p, { log, codec });
      try {
        await within(h.caughtUp(), 10_000, 'caughtUp');
        return { rows, analytics: await p.queries.videoAnalytics('v1') };
      } finally {
        await h.stop();
        await p.close();
      }
    };
    try {
      const live = await build();
      const viewerIds = new Set(live.rows.map((r) => r.viewer_id).filter(Boolean));
      assert.equal(viewerIds.size, 2, 'one pseudonym per signed-in viewer');
      for (const v of viewerIds) assert.match(v, /^k1\.[A-Za-z0-9_-]{22}$/);
      assert.ok(live.rows.every((r) => !['u1', 'u2'].includes(r.viewer_id)), 'no user id is stored');
      assert.equal(live.rows.filter((r) => r.session_id === 's3').every((r) => r.viewer_id === ''), true, 'anonymous stays anonymous');
      assert.equal(live.analytics.unique_viewers, 3, 'u1 (two sessions), u2 and the anonymous s4 (s3 stayed under 10 s)');

      await keys.erase('u1');
      assert.ok(!viewerIds.has(await viewerPseudonyms.of('u1')), 'after the erasure the stored pseudonym cannot be recomputed from the id');
      const replayed = await build();
      assert.deepEqual(replayed.analytics, live.analytics, 'a replay after the erasure counts the same');
    } finally {
      await keys.close();
    }
  });

  test('an unknown video has all-zero analytics', async () => {
    const r = await run(await createScriptedLog());
    try {
      assert.deepEqual(await r.p.queries.videoAnalytics('unknown'), { views: 0, unique_viewers: 0, watch_time_seconds: 0, views_per_minute: [] });
    } finally {
      await r.close();
    }
  });

  test('redelivered batches and re-inserted rows change nothing', async () => {
    const { apply, queries, driver, codec: driverCodec } = await driveReadModel('analytics', { redeliver: true, stores: { ...inMemoryStores(), analytics: freshStore } });
    try {
      await apply(script);
      const before = await queries.videoAnalytics('v1');
      assert.equal(before.views, 3);
      // Re-insert rows at positions already stored (as a crash between insert and offset commit would).
      const store = await createChdbAnalyticsStore({ path: chdbPath, database: `t_${databases}` });
      try {
        await store.insertHeartbeats(await Promise.all(driver.log.records(TOPICS.views).slice(0, 3).map(async (rec) => {
          const d = ((await driverCodec.decode(rec.value!)) as VideoViewed).data;
          return { video_id: d.videoId, session_id: d.sessionId, viewer_id: d.viewerId ?? '', watched_seconds: d.watchedSeconds, video_duration_seconds: d.videoDurationSeconds, viewed_at: d.viewedAt, topic: rec.topic, partition: rec.partition, offset: rec.offset };
        })));
      } finally {
        await store.close();
      }
      assert.deepEqual(await queries.videoAnalytics('v1'), before);
    } finally {
      await driver.close();
    }
  });

  test('restart resumes from the checkpoint derived from the table; undecodable records are checkpointed', async () => {
    const log = await createScriptedLog();
    const database = `t_${++databases}`;
    const start = async () => {
      const store = await createChdbAnalyticsStore({ path: chdbPath, database });
      const p = createAnalyticsProjection({ store });
      const h = await runProjection(p, { log, codec });
      await within(h.caughtUp(), 10_000, 'caughtUp');
      return { p, h, store, async close() { await h.stop(); await p.close(); } };
    };
    await appendEvents(log, codec, script.slice(0, 4));
    const bad = await log.append(TOPICS.views, [{ key: 'v1', value: Buffer.from('garbage') }]);
    let r = await start();
    assert.equal(await r.h.waitFor(bad, 5_000), true);
    assert.equal((await r.p.queries.videoAnalytics('v1')).views, 2);
    const ends = await log.endOffsets(TOPICS.views);
    const cp = await r.store.checkpoint();
    ends.forEach((end, partition) => { if (end > 0) assert.equal(cp.get(`${TOPICS.views}:${partition}`), end); });
    await r.close();

    await appendEvents(log, codec, script.slice(4) as DomainEvent[]);
    r = await start();
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

  test('a table of the previous release (no session_started_at) gains the column: its rows stay v1, new rows are v2', async () => {
    const database = `t_${++databases}`;
    const old = new Session(chdbPath);
    try {
      await old.queryAsync(`CREATE DATABASE ${database}`);
      await old.queryAsync(`CREATE TABLE ${database}.view_heartbeats (video_id String, session_id String, viewer_id String, watched_seconds Float64,
        video_duration_seconds Float64, viewed_at DateTime64(3, 'UTC'), topic LowCardinality(String), partition UInt32, offset UInt64)
        ENGINE = ReplacingMergeTree ORDER BY (video_id, session_id, topic, partition, offset)`);
      await old.queryAsync(`INSERT INTO ${database}.view_heartbeats VALUES ('v1', 'old', '', 1000, 2, '2026-11-24 09:00:00.000', '${TOPICS.views}', 0, 0)`);
    } finally {
      old.close();
    }
    const store = await createChdbAnalyticsStore({ path: chdbPath, database });
    try {
      const row = { video_id: 'v1', viewer_id: '', watched_seconds: 1000, video_duration_seconds: 2, viewed_at: at(10, 0, 1), topic: TOPICS.views, partition: 0 };
      await store.insertHeartbeats([{ ...row, session_id: 'new', session_started_at: at(10, 0, 0), offset: 1 }]);
      // The pre-v2 row keeps its v1 watch time (1000 s); the v2 row is capped at the 2 s duration.
      assert.deepEqual(await store.videoAnalytics('v1'), { views: 2, unique_viewers: 2, watch_time_seconds: 1002, views_per_minute: [{ minute: '2026-11-24T09:00:00Z', views: 1 }, { minute: '2026-11-24T10:00:00Z', views: 1 }] });
      assert.equal((await store.checkpoint()).get(`${TOPICS.views}:0`), 2);
    } finally {
      await store.close();
    }
  });

  test('the database option keeps two read models apart in one chDB directory; an illegal name is refused', async () => {
    const path = chdbPath;
    const row = { session_id: 's', viewer_id: '', watched_seconds: 30, video_duration_seconds: 60, viewed_at: at(9, 0, 0), topic: TOPICS.views, partition: 0 };
    const live = await createChdbAnalyticsStore({ path, database: `t_${++databases}` });
    const shadow = await createChdbAnalyticsStore({ path, database: `t_${++databases}` });
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

  test('when the runtime assigns the projection its partitions, then the store forgets the running totals it holds, before the checkpoint is read', async () => {
    const inner = await freshStore();
    const calls: string[] = [];
    const store: AnalyticsStore = {
      ...inner,
      forgetRunningTotals: () => { calls.push('forget'); inner.forgetRunningTotals(); },
      checkpoint: () => { calls.push('checkpoint'); return inner.checkpoint(); },
    };
    const p = createAnalyticsProjection({ store });
    const h = await runProjection(p, { log: await createScriptedLog(2), codec });
    try {
      await within(h.caughtUp(), 10_000, 'caughtUp');
    } finally {
      await h.stop();
      await p.close();
    }
    const forget = calls.indexOf('forget');
    assert.ok(forget >= 0 && calls[forget + 1] === 'checkpoint', calls.join(', '));
  });

  test('the fetch wait (how long live records gather into one insert) is ANALYTICS_FETCH_WAIT_MS by default and what the deployment passes for a ClickHouse server', async () => {
    const store = await freshStore();
    try {
      const stores = { ...inMemoryStores(), analytics: async () => store };
      const standalone = await openReadModel(ANALYTICS, stores, { searchCursorSecret: 'x'.repeat(32) });
      const server = await openReadModel(ANALYTICS, stores, { searchCursorSecret: 'x'.repeat(32), analyticsFetchWaitMs: 50 });
      assert.deepEqual([standalone.fetchMaxWaitMs, server.fetchMaxWaitMs], [ANALYTICS_FETCH_WAIT_MS, 50]);
    } finally {
      await store.close();
    }
  });
});
