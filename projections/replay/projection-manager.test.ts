import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent } from '../../domain/events.ts';
import { keyOf } from '../../domain/events.ts';
import { TOPIC_OF } from '../../schemas/topics.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { appendEvents, createScriptedLog, within } from '../testing/projection-test-kit.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../../deploy/shared/embedded-read-models.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import { createEmbeddedKeyValueStore } from '../stores/embedded-key-value-store.adapter.ts';
import { createVideoDetailProjection } from '../video-detail/video-detail.projection.ts';
import type { UserAccountQueries, VideoDetailQueries } from '../read-model.port.ts';
import { createProjectionManager } from './projection-manager.ts';
import { listChdbDatabases } from '../analytics/chdb-analytics-store.adapter.ts';
import type { ReplayableProjection, ReplayStatus } from './replay.port.ts';

const codec = await sharedAvroTestCodec();
const root = await mkdtemp(join(tmpdir(), 'sw-replay-'));
after(() => rm(root, { recursive: true, force: true }));
const exists = (p: string) => stat(p).then(() => true, () => false);
const T0 = Date.UTC(2026, 0, 10);

const user = (n: number, at = T0): DomainEvent => ({
  type: 'UserRegistered', data: { userId: `u${n}`, username: `user${n}`, email: `u${n}@example.com`, passwordHash: 'x', registeredAt: at },
});
const upload = (videoId: string, ownerId: string, at = T0): DomainEvent => ({
  type: 'UploadStarted', data: { videoId, ownerId, uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 10, contentType: 'video/mp4', title: `Video ${videoId}`, description: '', tags: [], partSizeBytes: 5 << 20, startedAt: at },
});
const view = (videoId: string, sessionId: string, watchedSeconds: number, at = T0): DomainEvent => ({
  type: 'VideoViewed', data: { videoId, sessionId, viewerId: null, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds: 60, viewedAt: at },
});

