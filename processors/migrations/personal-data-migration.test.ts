import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent } from '../../domain/events.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createPersonalDataCipher, ERASED_PLACEHOLDER } from '../../schemas/codec/personal-data.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { copyEncrypted, denseSink, partitionsWithPlaintext, plaintextProbe, topicsWithPersonalData } from './personal-data-migration.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-pd-mig-'));
after(() => rm(root, { recursive: true, force: true }));

const registered = (userId: string, username: string): DomainEvent => ({
  type: 'UserRegistered', data: { userId, username, email: `${username}@example.com`, passwordHash: `$scrypt$${username}`, registeredAt: 1 },
});
const comment = (commentId: string, authorId: string, body: string): DomainEvent => ({
  type: 'CommentPosted', data: { commentId, videoId: 'v1', authorId, parentId: null, body, postedAt: 2 },
});

/** A log with a registry, a plaintext codec (what releases before issue 13 wrote) and an encrypting one. */
async function world() {
  const source = createInMemoryEventLog();
  const registry = createSchemaRegistry({ log: source });
  await registry.start();
  const api = createInProcessSchemaRegistryApi(registry);
  const keys = await createEmbeddedDataKeyStore({ dir: join(root, `keys-${Math.random()}`) });
  const plaintext = createAvroEventCodec({ registry: api });
  await plaintext.registerAll();
  const probe = plaintextProbe(createPersonalDataCipher(keys));
  const migrating = createAvroEventCodec({ registry: api, personalData: probe.cipher });
  const reader = createAvroEventCodec({ registry: api, personalData: createPersonalDataCipher(keys) });
  for (const t of [TOPICS.users, TOPICS.comments, TOPICS.views]) await source.createTopic({ name: t, partitions: 2 });
  return { source, keys, plaintext, probe, migrating, reader };
}

const values = async (log: EventLog, topic: string, partition: number) => (await log.read(topic, partition, 0, 1000));

