/**
 * Failure proof — INCOMPATIBLE SCHEMA — registering an incompatible version of an event
 * schema (VideoViewed.watchedSeconds narrowed from double to float: old records cannot be read
 * with it) with the `registry` role over HTTP fails with 409 / error_code 40901, and nothing is
 * produced with it: a command bus whose codec was built from the changed `.avsc` files (what a
 * producer with the new code would run) is sent a RecordView, the product's own produce path
 * (decide → codec.encode → log.append) refuses it with the registry's 409, and reading the views
 * topic back finds only what was there before. Real Kafka broker.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaRequirement, startKafkaBroker, freePort } from '../support/kafka-broker.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createConfluentSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { SCHEMAS_DIR, subjectFor } from '../../schemas/codec/event-schemas.ts';
import { loadConfig } from '../../deploy/config/config.ts';
import { clusterSecretsEnv } from '../support/cluster-secrets.ts';
import { startRole } from '../../deploy/cluster/roles.ts';
import { type DomainEvent } from '../../domain/events.ts';
import { ensureEventTopics, TOPICS, TOPIC_OF } from '../../schemas/topics.ts';
import { keyOf } from '../../domain/events.ts';
import { createCommandBus } from '../../commands/command-handler.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';

/** Every record value of `topic` (all partitions, beginning to the end offsets at call time), as hex. */
async function readTopic(log: EventLog, topic: string): Promise<string[]> {
  const out: string[] = [];
  const ends = await log.endOffsets(topic);
  const starts = await log.beginningOffsets(topic);
  for (let p = 0; p < ends.length; p++) {
    for (let next = starts[p]; next < ends[p];) {
      const batch = await log.read(topic, p, next, 500);
      if (batch.length === 0) break; // only transaction markers (or aborted records) left
      out.push(...batch.map((r) => `${p}:${r.offset}:${r.value?.toString('hex')}`));
      next = batch.at(-1)!.offset + 1;
    }
  }
  return out;
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

const skip = await kafkaRequirement();

test('incompatible schema: 409/40901 from the registry role, and nothing produced with it', { timeout: 300_000, skip }, async (t) => {
  const broker = await startKafkaBroker();
  cleanups.push(() => broker.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-schema-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const config = loadConfig({ STREAMWAVE_DATA_DIR: join(dataDir, 'data'), STREAMWAVE_PORT: String(await freePort()), STREAMWAVE_KAFKA_BROKERS: broker.bootstrap, STREAMWAVE_LOG_LEVEL: 'silent', ...clusterSecretsEnv() });
  // Registry writes need the credentials (issue 8): the roles and this test use the configured ones.
  const auth = config.schemaRegistryAuth;
  const registry = await startRole('registry', config);
  cleanups.push(() => registry.stop());
  const log = await createKafkaEventLog({ brokers: [broker.bootstrap], clientId: 'schema-proof', replicationFactor: 1 });
  cleanups.push(() => log.close());
  await ensureEventTopics(log, { partitions: 3, replicationFactor: 1 });

  // The current schemas, registered as every role does at start; a published video and one view of it produced with them.
  const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: registry.url, auth }) });
  await codec.registerAll();
  const videoId = 'vid_s';
  const rendition = { name: '144p', width: 256, height: 144, bandwidth: 300_000, codecs: 'avc1.64000c,mp4a.40.2', playlist: '144p/index.m3u8' };
  const lifecycle: DomainEvent[] = [
    { type: 'UploadStarted', data: { videoId, ownerId: 'usr_owner', uploadId: 'upl_s', objectKey: 'uploads/vid_s/source', filename: 'v.mp4', sizeBytes: 1000, contentType: 'video/mp4', title: 'schema video', description: '', tags: [], partSizeBytes: 5_242_880, startedAt: 1 } },
    { type: 'UploadCompleted', data: { videoId, uploadId: 'upl_s', objectKey: 'uploads/vid_s/source', sizeBytes: 1000, completedAt: 2 } },
    { type: 'VideoProcessingStarted', data: { videoId, ladder: [rendition], durationSeconds: 9, startedAt: 3 } },
    { type: 'RenditionEncoded', data: { videoId, rendition, at: 4 } },
    { type: 'VideoPublished', data: { videoId, masterPlaylistKey: 'hls/vid_s/master.m3u8', thumbnailKey: 'hls/vid_s/thumb.jpg', durationSeconds: 9, publishedAt: 5 } },
  ];
  for (const e of lifecycle) await log.append(TOPIC_OF[e.type], [{ key: keyOf(e), value: await codec.encode(TOPIC_OF[e.type], e) }]);
  const viewed: DomainEvent = { type: 'VideoViewed', data: { videoId, sessionId: 's', viewerId: null, watchedSeconds: 1, positionSeconds: 1, videoDurationSeconds: 9, viewedAt: 1 } };
  await log.append(TOPICS.views, [{ key: videoId, value: await codec.encode(TOPICS.views, viewed) }]);

  // Version 2 of VideoViewed narrows watchedSeconds from double to float: a float reader cannot read old double records.
  const narrow = (schema: { fields: Array<{ name: string; type: unknown }> }) => { schema.fields.find((f) => f.name === 'watchedSeconds')!.type = 'float'; };
  const current = codec.schemas.get('VideoViewed')!;
  const subject = subjectFor(TOPICS.views, current.fullName);
  const v2 = JSON.parse(current.schemaText) as { fields: Array<{ name: string; type: unknown }> };
  narrow(v2);
  const before = { views: await log.endOffsets(TOPICS.views), schemas: await log.endOffsets('_schemas'), records: await readTopic(log, TOPICS.views) };
  const versionsBefore = await (await fetch(`${registry.url}/subjects/${encodeURIComponent(subject)}/versions`)).json();

  const res = await fetch(`${registry.url}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` },
    body: JSON.stringify({ schema: JSON.stringify(v2) }),
  });
  const body = (await res.json()) as { error_code: number; message: string };

  // A codec built from the changed .avsc files (what a producer with the new code would run).
  const dir = join(dataDir, 'schemas-v2');
  await cp(SCHEMAS_DIR, dir, { recursive: true, filter: (src) => !src.includes('/registry') && !src.includes('/codec') && !src.endsWith('.ts') });
  const file = join(dir, 'view', 'VideoViewed.avsc');
  const avsc = JSON.parse(await readFile(file, 'utf8')) as { fields: Array<{ name: string; type: unknown }> };
  narrow(avsc);
  await writeFile(file, JSON.stringify(avsc));
  const v2codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: registry.url, auth }), schemaDir: dir });
  // The product's produce path with that codec: the command bus decides the view, encodes it, appends it.
  const bus = createCommandBus({ log, codec: v2codec, partitions: 3 });
  await bus.start();
  const sent = bus.send({ type: 'RecordView', data: { videoId, sessionId: 's2', viewerId: null, watchedSeconds: 12, positionSeconds: 12 }, metadata: { now: 10 } });
  const sendError: Error & { status?: number } = await sent.then((r) => new Error(`produced ${JSON.stringify(r.positions)}`), (e: unknown) => e as Error);

  const afterOffsets = { views: await log.endOffsets(TOPICS.views), schemas: await log.endOffsets('_schemas'), records: await readTopic(log, TOPICS.views) };
  const versionsAfter = await (await fetch(`${registry.url}/subjects/${encodeURIComponent(subject)}/versions`)).json();
  t.diagnostic(`POST incompatible v2 → HTTP ${res.status} error_code ${body.error_code}; RecordView via the v2 command bus → ${sendError.name} ${sendError.status ?? ''} ${sendError.message.slice(0, 160)}; views end offsets ${before.views.join(',')} → ${afterOffsets.views.join(',')}; versions ${JSON.stringify(versionsBefore)} → ${JSON.stringify(versionsAfter)}`);

  // What landed on the topic, read back: exactly what was there before the attempt.
  assert.deepEqual(afterOffsets.records, before.records, 'the views topic holds exactly what it held before');
  assert.equal(afterOffsets.records.length, 1);
  // Refused with the registry client's typed error for an HTTP failure (status 409), not with any other failure on the way.
  assert.equal(sendError.name, 'ResponseError', `the registry's refusal, got ${sendError.stack}`);
  assert.equal(sendError.status, 409);
  assert.deepEqual(afterOffsets.views, before.views, 'nothing produced to the topic');
  assert.deepEqual(afterOffsets.schemas, before.schemas, 'nothing written to _schemas');
  assert.equal(res.status, 409);
  assert.equal(body.error_code, 40901);
  assert.deepEqual(versionsAfter, versionsBefore);
  // The registered schema still works for the current code.
  assert.ok((await codec.encode(TOPICS.views, viewed)).length > 5);
});
