/**
 * The personal-data upgrade of a Kafka cluster (deploy/cluster/personal-data-upgrade.ts) against a
 * real broker: topics written as the command processor writes them (transactions, an aborted one,
 * a non-transactional tail) with plaintext personal fields, and a consumer group part-way through.
 * After the upgrade every visible record is at its old offset and decodes to the same event, the
 * end offsets and the group's position are unchanged, no byte of plaintext is left on the broker's
 * disk (once it removed the deleted topics' files), and a second run changes nothing.
 * Skipped when Java/Maven are missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import { copyPartitions, plaintextProbe } from '../../processors/migrations/personal-data-migration.ts';
import { openOffsetPreservingWriter } from '../../platform/log/kafka/kafka-offset-preserving-writer.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createPersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC, ensureCommandTopics, TOPICS } from '../../schemas/topics.ts';
import { createAvroCommandCodec } from '../../schemas/codec/avro-command-codec.ts';
import type { CommandRecord } from '../../schemas/command-codec.port.ts';
import { filesUnder } from '../../test/support/e2e-target.ts';
import { kafkaTestFile } from '../../test/support/kafka-test-file.ts';
import { runStreamwave } from '../../test/support/standalone-process.ts';
import { ClusterBusyError, upgradeClusterPersonalData } from './personal-data-upgrade.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const kafkaFile = await kafkaTestFile();

const tag = randomUUID().slice(0, 8);
const user = (i: number): DomainEvent => ({
  type: 'UserRegistered', data: { userId: `u${i}`, username: `user${i}_${tag}`, email: `user${i}.${tag}@plain.example`, passwordHash: `$scrypt$${i}`, registeredAt: i },
});
const comment = (i: number): DomainEvent => ({ type: 'CommentPosted', data: { commentId: `c${i}`, videoId: 'v1', authorId: `u${i}`, parentId: null, body: `words of user ${i} ${tag}`, postedAt: i } });

/** Every visible record of every partition of `topic`. */
async function visible(log: Awaited<ReturnType<typeof kafkaFile.openLog>>, topic: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  const ends = await log.endOffsets(topic);
  for (let p = 0; p < ends.length; p++) {
    for (let o = 0; o < ends[p];) {
      const recs = await log.read(topic, p, o, 500);
      if (!recs.length) break;
      out.push(...recs);
      o = recs[recs.length - 1].offset + 1;
    }
  }
  return out;
}