describe('personal-data migration', () => {
  test('the topics to migrate come from the schemas\' marks, with their dead-letter topics', async () => {
    const { migrating } = await world();
    const texts = new Map([...migrating.schemas].map(([type, s]) => [type, s.schemaText]));
    const existing = [TOPICS.users, TOPICS.videos, TOPICS.comments, TOPICS.views, `${TOPICS.videos}.transcoder.dlq`, `${TOPICS.views}.x.dlq`, '_schemas'];
    assert.deepEqual(topicsWithPersonalData(texts, existing), [TOPICS.comments, TOPICS.users, TOPICS.videos, `${TOPICS.videos}.transcoder.dlq`].sort());
  });

  test('a partition is copied at the same offsets: plaintext rewritten encrypted, everything else byte for byte', async () => {
    const w = await world();
    // Partition 0: plaintext, garbage, a tombstone, a record already encrypted, plaintext again.
    const enc = (e: DomainEvent, codec = w.plaintext) => codec.encode(TOPICS.users, e);
    await w.source.append(TOPICS.users, [
      { key: 'u1', value: await enc(registered('u1', 'ada')), partition: 0, headers: { h: '1' }, timestamp: 111 },
      { key: 'x', value: Buffer.from('not avro'), partition: 0 },
      { key: 'y', value: null, partition: 0 },
      { key: 'u2', value: await enc(registered('u2', 'bea'), w.reader), partition: 0 },
      { key: 'u3', value: await enc(registered('u3', 'cyd')), partition: 0 },
    ]);
    // Partition 1: encrypted only. Comments: plaintext on partition 1.
    await w.source.append(TOPICS.users, [{ key: 'u4', value: await enc(registered('u4', 'dee'), w.reader), partition: 1 }]);
    await w.source.append(TOPICS.comments, [{ key: 'v1', value: await w.plaintext.encode(TOPICS.comments, comment('c1', 'u1', 'hello from ada')), partition: 1 }]);

    const deps = { codec: w.migrating, probe: w.probe };
    const partitions = await partitionsWithPlaintext(w.source, deps, [TOPICS.comments, TOPICS.users]);
    assert.deepEqual(partitions, [{ topic: TOPICS.comments, partition: 1 }, { topic: TOPICS.users, partition: 0 }]);

    const target = createInMemoryEventLog();
    for (const t of [TOPICS.users, TOPICS.comments]) await target.createTopic({ name: t, partitions: 2 });
    const progress: number[] = [];
    const r = await copyEncrypted({ source: w.source, sinkFor: async (t, p) => denseSink(target, t, p), partitions, ...deps, onProgress: (p) => progress.push(p.copied) });
    assert.deepEqual(r, { copied: 6, rewritten: 3 });
    assert.equal(progress.at(-1), 6);

    const before = await values(w.source, TOPICS.users, 0);
    const copy = await values(target, TOPICS.users, 0);
    assert.deepEqual(copy.map((c) => [c.offset, c.key]), before.map((c) => [c.offset, c.key]));
    assert.deepEqual([copy[0].headers, copy[0].timestamp], [{ h: '1' }, 111]);
    for (const i of [1, 2, 3]) assert.deepEqual(copy[i].value, before[i].value, `offset ${i} copied byte for byte`);
    for (const i of [0, 4]) {
      assert.ok(!copy[i].value!.includes(Buffer.from(i === 0 ? 'ada@example.com' : 'cyd@example.com')), `offset ${i} holds no plaintext`);
      assert.ok(before[i].value!.includes(Buffer.from(i === 0 ? 'ada@example.com' : 'cyd@example.com')));
    }
    assert.deepEqual(await w.reader.decode(copy[0].value!), registered('u1', 'ada'), 'the rewritten record decodes to the same event');
    const c1 = (await values(target, TOPICS.comments, 1))[0];
    assert.ok(!c1.value!.includes(Buffer.from('hello from ada')));
    assert.deepEqual(await w.reader.decode(c1.value!), comment('c1', 'u1', 'hello from ada'));
    assert.deepEqual(await partitionsWithPlaintext(target, deps, [TOPICS.comments, TOPICS.users]), [], 'nothing left to migrate in the copy');
  });

  test('plaintext of a user erased before the migration ran is written as the placeholder, never kept', async () => {
    const w = await world();
    await w.source.append(TOPICS.comments, [{ key: 'v1', value: await w.plaintext.encode(TOPICS.comments, comment('c1', 'u9', 'erased words')), partition: 0 }]);
    await w.keys.erase('u9');
    const target = createInMemoryEventLog();
    await target.createTopic({ name: TOPICS.comments, partitions: 2 });
    await copyEncrypted({ source: w.source, sinkFor: async (t, p) => denseSink(target, t, p), partitions: [{ topic: TOPICS.comments, partition: 0 }], codec: w.migrating, probe: w.probe });
    const [rec] = await values(target, TOPICS.comments, 0);
    assert.ok(!rec.value!.includes(Buffer.from('erased words')));
    assert.equal(((await w.reader.decode(rec.value!)) as { data: { body: string } }).data.body, ERASED_PLACEHOLDER);
  });

  test('plaintext that merely starts like ciphertext ("pd1.…") is found and rewritten too', async () => {
    const w = await world();
    await w.keys.getOrCreate('u1');
    await w.source.append(TOPICS.comments, [{ key: 'v1', value: await w.plaintext.encode(TOPICS.comments, comment('c1', 'u1', 'pd1.not-a-ciphertext secret')), partition: 0 }]);
    const deps = { codec: w.migrating, probe: w.probe };
    assert.deepEqual(await partitionsWithPlaintext(w.source, deps, [TOPICS.comments]), [{ topic: TOPICS.comments, partition: 0 }]);
    const target = createInMemoryEventLog();
    await target.createTopic({ name: TOPICS.comments, partitions: 2 });
    await copyEncrypted({ source: w.source, sinkFor: async (t, p) => denseSink(target, t, p), partitions: [{ topic: TOPICS.comments, partition: 0 }], ...deps });
    const [rec] = await values(target, TOPICS.comments, 0);
    assert.ok(!rec.value!.includes(Buffer.from('not-a-ciphertext secret')));
    assert.equal(((await w.reader.decode(rec.value!)) as { data: { body: string } }).data.body, 'pd1.not-a-ciphertext secret');
  });

  test('a target partition that is not empty is refused (offsets would shift)', async () => {
    const w = await world();
    await w.source.append(TOPICS.users, [{ key: 'u1', value: await w.plaintext.encode(TOPICS.users, registered('u1', 'ada')), partition: 0 }]);
    const target = createInMemoryEventLog();
    await target.createTopic({ name: TOPICS.users, partitions: 2 });
    await target.append(TOPICS.users, [{ key: 'z', value: null, partition: 0 }]);
    await assert.rejects(copyEncrypted({ source: w.source, sinkFor: async (t, p) => denseSink(target, t, p), partitions: [{ topic: TOPICS.users, partition: 0 }], codec: w.migrating, probe: w.probe }), /must be empty/);
  });
});
