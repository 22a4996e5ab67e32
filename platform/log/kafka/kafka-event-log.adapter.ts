/**
 * Kafka EventLog (cluster mode): the `EventLog` port on Apache Kafka through `kafkajs` 2.2.x.
 * This file composes the parts; each states its guarantees in its own file comment:
 *
 * - kafka-client.ts: options, the kafkajs client (TLS, SASL, logging), the namespace mapping, the
 *   shared context, typed access to kafkajs internals.
 * - kafka-producer.ts: `append` — idempotent producer, `acks: -1`, `maxInFlightRequests: 1`; the
 *   adapter picks every partition itself (murmur2 for keys, round-robin for null keys), so
 *   `RecordMetadata` maps back to the input exactly.
 * - kafka-admin.ts: topics (`retention.ms=-1`, or `cleanup.policy=compact`), offsets, groups,
 *   committed offsets, consumer-less commits (OffsetCommit with generation -1).
 * - kafka-fetch.ts: `read` — a direct READ_COMMITTED Fetch to the partition leader, no group.
 * - kafka-consumer.ts: `subscribe` — at-least-once, generation-fenced commits, every partition
 *   paused and `seek`ed to its start offset before the first batch of a generation.
 * - kafka-transactions.ts: `subscribeTransactional`, the port's optional exactly-once capability
 *   (`TransactionalEventLog`, event-log.port.ts) — one transactional producer per input partition.
 *
 * Isolation: consumers and `read` are READ_COMMITTED: records of open transactions are not
 * returned yet, records of aborted ones never.
 *
 * `namespace` prefixes every topic and consumer group id with `<namespace>.` (several
 * environments or test cases on one cluster); `listTopics` only shows the namespace, unprefixed.
 */
import { pino } from 'pino';
import type { TransactionalEventLog } from '../event-log.port.ts';
import {
  assertKafkajsPatched, createKafkaClient, internalCluster, namespaceOf, settingsOf,
  type KafkaClientAccess, type KafkaContext, type KafkaEventLogOptions,
} from './kafka-client.ts';
import {
  commitOffsets, committedOffsets, createTopic, deleteTopics, listGroups, listTopics, offsetsForTimestamp, partitionCount, partitionEnds,
} from './kafka-admin.ts';
import { append, createIdempotentProducer } from './kafka-producer.ts';
import { read } from './kafka-fetch.ts';
import { subscribe } from './kafka-consumer.ts';
import { subscribeTransactional } from './kafka-transactions.ts';

export type { KafkaClientAccess, KafkaEventLogOptions } from './kafka-client.ts';

/** Kafka EventLog, with the exactly-once capability; see the file comment for the guarantees. */
export interface KafkaEventLog extends TransactionalEventLog {
  /** Deletes topics (prefixed by the namespace); tools and tests only, not part of the port. */
  deleteTopics(names: string[]): Promise<void>;
  /** Kafka-only extension point (not part of the port); see {@link KafkaClientAccess}. */
  readonly kafka: KafkaClientAccess;
}

/**
 * Connects to the cluster (admin + idempotent producer + internal cluster for reads).
 * @throws the kafkajs connection error when no broker is reachable within kafkajs' retry budget.
 */
export async function createKafkaEventLog(opts: KafkaEventLogOptions): Promise<KafkaEventLog> {
  assertKafkajsPatched();
  const logger = opts.logger ?? pino({ level: 'silent' });
  const client = createKafkaClient(opts, logger);
  const ctx: KafkaContext = {
    settings: settingsOf(opts),
    logger,
    client,
    admin: client.admin(),
    producer: createIdempotentProducer(client),
    cluster: internalCluster(client),
    ns: namespaceOf(opts.namespace),
    partitionCounts: new Map(),
    roundRobin: new Map(),
    members: new Map(),
    handles: new Set(),
    retired: new Set(),
    closed: false,
  };
  await ctx.admin.connect();
  await ctx.producer.connect();
  await ctx.cluster.connect();

  return {
    createTopic: (spec) => createTopic(ctx, spec),
    listTopics: () => listTopics(ctx),
    append: (topic, records) => append(ctx, topic, records),
    read: (topic, partition, fromOffset, maxRecords) => read(ctx, topic, partition, fromOffset, maxRecords),
    endOffsets: (topic) => partitionEnds(ctx, topic, 'latest'),
    beginningOffsets: (topic) => partitionEnds(ctx, topic, 'earliest'),
    offsetsForTimestamp: (topic, timestamp) => offsetsForTimestamp(ctx, topic, timestamp),
    committedOffsets: (groupId) => committedOffsets(ctx, groupId),
    commitOffsets: (groupId, offsets) => commitOffsets(ctx, groupId, offsets),
    listGroups: () => listGroups(ctx),
    subscribe: (sub) => subscribe(ctx, sub),
    subscribeTransactional: (sub) => subscribeTransactional(ctx, sub),
    kafka: {
      client,
      topicName: (topic) => ctx.ns.topic(topic),
      groupName: (groupId) => ctx.ns.external(groupId),
      partitionCount: (topic) => partitionCount(ctx, topic),
    },
    deleteTopics: (names) => deleteTopics(ctx, names),
    async close() {
      if (ctx.closed) return;
      ctx.closed = true;
      await Promise.all([...ctx.handles].map((h) => h.stop()));
      await ctx.rotating;
      await Promise.allSettled([...ctx.retired].map((p) => p.disconnect()));
      await Promise.allSettled([ctx.producer.disconnect(), ctx.admin.disconnect(), ctx.cluster.disconnect()]);
    },
  };
}
