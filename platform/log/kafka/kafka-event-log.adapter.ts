/**
 * Kafka EventLog (cluster mode): the `EventLog` port on Apache Kafka through `kafkajs` 2.2.x.
 *
 * Guarantees:
 * - Producer: idempotent (`idempotent: true`, KIP-98 producer id + per-partition sequence numbers),
 *   `acks: -1` (all in-sync replicas), `maxInFlightRequests: 1`, so `append` resolves only once the
 *   records are on every in-sync replica, retries cannot duplicate or reorder them, and records of
 *   one call to one partition keep their order. The adapter picks every record's partition itself
 *   (murmur2 `partitionForKey` for keys, i.e. the Java client's default partitioner; round-robin
 *   per topic for null keys), so `RecordMetadata` maps back to the input exactly.
 *   Topics are created with `retention.ms=-1` (the log is the system of record: events never
 *   expire) or `cleanup.policy=compact` when `compacted`.
 * - Consumers: at-least-once. A kafkajs consumer per subscription, `autoCommit: false`,
 *   `eachBatchAutoResolve: false`; after `sub.eachBatch` resolves, the batch is resolved and its
 *   offset committed synchronously (OffsetCommit carries the group generation, so a member that
 *   lost the partition in a rebalance is fenced with ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS
 *   instead of committing over the new owner). A throwing batch is not resolved: the partition
 *   is `seek`ed back to the batch's first offset and redelivered after a backoff.
 * - Rebalances: on GROUP_JOIN every assigned partition is paused synchronously (the event fires
 *   after SyncGroup and before the first fetch of the generation), then `sub.onAssigned` runs,
 *   start offsets are resolved (onAssigned override → group committed offset → earliest/latest)
 *   and every partition is `seek`ed there before it is resumed. As a second guard, a batch whose
 *   first offset is below a pending seek target, or of a partition not (or not yet) assigned, is
 *   dropped unresolved — the classic kafkajs rebalance pitfall (tulios/kafkajs #1603, #1046,
 *   #1568: batches fetched before a seek, commits after losing a partition).
 * - Isolation: consumers and `read` are READ_COMMITTED: records of open transactions are not
 *   returned yet, records of aborted ones never (kafkajs' aborted-transaction filter is applied to
 *   the raw fetches of `read` too), so outputs of kafka-transactional-processor.ts are seen once.
 * - Reads (`read`) are direct Fetch requests to the partition leader (the analogue of the Java
 *   consumer's `assign()` + `seek()`), no consumer group involved; consumer-less commits
 *   (`commitOffsets` while no member of this process is in the group) are OffsetCommit with
 *   generation -1 and an empty member id, which the coordinator accepts only for a group without
 *   active members (what Java's `assign()` + `commitSync()` does). kafkajs has no public API for
 *   either, so both use its internal `Cluster` object (pinned kafkajs 2.2.4, see `internalCluster`).
 *
 * `namespace` prefixes every topic and consumer group id with `<namespace>.` (several
 * environments or test cases on one cluster); `listTopics` only shows the namespace, unprefixed.
 */
import { Kafka, Partitioners, logLevel as KafkaLogLevel } from 'kafkajs';
import type {
  Admin, Consumer, EachBatchPayload, KafkaMessage, LogEntry, Producer, SASLOptions,
} from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import type {
  ConsumerHandle, EventLog, Headers, LogRecord, OffsetMap, ProduceRecord, RecordMetadata, Subscription,
  TopicDescription, TopicPartition, TopicSpec,
} from '../event-log.port.ts';
import { parseTpKey, tpKey } from '../event-log.port.ts';
import { partitionForKey } from '../partitioner.ts';
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
  /** Prefix (`<namespace>.`) for every topic and group id; see the file comment. */
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
}

/** kafkajs error shape: protocol errors carry the Kafka error name in `type`. */
interface KafkaJsError extends Error { type?: string; retriable?: boolean }

/** A record as kafkajs' Fetch decoder returns it (kafkajs 2.2.4 src/protocol/recordBatch). */
type RawFetchedMessage = KafkaMessage & { isControlRecord?: boolean; batchContext?: { producerId: string; inTransaction: boolean } };

