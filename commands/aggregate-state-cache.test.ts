import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { createAggregateStateCache, type StateChange } from './aggregate-state-cache.ts';
import { AGGREGATES } from './aggregates.ts';
import { createUsernameIndex } from './username-index.ts';
import { createInMemoryEventLog } from '../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { partitionForKey } from '../platform/log/partitioner.ts';
import type { EventLog } from '../platform/log/event-log.port.ts';
import { sharedAvroTestCodec } from '../test/support/avro-test-codec.ts';
import { keyOf, type DomainEvent } from '../domain/events.ts';
import type { CommentEvent } from '../domain/comment/comment.events.ts';
import type { UserEvent } from '../domain/user/user.events.ts';
import { fold } from '../domain/shared/decider.ts';
import { ensureEventTopics, TOPIC_OF, TOPICS } from '../schemas/topics.ts';
import { historyUpTo, T0, videoEvents } from '../domain/video/video.fixtures.ts';

const codec = await sharedAvroTestCodec();
const PARTITIONS = 6;

const registered = (userId: string, username: string): UserEvent => ({
  type: 'UserRegistered', data: { userId, username, email: `${userId}@example.com`, passwordHash: '$x', registeredAt: T0 },
});
const posted = (videoId: string, commentId: string, parentId: string | null = null): CommentEvent => ({
  type: 'CommentPosted', data: { commentId, videoId, authorId: 'u', parentId, body: 'b', postedAt: T0 },
});

/** An in-memory log with the event topics, counting `read` calls per `topic:partition`. */
async function countingLog() {
  const inner = createInMemoryEventLog();
  await ensureEventTopics(inner, { partitions: PARTITIONS });
  const reads = new Map<string, number>();
  const log: EventLog & { reads: Map<string, number>; inner: typeof inner } = {
    ...inner,
    reads,
    inner,
    async read(topic, partition, from, max) {
      reads.set(`${topic}:${partition}`, (reads.get(`${topic}:${partition}`) ?? 0) + 1);
      return inner.read(topic, partition, from, max);
    },
  };
  return log;
}

async function write(log: EventLog, events: DomainEvent[]) {
  for (const e of events) await log.append(TOPIC_OF[e.type], [{ key: keyOf(e), value: await codec.encode(TOPIC_OF[e.type], e) }]);
}

function cacheOver(log: EventLog, extra: Partial<Parameters<typeof createAggregateStateCache>[0]> = {}) {
  const usernames = createUsernameIndex();
  const cache = createAggregateStateCache({
    log, codec, onChange: (c: StateChange) => { if (c.kind === 'user') usernames.userChanged(c.id, c.before, c.after); }, ...extra,
  });
  return { cache, usernames };
}

const plain = <T>(s: T) => JSON.parse(JSON.stringify(s, (_k, v) => (v && typeof v === 'object' && Symbol.iterator in v && !Array.isArray(v) ? [...v] : v)));

