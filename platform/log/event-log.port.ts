/**
 * EventLog: the port every role uses to reach the log (Kafka in cluster mode, the embedded
 * log in standalone mode). Semantics follow Kafka: a topic has N partitions, records with the
 * same key land on the same partition (murmur2 default partitioner, KIP-480 aside for null keys),
 * offsets are per partition and dense, consumer groups store committed offsets
 * (the offset of the *next* record to read, as in Kafka's OffsetCommit).
 */

export interface TopicSpec {
  name: string;
  /** Partition count (≥ 1). */
  partitions: number;
  /** Log compaction (cleanup.policy=compact), e.g. `_schemas` and changelog topics. */
  compacted?: boolean;
  /** Replication factor; ignored by the embedded log. */
  replicationFactor?: number;
}

export interface TopicDescription {
  name: string;
  partitions: number;
  compacted: boolean;
}

export type Headers = Record<string, string>;

/** A record to append. `value` null is a tombstone on compacted topics. */
export interface ProduceRecord {
  key: string | null;
  value: Buffer | null;
  headers?: Headers;
  /** Milliseconds since epoch; defaults to append time. */
  timestamp?: number;
  /** Explicit partition; otherwise chosen by the default partitioner from the key. */
  partition?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

/** A record read from the log. */
export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Headers;
  /** Milliseconds since epoch. */
  timestamp: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** `topic:partition` → offset of the next record to read. */
export type OffsetMap = Map<string, number>;
export const tpKey = (topic: string, partition: number): string => `${topic}:${partition}`;
/** The inverse of {@link tpKey}: `'streamwave.views:3'` → `{ topic: 'streamwave.views', partition: 3 }` (topic names may not contain `:`). */
export function parseTpKey(key: string): TopicPartition {
  const i = key.lastIndexOf(':');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

export interface RecordBatch {
  topic: string;
  partition: number;
  /** In offset order, non-empty. */
  records: LogRecord[];
}

export interface Subscription {
  /** Consumer group id (stable, explicit: it feeds checkpoints and metrics). */
  groupId: string;
  topics: string[];
  /** Where to start when the group has no committed offset: earliest (true) or latest (false). Default true. */
  fromBeginning?: boolean;
  /**
   * Called on (re)assignment, before any batch of those partitions is delivered. Return the offsets
   * to seek to (e.g. the checkpoint a read model stores atomically with its state); partitions not
   * in the returned map start from the group's committed offset.
   */
  onAssigned?(partitions: TopicPartition[]): Promise<OffsetMap | void>;
  /**
   * Handle a batch of one partition. When it resolves, the group offset is committed past the
   * batch. When it throws, the same batch is redelivered (the runtime in `processors/runtime`
   * adds retries with backoff and the dead-letter topic on top).
   */
  eachBatch(batch: RecordBatch): Promise<void>;
  /** Max records per batch. Default 500. */
  maxBatchSize?: number;
  /**
   * How many partitions may have a batch in flight at once (kafkajs' `partitionsConsumedConcurrently`);
   * order within a partition is always kept. Default 1. Adapters may ignore it (then 1).
   */
  partitionsConsumedConcurrently?: number;
}

export interface ConsumerHandle {
  /** Resolves once every assigned partition has been consumed up to the end offsets taken at call time. */
  caughtUp(): Promise<void>;
  /** Per partition: end offset minus the position of this consumer. */
  lag(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export interface EventLog {
  /** Idempotent: creating an existing topic with the same partition count is a no-op. */
  createTopic(spec: TopicSpec): Promise<void>;
  listTopics(): Promise<TopicDescription[]>;
  /**
   * Appends records; resolves when they are acknowledged, i.e. durable (fsynced for the embedded
   * log, acks=all for Kafka). Records of one call to the same partition keep their order.
   * @throws if the topic does not exist.
   */
  append(topic: string, records: ProduceRecord[]): Promise<RecordMetadata[]>;
  /** Reads up to `maxRecords` records from `fromOffset` (inclusive) of one partition. */
  read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]>;
  /** Offset of the next record to be written, per partition (high watermark). */
  endOffsets(topic: string): Promise<number[]>;
  /** First offset still on the log, per partition. */
  beginningOffsets(topic: string): Promise<number[]>;
  /** For each partition, the earliest offset whose timestamp is ≥ `timestamp` (end offset if none). */
  offsetsForTimestamp(topic: string, timestamp: number): Promise<number[]>;
  committedOffsets(groupId: string): Promise<OffsetMap>;
  commitOffsets(groupId: string, offsets: OffsetMap): Promise<void>;
  /**
   * Ids of the consumer groups the log knows (those with committed offsets; Kafka: every group the
   * coordinators know, `admin.listGroups()`), sorted. Used by ops tools for lag per group.
   */
  listGroups(): Promise<string[]>;
  /** Joins the consumer group and starts delivering batches. */
  subscribe(subscription: Subscription): Promise<ConsumerHandle>;
  close(): Promise<void>;
}

// --- What ops tools (`streamwave topics`, `GET /admin/topics`) see of a log, built by describeLog (log-overview.ts).

export interface TopicOverview {
  name: string;
  partitions: number;
  compacted: boolean;
  /** High watermark per partition (offset of the next record), index = partition. */
  endOffsets: number[];
  /** Sum of `endOffsets` minus the beginning offsets: records on the topic. */
  records: number;
}

export interface GroupPartitionLag {
  topic: string;
  partition: number;
  /** Offset of the next record the group will read (Kafka OffsetCommit convention). */
  committed: number;
  end: number;
  /** `end − committed`, ≥ 0. */
  lag: number;
}

export interface GroupOverview {
  groupId: string;
  /** Total lag over the partitions the group has committed offsets for. */
  lag: number;
  partitions: GroupPartitionLag[];
}

export interface LogOverview {
  topics: TopicOverview[];
  groups: GroupOverview[];
}
