/**
 * The topics StreamWave creates on Kafka, read back from the broker (kafkajs admin): event topics
 * keep records forever (`retention.ms=-1`, `cleanup.policy=delete`), `_schemas` is compacted, the
 * dead-letter topic copies its source's partition count, the commands topic keeps 7 days and is
 * co-partitioned with the event topics, the replies topic keeps 1 hour, and partitions / replication factor are the configured ones. Catches a topic created with the broker's defaults (7-day retention).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { kafkaTestFile } from '../test/support/kafka-test-file.ts';
import { COMMAND_POSITIONS_CHANGELOG, USERNAME_RESERVATIONS_CHANGELOG, COMMAND_REPLIES_RETENTION_MS, COMMAND_REPLIES_TOPIC, COMMANDS_RETENTION_MS, COMMANDS_TOPIC, SCHEMAS_TOPIC, TOPICS, deadLetterTopicName, ensureCommandTopics, ensureDeadLetterTopic, ensureEventTopics, ensureSchemasTopic } from './topics.ts';

const kafkaFile = await kafkaTestFile();
const NS = 'topiccfg';
const PARTITIONS = 4;

describe('StreamWave topics on Kafka: settings read back from the broker', { skip: kafkaFile.skip }, () => {
  test('event topics retain forever, _schemas is compacted, commands keep 7 days, partitions and replication as configured', async () => {
    const log = await kafkaFile.openLog(NS, 'topic-settings');
    await ensureEventTopics(log, { partitions: PARTITIONS, replicationFactor: 1 });
    await ensureCommandTopics(log, { partitions: PARTITIONS, replicationFactor: 1 });
    await ensureCommandTopics(log, { partitions: PARTITIONS, replicationFactor: 1 }); // idempotent
    await ensureSchemasTopic(log);
    const dlq = deadLetterTopicName(TOPICS.videos, 'projector');
    await ensureDeadLetterTopic(log, TOPICS.videos, dlq);

    const admin = new kafkajs.Kafka({ brokers: [kafkaFile.broker().bootstrap], clientId: 'topic-settings-check', logLevel: 0 }).admin();
    await admin.connect();
    kafkaFile.onCleanup(() => admin.disconnect());
    const full = (t: string) => `${NS}.${t}`;
    const eventTopics = Object.values(TOPICS).map(full);
    const all = [...eventTopics, full(SCHEMAS_TOPIC), full(dlq), full(COMMANDS_TOPIC), full(COMMAND_REPLIES_TOPIC), full(USERNAME_RESERVATIONS_CHANGELOG), full(COMMAND_POSITIONS_CHANGELOG)];

    const described = await admin.describeConfigs({
      resources: all.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms', 'cleanup.policy'] })),
      includeSynonyms: false,
    });
    const cfg = new Map(described.resources.map((r) => [r.resourceName, new Map(r.configEntries.map((e) => [e.configName, e.configValue]))]));
    for (const t of eventTopics) {
      assert.equal(cfg.get(t)?.get('retention.ms'), '-1', `${t}: retention.ms`);
      assert.equal(cfg.get(t)?.get('cleanup.policy'), 'delete', `${t}: cleanup.policy`);
    }
    assert.equal(cfg.get(full(SCHEMAS_TOPIC))?.get('cleanup.policy'), 'compact', '_schemas: cleanup.policy');
    assert.equal(cfg.get(full(dlq))?.get('retention.ms'), '-1', 'the DLQ keeps its records too');
    assert.equal(cfg.get(full(COMMANDS_TOPIC))?.get('retention.ms'), String(COMMANDS_RETENTION_MS), 'commands: intent, kept days');
    // 7 days is also the broker's default: the topic must carry it as its own setting.
    const commandsRetention = described.resources.find((r) => r.resourceName === full(COMMANDS_TOPIC))!.configEntries.find((e) => e.configName === 'retention.ms')!;
    assert.equal(commandsRetention.isDefault, false, 'commands: retention.ms set on the topic, not inherited');
    assert.equal(cfg.get(full(COMMAND_REPLIES_TOPIC))?.get('retention.ms'), String(COMMAND_REPLIES_RETENTION_MS), 'replies: kept while someone waits');
    assert.equal(cfg.get(full(USERNAME_RESERVATIONS_CHANGELOG))?.get('cleanup.policy'), 'compact', 'the reservation store changelog is compacted');
    assert.equal(cfg.get(full(COMMAND_POSITIONS_CHANGELOG))?.get('cleanup.policy'), 'compact', 'the positions changelog is compacted');
    assert.equal(cfg.get(full(COMMANDS_TOPIC))?.get('cleanup.policy'), 'delete', 'commands: cleanup.policy');

    const meta = await admin.fetchTopicMetadata({ topics: all });
    const shape = new Map(meta.topics.map((t) => [t.name, { partitions: t.partitions.length, replicas: t.partitions.map((p) => p.replicas.length) }]));
    for (const t of eventTopics) assert.deepEqual(shape.get(t), { partitions: PARTITIONS, replicas: Array(PARTITIONS).fill(1) }, `${t}: partitions × replicas`);
    assert.deepEqual(shape.get(full(SCHEMAS_TOPIC)), { partitions: 1, replicas: [1] }, '_schemas: one partition');
    assert.deepEqual(shape.get(full(dlq)), { partitions: PARTITIONS, replicas: Array(PARTITIONS).fill(1) }, 'DLQ: the source topic\'s partitions');
    assert.deepEqual(shape.get(full(COMMANDS_TOPIC)), { partitions: PARTITIONS, replicas: Array(PARTITIONS).fill(1) }, 'commands: co-partitioned with the events');
    assert.deepEqual(shape.get(full(USERNAME_RESERVATIONS_CHANGELOG)), { partitions: PARTITIONS, replicas: Array(PARTITIONS).fill(1) }, 'changelog: co-partitioned with the commands');
  });
});
