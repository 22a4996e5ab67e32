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
  /**
   * Time-based retention of a non-compacted topic, milliseconds (Kafka's `retention.ms`); default
   * forever (-1). The embedded and in-memory logs keep every record whatever this says.
   */
  retentionMs?: number;
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
   * batch (at the next interval with `commitIntervalMs`). When it throws, the same batch is redelivered (the runtime in `processors/runtime`
   * adds retries with backoff and the dead-letter topic on top).
   */
  eachBatch(batch: RecordBatch): Promise<void>;
  /** Max records per batch. Default 500. */
  maxBatchSize?: number;
  /**
   * Commit the group offset past each handled batch (default true). False for a subscription that
   * always positions itself in `onAssigned` and never reads committed offsets (a replies topic read
   * from its end): it saves a round trip to the group coordinator per batch. Adapters whose commit
   * is local may ignore it.
   */
  commitOffsets?: boolean;
  /**
   * Commit the group offset at most once per this many milliseconds instead of after every batch
   * (Kafka Streams' `commit.interval.ms`): the handled offsets are committed together once the
   * interval since the last commit has passed, after it when the stream goes idle, and when the
   * consumer stops. For subscriptions that store their own checkpoint with their state and seek
   * to it in `onAssigned` (projections): their group offset is then only the progress other tools
   * read, at most this far behind. A crash loses no event either way (redelivery from the
   * checkpoint). Default 0: commit after every batch. Adapters whose commit is local may ignore
   * it (the in-memory one does); the embedded and Kafka adapters honour it (platform/log/interval-commits.ts).
   */
  commitIntervalMs?: number;
  /**
   * Wait up to this many milliseconds for a partition to gather `maxBatchSize` records before
   * delivering what it has (Kafka's `fetch.min.bytes` + `fetch.max.wait.ms` pair, counted in
   * records): fewer, larger batches for a subscriber whose cost is mostly per batch (an analytics
   * insert), at the price of up to this much delivery latency. A backlog of `maxBatchSize` or more
   * is delivered at once. Default 0: deliver as soon as records are there. The wait counts from
   * when the consumer first sees the records or, for records that came while the partition's
   * previous batch was applied, from that batch's delivery: they have gathered for that long
   * already, so they do not wait the batch's time and then the whole wait again. The Kafka
   * adapter passes it to the fetch as `maxWaitTimeInMs` with `minBytes` of 1 MiB, which Kafka
   * counts in bytes over all the fetched partitions: there a batch smaller than 1 MiB waits the
   * whole time, and the adapter's own fetch wait setting does not apply; there the wait counts
   * from the broker's previous answer, for all the partitions it leads together, and a consumer's
   * first fetch from a broker does not wait (patches/kafkajs+2.2.4.patch, consumerGroup fetch:
   * kafkajs itself counts it from each request, which it sends only after the batches are applied).
   */
  fetchMaxWaitMs?: number;
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

// --- Optional capability: exactly-once consume-transform-produce (Kafka transactions, KIP-98).

/** A record to write in a transaction: a `ProduceRecord` plus its topic (port name). */
export interface OutputRecord extends ProduceRecord {
  topic: string;
}

/** One input partition's transaction scope, handed to {@link TransactionalSubscription.eachBatch}. */
export interface PartitionTransaction {
  /** Input topic and partition (port names). */
  readonly topic: string;
  readonly partition: number;
  /**
   * In ONE transaction: appends `outputs` (may be empty; partitions chosen as by `append`) and
   * commits the consumer group's offset of the input partition to `nextOffset` (the next record
   * to read). Serialised per partition. After it resolves, records below `nextOffset` are never
   * delivered again to this subscription (nor, through the committed offset, to any later owner).
   * @throws TransactionalProcessorError (event-log.errors.ts) PRODUCER_FENCED | TRANSACTION_FAILED
   *   | PARTITION_NOT_OWNED: nothing of the transaction is visible to READ_COMMITTED readers; the
   *   subscription rejoins the group and the batch is redelivered (to whoever owns it then).
   * `then`, when given, is called with the positions of `outputs` (in their order) once they are
   * sent, and its records are written in the SAME transaction: a reply that names where the
   * outputs landed (the command processor's outcome with its events' positions) commits with them.
   * Resolves with the positions of `outputs` (not of `then`'s records).
   * @throws EventLogError UNKNOWN_TOPIC / INVALID_TOPIC / INVALID_PARTITION for a bad output record
   *   of `outputs` (before any write); a bad record of `then` fails the transaction (TRANSACTION_FAILED).
   */
  commit(outputs: OutputRecord[], nextOffset: number, then?: (positions: RecordMetadata[]) => OutputRecord[] | Promise<OutputRecord[]>): Promise<RecordMetadata[]>;
}

