import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCommandBus, CommandBusError } from './command-handler.ts';
import type { Command } from './command-bus.port.ts';
import { createInMemoryEventLog } from '../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { partitionForKey } from '../platform/log/partitioner.ts';
import type { EventLog } from '../platform/log/event-log.port.ts';
import { sharedAvroTestCodec } from '../test/support/avro-test-codec.ts';
import { type DomainEvent } from '../domain/events.ts';
import { TOPICS } from '../schemas/topics.ts';
import { DomainError } from '../domain/shared/event.ts';
import { LADDER, OWNER, STRANGER, T0, videoCommands } from '../domain/video/video.fixtures.ts';

const codec = await sharedAvroTestCodec();

async function startedBus(log: EventLog = createInMemoryEventLog()) {
  const bus = createCommandBus({ log, codec });
  await bus.start();
  return bus;
}

/** Sends the commands that bring a video to ready. */
async function publishVideo(bus: Awaited<ReturnType<typeof startedBus>>, videoId: string) {
  const c = videoCommands(videoId);
  for (const cmd of [c.startUpload(), c.completeUpload(), c.startProcessing(), c.renditionEncoded(), c.publish()]) await bus.send(cmd);
}

const register = (userId: string, username: string): Command => ({
  type: 'RegisterUser',
  data: { userId, username, email: `${userId}@example.com`, passwordHash: '$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA' },
  metadata: { now: T0 },
});

const decodeAll = async (log: ReturnType<typeof createInMemoryEventLog>, topic: string) =>
  Promise.all(log.records(topic).map(async (r) => ({ record: r, event: await codec.decode(r.value!) })));