describe('aggregate-state cache', () => {
  describe('given users, videos and comments on the log', () => {
    test('when rebuilt, then every state equals its decider folded over its stream', async () => {
      const log = await countingLog();
      const ready = historyUpTo('vid-1', 'ready');
      await write(log, [registered('u-1', 'alice'), ...ready, posted('vid-1', 'c1'), posted('vid-1', 'c2', 'c1'), ...historyUpTo('vid-2', 'pending_upload')]);
      const { cache, usernames } = cacheOver(log);
      await cache.rebuild();

      assert.deepEqual(cache.state('user', 'u-1'), fold(AGGREGATES.user.decider, [registered('u-1', 'alice')]));
      assert.deepEqual(cache.state('video', 'vid-1'), fold(AGGREGATES.video.decider, ready));
      assert.deepEqual(plain(cache.state('comment', 'vid-1')), plain(fold(AGGREGATES.comment.decider, [...ready, posted('vid-1', 'c1'), posted('vid-1', 'c2', 'c1')])));
      // One copy of the video: the view and the thread see the video entry's state object itself.
      assert.equal(cache.state('view', 'vid-1'), cache.state('video', 'vid-1'));
      assert.equal(cache.state('comment', 'vid-1')!.video, cache.state('video', 'vid-1'));
      assert.equal(cache.state('video', 'vid-2')?.status, 'pending_upload');
      assert.equal(cache.state('video', 'nope'), undefined);
      assert.equal(cache.state('comment', 'nope'), undefined);
      assert.equal(usernames.holder('ALICE'), 'u-1');
      assert.equal([...log.reads.keys()].some((k) => k.startsWith(TOPICS.views)), false, 'the views topic is never read');
    });

    test('when two users registered one name, then on replay the first registration wins', async () => {
      const log = await countingLog();
      // Same partition, so the log order between them is defined.
      const first = 'u-a';
      const second = Array.from({ length: 100 }, (_, i) => `u-${i}`).find(
        (id) => partitionForKey(TOPICS.users, id, PARTITIONS) === partitionForKey(TOPICS.users, first, PARTITIONS),
      )!;
      await write(log, [registered(first, 'Bob'), registered(second, 'BOB')]);
      const { cache, usernames } = cacheOver(log);
      await cache.rebuild();
      assert.equal(usernames.holder('bob'), first);
      assert.equal(cache.state('user', second)?.status, 'registered');
    });

    test('when a record cannot be decoded, then it is skipped with a warning and the rest applies', async () => {
      const log = await countingLog();
      await write(log, [videoEvents('vid-g').uploadStarted()]);
      await log.append(TOPICS.videos, [{ key: 'vid-g', value: Buffer.from('\0garbage') }]);
      await write(log, [videoEvents('vid-g').uploadCompleted()]);
      const lines: string[] = [];
      const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));
      const { cache } = cacheOver(log, { logger });
      await cache.rebuild();
      assert.equal(cache.state('video', 'vid-g')?.status, 'uploaded');
      assert.equal(lines.filter((l) => l.includes('skipping undecodable record')).length, 1);
    });
  });

  describe('given stale streams', () => {
    test('when reloaded, then only the partitions of their keys are read, each once for all its keys', async () => {
      const log = await countingLog();
      const { cache, usernames } = cacheOver(log, { readBatchSize: 10_000 });
      await cache.rebuild();
      const users = ['u-1', 'u-2', 'u-3', 'u-4', 'u-5'];
      // Written by "another process": the cache has not seen them.
      await write(log, users.map((u) => registered(u, `name-${u}`)));
      await write(log, historyUpTo('vid-1', 'ready'));
      log.reads.clear();

      cache.markStale(users.map((id) => ({ kind: 'user' as const, id })));
      assert.equal(await cache.reloadStale((s) => s.kind === 'user'), users.length);

      const expected = new Set(users.map((u) => `${TOPICS.users}:${partitionForKey(TOPICS.users, u, PARTITIONS)}`));
      assert.deepEqual(new Set(log.reads.keys()), expected);
      for (const [tp, n] of log.reads) assert.equal(n, 1, tp);
      for (const u of users) assert.equal(usernames.holder(`NAME-${u}`), u);
      assert.equal(cache.state('video', 'vid-1'), undefined, 'a stream not selected is not reloaded');
      assert.equal(await cache.reloadStale(() => true), 0, 'the marks were cleared');
    });

    test('when an append was ambiguous, then the streams its topic evolves are reloaded and a comment thread keeps its video', async () => {
      const log = await countingLog();
      await write(log, historyUpTo('vid-1', 'ready'));
      const { cache } = cacheOver(log);
      await cache.rebuild();
      await write(log, [posted('vid-1', 'c1')]); // on the log, but the writer saw an error
      cache.markAppendUnknown(TOPICS.comments, ['vid-1']);
      log.reads.clear();
      await cache.reloadStale(() => true);
      assert.deepEqual([...log.reads.keys()], [`${TOPICS.comments}:${partitionForKey(TOPICS.comments, 'vid-1', PARTITIONS)}`]);
      assert.equal(cache.state('comment', 'vid-1')!.commentIds.has('c1'), true);
      assert.equal(cache.state('comment', 'vid-1')!.video.status, 'ready');
    });

    test('when a read fails, then the cached state is kept, the streams stay stale and a later reload succeeds', async () => {
      const log = await countingLog();
      await write(log, historyUpTo('vid-1', 'pending_upload'));
      let failing = true;
      const flaky: EventLog = { ...log, read: (...a) => (failing ? Promise.reject(new Error('broker unavailable')) : log.read(...a)) };
      const { cache } = cacheOver(flaky);
      failing = false;
      await cache.rebuild();
      await write(log, [videoEvents('vid-1').uploadCompleted()]);
      cache.markStale([{ kind: 'video', id: 'vid-1' }]);
      failing = true;
      await assert.rejects(cache.reloadStale(() => true), /broker unavailable/);
      assert.equal(cache.state('video', 'vid-1')?.status, 'pending_upload');
      failing = false;
      assert.equal(await cache.reloadStale(() => true), 1);
      assert.equal(cache.state('video', 'vid-1')?.status, 'uploaded');
    });

    test('when a stream is marked stale again during its reload, then the new mark survives the reload', async () => {
      const log = await countingLog();
      await write(log, historyUpTo('vid-1', 'pending_upload'));
      let onRead = () => {};
      const hooked: EventLog = { ...log, read: (...a) => { onRead(); return log.read(...a); } };
      const { cache } = cacheOver(hooked);
      await cache.rebuild();
      cache.markStale([{ kind: 'video', id: 'vid-1' }]);
      onRead = () => { onRead = () => {}; cache.markStale([{ kind: 'video', id: 'vid-1' }]); };
      assert.equal(await cache.reloadStale(() => true), 1);
      assert.equal(await cache.reloadStale(() => true), 1);
      assert.equal(await cache.reloadStale(() => true), 0);
    });
  });

  test('evolve applies acknowledged events to the streams their topic evolves; a heartbeat changes nothing', async () => {
    const log = await countingLog();
    const { cache } = cacheOver(log);
    await cache.rebuild();
    cache.evolve(historyUpTo('vid-1', 'ready'));
    const before = cache.state('video', 'vid-1');
    cache.evolve([{
      type: 'VideoViewed',
      data: { videoId: 'vid-1', sessionId: 's', viewerId: null, watchedSeconds: 1, positionSeconds: 1, videoDurationSeconds: 12.5, viewedAt: T0 },
    }]);
    assert.equal(cache.state('video', 'vid-1'), before);
    assert.equal(before?.status, 'ready');
  });

  test('catchUp follows the log: each record applied once, only new records read; an overlay never reaches the cache', async () => {
    const log = await countingLog();
    const { cache, usernames } = cacheOver(log);
    const v = videoEvents('v-follow');
    await write(log, [v.uploadStarted(), registered('u1', 'ada')]);
    await cache.rebuild();
    assert.equal(cache.state('video', 'v-follow')?.status, 'pending_upload');
    assert.equal(await cache.catchUp(), 0, 'nothing new: nothing applied');

    // An overlay (a transaction in progress) sees its own events; the cache and onChange do not.
    const overlay = cache.overlay();
    overlay.evolve([v.uploadCompleted(), registered('u2', 'grace')]);
    assert.equal(overlay.state('video', 'v-follow')?.status, 'uploaded');
    assert.equal(overlay.state('comment', 'v-follow')?.video.status, 'uploaded', 'a borrowed state is read through the overlay');
    assert.equal(cache.state('video', 'v-follow')?.status, 'pending_upload');
    assert.equal(usernames.holder('grace'), undefined);

    // The transaction commits: its events are on the log; catchUp applies them exactly once.
    await write(log, [v.uploadCompleted(), registered('u2', 'grace'), posted('v-follow', 'c1')]);
    const before = new Map(log.reads);
    assert.equal(await cache.catchUp(), 3);
    assert.equal(cache.state('video', 'v-follow')?.status, 'uploaded');
    assert.deepEqual(plain(cache.state('comment', 'v-follow')?.commentIds), ['c1']);
    assert.equal(usernames.holder('grace'), 'u2');
    assert.equal(await cache.catchUp(), 0, 'a second catchUp applies nothing twice');
    const readNow = [...log.reads].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k]) => k).sort();
    const written = [
      `${TOPICS.videos}:${partitionForKey(TOPICS.videos, 'v-follow', PARTITIONS)}`,
      `${TOPICS.users}:${partitionForKey(TOPICS.users, 'u2', PARTITIONS)}`,
      `${TOPICS.comments}:${partitionForKey(TOPICS.comments, 'v-follow', PARTITIONS)}`,
    ].sort();
    assert.deepEqual(readNow, written, 'only the partitions with new records were read');
  });

  test('applyCommitted: committed events apply at once and once, whether the follower reads them after or before', async () => {
    const log = await countingLog();
    const { cache, usernames } = cacheOver(log);
    await cache.rebuild();
    const v = videoEvents('v-ahead');
    const append = async (e: DomainEvent) => {
      const value = await codec.encode(TOPIC_OF[e.type], e);
      const [at] = await log.append(TOPIC_OF[e.type], [{ key: keyOf(e), value }]);
      return { event: e, record: { ...at, key: keyOf(e), value, headers: {}, timestamp: 0 } };
    };
    // Applied ahead of the follower: visible at once; the follower skips the records later.
    const first = [await append(v.uploadStarted()), await append(registered('u-ahead', 'lin'))];
    cache.applyCommitted(first);
    assert.equal(cache.state('video', 'v-ahead')?.status, 'pending_upload');
    assert.equal(usernames.holder('lin'), 'u-ahead');
    const completed = await append(v.uploadCompleted());
    assert.equal(await cache.catchUp(), 3, 'the follower reads all three records');
    assert.equal(cache.state('video', 'v-ahead')?.status, 'uploaded', 'the record not applied ahead is applied by the follower');
    // Read by the follower first: applyCommitted is then a no-op (a comment thread shows a double application plainly).
    cache.applyCommitted([completed]);
    const c1 = await append(posted('v-ahead', 'c1'));
    await cache.catchUp();
    cache.applyCommitted([c1]);
    assert.deepEqual(plain(cache.state('comment', 'v-ahead')?.commentIds), ['c1'], 'a comment read first is not applied again');
    const c2 = await append(posted('v-ahead', 'c2'));
    cache.applyCommitted([c2]);
    await cache.catchUp();
    assert.deepEqual(plain(cache.state('comment', 'v-ahead')?.commentIds), ['c1', 'c2'], 'a comment applied ahead is not applied again by the follower');
  });
});
