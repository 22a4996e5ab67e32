/**
 * The two read models that count views — the key-value view counter of video detail and the
 * analytics SQL on chDB — agree with each other and with the reference fold of
 * domain/view/view-rule.ts on generated heartbeats (fast-check), v1 and v2 mixed: the table of
 * cases pins the rule, this pins that the three formulations of it do not drift apart.
 *
 * Generated values are multiples of 0.25 s, so every cap (2 × elapsed + 5) and every sum is exact
 * in binary floating point and the numbers must agree bit for bit, whatever the order.
 * JSON codec: `sessionStartedAt` joins the Avro schema with the playback-session change (issue 8).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DomainEvent, VideoViewed } from '../domain/events.ts';
import { summariseHeartbeats, type Heartbeat } from '../domain/view/view-rule.ts';
import { createChdbAnalyticsStore } from './analytics/chdb-analytics-store.adapter.ts';
import { ANALYTICS_VIEWER_PURPOSE } from './analytics/analytics.projection.ts';
import { hashedPseudonym } from '../platform/keys/pseudonyms.ts';
import { driveReadModel, inMemoryStores } from './testing/projection-test-kit.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-vr-'));
after(() => rm(root, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const quarter = (min: number, max: number) => fc.integer({ min: min * 4, max: max * 4 }).map((q) => q / 4);

/** One generated heartbeat (video-independent); `start` null = pre-v2 (judged by v1). */
const heartbeatArb = fc.record({
  session: fc.constantFrom('s1', 's2', 's3', 's4', 's5'),
  viewer: fc.constantFrom(null, null, 'u1', 'u2'),
  watched: fc.oneof(quarter(0, 200), fc.constant(1e7)),
  at: quarter(0, 400),
  start: fc.option(quarter(-100, 400), { nil: null, freq: 3 }),
});
const caseArb = fc.record({
  duration: fc.constantFrom(0, 0.75, 2, 6, 9.75, 10, 60, 120),
  heartbeats: fc.array(heartbeatArb, { minLength: 1, maxLength: 12 }),
});

test('view rule v2: key-value counter, chDB SQL and the reference fold agree on generated heartbeats', { timeout: 300_000 }, async (t) => {
  const kv = await driveReadModel('video-detail', { codec: 'json' });
  const an = await driveReadModel('analytics', {
    codec: 'json',
    stores: { ...inMemoryStores(), analytics: () => createChdbAnalyticsStore({ path: join(root, 'chdb'), database: 'agreement' }) },
  });
  let runs = 0;
  let heartbeats = 0;
  let views = 0;
  try {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const videoId = `v${++runs}`;
      const hbs: Heartbeat[] = c.heartbeats.map((h) => ({
        sessionId: h.session, viewerId: h.viewer, watchedSeconds: h.watched, videoDurationSeconds: c.duration, viewedAt: T0 + h.at * 1000,
        ...(h.start !== null && { sessionStartedAt: T0 + h.start * 1000 }),
      }));
      const events: VideoViewed[] = hbs.map((hb) => ({ type: 'VideoViewed', data: { videoId, positionSeconds: 0, ...hb } }));
      const upload: DomainEvent = {
        type: 'UploadStarted',
        data: { videoId, ownerId: 'o', uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 1, contentType: 'video/mp4', title: 't', description: '', tags: [], partSizeBytes: 5 << 20, startedAt: T0 },
      };
      await kv.apply([upload, ...events]);
      await an.apply(events);
      // Analytics stores viewer pseudonyms (issue 13), so "the smallest viewer id" of a session
      // signed in by two viewers is the smallest pseudonym there: the reference sees those.
      const reference = summariseHeartbeats(hbs.map((hb) => ({ ...hb, viewerId: hb.viewerId && hashedPseudonym(ANALYTICS_VIEWER_PURPOSE, hb.viewerId) })));
      const sql = await an.queries.videoAnalytics(videoId);
      const counter = (await kv.queries.getVideo(videoId))!.views;
      heartbeats += hbs.length;
      views += reference.views;
      assert.deepEqual(sql, reference, 'chDB SQL vs reference fold');
      assert.equal(counter, reference.views, 'key-value view counter vs reference fold');
    }), { numRuns: 200, seed: Number(process.env.STREAMWAVE_FUZZ_SEED ?? 8) });
  } finally {
    await kv.driver.close();
    await an.driver.close();
  }
  t.diagnostic(`${runs} generated videos, ${heartbeats} heartbeats, ${views} views: counter = SQL = reference on every one`);
});
