import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createPersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { ensureEventTopics, TOPICS } from '../../schemas/topics.ts';
import { filesUnder } from '../../test/support/e2e-target.ts';
import { PERSONAL_DATA_UPGRADE_MARKER, upgradePersonalData } from './personal-data-upgrade.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-pd-up-'));
after(() => rm(root, { recursive: true, force: true }));
const logger = pino({ level: 'silent' });
const exists = (p: string) => stat(p).then(() => true, () => false);

const events: Extract<DomainEvent, { type: 'UserRegistered' }>[] = [
  { type: 'UserRegistered', data: { userId: 'u1', username: 'adalovelace1815', email: 'ada@secret.example', passwordHash: '$scrypt$x', registeredAt: 1 } },
  { type: 'UserRegistered', data: { userId: 'u2', username: 'bea', email: 'bea@secret.example', passwordHash: '$scrypt$y', registeredAt: 2 } },
];

/** Opens the data dir's log with a codec (encrypting with the dir's keys when `keys`), runs `f`, closes. */
async function withLog<T>(dataDir: string, encrypting: boolean, f: (log: Awaited<ReturnType<typeof createEmbeddedEventLog>>, codec: ReturnType<typeof createAvroEventCodec>) => Promise<T>): Promise<T> {
  const log = await createEmbeddedEventLog({ dataDir });
  const keys = await createEmbeddedDataKeyStore({ dir: join(dataDir, 'keys') });
  const registry = createSchemaRegistry({ log });
  try {
    await registry.start();
    const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), personalData: encrypting ? createPersonalDataCipher(keys) : undefined });
    await codec.registerAll();
    return await f(log, codec);
  } finally {
    await registry.stop();
    await keys.close();
    await log.close();
  }
}

async function bytesHold(dir: string, needle: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await filesUnder(dir)) if ((await readFile(f)).includes(Buffer.from(needle))) out.push(f);
  return out;
}

describe('standalone personal-data upgrade', () => {
  test('a data dir without a log is marked done at once; a second run does nothing', async () => {
    const dataDir = join(root, 'fresh');
    assert.equal((await upgradePersonalData(dataDir, logger)).status, 'nothing-to-do');
    assert.ok(await exists(join(dataDir, 'migrations', PERSONAL_DATA_UPGRADE_MARKER)));
    assert.equal((await upgradePersonalData(dataDir, logger)).status, 'already-done');
  });

  test('plaintext segments are switched for encrypted ones at the same offsets; leftovers of a crashed run are cleaned up', async () => {
    const dataDir = join(root, 'old');
    // What a release before issue 13 wrote: plaintext personal fields.
    await withLog(dataDir, false, async (log, codec) => {
      await ensureEventTopics(log, { partitions: 2 });
      for (const e of events) await log.append(TOPICS.users, [{ key: e.data.userId, value: await codec.encode(TOPICS.users, e), partition: 0 }]);
    });
    assert.ok((await bytesHold(join(dataDir, 'log'), 'ada@secret.example')).length > 0, 'plaintext before');
    // A crash of an earlier run: a half-built shadow, and an old segment not yet shredded.
    await mkdir(join(dataDir, 'migration', 'log'), { recursive: true });
    await writeFile(join(dataDir, 'migration', 'log', 'junk'), 'half a shadow');
    await writeFile(join(dataDir, 'log', 'topics', TOPICS.users, '1.log.plaintext'), 'old plaintext bea@secret.example');
    // …and a crash between link and rename: a second name of the live segment, which must survive.
    await link(join(dataDir, 'log', 'topics', TOPICS.users, '0.log'), join(dataDir, 'log', 'topics', TOPICS.users, '0.log.plaintext'));

    const r = await upgradePersonalData(dataDir, logger);
    assert.deepEqual([r.status, r.partitions, r.copied, r.rewritten], ['migrated', [{ topic: TOPICS.users, partition: 0 }], 2, 2]);
    for (const needle of ['ada@secret.example', 'bea@secret.example', 'adalovelace1815', '$scrypt$x']) {
      assert.deepEqual(await bytesHold(join(dataDir, 'log'), needle), [], `${needle} is gone from the log`);
    }
    assert.equal(await exists(join(dataDir, 'migration')), false, 'no shadow left');
    assert.deepEqual((await filesUnder(dataDir)).filter((f) => f.endsWith('.plaintext')), []);

    // The log reads as before, at the same offsets, and takes new appends.
    await withLog(dataDir, true, async (log, codec) => {
      const recs = await log.read(TOPICS.users, 0, 0, 10);
      assert.deepEqual(recs.map((x) => x.offset), [0, 1]);
      assert.deepEqual(await Promise.all(recs.map((x) => codec.decode(x.value!))), events);
      const [m] = await log.append(TOPICS.users, [{ key: 'u3', value: null, partition: 0 }]);
      assert.equal(m.offset, 2);
    });
    assert.equal((await upgradePersonalData(dataDir, logger)).status, 'already-done');
  });
});