/** A subscription whose batches get a {@link PartitionTransaction} for their input partition. */
export interface TransactionalSubscription {
  /** Consumer group id (port name). */
  groupId: string;
  topics: string[];
  /** Where to start without a committed offset: earliest (true, default) or latest. */
  fromBeginning?: boolean;
  /** Called after the assigned partitions' producers are initialised (previous owners fenced); may return seek offsets. */
  onAssigned?(partitions: TopicPartition[]): Promise<OffsetMap | void>;
  /**
   * Handles a batch of one input partition. Records already committed through `tx` in this
   * assignment are removed from redelivered batches. Throwing redelivers the (rest of the) batch.
   * When it resolves, the batch's offset is also committed as by `subscribe` (at-least-once for
   * records not covered by a `tx.commit`).
   */
  eachBatch(batch: RecordBatch, tx: PartitionTransaction): Promise<void>;
  maxBatchSize?: number;
  partitionsConsumedConcurrently?: number;
}

/**
 * An EventLog that can commit a batch's outputs together with the consumed offset (Kafka; the
 * embedded and in-memory logs cannot). Test with {@link supportsTransactions}.
 *
 * Guarantee — exactly-once per input partition, for READ_COMMITTED readers:
 * - Atomicity: `tx.commit(outputs, nextOffset)` writes the outputs AND the group's offset of that
 *   input partition (TxnOffsetCommit) in ONE transaction: both become visible or neither (abort,
 *   or a crash before the commit: the broker aborts the open transaction when the partition's
 *   next owner initialises the same transactional.id, or after the transaction timeout).
 * - Visibility: only to READ_COMMITTED readers — the Kafka adapter's `subscribe` and `read` are;
 *   they see every input's outputs exactly once (0 lost, 0 duplicated) across crashes, restarts
 *   and rebalances. READ_UNCOMMITTED readers also see aborted records.
 * - Fencing per input partition: one transactional producer per assigned input partition, with
 *   `transactional.id = <group>.<topic>.<partition>` (broker-side names), initialised on every
 *   fresh assignment BEFORE the committed offset is read. That bumps the producer epoch, so a
 *   previous owner still processing the partition (a zombie) fails its next commit with a
 *   fencing error (PRODUCER_FENCED) and its open transaction is aborted; the offset read after is
 *   final. A producer is re-initialised only on a fresh assignment, never lazily after an error,
 *   so a member that does not yet know it was evicted cannot fence the new owner.
 * - kafkajs has no KIP-447: the offset commit cannot carry the group generation, so the group
 *   coordinator cannot reject a commit of an evicted member; fencing rests on the per-input-
 *   partition transactional.id alone (Kafka Streams' original "EOS alpha", one producer per
 *   input partition rather than one per instance).
 * - Not covered: side effects of `eachBatch` outside the log (at least once), and records of a
 *   batch not committed through `tx` (at least once, see `eachBatch`).
 */
export interface TransactionalEventLog extends EventLog {
  /**
   * Joins consumer group `sub.groupId` with one transactional producer per assigned input
   * partition. The handle follows the subscription across the rejoins that follow a failed
   * transaction; `close()` of the log stops it.
   * @throws as `subscribe` (EventLogError UNKNOWN_TOPIC for a missing input topic).
   */
  subscribeTransactional(sub: TransactionalSubscription): Promise<ConsumerHandle>;
}

/** True when `log` has the exactly-once capability ({@link TransactionalEventLog}). */
export function supportsTransactions(log: EventLog): log is TransactionalEventLog {
  return typeof (log as Partial<TransactionalEventLog>).subscribeTransactional === 'function';
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
