/**
 * The analytics projection on the likes and comments topics (issue 15: likes and comments over
 * time, engagement rate): what it stores (no user ids, issue 13), and how a deployment of the
 * previous release, whose analytics database has no engagement-events table, backfills it from
 * the start of those topics while the views topic continues from its checkpoint.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import type { DomainEvent, VideoViewed } from '../../domain/events.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { appendEvents, createScriptedLog, within } from '../testing/projection-test-kit.ts';
import { createChdbAnalyticsStore } from './chdb-analytics-store.adapter.ts';
import { createAnalyticsProjection } from './analytics.projection.ts';
import type { AnalyticsStore, EngagementRow, HeartbeatRow } from './analytics-store.port.ts';

const codec = await sharedAvroTestCodec();
const root = await mkdtemp(join(tmpdir(), 'sw-eng-'));
after(() => rm(root, { recursive: true, force: true }));
// libchdb binds one data directory per process: every store of this file lives in this one.
const chdbPath = join(root, 'chdb');
let databases = 0;

const at = (hh: number, mm: number) => Date.UTC(2026, 10, 24, hh, mm, 0);
const viewed = (sessionId: string, viewedAt: number): VideoViewed => ({
  type: 'VideoViewed', data: { videoId: 'v1', sessionId, viewerId: 'u-viewer', watchedSeconds: 30, positionSeconds: 30, videoDurationSeconds: 60, viewedAt },
});
const engagement: DomainEvent[] = [
  { type: 'VideoLiked', data: { videoId: 'v1', userId: 'u-alice', likedAt: at(10, 5) } },
  { type: 'VideoLiked', data: { videoId: 'v1', userId: 'u-bob', likedAt: at(10, 6) } },
  { type: 'VideoUnliked', data: { videoId: 'v1', userId: 'u-bob', unlikedAt: at(11, 0) } },
  { type: 'CommentPosted', data: { commentId: 'c1', videoId: 'v1', authorId: 'u-alice', parentId: null, body: 'nice', postedAt: at(10, 7) } },
  { type: 'CommentPosted', data: { commentId: 'c2', videoId: 'v1', authorId: 'u-bob', parentId: 'c1', body: 'agreed', postedAt: at(10, 8) } },
  { type: 'CommentDeleted', data: { commentId: 'c2', videoId: 'v1', deletedBy: 'u-bob', deletedAt: at(11, 30) } },
];

/** A store of `database` that records what the projection inserts. */
async function recordingStore(database: string) {
  const inner = await createChdbAnalyticsStore({ path: chdbPath, database });
  const inserted = { heartbeats: [] as HeartbeatRow[], engagement: [] as EngagementRow[] };
  const store: AnalyticsStore = {
    ...inner,
    insertHeartbeats: (r) => { inserted.heartbeats.push(...r); return inner.insertHeartbeats(r); },
    insertEngagementEvents: (r) => { inserted.engagement.push(...r); return inner.insertEngagementEvents(r); },
  };
  return { store, inserted };
}

/** Runs the projection on `log` into `database` until caught up; returns what it inserted and the video's insights. */
async function build(log: EventLog, database: string) {
  const { store, inserted } = await recordingStore(database);
  const p = createAnalyticsProjection({ store });
  const h = await runProjection(p, { log, codec });
  try {
    await within(h.caughtUp(), 10_000, 'caughtUp');
    return { p, inserted, insights: await p.queries.videoInsights('v1', { now: at(12, 0), interval: 'hour', timeZone: 'UTC' }) };
  } finally {
    await h.stop();
    await p.close();
  }
}

describe('analytics projection: likes and comments (chDB)', () => {
  test('likes, unlikes, comments and deletions become likes/comments over time and the engagement rate; no user id is stored', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, [viewed('s1', at(10, 1)), viewed('s2', at(10, 2)), ...engagement]);
    const { p, inserted, insights } = await build(log, `e_${++databases}`);
    assert.deepEqual(p.inputs, [TOPICS.views, TOPICS.playback, TOPICS.likes, TOPICS.comments, TOPICS.subscriptions], 'a rebuild (projections/replay) replays these topics');
    assert.deepEqual(insights.likes_over_time.points, [{ start: '2026-11-24T10:00:00Z', likes: 2, unlikes: 0 }, { start: '2026-11-24T11:00:00Z', likes: 0, unlikes: 1 }]);
    assert.deepEqual(insights.comments_over_time.points, [{ start: '2026-11-24T10:00:00Z', comments: 2, deleted: 0 }, { start: '2026-11-24T11:00:00Z', comments: 0, deleted: 1 }]);
    assert.equal(insights.engagement_rate, (1 + 1) / 2, 'one standing like and one standing comment over two views');
    assert.deepEqual(inserted.engagement.map((r) => r.kind).sort(), ['comment', 'comment', 'comment_deleted', 'like', 'like', 'unlike']);
    for (const r of inserted.engagement) {
      assert.deepEqual(Object.keys(r).sort(), ['at', 'kind', 'offset', 'partition', 'topic', 'video_id']);
      assert.ok(!JSON.stringify(r).includes('u-'), 'no user id, not even inside another field');
    }
  });

  test('an undecodable record of the likes topic is checkpointed as a skip marker and counts nowhere', async () => {
    const log = await createScriptedLog(1);
    await appendEvents(log, codec, engagement.slice(0, 1));
    await log.append(TOPICS.likes, [{ key: 'v1', value: Buffer.from('garbage') }]);
    const database = `e_${++databases}`;
    const { insights } = await build(log, database);
    assert.deepEqual(insights.likes_over_time.points, [{ start: '2026-11-24T10:00:00Z', likes: 1, unlikes: 0 }]);
    const store = await createChdbAnalyticsStore({ path: chdbPath, database });
    try {
      assert.equal((await store.checkpoint()).get(`${TOPICS.likes}:0`), 2);
    } finally {
      await store.close();
    }
  });

  test('upgrade: a database of the previous release (no engagement_events) backfills likes and comments from offset 0, while heartbeats continue from their checkpoint', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, [viewed('s1', at(10, 1)), ...engagement, viewed('s2', at(10, 2))]);
    const database = `e_${++databases}`;
    const first = await build(log, database);
    assert.equal(first.inserted.heartbeats.length, 2);
    // The previous release had no engagement-events table: drop it, as that release left the database.
    const old = new Session(chdbPath);
    try {
      await old.queryAsync(`DROP TABLE ${database}.engagement_events SYNC`);
    } finally {
      old.close();
    }
    await appendEvents(log, codec, [viewed('s3', at(10, 3))]);
    const upgraded = await build(log, database);
    assert.deepEqual(upgraded.inserted.heartbeats.map((r) => r.session_id), ['s3'], 'the views topic continues from its checkpoint: nothing re-read');
    assert.equal(upgraded.inserted.engagement.length, engagement.length, 'every like and comment since offset 0');
    assert.deepEqual(upgraded.insights.likes_over_time, first.insights.likes_over_time);
    assert.deepEqual(upgraded.insights.comments_over_time, first.insights.comments_over_time);
    assert.equal(upgraded.insights.engagement_rate, 2 / 3, 'one standing like and one standing comment over three views');
  });
});
