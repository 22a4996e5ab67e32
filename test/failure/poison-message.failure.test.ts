/**
 * Failure proof — POISON MESSAGE — on a real Kafka broker, a processor run by the
 * processor runtime meets (1) undecodable bytes, (2) a record with the Confluent wire header of an
 * unknown schema id (99999) and (3) a record its handler throws on. Each is retried with backoff,
 * then appended to the dead-letter topic with `x-dlq-*` headers naming the error and the original
 * topic/partition/offset; later records of the same partition keep flowing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaRequirement, startKafkaBroker, freePort } from '../support/kafka-broker.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createConfluentSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { runProcessor, DLQ_HEADERS, deadLetterTopicFor } from '../../processors/runtime/processor.runtime.ts';
import { processorNode } from '../../processors/runtime/topology.port.ts';
import { loadConfig } from '../../deploy/config/config.ts';
import { clusterSecretsEnv } from '../support/cluster-secrets.ts';
import { startRole } from '../../deploy/cluster/roles.ts';
import { type DomainEvent } from '../../domain/events.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { waitUntil } from './support/cluster-harness.ts';

const skip = await kafkaRequirement();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

test('poison message: undecodable, unknown schema id and a throwing handler are retried, dead-lettered with headers, and the partition keeps flowing', { timeout: 300_000, skip }, async (t) => {
  const broker = await startKafkaBroker();
  cleanups.push(() => broker.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-poison-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const config = loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_PORT: String(await freePort()), STREAMWAVE_KAFKA_BROKERS: broker.bootstrap, STREAMWAVE_LOG_LEVEL: 'silent', ...clusterSecretsEnv() });
  // Registry writes need credentials (issue 8).
  const auth = config.schemaRegistryAuth;
  const registry = await startRole('registry', config);
  cleanups.push(() => registry.stop());
  const log = await createKafkaEventLog({ brokers: [broker.bootstrap], clientId: 'poison', replicationFactor: 1, sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 });
  cleanups.push(() => log.close());
  const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: registry.url, auth }) });
  await log.createTopic({ name: TOPICS.views, partitions: 3 });

  const hb = (sessionId: string): DomainEvent => ({ type: 'VideoViewed', data: { videoId: 'vid_p', sessionId, viewerId: null, watchedSeconds: 1, positionSeconds: 1, videoDurationSeconds: 60, viewedAt: 1 } });
  const good = async (s: string) => ({ key: 'vid_p', value: await codec.encode(TOPICS.views, hb(s)), partition: 1 });
  const unknownId = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), Buffer.from('payload')]);
  unknownId.writeInt32BE(99999, 1);
  // Everything on partition 1, interleaved: the poison records sit between good ones.
  const records = [
    await good('g0'), await good('g1'),
    { key: 'vid_p', value: Buffer.from('this is not avro'), partition: 1 },
    await good('g2'),
    { key: 'vid_p', value: unknownId, partition: 1 },
    await good('g3'),
    await good('boom'),
    ...(await Promise.all(['g4', 'g5', 'g6', 'g7', 'g8', 'g9'].map(good))),
  ];
  const meta = await log.append(TOPICS.views, records);
  const poisonOffsets = [meta[2].offset, meta[4].offset, meta[6].offset];

  const attempts = new Map<number, number>();
  const handled: string[] = [];
  const retries = 3;
  const def = processorNode({
    name: 'poison-proof',
    inputs: [TOPICS.views],
    retry: { retries, minTimeoutMs: 50, maxTimeoutMs: 400 },
    async handle(record) {
      attempts.set(record.offset, (attempts.get(record.offset) ?? 0) + 1);
      const e = await codec.decode(record.value!);
      if (e.type !== 'VideoViewed') throw new Error(`unexpected ${e.type}`);
      if (e.data.sessionId === 'boom') throw new Error('handler refuses session boom');
      handled.push(e.data.sessionId);
    },
  });
  const started = Date.now();
  const proc = await runProcessor(log, def);
  cleanups.push(() => proc.stop());
  const dlqTopic = deadLetterTopicFor(def, TOPICS.views);
  await waitUntil('10 good records handled', 120_000, async () => handled.length >= 10);
  await proc.caughtUp();
  const seconds = (Date.now() - started) / 1000;
  await proc.stop();

  const dlqParts = (await log.listTopics()).find((x) => x.name === dlqTopic)?.partitions ?? 0;
  const dlq = [];
  for (let p = 0; p < dlqParts; p++) dlq.push(...(await log.read(dlqTopic, p, 0, 100)));
  dlq.sort((a, b) => Number(a.headers[DLQ_HEADERS.offset]) - Number(b.headers[DLQ_HEADERS.offset]));

  t.diagnostic(`dead-lettered ${dlq.length}/3 (codes ${dlq.map((r) => r.headers[DLQ_HEADERS.errorCode]).join(', ')}); attempts per poison record ${poisonOffsets.map((o) => attempts.get(o)).join('/')}; good records handled ${handled.length}/10 in order; ${seconds.toFixed(1)} s`);

  assert.deepEqual(handled, ['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8', 'g9'], 'later records of the partition keep flowing, in order, once each');
  assert.equal(dlq.length, 3);
  for (const o of poisonOffsets) assert.equal(attempts.get(o), retries + 1, `offset ${o}: first attempt + ${retries} retries`);
  assert.deepEqual(dlq.map((r) => Number(r.headers[DLQ_HEADERS.offset])), poisonOffsets);
  for (const r of dlq) {
    assert.equal(r.headers[DLQ_HEADERS.topic], TOPICS.views);
    assert.equal(r.headers[DLQ_HEADERS.partition], '1');
    assert.equal(r.headers[DLQ_HEADERS.processor], 'poison-proof');
    assert.ok(r.headers[DLQ_HEADERS.error].length > 0);
  }
  assert.deepEqual(dlq[0].value, records[2].value, 'the DLQ keeps the original bytes');
  assert.equal(dlq[0].headers[DLQ_HEADERS.errorCode], 'BAD_MAGIC_BYTE');
  assert.equal(dlq[1].headers[DLQ_HEADERS.errorCode], 'UNKNOWN_SCHEMA_ID');
  assert.match(dlq[1].headers[DLQ_HEADERS.error], /99999/);
  assert.match(dlq[2].headers[DLQ_HEADERS.error], /session boom/);
  // The group moved past everything: nothing left to redeliver.
  const committed = await log.committedOffsets('streamwave.poison-proof');
  assert.equal(committed.get(`${TOPICS.views}:1`), meta[meta.length - 1].offset + 1);
});