/**
 * kafkajs' own aborted-transaction filter (src/consumer/filterAbortedMessages.js, what its
 * consumers apply to every READ_COMMITTED fetch): drops records of the transactions the broker
 * lists as aborted, up to each one's abort marker. A raw Fetch must apply it too — READ_COMMITTED
 * only stops the broker at the last stable offset; aborted records below it are still returned.
 */
const filterAbortedMessages = createRequire(import.meta.url)('kafkajs/src/consumer/filterAbortedMessages.js') as (
  args: { messages: RawFetchedMessage[]; abortedTransactions?: Array<{ producerId: string; firstOffset: string }> },
) => RawFetchedMessage[];

/** The subset of kafkajs' internal Cluster / Broker the adapter uses (kafkajs 2.2.4 src/cluster). */
interface InternalBroker {
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
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<InternalBroker>;
  findGroupCoordinator(group: { groupId: string }): Promise<InternalBroker>;
}

/**
 * kafkajs' internal cluster factory (`Symbol('private:Kafka:createCluster')` on the Kafka
 * instance). Needed for group-less Fetch and generation -1 OffsetCommit, which kafkajs has no
 * public API for. @throws Error when kafkajs' internals changed (a kafkajs upgrade broke it).
 */
function internalCluster(kafka: Kafka): InternalCluster {
  const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = sym ? (kafka as unknown as Record<symbol, unknown>)[sym] : undefined;
  if (typeof create !== 'function') throw new Error('kafkajs internals changed: no private:Kafka:createCluster (adapter written for kafkajs 2.2.x)');
  // isolationLevel 1 = READ_COMMITTED (kafkajs' default for consumers too).
  return (create as (o: object) => InternalCluster)({ allowAutoTopicCreation: false, maxInFlightRequests: null, isolationLevel: 1 });
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const MAX_REDELIVERY_DELAY_MS = 5_000;

const toPinoLevel = (level: number): 'error' | 'warn' | 'info' | 'debug' => {
  switch (level) {
    case KafkaLogLevel.ERROR: case KafkaLogLevel.NOTHING: return 'error';
    case KafkaLogLevel.WARN: return 'warn';
    case KafkaLogLevel.INFO: return 'info';
    default: return 'debug';
  }
};

const headersOf = (h: KafkaMessage['headers']): Headers => {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    // Kafka allows repeated header keys; the port has one value per key: the last one wins.
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    out[k] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
};

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (signal?.aborted) { resolve(); return; }
  const t = setTimeout(() => { signal?.removeEventListener('abort', done); resolve(); }, ms);
  const done = () => { clearTimeout(t); resolve(); };
  signal?.addEventListener('abort', done, { once: true });
});

const isRebalanceError = (e: unknown): boolean => {
  const t = (e as KafkaJsError)?.type;
  return t === 'REBALANCE_IN_PROGRESS' || t === 'ILLEGAL_GENERATION' || t === 'UNKNOWN_MEMBER_ID' || t === 'NOT_COORDINATOR_FOR_GROUP'
    || (e as Error)?.name === 'KafkaJSNotLeaderForPartition';
};

/**
 * What Kafka-only processors built on this adapter (kafka-transactional-processor.ts: one
 * transactional producer per input partition) need beyond the port: the kafkajs client (same
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

/** Kafka EventLog; see the file comment for the guarantees. */
export interface KafkaEventLog extends EventLog {
  /** Deletes topics (prefixed by the namespace); tools and tests only, not part of the port. */
  deleteTopics(names: string[]): Promise<void>;
  /** Kafka-only extension point (not part of the port); see {@link KafkaClientAccess}. */
  readonly kafka: KafkaClientAccess;
}

/** True when `log` is the Kafka adapter (cluster mode), i.e. Kafka-only features may be used on it. */
export const isKafkaEventLog = (log: EventLog): log is KafkaEventLog =>
  typeof (log as Partial<KafkaEventLog>).kafka === 'object' && (log as Partial<KafkaEventLog>).kafka !== null;

/**
 * Connects to the cluster (admin + idempotent producer + internal cluster for reads).
 * @throws the kafkajs connection error when no broker is reachable within kafkajs' retry budget.
 */