/** A log whose consumer groups matching `match` get no batch until `open()` (a replay held mid-way). */
function gatedLog(log: EventLog, match: RegExp) {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const wrapped: EventLog = new Proxy(log, {
    get(t, prop) {
      if (prop === 'subscribe') {
        return (sub: Parameters<EventLog['subscribe']>[0]) => t.subscribe(match.test(sub.groupId) ? { ...sub, eachBatch: async (b) => { await gate; await sub.eachBatch(b); } } : sub);
      }
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return { log: wrapped, open: () => release() };
}

/** Everything the video-detail read model answers for the given owners and videos. */
async function snapshotOf(q: VideoDetailQueries, users: number[], videos: string[]) {
  return {
    videos: await Promise.all(videos.map((v) => q.getVideo(v))),
    lists: await Promise.all(users.map((n) => q.listUserVideos(`u${n}`))),
  };
}

async function freshBuild(log: EventLog, dir: string, users: number[], videos: string[]) {
  const p = createVideoDetailProjection({ store: await createEmbeddedKeyValueStore({ dir }) });
  const h = await runProjection(p, { log, codec });
  await within(h.caughtUp(), 60_000, 'fresh build');
  const snap = await snapshotOf(p.queries, users, videos);
  await h.stop();
  await p.close();
  return snap;
}

describe('projection manager', () => {
  test('replays video-detail into a shadow while the live instance answers, then swaps, persists the pointer and deletes the old store', async () => {
    const dataDir = join(root, 'vd');
    const base = await createScriptedLog();
    await appendEvents(base, codec, [user(1), user(2), upload('v1', 'u1'), upload('v2', 'u2')]);
    const { log, open } = gatedLog(base, /\.replay-\d+$/);
    const slots = embeddedReadModels({ dataDir, searchCursorSecret: 's' });
    const pointers = createFileCurrentInstanceStore(dataDir);
    const manager = createProjectionManager({ log, codec, projections: { 'video-detail': slots['video-detail'], search: slots.search }, pointers, progressIntervalMs: 20 });
    await manager.start();
    const vd = manager.get('video-detail');
    try {
      await within(vd.handle.caughtUp(), 60_000, 'live catch-up');
      assert.equal(vd.current().instanceId, 'primary');
      assert.equal(vd.current().groupId, 'streamwave.projection.video-detail');
      const progress: ReplayStatus[] = [];
      const replay = manager.replay('video-detail', { fromBeginning: true }, (s) => progress.push(s));
      replay.catch(() => undefined);

      // The shadow is held: the live instance keeps serving, including events appended now.
      await within((async () => { while (!progress.length) await new Promise((r) => setTimeout(r, 5)); })(), 60_000, 'first progress report');
      await assert.rejects(manager.replay('video-detail', { fromBeginning: true }), { code: 'REPLAY_IN_PROGRESS' });
      const positions = await appendEvents(base, codec, [user(3), upload('v3', 'u3')]);
      assert.equal(await vd.handle.waitFor(positions, 5_000), true);
      assert.equal((await vd.queries.getVideo('v3'))?.ownerId, 'u3');
      assert.equal((await vd.queries.getVideo('v1'))?.title, 'Video v1');
      assert.equal(vd.current().instanceId, 'primary');
      assert.equal(progress[0].status, 'running');
      assert.equal(progress[0].consumed, 0);
      assert.ok(progress[0].total >= 2, `total ${progress[0].total}`);

      open();
      const final = await within(replay, 10_000, 'replay');
      assert.equal(final.status, 'swapped');
      assert.equal(final.consumed, final.total);
      assert.equal(final.total, 6, 'the videos topic (v1, v2, v3) and the users topic (u1, u2, u3: erasures take likes away, issue 14)');
      assert.match(final.groupId, /^streamwave\.projection\.video-detail\.replay-\d+$/);
      assert.equal(vd.current().instanceId, final.instanceId);
      assert.equal(manager.replayStatus(final.replayId)?.status, 'swapped');

      // Writes after the swap reach the new instance (read-your-writes through the same port).
      const later = await appendEvents(base, codec, [upload('v4', 'u4')]);
      assert.equal(await vd.handle.waitFor(later, 5_000), true);
      const users = [1, 2, 3, 4];
      const videos = ['v1', 'v2', 'v3', 'v4'];
      const swapped = await snapshotOf(vd.queries, users, videos);
      assert.deepEqual(swapped, await freshBuild(base, join(root, 'vd-fresh'), users, videos));
      assert.equal(swapped.videos.every((v) => v !== undefined), true);

      // Old store deleted; pointer persisted.
      assert.equal(await exists(join(dataDir, 'projections', 'video-detail')), false);
      assert.equal(await exists(join(dataDir, 'projections', 'replays', 'video-detail', final.instanceId)), true);
      const ptr = JSON.parse(await readFile(join(dataDir, 'projections', 'replays', 'video-detail', 'current.json'), 'utf8'));
      assert.equal(ptr.instanceId, final.instanceId);
      assert.equal(ptr.groupId, final.groupId);
    } finally {
      open(); // a failed assertion must not leave the shadow blocked, or close() would wait forever
      await manager.close();
    }

    // A restart opens the swapped-in instance from the pointer, with its state.
    const again = createProjectionManager({ log: base, codec, projections: { 'video-detail': slots['video-detail'] }, pointers });
    await again.start();
    try {
      const ptr = await pointers.load('video-detail');
      assert.equal(again.get('video-detail').current().instanceId, ptr!.instanceId);
      assert.equal((await again.get('video-detail').queries.getVideo('v4'))?.ownerId, 'u4');
    } finally {
      await again.close();
    }
  });

  test('retireGraceMs: the swapped-out store outlives the swap (readers in other processes still read it whole), then is deleted', async () => {
    const dataDir = join(root, 'grace');
    const log = await createScriptedLog(2);
    for (const n of [1, 2]) await log.append(TOPIC_OF.UserRegistered, [{ key: `u${n}`, value: await codec.encode(TOPIC_OF.UserRegistered, user(n)) }]);
    const slots = embeddedReadModels({ dataDir, searchCursorSecret: 's' });
    const manager = createProjectionManager({ log, codec, projections: { 'user-accounts': slots['user-accounts'] }, pointers: createFileCurrentInstanceStore(dataDir), retireGraceMs: 3_000 });
    await manager.start();
    try {
      await within(manager.get('user-accounts').handle.caughtUp(), 10_000, 'catch-up');
      const primaryDir = join(dataDir, 'projections', 'user-accounts');
      assert.equal(await exists(primaryDir), true);
      const s = await within(manager.replay('user-accounts', { fromBeginning: true }), 10_000, 'replay');
      assert.equal(s.status, 'swapped');
      assert.equal(await exists(primaryDir), true, 'kept through the grace period');
      const deadline = Date.now() + 10_000;
      while (await exists(primaryDir)) {
        assert.ok(Date.now() < deadline, 'the swapped-out store is deleted after the grace period');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await manager.close();
    }
  });

  test('--from-timestamp rebuilds from offsetsForTimestamp only, and the bound survives a restart', async () => {
    const dataDir = join(root, 'ts');
    const log = await createScriptedLog(2);
    const T1 = T0 + 3_600_000;
    const put = async (e: DomainEvent, partition: number, timestamp: number) =>
      log.append(TOPIC_OF[e.type], [{ key: keyOf(e), value: await codec.encode(TOPIC_OF[e.type], e), partition, timestamp }]);
    await put(user(1, T0), 0, T0); // partition 0 only has an old event
    await put(user(2, T0), 1, T0);
    await put(user(3, T1), 1, T1);
    const slots = embeddedReadModels({ dataDir, searchCursorSecret: 's' });
    const pointers = createFileCurrentInstanceStore(dataDir);
    const make = () => createProjectionManager({ log, codec, projections: { 'user-accounts': slots['user-accounts'] }, pointers });
    const m1 = make();
    await m1.start();
    try {
      const s = await within(m1.replay('user-accounts', { fromTimestamp: T1 }), 10_000, 'replay');
      assert.equal(s.status, 'swapped');
      assert.equal(s.total, 1);
      const q = m1.get('user-accounts').queries;
      assert.equal(await q.findUserByUsername('user1'), undefined);
      assert.equal(await q.findUserByUsername('user2'), undefined);
      assert.equal((await q.findUserByUsername('user3'))?.userId, 'u3');
      assert.equal((await pointers.load('user-accounts'))?.fromTimestamp, T1);
    } finally {
      await m1.close();
    }
    const m2 = make();
    await m2.start();
    try {
      await within(m2.get('user-accounts').handle.caughtUp(), 60_000, 'restart catch-up');
      // Without the persisted bound, partition 0 (no checkpoint yet) would be read from offset 0.
      assert.equal(await m2.get('user-accounts').queries.findUserByUsername('user1'), undefined);
    } finally {
      await m2.close();
    }
  });

  test('a failing replay deletes its shadow and leaves the live instance serving', async () => {
    const dataDir = join(root, 'fail');
    const log = await createScriptedLog();
    await appendEvents(log, codec, [user(1)]);
    const real = embeddedReadModels({ dataDir, searchCursorSecret: 's' })['user-accounts'];
    const destroyed: string[] = [];
    const flaky: ReplayableProjection<UserAccountQueries> = {
      name: 'user-accounts',
      open: async (id) => { if (id !== 'primary') throw new Error('disk full'); return real.open(id); },
      destroy: async (id) => { destroyed.push(id); await real.destroy(id); },
    };
    const manager = createProjectionManager({ log, codec, projections: { 'user-accounts': flaky }, pointers: createFileCurrentInstanceStore(dataDir) });
    await manager.start();
    try {
      assert.throws(() => manager.startReplay('nope', { fromBeginning: true }), { code: 'UNKNOWN_PROJECTION' });
      assert.throws(() => manager.startReplay('user-accounts', { fromTimestamp: Number.NaN }), { code: 'INVALID_REPLAY_FROM' });
      const first = manager.startReplay('user-accounts', { fromBeginning: true });
      assert.equal(first.status, 'running');
      await within((async () => { while (manager.replayStatus(first.replayId)?.status === 'running') await new Promise((r) => setTimeout(r, 5)); })(), 60_000, 'failure');
      const s = manager.replayStatus(first.replayId)!;
      assert.equal(s.status, 'failed');
      assert.match(s.error ?? '', /disk full/);
      assert.deepEqual(destroyed, [first.instanceId]);
      await within(manager.get('user-accounts').handle.caughtUp(), 60_000, 'live');
      assert.equal((await manager.get('user-accounts').queries.findUserByUsername('user1'))?.userId, 'u1');
      assert.equal(manager.get('user-accounts').current().instanceId, 'primary');
    } finally {
      await manager.close();
    }
  });

  test('analytics replays into a new chDB database and drops the old one', async () => {
    const dataDir = join(root, 'an');
    const log = await createScriptedLog();
    await appendEvents(log, codec, [view('v1', 's1', 40), view('v1', 's2', 5), view('v1', 's3', 31)]);
    const slots = embeddedReadModels({ dataDir, searchCursorSecret: 's' });
    const manager = createProjectionManager({ log, codec, projections: { analytics: slots.analytics }, pointers: createFileCurrentInstanceStore(dataDir) });
    await manager.start();
    try {
      const an = manager.get('analytics');
      await within(an.handle.caughtUp(), 10_000, 'live analytics');
      const before = await an.queries.videoAnalytics('v1');
      const s = await within(manager.replay('analytics', { fromBeginning: true }), 20_000, 'analytics replay');
      assert.equal(s.status, 'swapped');
      assert.deepEqual(await an.queries.videoAnalytics('v1'), before);
      assert.equal(before.views, 2);
      const dbs = await listChdbDatabases(join(dataDir, 'projections', 'analytics'), 'streamwave');
      assert.deepEqual(dbs, [`streamwave_${s.instanceId.replace('-', '_')}`]);
    } finally {
      await manager.close();
    }
  });

});
