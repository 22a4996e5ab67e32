/**
 * The kafkajs side of the Kafka EventLog: options, construction of the kafkajs client (brokers,
 * TLS, SASL, kafkajs logs routed to pino), the namespace mapping of topic and group names, the
 * context object every part of the adapter works on (kafka-admin.ts, kafka-producer.ts,
 * kafka-fetch.ts, kafka-consumer.ts, kafka-transactions.ts), and the typed access to the kafkajs
 * internals the adapter needs (pinned kafkajs 2.2.4).
 */
import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { Admin, Consumer, KafkaMessage, LogEntry, Producer, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { pino } from 'pino';
import type { ConsumerHandle } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';

export interface KafkaEventLogOptions {
  /** Bootstrap servers, `host:port`. */
  brokers: string[];
  clientId: string;
  logger?: pino.Logger;
  /** Replication factor of topics created without one (default 3; 1 for a single-broker dev cluster). */
  replicationFactor?: number;
  /** Partition count used when a `TopicSpec` has none (never the case for the port; kept for tools). */
  defaultPartitions?: number;
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
  /** Prefix (`<namespace>.`) for every topic and group id; see kafka-event-log.adapter.ts. */
  namespace?: string;
  /**
   * Consumer group timings, milliseconds. Defaults follow the Java client (session 45 000,
   * heartbeat 3 000, rebalance 60 000); tests shorten them (broker `group.min.session.timeout.ms`
   * bounds the session timeout from below).
   */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  /** Longest time a Fetch waits on the broker for new records, ms (default 500). */
  maxWaitTimeMs?: number;
  /** First redelivery delay after a throwing `eachBatch`, ms (default 100); doubles up to 5 000. */
  redeliveryDelayMs?: number;
  /** Upper bound for one `append`, ms (default 120 000, Java's `delivery.timeout.ms`). */
  deliveryTimeoutMs?: number;
  /**
   * `subscribeTransactional`: broker-side transaction timeout, ms (kafkajs default 60 000): how
   * long a crashed owner's open transaction blocks READ_COMMITTED readers of its outputs if nobody
   * takes over the partition.
   */
  transactionTimeoutMs?: number;
  /**
   * `subscribeTransactional`: bound on waiting for an in-flight transaction of a revoked partition
   * before its producer is closed, ms (default 30 000).
   */
  revokeWaitMs?: number;
}

/** {@link KafkaEventLogOptions} with the defaults applied. Milliseconds. */
export interface KafkaSettings {
  replicationFactor: number;
  defaultPartitions?: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  maxWaitTimeMs: number;
  redeliveryDelayMs: number;
  deliveryTimeoutMs: number;
  /** Undefined: kafkajs' default. */
  transactionTimeoutMs?: number;
  revokeWaitMs: number;
}

export const settingsOf = (opts: KafkaEventLogOptions): KafkaSettings => ({
  replicationFactor: opts.replicationFactor ?? 3,
  defaultPartitions: opts.defaultPartitions,
  sessionTimeoutMs: opts.sessionTimeoutMs ?? 45_000,
  heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 3_000,
  rebalanceTimeoutMs: opts.rebalanceTimeoutMs ?? 60_000,
  maxWaitTimeMs: opts.maxWaitTimeMs ?? 500,
  redeliveryDelayMs: opts.redeliveryDelayMs ?? 100,
  deliveryTimeoutMs: opts.deliveryTimeoutMs ?? 120_000,
  transactionTimeoutMs: opts.transactionTimeoutMs,
  revokeWaitMs: opts.revokeWaitMs ?? 30_000,
});

/** Upper bound of every backoff of the adapter (redelivery, assignment retries, restarts), ms. */
export const MAX_BACKOFF_MS = 5_000;

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * The namespace mapping: `<namespace>.` prefixes every topic and consumer group id on the broker
 * ("broker-side" names); the port only sees the unprefixed ("port") names.
 */
export interface Namespace {
  /** `<namespace>.`, or `''` without a namespace. */
  readonly prefix: string;
  /** Broker-side name of a topic or group id (not checked). */
  external(name: string): string;
  /** Port name of a broker-side name. */
  internal(name: string): string;
  /** Broker-side name of a topic. @throws EventLogError INVALID_TOPIC when illegal for Kafka */
  topic(name: string): string;
}

export function namespaceOf(namespace: string | undefined): Namespace {
  const prefix = namespace ? `${namespace}.` : '';
  const external = (name: string) => prefix + name;
  return {
    prefix,
    external,
    internal: (name) => name.slice(prefix.length),
    topic(name) {
      const full = external(name);
      if (!LEGAL_TOPIC.test(full) || full === '.' || full === '..') throw new EventLogError('INVALID_TOPIC', `illegal topic name: ${JSON.stringify(name)}`);
      return full;
    },
  };
}

/** kafkajs error shape: protocol errors carry the Kafka error name in `type`. */
export interface KafkaJsError extends Error { type?: string; retriable?: boolean; originalError?: KafkaJsError }

/** A record as kafkajs' Fetch decoder returns it (kafkajs 2.2.4 src/protocol/recordBatch). */
export type RawFetchedMessage = KafkaMessage & { isControlRecord?: boolean; batchContext?: { producerId: string; inTransaction: boolean } };

/**
 * kafkajs' own aborted-transaction filter (src/consumer/filterAbortedMessages.js, what its
 * consumers apply to every READ_COMMITTED fetch): drops records of the transactions the broker
 * lists as aborted, up to each one's abort marker. A raw Fetch must apply it too — READ_COMMITTED
 * only stops the broker at the last stable offset; aborted records below it are still returned.
 *
 * kafkajs 2.2.4's filter opened at most one aborted transaction per record, so when several were
 * due at one record (transactions of several producers interleaved on a partition, or a fetch
 * starting after their first offsets) the first records of the later ones leaked through as
 * committed: the command processor's crash proof decided batches twice on such leaked records.
 * patches/kafkajs+2.2.4.patch (applied by `npm ci`, patch-package) opens every one that is due,
 * as the Java client does, for kafkajs' consumers and for `read` alike.
 */
export const filterAbortedMessages = createRequire(import.meta.url)('kafkajs/src/consumer/filterAbortedMessages.js') as (
  args: { messages: RawFetchedMessage[]; abortedTransactions?: Array<{ producerId: string; firstOffset: string }> },
) => RawFetchedMessage[];

/**
 * Throws unless kafkajs carries patches/kafkajs+2.2.4.patch: two producers' aborted transactions
 * due at the first record fetched must both be dropped, the idempotent producer must keep a
 * send's sequence numbers for its retries, never hand them to another batch, and an idle
 * connection's request queue must schedule no timer. Called when a Kafka log is created, so an
 * install that skipped the patch (`--ignore-scripts`) fails at start, not with leaked records.
 */
export function assertKafkajsPatched(): void {
  const record = (offset: number, producerId: string) =>
    ({ offset: String(offset), key: null, value: null, timestamp: '0', attributes: 0, headers: {}, batchContext: { producerId, inTransaction: true } }) as unknown as RawFetchedMessage;
  // At record 5 both are due; unpatched, only producer 1's opens there, so producer 2's record 5 leaks.
  const kept = filterAbortedMessages({
    messages: [record(5, '2'), record(6, '1')],
    abortedTransactions: [{ producerId: '1', firstOffset: '1' }, { producerId: '2', firstOffset: '2' }],
  });
  if (kept.length !== 0) {
    throw new Error('kafkajs is missing patches/kafkajs+2.2.4.patch (records of aborted transactions would be read as committed): run `npm ci` without --ignore-scripts, or `npx patch-package`');
  }
  // The producer half of the patch (see kafka-producer.ts): sequences never handed out twice.
  requirePatchMarker('kafkajs/src/producer/sendMessages.js', 'STREAMWAVE_STABLE_SEQUENCES', 'an idempotent producer could reuse sequence numbers and lose acknowledged records');
  // The request-queue hunk (kafkajs#1556): an idle connection schedules no timer.
  requirePatchMarker('kafkajs/src/network/requestQueue/index.js', 'StreamWave patch (patches/kafkajs+2.2.4.patch; kafkajs#1556', 'every idle broker connection would run a 1 ms timer loop');
}

/** Throws unless kafkajs' source `file` contains `marker` (a hunk of patches/kafkajs+2.2.4.patch); `consequence` says what goes wrong without it. */
function requirePatchMarker(file: string, marker: string, consequence: string): void {
  const source = readFileSync(createRequire(import.meta.url).resolve(file), 'utf8');
  if (!source.includes(marker)) {
    throw new Error(`kafkajs is missing patches/kafkajs+2.2.4.patch (${consequence}): run \`npm ci\` without --ignore-scripts, or \`npx patch-package\``);
  }
}

/** The subset of kafkajs' internal Cluster / Broker the adapter uses (kafkajs 2.2.4 src/cluster). */
export interface InternalBroker {
  fetch(req: {
    maxWaitTime: number; minBytes: number; maxBytes: number; isolationLevel: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: Array<{
    partition: number; highWatermark: string;
    /** Fetch v4+: end of the stable (no open transaction) prefix; READ_COMMITTED returns nothing past it. */
    lastStableOffset?: string;
    /** Fetch v4+ under READ_COMMITTED: transactions aborted in the returned range; the client filters them. */
    abortedTransactions?: Array<{ producerId: string; firstOffset: string }>;
    messages: RawFetchedMessage[];
  }> }> }>;
  offsetCommit(req: {
    groupId: string; groupGenerationId: number; memberId: string;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
  }): Promise<unknown>;
  offsetFetch(req: { groupId: string; topics: Array<{ topic: string; partitions: Array<{ partition: number }> }> }): Promise<{ responses: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }>;
}
export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  /** Adds topics to `targetTopics`, refreshing the metadata once when the set grew. */
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  /** kafkajs' set of topics every metadata refresh asks for (one deleted topic fails them all). */
  targetTopics: Set<string>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  /** One ListOffsets per partition leader for every topic given (the latest offsets, or the earliest with `fromBeginning`). */
  fetchTopicsOffset(topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
  findBroker(node: { nodeId: string }): Promise<InternalBroker>;
  findGroupCoordinator(group: { groupId: string }): Promise<InternalBroker>;
}

/**
 * kafkajs' internal cluster factory (`Symbol('private:Kafka:createCluster')` on the Kafka
 * instance). Needed for group-less Fetch and generation -1 OffsetCommit, which kafkajs has no
 * public API for. @throws Error when kafkajs' internals changed (a kafkajs upgrade broke it).
 */
export function internalCluster(kafka: Kafka): InternalCluster {
  const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = sym ? (kafka as unknown as Record<symbol, unknown>)[sym] : undefined;
  if (typeof create !== 'function') throw new Error('kafkajs internals changed: no private:Kafka:createCluster (adapter written for kafkajs 2.2.x)');
  // isolationLevel 1 = READ_COMMITTED (kafkajs' default for consumers too).
  return (create as (o: object) => InternalCluster)({ allowAutoTopicCreation: false, maxInFlightRequests: null, isolationLevel: 1 });
}

const toPinoLevel = (level: number): 'error' | 'warn' | 'info' | 'debug' => {
  switch (level) {
    case KafkaLogLevel.ERROR: case KafkaLogLevel.NOTHING: return 'error';
    case KafkaLogLevel.WARN: return 'warn';
    case KafkaLogLevel.INFO: return 'info';
    default: return 'debug';
  }
};

/** The kafkajs client: bootstrap brokers, TLS, SASL, and kafkajs' logs routed to `logger`. Connects nothing. */
export function createKafkaClient(opts: KafkaEventLogOptions, logger: pino.Logger): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    ssl: opts.ssl,
    sasl: opts.sasl,
    logLevel: KafkaLogLevel.INFO,
    logCreator: () => ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      // kafkajs logs every error *response* at ERROR although callers handle them (e.g.
      // OFFSET_OUT_OF_RANGE on a read past the end, COORDINATOR_NOT_AVAILABLE while the group
      // coordinator loads): those go to debug; connection failures keep their level.
      const expected = namespace === 'Connection' && String(message).startsWith('Response ');
      logger[expected ? 'debug' : toPinoLevel(level)]({ kafkajs: namespace, ...extra }, message);
    },
  });
}

