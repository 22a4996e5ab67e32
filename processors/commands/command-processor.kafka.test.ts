/**
 * The command processor and the remote command bus on a real broker (ADR 0006, issue 10): two
 * processors in one group (each owning some commands partitions) and two buses (two "gateways").
 * (a) conflicting commands raced across the two buses are decided once: one registration of a
 *     name wins (the other gets USERNAME_TAKEN), a doubly completed upload has one UploadCompleted;
 *     every accepted outcome names where its events are on the log; refusals come back as the
 *     decider's DomainError; prints `decided twice: 0` and `broken: 0`.
 * (b) a processor leaves mid-load and another joins: partitions move; every command is answered
 *     exactly once and the log holds one decision per command (`lost: 0`, `decided twice: 0`);
 * (c) 100 refused heartbeats and 100 refused edits on made-up ids re-read no topic on the gateway
 *     (the stopgap that reloaded partitions on every refusal is gone).
 * (d) idempotent command ids (Idempotency-Key): each command sent from both gateways at once, again
 *     later, and again after the processor is replaced by one that restores from the log, is
 *     decided once; every answer names the first decision's positions.
 * Skipped when Java/Maven are missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { kafkaTestFile } from '../../test/support/kafka-test-file.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { EventLog, RecordMetadata } from '../../platform/log/event-log.port.ts';
import { within } from '../../platform/log/event-log.contract.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createAvroCommandCodec } from '../../schemas/codec/avro-command-codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { DomainError } from '../../domain/shared/event.ts';
import type { DomainEvent } from '../../domain/events.ts';
import { createUsernameDigest } from '../../commands/command-keys.ts';
import { createRemoteCommandBus, type RemoteCommandBus } from '../../commands/remote-command-bus.ts';
import { createViewRecorder } from '../../commands/view-recorder.ts';
import type { Command } from '../../commands/command-bus.port.ts';
import { runCommandProcessor, type CommandProcessorHandle } from './command-processor.ts';

const kafkaFile = await kafkaTestFile();
const PARTITIONS = 4;
const digest = createUsernameDigest('test-secret-0123456789abcdef');
const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);

async function codecs() {
  const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
  await registry.start();
  const api = createInProcessSchemaRegistryApi(registry);
  return { codec: createAvroEventCodec({ registry: api }), commands: createAvroCommandCodec({ registry: api }) };
}

async function setup(ns: string, processors: number) {
  const { codec, commands } = await codecs();
  const procs: CommandProcessorHandle[] = [];
  const procLogs: EventLog[] = [];
  for (let i = 0; i < processors; i++) {
    const log = await kafkaFile.openLog(ns, `command-processor-${i}`);
    procLogs.push(log);
    const p = await runCommandProcessor({ log, codec, commands, usernameDigest: digest, partitions: PARTITIONS, now: () => T0 });
    kafkaFile.onCleanup(() => p.stop());
    procs.push(p);
  }
  const buses: RemoteCommandBus[] = [];
  for (const name of ['gateway-a', 'gateway-b']) {
    const bus = createRemoteCommandBus({
      log: await kafkaFile.openLog(ns, name), codec, commands, usernameDigest: digest, instanceId: `${name}-${ns}`, partitions: PARTITIONS, timeoutMs: 60_000,
    });
    await bus.start();
    kafkaFile.onCleanup(() => bus.stop());
    buses.push(bus);
  }
  return { codec, commands, procs, procLogs, buses, reader: procLogs[0] };
}

const register = (userId: string, username: string, now = T0): Command => ({
  type: 'RegisterUser', data: { userId, username, email: `${userId}@example.org`, passwordHash: '$scrypt$x' }, metadata: { now },
});
const startUpload = (videoId: string, ownerId = 'owner-1'): Command => ({
  type: 'StartUpload',
  data: {
    videoId, ownerId, uploadId: `up-${videoId}`, objectKey: `uploads/${videoId}/source`, filename: 'clip.mp4', sizeBytes: 1000,
    contentType: 'video/mp4', title: 'A clip', description: '', tags: [], partSizeBytes: 5_242_880,
  },
  metadata: { now: T0, actorId: ownerId },
});
const completeUpload = (videoId: string): Command => ({ type: 'CompleteUpload', data: { videoId, uploadId: `up-${videoId}`, sizeBytes: 1000 }, metadata: { now: T0 + 1 } });

/** Every event on a topic, decoded, with its position. */
async function eventsOn(log: EventLog, codec: { decode(b: Buffer): Promise<DomainEvent> }, topic: string) {
  const out: { event: DomainEvent; at: RecordMetadata }[] = [];
  const ends = await log.endOffsets(topic);
  for (const [p, end] of ends.entries()) {
    for (let from = 0; from < end;) {
      const records = await log.read(topic, p, from, 1000);
      if (records.length === 0) break;
      for (const r of records) out.push({ event: await codec.decode(r.value!), at: { topic, partition: p, offset: r.offset } });
      from = records.at(-1)!.offset + 1;
    }
  }
  return out;
}