describe('personal-data upgrade of a Kafka cluster (issue 13)', { skip: kafkaFile.skip }, () => {
  test('topics are rewritten encrypted at the same offsets; groups keep their positions; no plaintext stays on disk', { timeout: 240_000 }, async (t) => {
    const ns = `pdu-${tag}`;
    const log = await kafkaFile.openLog(ns, 'pd-upgrade');
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    const api = createInProcessSchemaRegistryApi(registry);
    const keysDir = await mkdtemp(join(tmpdir(), 'sw-pdu-keys-'));
    kafkaFile.onCleanup(() => rm(keysDir, { recursive: true, force: true }));
    const keys = await createEmbeddedDataKeyStore({ dir: keysDir });
    kafkaFile.onCleanup(() => keys.close());
    // What the releases before issue 13 wrote: no cipher.
    const plaintext = createAvroEventCodec({ registry: api });
    await plaintext.registerAll();
    for (const topic of [TOPICS.users, TOPICS.comments, TOPICS.views]) await log.createTopic({ name: topic, partitions: 2 });

    // users/0: tx [u1, u2] committed, tx [u3] aborted, tx [u4] committed, then u5 without a transaction.
    const kafka = new Kafka({ clientId: 'pdu-writer', brokers: [kafkaFile.broker().bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ transactionalId: `${ns}.writer`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    kafkaFile.onCleanup(() => producer.disconnect());
    await producer.connect();
    const inTx = async (topic: string, events: DomainEvent[], partition: number, commit = true) => {
      const tx = await producer.transaction();
      await tx.send({ topic: log.kafka.topicName(topic), acks: -1, messages: await Promise.all(events.map(async (e) => ({ key: 'k', value: await plaintext.encode(topic, e), partition }))) });
      await (commit ? tx.commit() : tx.abort());
    };
    await inTx(TOPICS.users, [user(1), user(2)], 0);
    await inTx(TOPICS.users, [user(3)], 0, false);
    await inTx(TOPICS.users, [user(4)], 0);
    // EndTxn returns before the coordinator has written the commit marker (KIP-98 writes the markers
    // after it answers), so u5 could land ahead of it under load: wait for the marker at offset 6.
    while ((await log.endOffsets(TOPICS.users))[0]! < 7) await new Promise((r) => setTimeout(r, 10));
    await log.append(TOPICS.users, [{ key: 'k', value: await plaintext.encode(TOPICS.users, user(5)), partition: 0 }]);
    await inTx(TOPICS.users, [user(6)], 1);
    await inTx(TOPICS.comments, [comment(1), comment(2)], 1);
    const before = { users: await visible(log, TOPICS.users), comments: await visible(log, TOPICS.comments), ends: await log.endOffsets(TOPICS.users) };
    assert.deepEqual(before.users.filter((r) => r.partition === 0).map((r) => r.offset), [0, 1, 5, 7], 'gaps from the markers and the aborted transaction');
    const u4 = before.users.find((r) => r.offset === 5)!;
    await log.commitOffsets('a-projection', new Map([[`${TOPICS.users}:0`, 5]]));

    const probe = plaintextProbe(createPersonalDataCipher(keys));
    const codec = createAvroEventCodec({ registry: api, personalData: probe.cipher });
    const reader = createAvroEventCodec({ registry: api, personalData: createPersonalDataCipher(keys) });
    const run = () => upgradeClusterPersonalData({ log, codec, probe, replicationFactor: 1, logger: pino({ level: 'silent' }) });

    // Refused while a role runs.
    const member = await log.subscribe({ groupId: 'running-role', topics: [TOPICS.views], eachBatch: async () => {} });
    await assert.rejects(run(), (e) => e instanceof ClusterBusyError && e.groups.some((g) => g.endsWith('running-role')));
    await member.stop();
    // Refused while a transaction is open on a topic (a producer that died mid-transaction).
    const open = await producer.transaction();
    await open.send({ topic: log.kafka.topicName(TOPICS.users), acks: -1, messages: [{ key: 'k', value: Buffer.from('in flight'), partition: 1 }] });
    await assert.rejects(run(), /transaction still open/);
    await open.abort();
    while (JSON.stringify(await log.endOffsets(TOPICS.users)) === JSON.stringify(before.ends)) await new Promise((r) => setTimeout(r, 10));
    before.ends = await log.endOffsets(TOPICS.users);

    const result = await run();
    assert.deepEqual(result.migrated, [TOPICS.comments, TOPICS.users]);
    assert.equal(result.rewritten, 7);

    const after = { users: await visible(log, TOPICS.users), comments: await visible(log, TOPICS.comments), ends: await log.endOffsets(TOPICS.users) };
    assert.deepEqual(after.ends, before.ends, 'end offsets unchanged');
    for (const k of ['users', 'comments'] as const) {
      assert.deepEqual(after[k].map((r) => [r.partition, r.offset, r.key, r.timestamp]), before[k].map((r) => [r.partition, r.offset, r.key, r.timestamp]), `${k}: every record at its offset`);
      assert.deepEqual(await Promise.all(after[k].map((r) => reader.decode(r.value!))), await Promise.all(before[k].map((r) => plaintext.decode(r.value!))), `${k}: the same events`);
      for (const r of after[k]) assert.ok(!r.value!.includes(Buffer.from(tag)), `${k} ${r.partition}/${r.offset} holds no plaintext`);
    }
    assert.equal((await log.committedOffsets('a-projection')).get(`${TOPICS.users}:0`), 5, 'the group keeps its position');
    assert.deepEqual(await reader.decode((await log.read(TOPICS.users, 0, 5, 1))[0].value!), await plaintext.decode(u4.value!), '…which still points at the same event');
    assert.ok(!(await log.listTopics()).some((x) => x.name.includes('personal-data-1')), 'no shadow left');

    // The broker removes the deleted topics' files after file.delete.delay.ms (1 s in deploy/local/kafka.sh).
    let hits: string[] = [];
    const scanFrom = Date.now();
    const deadline = Date.now() + 90_000;
    do {
      await new Promise((r) => setTimeout(r, 1000));
      hits = [];
      for (const f of await filesUnder(join(kafkaFile.broker().dir, 'data'))) if ((await readFile(f).catch(() => Buffer.alloc(0))).includes(Buffer.from(`.${tag}@plain.example`))) hits.push(f);
    } while (hits.length && Date.now() < deadline);
    t.diagnostic(`upgrade: ${result.copied} records copied, ${result.rewritten} rewritten encrypted; broker data dir ${((Date.now() - scanFrom) / 1000).toFixed(0)} s after it: ${hits.length} files hold a plaintext email`);
    assert.deepEqual(hits, []);

    assert.deepEqual(await run(), { migrated: [], copied: 0, rewritten: 0 }, 'a second run changes nothing');
    await registry.stop();
  });

  test('the offset-preserving copy: a log start moved by retention, a run longer than a request, a gap of 2, a run split across writes', { timeout: 120_000 }, async () => {
    const ns = `pdw-${tag}`;
    const log = await kafkaFile.openLog(ns, 'pd-writer');
    await log.createTopic({ name: 'src', partitions: 1 });
    await log.createTopic({ name: 'dst', partitions: 1 });
    const kafka = new Kafka({ clientId: 'pdw', brokers: [kafkaFile.broker().bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ transactionalId: `${ns}.src`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    kafkaFile.onCleanup(() => producer.disconnect());
    await producer.connect();
    const value = (i: number) => Buffer.from(`record ${i} `.padEnd(2000, '.'));
    // 0..2: plain, then deleted by retention (DeleteRecords) → the log starts at 3.
    await log.append('src', [0, 1, 2].map((i) => ({ key: 'k', value: value(i), partition: 0 })));
    // 3..1202: 1200 records of 2 kB in one committed transaction (more than one produce request), marker at 1203.
    const big = await producer.transaction();
    for (let i = 0; i < 1200; i += 300) await big.send({ topic: log.kafka.topicName('src'), acks: -1, messages: Array.from({ length: 300 }, (_, j) => ({ key: 'k', value: value(3 + i + j), partition: 0 })) });
    await big.commit();
    // The coordinator writes the marker after EndTxn answers: wait for it before the next append.
    const settled = async (end: number) => { while ((await log.endOffsets('src'))[0] !== end) await new Promise((r) => setTimeout(r, 10)); };
    await settled(1204);
    // 1204: plain; then an aborted transaction of 1 record (1205) + its marker (1206): a gap of 2.
    await log.append('src', [{ key: 'k', value: value(1204), partition: 0 }]);
    const aborted = await producer.transaction();
    await aborted.send({ topic: log.kafka.topicName('src'), acks: -1, messages: [{ key: 'k', value: Buffer.from('aborted'), partition: 0 }] });
    await aborted.abort();
    await settled(1207);
    // 1207, 1208: plain, the end.
    await log.append('src', [1207, 1208].map((i) => ({ key: 'k', value: value(i), partition: 0 })));
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [log.kafka.topicName('src')] });
    await admin.deleteTopicRecords({ topic: log.kafka.topicName('src'), partitions: [{ partition: 0, offset: '3' }] });
    await admin.disconnect();

    const before = await visible(log, 'src');
    assert.deepEqual([before[0].offset, before.length, before.at(-1)!.offset], [3, 1203, 1208]);
    const starts = await log.beginningOffsets('src');
    await copyPartitions({ source: log, partitions: [{ topic: 'src', partition: 0 }], sinkFor: () => openOffsetPreservingWriter(log, 'dst', 0, starts[0]) });
    const after = await visible(log, 'dst');
    assert.deepEqual(after.map((r) => [r.offset, r.value!.toString()]), before.map((r) => [r.offset, r.value!.toString()]), 'every record at its offset');
    assert.deepEqual([await log.beginningOffsets('dst'), await log.endOffsets('dst')], [starts, await log.endOffsets('src')], 'same log start and end');
  });

  test('`streamwave migrate personal-data` with the cluster\'s environment: refused while a role runs, then done; then nothing to do', { timeout: 180_000 }, async () => {
    // No namespace: the real topic names and the registry's own `_schemas` topic, as a cluster has them.
    const log = await kafkaFile.openLog('', 'pd-cli');
    const registry = createSchemaRegistry({ log });
    await registry.start();
    const plaintext = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry) });
    await plaintext.registerAll();
    await log.createTopic({ name: TOPICS.users, partitions: 2 });
    await log.append(TOPICS.users, [{ key: 'u7', value: await plaintext.encode(TOPICS.users, user(7)), partition: 1 }]);
    // The commands topic holds the registration in plaintext too, and the replies topic an outcome.
    const commands = createAvroCommandCodec({ registry: createInProcessSchemaRegistryApi(registry) });
    await commands.registerAll();
    await ensureCommandTopics(log, { partitions: 2 });
    const registration: CommandRecord = {
      commandId: 'cmd-1', replyTo: null,
      command: { type: 'RegisterUser', data: { userId: 'u8', username: `user8_${tag}`, email: `user8.${tag}@plain.example`, passwordHash: '$scrypt$8' }, metadata: { now: 8 } },
    };
    await log.append(COMMANDS_TOPIC, [{ key: 'username:x', value: await commands.encode(registration), partition: 0 }]);
    await log.append(COMMAND_REPLIES_TOPIC, [{ key: 'gw-1', value: Buffer.from(`an outcome with user8.${tag}@plain.example inside`), partition: 0 }]);
    await registry.stop();
    const dataDir = await mkdtemp(join(tmpdir(), 'sw-pdu-cli-'));
    kafkaFile.onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const env = { STREAMWAVE_KAFKA_BROKERS: kafkaFile.broker().bootstrap, STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_ADMIN_TOKEN: 'migrate-test-admin-token-0123456789', STREAMWAVE_LOG_LEVEL: 'warn' };

    const member = await log.subscribe({ groupId: 'some-role', topics: [TOPICS.users], eachBatch: async () => {} });
    const refused = await runStreamwave(['migrate', 'personal-data'], env, 120_000);
    await member.stop();
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /stop every role first: .*some-role/);

    const done = await runStreamwave(['migrate', 'personal-data'], env, 120_000);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /streamwave\.commands, streamwave\.users rewritten \(2 records copied, 2 encrypted\)/);
    const [rec] = await log.read(TOPICS.users, 1, 0, 1);
    assert.ok(!rec.value!.includes(Buffer.from(`user7.${tag}`)), 'the email is encrypted');
    const [cmd] = await log.read(COMMANDS_TOPIC, 0, 0, 1);
    assert.ok(!cmd.value!.includes(Buffer.from(`user8.${tag}`)), 'the registration command is encrypted');
    assert.deepEqual(await log.endOffsets(COMMAND_REPLIES_TOPIC), [0, 0], 'the replies topic is emptied');
    const again = await runStreamwave(['migrate', 'personal-data'], env, 120_000);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to do/);
  });
});
