/**
 * Failure proof — INCOMPATIBLE SCHEMA — registering an incompatible version of an event
 * schema (a new required field without a default) with the `registry` role over HTTP fails with
 * 409 / error_code 40901, and nothing is produced with it: the codec refuses to encode with an
 * unregistered schema and the topic's end offsets do not move. Real Kafka broker.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaAvailable, startKafkaBroker, freePort } from '../support/kafka-broker.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createConfluentSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { SCHEMAS_DIR, subjectFor } from '../../schemas/codec/event-schemas.ts';
import { loadConfig } from '../../deploy/config/config.ts';
import { startRole } from '../../deploy/cluster/roles.ts';
import { type DomainEvent } from '../../domain/events.ts';
import { ensureEventTopics, TOPICS } from '../../schemas/topics.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

test('incompatible schema: 409/40901 from the registry role, and nothing produced with it', { timeout: 300_000 }, async (t) => {
  if (!(await kafkaAvailable())) { t.skip('no java/maven for a Kafka broker'); return; }
  const broker = await startKafkaBroker();
  cleanups.push(() => broker.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-schema-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const registry = await startRole('registry', loadConfig({ STREAMWAVE_DATA_DIR: join(dataDir, 'data'), STREAMWAVE_PORT: String(await freePort()), STREAMWAVE_KAFKA_BROKERS: broker.bootstrap, STREAMWAVE_LOG_LEVEL: 'silent' }));
  cleanups.push(() => registry.stop());
  const log = await createKafkaEventLog({ brokers: [broker.bootstrap], clientId: 'schema-proof', replicationFactor: 1 });
  cleanups.push(() => log.close());
  await ensureEventTopics(log, { partitions: 3, replicationFactor: 1 });

  // The current schemas, registered as every role does at start, and one event produced with them.
  const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: registry.url }) });
  await codec.registerAll();
  const viewed: DomainEvent = { type: 'VideoViewed', data: { videoId: 'vid_s', sessionId: 's', viewerId: null, watchedSeconds: 1, positionSeconds: 1, videoDurationSeconds: 9, viewedAt: 1 } };
  await log.append(TOPICS.views, [{ key: 'vid_s', value: await codec.encode(TOPICS.views, viewed) }]);

  // Version 2 of VideoViewed adds a required field without a default: old records cannot be read with it.
  const current = codec.schemas.get('VideoViewed')!;
  const subject = subjectFor(TOPICS.views, current.fullName);
  const v2 = JSON.parse(current.schemaText) as { fields: unknown[] };
  v2.fields.push({ name: 'region', type: 'string' });
  const before = { views: await log.endOffsets(TOPICS.views), schemas: await log.endOffsets('_schemas') };
  const versionsBefore = await (await fetch(`${registry.url}/subjects/${encodeURIComponent(subject)}/versions`)).json();

  const res = await fetch(`${registry.url}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(v2) }),
  });
  const body = (await res.json()) as { error_code: number; message: string };

  // A codec built from the changed .avsc files (what a producer with the new code would run).
  const dir = join(dataDir, 'schemas-v2');
  await cp(SCHEMAS_DIR, dir, { recursive: true, filter: (src) => !src.includes('/registry') && !src.includes('/codec') && !src.endsWith('.ts') });
  const file = join(dir, 'view', 'VideoViewed.avsc');
  const avsc = JSON.parse(await readFile(file, 'utf8')) as { fields: unknown[] };
  avsc.fields.push({ name: 'region', type: 'string' });
  await writeFile(file, JSON.stringify(avsc));
  const v2codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: registry.url }), schemaDir: dir });
  const withRegion = { ...viewed, data: { ...viewed.data, region: 'eu' } } as DomainEvent;
  const encodeError = await v2codec.encode(TOPICS.views, withRegion).then(() => undefined, (e: unknown) => e as Error);

  const afterOffsets = { views: await log.endOffsets(TOPICS.views), schemas: await log.endOffsets('_schemas') };
  const versionsAfter = await (await fetch(`${registry.url}/subjects/${encodeURIComponent(subject)}/versions`)).json();
  t.diagnostic(`POST incompatible v2 → HTTP ${res.status} error_code ${body.error_code}; codec encode → ${encodeError ? encodeError.message.slice(0, 120) : 'ENCODED (bad)'}; views end offsets ${before.views.join(',')} → ${afterOffsets.views.join(',')}; versions ${JSON.stringify(versionsBefore)} → ${JSON.stringify(versionsAfter)}`);

  assert.equal(res.status, 409);
  assert.equal(body.error_code, 40901);
  assert.ok(encodeError, 'the codec must refuse to encode with a schema the registry rejected');
  assert.deepEqual(afterOffsets.views, before.views, 'nothing produced to the topic');
  assert.deepEqual(afterOffsets.schemas, before.schemas, 'nothing written to _schemas');
  assert.deepEqual(versionsAfter, versionsBefore);
  // The registered schema still works for the current code.
  assert.ok((await codec.encode(TOPICS.views, viewed)).length > 5);
});