export async function createKafkaEventLog(opts: KafkaEventLogOptions): Promise<KafkaEventLog> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const prefix = opts.namespace ? `${opts.namespace}.` : '';
  const ext = (topic: string) => prefix + topic;
  const int = (topic: string) => topic.slice(prefix.length);
  const replicationFactor = opts.replicationFactor ?? 3;
  const redeliveryDelayMs = opts.redeliveryDelayMs ?? 100;
  const deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 120_000;

  const kafka = new Kafka({
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
  const admin: Admin = kafka.admin();
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Only consulted when a record has no partition, which the adapter never sends; kept so a
    // record routed by kafkajs would still land where `partitionForKey` (murmur2) says.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const cluster = internalCluster(kafka);
  await admin.connect();
  await producer.connect();
  await cluster.connect();

  let closed = false;
  /** Partition counts of topics known to exist (external names); topics are never shrunk. */
  const known = new Map<string, number>();
  const roundRobin = new Map<string, number>();
  /** Live subscriptions by external group id, used to route `commitOffsets` through a member. */
  const members = new Map<string, Set<Consumer>>();
  const handles = new Set<ConsumerHandle>();

  const ensureOpen = () => { if (closed) throw new EventLogError('LOG_CLOSED', 'kafka event log is closed'); };
  const checkName = (name: string) => {
    const full = ext(name);
    if (!LEGAL_TOPIC.test(full) || full === '.' || full === '..') throw new EventLogError('INVALID_TOPIC', `illegal topic name: ${JSON.stringify(name)}`);
    return full;
  };

  /** Partition count of a topic, from cache or cluster metadata. @throws EventLogError UNKNOWN_TOPIC */
  async function partitionsOf(topic: string): Promise<number> {
    const full = checkName(topic);
    const cached = known.get(full);
    if (cached !== undefined) return cached;
    // listTopics is one Metadata request that does not retry on an unknown topic (fetchTopicMetadata would).
    if (!(await admin.listTopics()).includes(full)) throw new EventLogError('UNKNOWN_TOPIC', `unknown topic: ${topic}`);
    const { topics } = await admin.fetchTopicMetadata({ topics: [full] });
    const n = topics[0]?.partitions.length ?? 0;
    if (n === 0) throw new EventLogError('UNKNOWN_TOPIC', `unknown topic: ${topic}`);
    known.set(full, n);
    return n;
  }

  async function describeCompaction(fullNames: string[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    if (fullNames.length === 0) return out;
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: fullNames.map((name) => ({ type: 2 /* TOPIC */, name, configNames: ['cleanup.policy'] })),
    });
    for (const r of res.resources) {
      const policy = r.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? 'delete';
      out.set(r.resourceName, policy.split(',').includes('compact'));
    }
    return out;
  }

  async function createTopic(spec: TopicSpec): Promise<void> {
    ensureOpen();
    const full = checkName(spec.name);
    const partitions = spec.partitions ?? opts.defaultPartitions ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1) throw new EventLogError('INVALID_PARTITION', `partition count must be ≥ 1: ${partitions}`);
    const compacted = spec.compacted ?? false;
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic: full,
        numPartitions: partitions,
        replicationFactor: spec.replicationFactor ?? replicationFactor,
        configEntries: compacted
          ? [{ name: 'cleanup.policy', value: 'compact' }]
          : [{ name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: '-1' }],
      }],
    });
    if (!created) {
      // Already exists: idempotent only for the same shape (port contract).
      known.delete(full);
      const existing = await partitionsOf(spec.name);
      const existingCompacted = (await describeCompaction([full])).get(full) ?? false;
      if (existing !== partitions || existingCompacted !== compacted) {
        throw new EventLogError('TOPIC_CONFLICT', `topic ${spec.name} exists with ${existing} partitions, compacted=${existingCompacted}`);
      }
      return;
    }
    known.set(full, partitions);
  }

  async function listTopics(): Promise<TopicDescription[]> {
    ensureOpen();
    // `__consumer_offsets` / `__transaction_state` are the broker's own, not the application's.
    const names = (await admin.listTopics()).filter((t) => !t.startsWith('__') && t.startsWith(prefix));
    if (names.length === 0) return [];
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    const compaction = await describeCompaction(names);
    return topics.map((t) => {
      known.set(t.name, t.partitions.length);
      return { name: int(t.name), partitions: t.partitions.length, compacted: compaction.get(t.name) ?? false };
    });
  }

  async function append(topic: string, records: ProduceRecord[]): Promise<RecordMetadata[]> {
    ensureOpen();
    const full = checkName(topic);
    const n = await partitionsOf(topic);
    if (records.length === 0) return [];
    const parts = records.map((r) => {
      if (r.partition !== undefined) {
        if (!Number.isInteger(r.partition) || r.partition < 0 || r.partition >= n) {
          throw new EventLogError('INVALID_PARTITION', `partition ${r.partition} outside [0, ${n}) of ${topic}`);
        }
        return r.partition;
      }
      if (r.key !== null) return partitionForKey(full, r.key, n);
      const c = roundRobin.get(full) ?? 0;
      roundRobin.set(full, c + 1);
      return c % n;
    });
    const send = producer.send({
      topic: full,
      acks: -1,
      messages: records.map((r, i) => ({
        key: r.key === null ? null : r.key,
        value: r.value,
        partition: parts[i],
        headers: r.headers ? { ...r.headers } : undefined,
        timestamp: r.timestamp !== undefined ? String(r.timestamp) : undefined,
      })),
    });
    let timer: NodeJS.Timeout | undefined;
    const meta = await Promise.race([
      send,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EventLogError('IO_FAILED', `append to ${topic} not acknowledged within ${deliveryTimeoutMs} ms`)), deliveryTimeoutMs);
      }),
    ]).catch((e: unknown) => {
      if (e instanceof EventLogError) throw e;
      const ke = e as KafkaJsError;
      if (ke.type === 'UNKNOWN_TOPIC_OR_PARTITION') throw new EventLogError('UNKNOWN_TOPIC', `unknown topic: ${topic}`, { cause: e });
      if (ke.type === 'INVALID_RECORD' || ke.type === 'CORRUPT_MESSAGE') throw new EventLogError('INVALID_RECORD', `${topic}: ${ke.message}`, { cause: e });
      if (ke.type === 'MESSAGE_TOO_LARGE' || ke.type === 'RECORD_LIST_TOO_LARGE') throw new EventLogError('RECORD_TOO_LARGE', ke.message, { cause: e });
      throw new EventLogError('IO_FAILED', `append to ${topic} failed: ${ke.message}`, { cause: e });
    }).finally(() => clearTimeout(timer));
    // kafkajs groups messages per partition in input order; the k-th record of partition p gets baseOffset(p) + k.
    const base = new Map<number, number>();
    for (const m of meta) base.set(m.partition, Number(m.baseOffset));
    const next = new Map<number, number>();
    return parts.map((p) => {
      const k = next.get(p) ?? 0;
      next.set(p, k + 1);
      return { topic, partition: p, offset: (base.get(p) ?? 0) + k };
    });
  }

  const toRecord = (topic: string, partition: number, m: KafkaMessage): LogRecord => ({
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key === null || m.key === undefined ? null : m.key.toString('utf8'),
    value: m.value ?? null,
    headers: headersOf(m.headers),
    timestamp: Number(m.timestamp),
  });

  async function topicOffsets(topic: string): Promise<Array<{ partition: number; low: number; high: number }>> {
    ensureOpen();
    await partitionsOf(topic);
    const res = await admin.fetchTopicOffsets(ext(topic));
    return res.map((r) => ({ partition: r.partition, low: Number(r.low), high: Number(r.high) })).sort((a, b) => a.partition - b.partition);
  }

  async function read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    ensureOpen();
    const full = checkName(topic);
    const n = await partitionsOf(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= n) throw new EventLogError('INVALID_PARTITION', `partition ${partition} outside [0, ${n}) of ${topic}`);
    if (!Number.isInteger(fromOffset) || fromOffset < 0) throw new EventLogError('INVALID_PARTITION', `invalid offset ${fromOffset}`);
    const out: LogRecord[] = [];
    let offset = fromOffset;
    let maxBytes = 1 << 20;
    for (let attempt = 0; out.length < maxRecords; attempt++) {
      let resp: Awaited<ReturnType<InternalBroker['fetch']>>;
      try {
        await cluster.addTargetTopic(full);
        const leaders = cluster.findLeaderForPartitions(full, [partition]);
        const nodeId = Object.keys(leaders)[0];
        if (nodeId === undefined) throw Object.assign(new Error('no leader'), { type: 'LEADER_NOT_AVAILABLE' });
        const broker = await cluster.findBroker({ nodeId });
        resp = await broker.fetch({
          maxWaitTime: 0, minBytes: 1, maxBytes, isolationLevel: 1,
          topics: [{ topic: full, partitions: [{ partition, fetchOffset: String(offset), maxBytes }] }],
        });
      } catch (e) {
        const type = (e as KafkaJsError).type;
        if (type === 'OFFSET_OUT_OF_RANGE') {
          const { low, high } = (await topicOffsets(topic))[partition];
          // Below the log start (retention/compaction removed it): continue from the start, as
          // auto.offset.reset=earliest would; at or past the end: nothing to read.
          if (offset < low) { offset = low; continue; }
          if (offset >= high) return out;
        }
        if (attempt < 5 && ((e as KafkaJsError).retriable || type === 'LEADER_NOT_AVAILABLE' || type === 'NOT_LEADER_FOR_PARTITION' || type === 'UNKNOWN_TOPIC_OR_PARTITION')) {
          await cluster.refreshMetadata();
          await sleep(50 * (attempt + 1));
          continue;
        }
        throw new EventLogError('IO_FAILED', `read ${topic}/${partition}@${offset} failed: ${(e as Error).message}`, { cause: e });
      }
      const p = resp.responses.find((r) => r.topicName === full)?.partitions.find((x) => x.partition === partition);
      const raw = (p?.messages ?? []).filter((m) => Number(m.offset) >= offset);
      // READ_COMMITTED (isolationLevel 1): records of aborted transactions are dropped here, as
      // kafkajs' consumers do, and control records (commit/abort markers) are never records.
      const messages = filterAbortedMessages({ messages: raw, abortedTransactions: p?.abortedTransactions })
        .filter((m) => !m.isControlRecord);
      const hw = Number(p?.highWatermark ?? -1);
      const lso = Number(p?.lastStableOffset ?? -1);
      // Nothing at or past the last stable offset is readable until its transaction ends.
      const end = lso >= 0 ? Math.min(lso, hw) : hw;
      for (const m of messages) {
        if (out.length >= maxRecords) return out;
        out.push(toRecord(topic, partition, m));
      }
      if (raw.length === 0) {
        if (end <= offset) return out;
        // Records exist but none came back (a batch larger than maxBytes on an old broker): widen.
        maxBytes = Math.min(maxBytes * 4, 64 << 20);
        continue;
      }
      // Move past everything fetched, aborted records and markers included.
      offset = Number(raw[raw.length - 1].offset) + 1;
      if (offset >= end) break;
    }
    return out;
  }

  async function committedExternal(fullGroup: string): Promise<OffsetMap> {
    const coordinator = await cluster.findGroupCoordinator({ groupId: fullGroup });
    // kafkajs 2.2.4's OffsetFetch v3 encoder cannot send `topics: null` ("all topics": it calls
    // topics.map), so name every topic of the namespace explicitly (k3 fix).
    const names = (await admin.listTopics()).filter((t) => t.startsWith(prefix) && !t.startsWith('__'));
    const md = names.length > 0 ? (await admin.fetchTopicMetadata({ topics: names })).topics : [];
    const { responses } = await coordinator.offsetFetch({
      groupId: fullGroup,
      topics: md.map((t) => ({ topic: t.name, partitions: t.partitions.map((p) => ({ partition: p.partitionId })) })),
    });
    const out: OffsetMap = new Map();
    for (const t of responses) {
      if (!t.topic.startsWith(prefix)) continue;
      for (const p of t.partitions) {
        const o = Number(p.offset);
        if (o >= 0) out.set(tpKey(int(t.topic), p.partition), o);
      }
    }
    return out;
  }

  const splitKey = parseTpKey;

  async function commitOffsets(groupId: string, offsets: OffsetMap): Promise<void> {
    ensureOpen();
    const fullGroup = ext(groupId);
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const [key, offset] of offsets) {
      const { topic, partition } = splitKey(key);
      if (!Number.isInteger(offset) || offset < 0) throw new EventLogError('INVALID_PARTITION', `invalid offset ${offset} for ${key}`);
      const full = checkName(topic);
      byTopic.set(full, [...(byTopic.get(full) ?? []), { partition, offset: String(offset) }]);
    }
    if (byTopic.size === 0) return;
    const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
    const local = members.get(fullGroup);
    if (local && local.size > 0) {
      // A member of this process is in the group: commit with its generation (the broker rejects
      // generation -1 commits while the group has members).
      await [...local][0].commitOffsets(topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p }))));
      return;
    }
    const coordinator = await cluster.findGroupCoordinator({ groupId: fullGroup });
    try {
      await coordinator.offsetCommit({ groupId: fullGroup, groupGenerationId: -1, memberId: '', topics });
    } catch (e) {
      if (isRebalanceError(e)) {
        throw new EventLogError('GROUP_ACTIVE', `group ${groupId} has active members elsewhere; commit through one of them`, { cause: e });
      }
      throw e;
    }
  }

  async function subscribe(sub: Subscription): Promise<ConsumerHandle> {
    ensureOpen();
    const fullGroup = ext(sub.groupId);
    const topics = sub.topics.map((t) => checkName(t));
    for (const t of sub.topics) await partitionsOf(t);
    const maxBatchSize = Math.max(1, sub.maxBatchSize ?? 500);
    const fromBeginning = sub.fromBeginning ?? true;
    const log = logger.child({ groupId: sub.groupId });
    const consumer = kafka.consumer({
      groupId: fullGroup,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? 45_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 3_000,
      rebalanceTimeout: opts.rebalanceTimeoutMs ?? 60_000,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 500,
      // READ_COMMITTED (kafkajs' default, stated so it cannot drift): records of aborted
      // transactions (kafka-transactional-processor.ts) are never delivered.
      readUncommitted: false,
      // kafkajs only restarts a crashed consumer for retriable causes; a subscription must outlive
      // any crash (broker restarts, coordinator moves), so always restart (after kafkajs' backoff).
      retry: { restartOnFailure: async (e: Error) => { log.error({ err: e }, 'kafka consumer crashed; restarting'); return !stopped; } },
    });
    const stopping = new AbortController();

    /** Next offset to process per assigned partition (external `topic:partition` keys). */
    const positions = new Map<string, number>();
    /** Partitions of the current generation; batches of others are stale. */
    let assigned = new Set<string>();
    /** Partitions whose start offsets are not applied yet (paused). */
    const settingUp = new Set<string>();
    /** Seek targets not yet observed in a delivered batch. */
    const pendingSeek = new Map<string, number>();
    const failures = new Map<string, number>();
    let generation = 0;
    let ready!: Promise<void>;
    let stopped = false;
    const waiters = new Set<() => void>();
    const wake = () => { for (const w of [...waiters]) w(); };

    const setUp = async (gen: number, parts: TopicPartition[]) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const override = (await sub.onAssigned?.(parts.map((p) => ({ topic: int(p.topic), partition: p.partition })))) ?? new Map<string, number>();
          const committed = await committedExternal(fullGroup);
          const needDefault = parts.filter((p) => !override.has(tpKey(int(p.topic), p.partition)) && !committed.has(tpKey(int(p.topic), p.partition)));
          const defaults = new Map<string, number>();
          for (const t of new Set(needDefault.map((p) => p.topic))) {
            for (const o of await admin.fetchTopicOffsets(t)) defaults.set(tpKey(t, o.partition), Number(fromBeginning ? o.low : o.high));
          }
          if (gen !== generation || stopped) return;
          for (const p of parts) {
            const k = tpKey(int(p.topic), p.partition);
            const start = override.get(k) ?? committed.get(k) ?? defaults.get(tpKey(p.topic, p.partition)) ?? 0;
            const ek = tpKey(p.topic, p.partition);
            consumer.seek({ topic: p.topic, partition: p.partition, offset: String(start) });
            positions.set(ek, start);
            pendingSeek.set(ek, start);
            settingUp.delete(ek);
          }
          const byTopic = new Map<string, number[]>();
          for (const p of parts) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
          consumer.resume([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
          log.debug({ generation: gen, partitions: parts.length }, 'partitions assigned and positioned');
          wake();
          return;
        } catch (e) {
          if (gen !== generation || stopped) return;
          log.error({ err: e, attempt }, 'onAssigned / start offset resolution failed; retrying');
          await sleep(Math.min(100 * 2 ** attempt, MAX_REDELIVERY_DELAY_MS), stopping.signal);
        }
      }
    };

    consumer.on(consumer.events.GROUP_JOIN, (ev) => {
      // Synchronous: runs after SyncGroup and before the first Fetch of this generation. Must not
      // throw: kafkajs emits it inside joinAndSync, where a throw crashes the consumer.
      try { onGroupJoin(ev.payload.memberAssignment); } catch (e) { log.error({ err: e }, 'assignment handling failed'); }
    });
    const onGroupJoin = (memberAssignment: Record<string, number[]>) => {
      const gen = ++generation;
      crashes = 0;
      const parts: TopicPartition[] = Object.entries(memberAssignment)
        .flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
      assigned = new Set(parts.map((p) => tpKey(p.topic, p.partition)));
      for (const k of [...positions.keys()]) if (!assigned.has(k)) positions.delete(k);
      pendingSeek.clear();
      settingUp.clear();
      for (const k of assigned) settingUp.add(k);
      if (parts.length > 0) {
        try { consumer.pause(Object.entries(memberAssignment).map(([topic, partitions]) => ({ topic, partitions }))); } catch (e) {
          // Still safe: batches of partitions in `settingUp` are dropped unresolved.
          log.warn({ err: e }, 'pausing the new assignment failed');
        }
      }
      ready = setUp(gen, parts);
    };
    let crashes = 0;
    consumer.on(consumer.events.CRASH, (ev) => {
      log.error({ err: ev.payload.error, restart: ev.payload.restart }, 'kafka consumer crashed');
      // Until the next GROUP_JOIN nothing is positioned: caughtUp must wait.
      for (const k of assigned) settingUp.add(k);
      if (ev.payload.restart || stopped) return;
      // kafkajs restarts only for retriable causes; a non-retriable one (e.g. "Failed to find group
      // coordinator" while a broker restarts) leaves it stopped and disconnected. Restart it here.
      const delay = Math.min(200 * 2 ** crashes++, MAX_REDELIVERY_DELAY_MS);
      void sleep(delay, stopping.signal).then(async () => {
        if (stopped) return;
        try {
          await consumer.connect();
          await consumer.run(runConfig);
        } catch (e) {
          log.error({ err: e }, 'restarting the kafka consumer failed');
        }
      });
    });

    const handleBatch = async (payload: EachBatchPayload): Promise<void> => {
      const { batch } = payload;
      const ek = tpKey(batch.topic, batch.partition);
      if (!assigned.has(ek) || settingUp.has(ek)) return; // stale: not ours (yet); dropped unresolved
      const target = pendingSeek.get(ek);
      const first = Number(batch.messages[0]?.offset ?? batch.firstOffset());
      if (target !== undefined) {
        if (first < target || payload.isStale()) return; // fetched before the seek took effect
        pendingSeek.delete(ek);
      }
      const records = batch.messages.map((m) => toRecord(int(batch.topic), batch.partition, m));
      for (let i = 0; i < records.length; i += maxBatchSize) {
        if (stopped || !payload.isRunning() || payload.isStale() || !assigned.has(ek)) return;
        const chunk = records.slice(i, i + maxBatchSize);
        // Heartbeat while a long handler runs, so the member is not evicted (session timeout).
        const beat = setInterval(() => { payload.heartbeat().catch(() => {}); }, opts.heartbeatIntervalMs ?? 3_000);
        try {
          await sub.eachBatch({ topic: int(batch.topic), partition: batch.partition, records: chunk });
        } catch (e) {
          const n = (failures.get(ek) ?? 0) + 1;
          failures.set(ek, n);
          const delay = Math.min(redeliveryDelayMs * 2 ** (n - 1), MAX_REDELIVERY_DELAY_MS);
          log.warn({ err: e, topic: batch.topic, partition: batch.partition, offset: chunk[0].offset, failures: n, delay }, 'eachBatch failed; redelivering');
          // Not resolved: rewind the fetch position to the batch's first offset and back off.
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(chunk[0].offset) });
          pendingSeek.set(ek, chunk[0].offset);
          await sleep(delay, stopping.signal);
          return;
        } finally {
          clearInterval(beat);
        }
        failures.delete(ek);
        const last = chunk[chunk.length - 1].offset;
        payload.resolveOffset(String(last));
        // Synchronous commit of the next offset to read; fenced by the generation (see file comment).
        await payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(last + 1) }] }] });
        if (assigned.has(ek)) positions.set(ek, last + 1);
        wake();
      }
    };

    const runConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, sub.partitionsConsumedConcurrently ?? 1),
      eachBatch: handleBatch,
    };

    consumer.on(consumer.events.END_BATCH_PROCESS, (ev) => {
      // Batches made only of control records / filtered messages never reach eachBatch; kafkajs
      // resolves them itself. Advance the position so caughtUp does not wait on them.
      const ek = tpKey(ev.payload.topic, ev.payload.partition);
      if (ev.payload.batchSize === 0 && assigned.has(ek) && !settingUp.has(ek)) {
        const after = Number(ev.payload.lastOffset) + 1;
        if (after > (positions.get(ek) ?? 0)) { positions.set(ek, after); wake(); }
      }
    });

    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning });
    await consumer.run(runConfig);
    // run() resolves after the first JoinGroup/SyncGroup; wait until the assignment is positioned
    // so `lag`, `caughtUp` and fromBeginning=false are exact from the caller's next line on.
    await ready;
    let group = members.get(fullGroup);
    if (!group) members.set(fullGroup, (group = new Set()));
    group.add(consumer);

    const endOffsets = async (): Promise<Map<string, number>> => {
      const ends = new Map<string, number>();
      for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) ends.set(tpKey(t, o.partition), Number(o.high));
      return ends;
    };

    const handle: ConsumerHandle = {
      async caughtUp() {
        await ready;
        const ends = await endOffsets();
        await new Promise<void>((resolve, reject) => {
          const check = () => {
            if (stopped) { waiters.delete(check); reject(new EventLogError('CONSUMER_STOPPED', `consumer of ${sub.groupId} stopped`)); return; }
            if (settingUp.size > 0) return;
            for (const k of assigned) if ((positions.get(k) ?? 0) < (ends.get(k) ?? 0)) return;
            waiters.delete(check);
            resolve();
          };
          waiters.add(check);
          check();
        });
      },
      async lag() {
        await ready;
        const ends = await endOffsets();
        const out = new Map<string, number>();
        for (const k of [...assigned].sort()) {
          const { topic, partition } = splitKey(k);
          out.set(tpKey(int(topic), partition), Math.max(0, (ends.get(k) ?? 0) - (positions.get(k) ?? 0)));
        }
        return out;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        stopping.abort();
        wake();
        members.get(fullGroup)?.delete(consumer);
        handles.delete(handle);
        await consumer.disconnect().catch((e: unknown) => log.warn({ err: e }, 'consumer disconnect failed'));
      },
    };
    handles.add(handle);
    return handle;
  }

  return {
    createTopic,
    listTopics,
    append,
    read,
    async endOffsets(topic) { return (await topicOffsets(topic)).map((o) => o.high); },
    async beginningOffsets(topic) { return (await topicOffsets(topic)).map((o) => o.low); },
    async offsetsForTimestamp(topic, timestamp) {
      ensureOpen();
      await partitionsOf(topic);
      const res = await admin.fetchTopicOffsetsByTimestamp(ext(topic), timestamp);
      return res.sort((a, b) => a.partition - b.partition).map((o) => Number(o.offset));
    },
    async committedOffsets(groupId) { ensureOpen(); return committedExternal(ext(groupId)); },
    commitOffsets,
    async listGroups() {
      ensureOpen();
      const { groups } = await admin.listGroups();
      return groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix)).map(int).sort();
    },
    subscribe,
    kafka: {
      client: kafka,
      topicName: checkName,
      groupName: ext,
      partitionCount: partitionsOf,
    },
    async deleteTopics(names) {
      ensureOpen();
      const full = names.map((n) => checkName(n));
      for (const n of full) known.delete(n);
      if (full.length > 0) await admin.deleteTopics({ topics: full });
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...handles].map((h) => h.stop()));
      await Promise.allSettled([producer.disconnect(), admin.disconnect(), cluster.disconnect()]);
    },
  };
}