const rejectsWith = (p: Promise<unknown>, code: string, kind?: DomainError['kind']) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DomainError, `expected DomainError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (kind) assert.equal(e.kind, kind);
    return true;
  });

describe('command handler', () => {
  test('start creates every topic with 6 partitions', async () => {
    const log = createInMemoryEventLog();
    await startedBus(log);
    const topics = await log.listTopics();
    for (const name of Object.values(TOPICS)) {
      assert.equal(topics.find((t) => t.name === name)?.partitions, 6, name);
    }
  });

  test('send before start fails with NOT_STARTED', async () => {
    const bus = createCommandBus({ log: createInMemoryEventLog(), codec });
    await assert.rejects(bus.send(register('u1', 'alice')), (e: unknown) => e instanceof CommandBusError && e.code === 'NOT_STARTED');
  });

  test('events land on their topic and on the partition of their aggregate key, positions returned in order', async () => {
    const log = createInMemoryEventLog();
    const bus = await startedBus(log);
    const ids = ['vid-a', 'vid-b', 'vid-c', 'vid-d'];
    for (const id of ids) await publishVideo(bus, id);
    const videos = await decodeAll(log, TOPICS.videos);
    assert.equal(videos.length, ids.length * 5);
    for (const { record, event } of videos) {
      const id = (event.data as { videoId: string }).videoId;
      assert.equal(record.key, id);
      assert.equal(record.partition, partitionForKey(TOPICS.videos, id, 6));
    }
    const u = await bus.send(register('user-1', 'alice'));
    assert.deepEqual(u.events.map((e) => e.type), ['UserRegistered']);
    assert.deepEqual(u.positions, [{ topic: TOPICS.users, partition: partitionForKey(TOPICS.users, 'user-1', 6), offset: 0 }]);
    const [rec] = log.records(TOPICS.users);
    assert.equal(rec.key, 'user-1');
    assert.deepEqual(await codec.decode(rec.value!), u.events[0]);

    const comment = await bus.send({
      type: 'PostComment', data: { commentId: 'c1', videoId: 'vid-a', authorId: 'user-1', body: 'hi' }, metadata: { now: T0 + 10 },
    });
    assert.equal(comment.positions[0].topic, TOPICS.comments);
    assert.equal(comment.positions[0].partition, partitionForKey(TOPICS.comments, 'vid-a', 6));
    const view = await bus.send({
      type: 'RecordView', data: { videoId: 'vid-b', sessionId: 's', watchedSeconds: 3, positionSeconds: 3 }, metadata: { now: T0 + 11 },
    });
    assert.equal(view.positions[0].topic, TOPICS.views);
    assert.equal((view.events[0] as Extract<DomainEvent, { type: 'VideoViewed' }>).data.videoDurationSeconds, 12.5);
    // The record's timestamp is the command's time (event time), not wall-clock time.
    assert.equal(log.records(TOPICS.views)[0].timestamp, T0 + 11);
  });

  test('state survives a restart: a new bus over the same log sees every aggregate', async () => {
    const log = createInMemoryEventLog();
    const bus1 = await startedBus(log);
    await publishVideo(bus1, 'vid-r');
    await bus1.send(register('user-1', 'Alice'));
    await bus1.send({ type: 'PostComment', data: { commentId: 'c1', videoId: 'vid-r', authorId: 'user-1', body: 'root' }, metadata: { now: T0 } });
    const before = bus1.state('video', 'vid-r');

    const bus2 = await startedBus(log);
    assert.deepEqual(bus2.state('video', 'vid-r'), before);
    assert.equal(bus2.state('video', 'vid-r')?.status, 'ready');
    assert.equal(bus2.state('video', 'nope'), undefined);
    const c = videoCommands('vid-r');
    // Idempotency and invariants hold across the restart.
    assert.deepEqual((await bus2.send(c.completeUpload())).events, []);
    assert.deepEqual((await bus2.send(c.renditionEncoded(LADDER[0]))).events, []);
    await rejectsWith(bus2.send(c.fail()), 'INVALID_TRANSITION', 'conflict');
    await rejectsWith(bus2.send(register('user-1', 'someone')), 'USER_ALREADY_EXISTS', 'conflict');
    await rejectsWith(bus2.send(register('user-2', 'ALICE')), 'USERNAME_TAKEN', 'conflict');
    assert.equal(bus2.findUserIdByUsername('alice'), 'user-1');
    // The comment thread was rebuilt: a reply to c1 is accepted.
    const reply = await bus2.send({
      type: 'PostComment', data: { commentId: 'c2', videoId: 'vid-r', authorId: 'user-1', parentId: 'c1', body: 'reply' }, metadata: { now: T0 },
    });
    assert.equal(reply.events.length, 1);
  });

  test('an erased user frees their username at once, also after a restart; the erased id stays taken (issue 13)', async () => {
    const log = createInMemoryEventLog();
    const bus = await startedBus(log);
    await bus.send(register('user-e', 'Erin'));
    await rejectsWith(bus.send(register('user-f', 'erin')), 'USERNAME_TAKEN', 'conflict');
    const erase = (username: string): Command => ({ type: 'EraseUser', data: { userId: 'user-e', username }, metadata: { now: T0, actorId: 'user-e' } });
    await rejectsWith(bus.send(erase('someone-else')), 'INVALID_USER', 'invalid');
    assert.deepEqual((await bus.send(erase('ERIN'))).events.map((e) => e.type), ['UserErased']);
    assert.deepEqual((await bus.send(erase('ERIN'))).events, [], 'erasing twice decides nothing');
    assert.equal(bus.findUserIdByUsername('erin'), undefined);
    await bus.send(register('user-f', 'erin'));
    assert.equal(bus.findUserIdByUsername('Erin'), 'user-f');

    const again = await startedBus(log);
    assert.equal(again.findUserIdByUsername('erin'), 'user-f', 'the rebuild agrees: the later registration holds the name');
    await rejectsWith(again.send(register('user-e', 'Erin2')), 'USER_ALREADY_EXISTS', 'conflict');
  });

  test('concurrent sends to one aggregate are serialised: 20 identical RecordRenditionEncoded → one event', async () => {
    const log = createInMemoryEventLog();
    const bus = await startedBus(log);
    const c = videoCommands('vid-x');
    for (const cmd of [c.startUpload(), c.completeUpload(), c.startProcessing()]) await bus.send(cmd);
    const results = await Promise.all(Array.from({ length: 20 }, () => bus.send(c.renditionEncoded(LADDER[1]))));
    assert.equal(results.filter((r) => r.events.length === 1).length, 1);
    assert.equal(results.filter((r) => r.events.length === 0).length, 19);
    const encoded = (await decodeAll(log, TOPICS.videos)).filter(({ event }) => event.type === 'RenditionEncoded');
    assert.equal(encoded.length, 1);
  });

  test('concurrent registrations of one username in different cases: exactly one wins', async () => {
    const bus = await startedBus();
    const names = ['bob', 'BOB', 'Bob', 'bOb'];
    const settled = await Promise.allSettled(names.map((n, i) => bus.send(register(`user-${i}`, n))));
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 1);
    for (const s of settled) {
      if (s.status === 'rejected') assert.equal((s.reason as DomainError).code, 'USERNAME_TAKEN');
    }
  });

  test('domain errors propagate and append nothing', async () => {
    const log = createInMemoryEventLog();
    const bus = await startedBus(log);
    const c = videoCommands('vid-e');
    await rejectsWith(bus.send(c.completeUpload()), 'VIDEO_NOT_FOUND', 'not_found');
    await bus.send(c.startUpload());
    await rejectsWith(bus.send(c.delete(STRANGER)), 'NOT_OWNER', 'forbidden');
    await rejectsWith(bus.send(c.completeUpload('other-upload')), 'UPLOAD_ID_MISMATCH', 'conflict');
    await rejectsWith(bus.send({
      type: 'PostComment', data: { commentId: 'c', videoId: 'vid-e', authorId: OWNER, body: 'early' }, metadata: { now: T0 },
    }), 'VIDEO_NOT_PUBLISHED', 'conflict');
    await rejectsWith(bus.send({ type: 'Nope', data: {}, metadata: { now: 1 } } as unknown as Command), 'INVALID_COMMAND', 'invalid');
    assert.equal(log.records(TOPICS.videos).length, 1);
    assert.equal(log.records(TOPICS.comments).length, 0);
    assert.equal(bus.state('video', 'vid-e')?.status, 'pending_upload');
  });

  test('rebuild skips undecodable records', async () => {
    const log = createInMemoryEventLog();
    const bus1 = await startedBus(log);
    await bus1.send(videoCommands('vid-g').startUpload());
    await log.append(TOPICS.videos, [{ key: 'vid-g', value: Buffer.from('\0garbage') }]);
    await bus1.send(videoCommands('vid-g').completeUpload());
    const bus2 = await startedBus(log);
    assert.equal(bus2.state('video', 'vid-g')?.status, 'uploaded');
  });

  test('a failed append leaves the state unchanged; an ambiguous one is re-read from the log', async () => {
    const inner = createInMemoryEventLog();
    let mode: 'ok' | 'fail-before' | 'fail-after' = 'ok';
    const log: EventLog = {
      ...inner,
      async append(topic, records) {
        if (mode === 'fail-before') { mode = 'ok'; throw new Error('broker unavailable'); }
        const out = await inner.append(topic, records);
        if (mode === 'fail-after') { mode = 'ok'; throw new Error('request timed out'); }
        return out;
      },
    };
    const bus = await startedBus(log);
    const c = videoCommands('vid-f');
    await bus.send(c.startUpload());

    mode = 'fail-before';
    await assert.rejects(bus.send(c.completeUpload()), /broker unavailable/);
    assert.equal(bus.state('video', 'vid-f')?.status, 'pending_upload');
    assert.equal((await bus.send(c.completeUpload())).events.length, 1);

    await bus.send(c.startProcessing());
    mode = 'fail-after'; // the record is on the log but the producer saw an error
    await assert.rejects(bus.send(c.renditionEncoded()), /timed out/);
    // The retry must not write a second RenditionEncoded: the aggregate is re-read first.
    assert.deepEqual((await bus.send(c.renditionEncoded())).events, []);
    const encoded = (await decodeAll(inner, TOPICS.videos)).filter(({ event }) => event.type === 'RenditionEncoded');
    assert.equal(encoded.length, 1);
  });

  test('an ambiguous registration holds its username for every other user, not only for its own retry', async () => {
    const inner = createInMemoryEventLog();
    let failAfter = false;
    const log: EventLog = {
      ...inner,
      async append(topic, records) {
        const out = await inner.append(topic, records);
        if (failAfter) { failAfter = false; throw new Error('request timed out'); }
        return out;
      },
    };
    const bus = await startedBus(log);
    failAfter = true; // alice's UserRegistered is on the log, but the producer saw an error
    await assert.rejects(bus.send(register('u-a', 'alice')), /timed out/);
    await rejectsWith(bus.send(register('u-b', 'Alice')), 'USERNAME_TAKEN', 'conflict');
    const registered = (await decodeAll(inner, TOPICS.users)).filter(({ event }) => event.type === 'UserRegistered');
    assert.equal(registered.length, 1);
  });
});

/** An in-memory log counting `read` calls per `topic:partition`, with a switch to fail the next append after writing it. */
function instrumentedLog() {
  const inner = createInMemoryEventLog();
  const reads = new Map<string, number>();
  const state = { failNextAppendAfterWrite: false };
  const log: EventLog = {
    ...inner,
    async read(topic, partition, from, max) {
      reads.set(`${topic}:${partition}`, (reads.get(`${topic}:${partition}`) ?? 0) + 1);
      return inner.read(topic, partition, from, max);
    },
    async append(topic, records) {
      const out = await inner.append(topic, records);
      if (state.failNextAppendAfterWrite) { state.failNextAppendAfterWrite = false; throw new Error('request timed out'); }
      return out;
    },
  };
  return { log, inner, reads, state };
}

describe('command handler: idempotent command ids (command-ids.ts)', () => {
  const idem = (cmd: Command, commandId: string, now = cmd.metadata.now): Command => ({ ...cmd, metadata: { ...cmd.metadata, now, commandId } } as Command);

  test('a repeated idem_ id gets the first decision (events, positions) and appends nothing; a new bus over the same log remembers it from the event headers', async () => {
    const log = createInMemoryEventLog();
    const bus = await startedBus(log);
    const start = videoCommands('v-idem').startUpload();
    const first = await bus.send(idem(start, 'idem_A'));
    const again = await bus.send(idem(start, 'idem_A', T0 + 60_000));
    assert.deepEqual(again.positions, first.positions);
    assert.deepEqual(again.events, first.events);
    assert.ok(first.events.length > 0);
    const headers = log.records(TOPICS.videos).map((r) => r.headers?.['streamwave-command-id']);
    assert.deepEqual(headers.filter((h) => h === 'idem_A').length, first.events.length, 'every event carries its command id');

    const restarted = await startedBus(log);
    const afterRestart = await restarted.send(idem(start, 'idem_A', T0 + 3_600_000));
    assert.deepEqual(afterRestart.positions, first.positions);
    assert.equal(log.records(TOPICS.videos).length, first.events.length, 'nothing appended by either repeat');
  });

  test('after 24 h the id is forgotten: the repeat is decided again (the video decider sees a repeat and decides nothing)', async () => {
    const bus = await startedBus();
    const start = videoCommands('v-late').startUpload();
    await bus.send(idem(start, 'idem_B'));
    assert.ok((await bus.send(idem(start, 'idem_B', T0 + 24 * 3_600_000))).events.length > 0, 'remembered at 24 h');
    assert.deepEqual((await bus.send(idem(start, 'idem_B', T0 + 24 * 3_600_000 + 1))).events, [], 'forgotten after');
  });

  test('an id used on another aggregate is refused IDEMPOTENCY_KEY_REUSED (conflict); generated ids are never remembered', async () => {
    const bus = await startedBus();
    await bus.send(idem(videoCommands('v-one').startUpload(), 'idem_C'));
    await rejectsWith(bus.send(idem(videoCommands('v-two').startUpload(), 'idem_C')), 'IDEMPOTENCY_KEY_REUSED', 'conflict');
    const plain = videoCommands('v-three').startUpload();
    await bus.send(idem(plain, '01JPLAINULID'));
    assert.deepEqual((await bus.send(idem(plain, '01JPLAINULID'))).events, [], 'decided again by the decider, not answered from memory');
  });
});

describe('command handler driven by the decider registry', () => {
  describe('when the video is deleted', () => {
    test('a comment is refused by the comment decider and a heartbeat by the view decider, both through the bus', async () => {
      const log = createInMemoryEventLog();
      const bus = await startedBus(log);
      await publishVideo(bus, 'vid-d');
      await bus.send(videoCommands('vid-d').delete());
      await rejectsWith(bus.send({
        type: 'PostComment', data: { commentId: 'c', videoId: 'vid-d', authorId: OWNER, body: 'late' }, metadata: { now: T0 + 20 },
      }), 'VIDEO_DELETED', 'not_found');
      await rejectsWith(bus.send({
        type: 'RecordView', data: { videoId: 'vid-d', sessionId: 's', watchedSeconds: 1, positionSeconds: 1 }, metadata: { now: T0 + 20 },
      }), 'VIDEO_DELETED', 'not_found');
      assert.equal(log.records(TOPICS.comments).length, 0);
      assert.equal(log.records(TOPICS.views).length, 0);
    });
  });

  test('state(kind, id) reads what a command of that kind is decided against', async () => {
    const bus = await startedBus();
    await publishVideo(bus, 'vid-s');
    await bus.send(register('user-1', 'Alice'));
    await bus.send({ type: 'PostComment', data: { commentId: 'c1', videoId: 'vid-s', authorId: 'user-1', body: 'x' }, metadata: { now: T0 } });
    assert.equal(bus.state('user', 'user-1')?.status, 'registered');
    assert.equal(bus.state('comment', 'vid-s')?.commentIds.has('c1'), true);
    assert.equal(bus.state('comment', 'vid-s')?.video, bus.state('video', 'vid-s'));
    assert.equal(bus.state('view', 'vid-s'), bus.state('video', 'vid-s'));
    assert.equal(bus.state('user', 'nobody'), undefined);
  });

  describe('given an ambiguous append (on the log, but the producer saw an error)', () => {
    test('the stale video is reloaded from its partition of the videos topic only, before its next command only', async () => {
      const { log, reads, state } = instrumentedLog();
      const bus = await startedBus(log);
      const c = videoCommands('vid-f');
      await bus.send(c.startUpload());
      await publishVideo(bus, 'vid-other');
      state.failNextAppendAfterWrite = true;
      await assert.rejects(bus.send(c.completeUpload()), /timed out/);
      reads.clear();

      await bus.send(videoCommands('vid-other').update({ title: 'x' }));
      assert.equal(reads.size, 0, 'a command on another stream reads nothing');
      assert.deepEqual((await bus.send(c.completeUpload())).events, [], 'the retry sees the event already on the log');
      assert.deepEqual([...reads], [[`${TOPICS.videos}:${partitionForKey(TOPICS.videos, 'vid-f', 6)}`, 1]]);
      reads.clear();
      await bus.send(c.startProcessing());
      assert.equal(reads.size, 0, 'reloaded once');
    });

    test('a registration first reloads the stale users, each from its partition of the users topic only', async () => {
      const { log, reads, state } = instrumentedLog();
      const bus = await startedBus(log);
      const ambiguous = ['u-1', 'u-2', 'u-3'];
      reads.clear();
      for (const u of ambiguous) {
        state.failNextAppendAfterWrite = true;
        await assert.rejects(bus.send(register(u, `name-${u}`)), /timed out/);
      }
      await rejectsWith(bus.send(register('u-9', 'NAME-u-2')), 'USERNAME_TAKEN', 'conflict');
      // u-2's registration reloaded u-1, u-3's reloaded u-2, u-9's reloaded u-3: one partition read each.
      const partitions = new Set(ambiguous.map((u) => `${TOPICS.users}:${partitionForKey(TOPICS.users, u, 6)}`));
      assert.deepEqual(new Set(reads.keys()), partitions);
      assert.equal([...reads.values()].reduce((a, b) => a + b, 0), ambiguous.length);
      for (const u of ambiguous) assert.equal(bus.findUserIdByUsername(`name-${u}`), u);
    });
  });
});