const outcomeOf = (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => (e instanceof DomainError ? e.code : `error: ${(e as Error).message}`));

describe('command processor + remote command bus (real broker)', { skip: kafkaFile.skip }, () => {
  test('(a) races across two gateways: each conflict decided once; outcomes name their events; refusals keep their codes', { timeout: 240_000 }, async (t) => {
    const ns = `cmd-a-${randomUUID().slice(0, 8)}`;
    const { codec, buses: [a, b], reader } = await setup(ns, 2);
    const PAIRS = 1_000;
    let broken = 0;

    // Registrations: the same name twice (in another case on the other gateway), concurrently.
    const regs = await Promise.all(Array.from({ length: PAIRS }, (_, i) => Promise.all([
      outcomeOf(a.send(register(`ua-${i}`, `Name${i}`))),
      outcomeOf(b.send(register(`ub-${i}`, `nAME${i}`))),
    ])));
    for (const pair of regs) if ([...pair].sort().join() !== 'USERNAME_TAKEN,accepted') broken++;

    // Uploads: started once, completed on both gateways at once.
    await Promise.all(Array.from({ length: PAIRS }, (_, i) => a.send(startUpload(`v-${i}`))));
    const completes = await Promise.all(Array.from({ length: PAIRS }, (_, i) => Promise.all([a.send(completeUpload(`v-${i}`)), b.send(completeUpload(`v-${i}`))])));
    const results = completes.flat();

    // An edit racing a delete: whichever is decided first, no edit may follow the deletion.
    const raced = await Promise.all(Array.from({ length: PAIRS }, (_, i) => Promise.all([
      outcomeOf(a.send({ type: 'UpdateVideoMetadata', data: { videoId: `v-${i}`, title: `edited ${i}` }, metadata: { now: T0 + 3, actorId: 'owner-1' } })),
      outcomeOf(b.send({ type: 'DeleteVideo', data: { videoId: `v-${i}` }, metadata: { now: T0 + 3, actorId: 'owner-1' } })),
    ])));
    const editsAccepted = raced.filter(([edit]) => edit === 'accepted').length;

    // Refusals travel back with the decider's code.
    await assert.rejects(a.send(completeUpload('never-started')), (e: unknown) => e instanceof DomainError && e.kind === 'not_found');
    await a.send(startUpload('v-extra'));
    await assert.rejects(b.send({ type: 'DeleteVideo', data: { videoId: 'v-extra' }, metadata: { now: T0 + 4, actorId: 'stranger' } }),
      (e: unknown) => e instanceof DomainError && e.code === 'NOT_OWNER');

    const users = await eventsOn(reader, codec, TOPICS.users);
    const videos = await eventsOn(reader, codec, TOPICS.videos);
    const registeredNames = new Map<string, number>();
    for (const { event } of users) if (event.type === 'UserRegistered') registeredNames.set(event.data.username.toLowerCase(), (registeredNames.get(event.data.username.toLowerCase()) ?? 0) + 1);
    const completedPerVideo = new Map<string, number>();
    for (const { event } of videos) if (event.type === 'UploadCompleted') completedPerVideo.set(event.data.videoId, (completedPerVideo.get(event.data.videoId) ?? 0) + 1);
    const decidedTwice = [...registeredNames.values(), ...completedPerVideo.values()].filter((n) => n > 1).length;
    broken += PAIRS - registeredNames.size + PAIRS - completedPerVideo.size;
    // Per video, in log order: nothing after VideoDeleted.
    const deleted = new Set<string>();
    let editsAfterDelete = 0;
    for (const { event } of [...videos].sort((x, y) => x.at.partition - y.at.partition || x.at.offset - y.at.offset)) {
      if (event.type === 'VideoDeleted') deleted.add(event.data.videoId);
      else if (event.type === 'VideoMetadataUpdated' && deleted.has(event.data.videoId)) editsAfterDelete++;
    }
    broken += editsAfterDelete + PAIRS - [...deleted].filter((v) => v !== 'v-extra').length;

    // Read-your-writes: an accepted outcome's positions hold exactly its events.
    const at = new Map(videos.map((v) => [`${v.at.partition}:${v.at.offset}`, v.event]));
    for (const r of results) {
      assert.equal(r.events.length, r.positions.length);
      r.positions.forEach((p, i) => assert.deepEqual(at.get(`${p.partition}:${p.offset}`), r.events[i], 'the outcome names where its event is'));
    }
    const completedOutcomes = results.filter((r) => r.events.length === 1).length;
    t.diagnostic(`${PAIRS} name pairs, ${PAIRS} completion pairs, ${PAIRS} edit-vs-delete pairs across 2 gateways and 2 processors: decided twice: ${decidedTwice}, broken: ${broken} (edits after a deletion: ${editsAfterDelete}; edits decided before their deletion: ${editsAccepted}); completions with an event: ${completedOutcomes}, idempotent: ${results.length - completedOutcomes}`);
    assert.equal(decidedTwice, 0);
    assert.equal(broken, 0);
    assert.equal(completedOutcomes, PAIRS, 'exactly one of each pair of completions produced UploadCompleted');
  });

  test('(b) processors leave and join mid-load: partitions move; every command answered once, none decided twice', { timeout: 240_000 }, async (t) => {
    const ns = `cmd-b-${randomUUID().slice(0, 8)}`;
    const { codec, commands, procs, buses: [a, b], reader } = await setup(ns, 2);
    const N = 600;
    const sends: Promise<string>[] = [];
    const send = (i: number) => sends.push(outcomeOf((i % 2 ? a : b).send(register(`u-${i}`, `user${i % (N / 2)}`, T0 + i))));
    const decidedBy = (p: CommandProcessorHandle) => p.counts().accepted + p.counts().refused;
    const until = (what: string, ok: () => boolean) => within((async () => { while (!ok()) await new Promise((r) => setTimeout(r, 5)); })(), 120_000, what);
    for (let i = 0; i < N / 3; i++) send(i);
    // Once the first processor has decided some, it leaves the group and a third one joins, while commands keep coming.
    await until('first decisions', () => decidedBy(procs[0]) >= 20);
    const stopping = procs[0].stop();
    const joiner = await runCommandProcessor({ log: await kafkaFile.openLog(ns, 'command-processor-joiner'), codec, commands, usernameDigest: digest, partitions: PARTITIONS, now: () => T0 });
    kafkaFile.onCleanup(() => joiner.stop());
    for (let i = N / 3; i < (2 * N) / 3; i++) send(i);
    await stopping;
    await until('the joiner deciding', () => decidedBy(joiner) > 0);
    for (let i = (2 * N) / 3; i < N; i++) send(i);
    const outcomes = await within(Promise.all(sends), 200_000, 'every command answered');
    const users = await eventsOn(reader, codec, TOPICS.users);
    const perName = new Map<string, number>();
    for (const { event } of users) if (event.type === 'UserRegistered') perName.set(event.data.username, (perName.get(event.data.username) ?? 0) + 1);
    const accepted = outcomes.filter((o) => o === 'accepted').length;
    const taken = outcomes.filter((o) => o === 'USERNAME_TAKEN').length;
    const decidedTwice = [...perName.values()].filter((n) => n > 1).length;
    const lost = N - accepted - taken;
    t.diagnostic(`${N} registrations of ${N / 2} names, decided ${decidedBy(procs[0])} by the processor that left, ${decidedBy(procs[1])} by the one that stayed, ${decidedBy(joiner)} by the one that joined: accepted ${accepted}, USERNAME_TAKEN ${taken}, lost: ${lost}, decided twice: ${decidedTwice}; other outcomes: ${outcomes.filter((o) => o !== 'accepted' && o !== 'USERNAME_TAKEN').slice(0, 3).join('; ') || 'none'}`);
    assert.ok(decidedBy(procs[0]) > 0 && decidedBy(joiner) > 0, 'the leaver and the joiner both decided some');
    assert.equal(lost, 0);
    assert.equal(decidedTwice, 0);
    assert.equal(accepted, N / 2, 'one registration per name');
    assert.equal(users.length, N / 2, 'one UserRegistered per accepted registration');
  });

  test('(c) refused heartbeats and edits on made-up ids re-read no topic at the gateway', { timeout: 120_000 }, async (t) => {
    const ns = `cmd-c-${randomUUID().slice(0, 8)}`;
    const { codec, buses: [a] } = await setup(ns, 1);
    const inner = await kafkaFile.openLog(ns, 'gateway-c');
    let recordsRead = 0;
    const counting: EventLog = { ...inner, read: async (topic, partition, from, max) => { const r = await inner.read(topic, partition, from, max); recordsRead += r.length; return r; } };
    const views = createViewRecorder({ log: counting, codec, followIntervalMs: 50 });
    await views.start();
    kafkaFile.onCleanup(() => views.stop());
    // Something on the log first, so a re-read from the beginning would show.
    await Promise.all(Array.from({ length: 20 }, (_, i) => a.send(startUpload(`real-${i}`))));
    await new Promise((r) => setTimeout(r, 300)); // the follower has read them
    const before = recordsRead;
    const readsBefore = views.reads();
    const codes = await Promise.all(Array.from({ length: 100 }, (_, i) => Promise.all([
      outcomeOf(views.send({ type: 'RecordView', data: { videoId: `made-up-${i}`, sessionId: 's', watchedSeconds: 1, positionSeconds: 1 }, metadata: { now: T0 } })),
      outcomeOf(a.send({ type: 'UpdateVideoMetadata', data: { videoId: `made-up-${i}`, title: 'x' }, metadata: { now: T0, actorId: 'u' } })),
    ])));
    const forward = views.reads() - readsBefore;
    t.diagnostic(`200 refusals (${[...new Set(codes.flat())].join(', ')}): records read by the gateway meanwhile ${recordsRead - before}; forward reads of the videos topic ${forward} (coalesced, each from where the last stopped)`);
    assert.ok(codes.every(([v, e]) => v === 'VIDEO_NOT_FOUND' && e === 'VIDEO_NOT_FOUND'), JSON.stringify(codes.slice(0, 3)));
    assert.equal(recordsRead - before, 0, 'no record was read again');
    assert.ok(before >= 20, 'the follower had read the real uploads');
  });

  test('(d) a repeated idempotent command id is decided once: concurrently on two gateways (twice on one), later, and after a processor restart', { timeout: 240_000 }, async (t) => {
    const ns = `cmd-d-${randomUUID().slice(0, 8)}`;
    const { codec, commands, procs, buses: [a, b], reader } = await setup(ns, 1);
    const N = 100;
    const keyed = (i: number): Command => { const c = startUpload(`vid-d-${i}`); return { ...c, metadata: { ...c.metadata, commandId: `idem_d${i}` } } as Command; };
    // Twice from gateway a (one id, two waiters on one bus) and once from b, all at once.
    const firsts = await Promise.all(Array.from({ length: N }, (_, i) => Promise.all([a.send(keyed(i)), b.send(keyed(i)), a.send(keyed(i))])));
    const later = await Promise.all(Array.from({ length: N }, (_, i) => a.send(keyed(i))));
    await procs[0].stop();
    const restored = await runCommandProcessor({ log: await kafkaFile.openLog(ns, 'command-processor-restored'), codec, commands, usernameDigest: digest, partitions: PARTITIONS, now: () => T0 });
    kafkaFile.onCleanup(() => restored.stop());
    const afterRestart = await Promise.all(Array.from({ length: N }, (_, i) => b.send(keyed(i))));
    let differing = 0;
    for (let i = 0; i < N; i++) {
      const answers = [...firsts[i], later[i], afterRestart[i]];
      if (answers.some((r) => r.positions.length === 0 || JSON.stringify(r.positions) !== JSON.stringify(answers[0].positions))) differing++;
    }
    const started = (await eventsOn(reader, codec, TOPICS.videos)).filter(({ event }) => event.type === 'UploadStarted').length;
    t.diagnostic(`${N} keyed commands sent 5 times each (3 at once on 2 gateways, 1 later, 1 after a restart): UploadStarted on the log ${started}, answers differing from the first decision ${differing}`);
    assert.equal(started, N, 'decided once each');
    assert.equal(differing, 0, 'every repeat answered with the first decision');
  });
});