/**
 * What Kafka-only code built on the adapter needs beyond the port: the kafkajs client (same
 * brokers, TLS/SASL and pino logging) and the namespace mapping of topic and group names.
 */
export interface KafkaClientAccess {
  /** The adapter's kafkajs client; producers/consumers made from it are owned by the caller. */
  readonly client: Kafka;
  /** Broker-side name of a topic (`<namespace>.<topic>`). @throws EventLogError INVALID_TOPIC */
  topicName(topic: string): string;
  /** Broker-side consumer group id (`<namespace>.<groupId>`). */
  groupName(groupId: string): string;
  /** Partition count of a topic (cached). @throws EventLogError UNKNOWN_TOPIC */
  partitionCount(topic: string): Promise<number>;
}

/** Everything the parts of the adapter share: one per `createKafkaEventLog`. */
export interface KafkaContext {
  readonly settings: KafkaSettings;
  readonly logger: pino.Logger;
  readonly client: Kafka;
  readonly admin: Admin;
  /**
   * The idempotent producer of `append` (kafka-producer.ts). Replaced by a fresh one (new producer
   * id, sequences from 0) when the broker rejects its sequence state; see `rotateProducer`.
   */
  producer: Producer;
  /** Set while `rotateProducer` swaps in a fresh producer; appends and `close` wait for it. */
  rotating?: Promise<void>;
  /** Producers replaced by `rotateProducer`, until disconnected (after their delivery timeout, or by `close`). */
  readonly retired: Set<Producer>;
  /** kafkajs' internal cluster: group-less Fetch, OffsetFetch and generation -1 OffsetCommit. */
  readonly cluster: InternalCluster;
  readonly ns: Namespace;
  /** Partition counts of topics known to exist (broker-side names); topics are never shrunk. */
  readonly partitionCounts: Map<string, number>;
  /** Round-robin counter per broker-side topic, for the null-key records of `append`. */
  readonly roundRobin: Map<string, number>;
  /** Live consumers by broker-side group id, used to route `commitOffsets` through a member. */
  readonly members: Map<string, Set<Consumer>>;
  /** Open subscriptions, stopped by `close`. */
  readonly handles: Set<ConsumerHandle>;
  closed: boolean;
}

/** @throws EventLogError LOG_CLOSED after `close`. */
export function ensureOpen(ctx: KafkaContext): void {
  if (ctx.closed) throw new EventLogError('LOG_CLOSED', 'kafka event log is closed');
}
