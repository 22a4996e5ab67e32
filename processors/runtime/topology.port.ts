/**
 * The processing topology as data (Kafka Streams' habit: build the topology apart from running
 * it). Every processor and projection of StreamWave is a node described here — a stable name, its
 * input topics, its handler, its guarantee, what it outputs — and nothing in a node knows which
 * log it runs on. Three things run the same nodes:
 *
 * - the runtime (`projection.runtime.ts`, `processor.runtime.ts`) on any
 *   EventLog: the embedded log in standalone mode, Kafka in cluster mode (where the log offers
 *   transactions, the runtime uses them; see each guarantee below);
 * - the projection manager (projections/replay), which runs several instances of one projection
 *   node (live and shadow) for replays;
 * - the topology test driver (`testing/topology-test-driver.ts`), which delivers records to the
 *   nodes in a loop with no I/O and no timers, like Kafka Streams' TopologyTestDriver.
 */
import type { DomainEvent } from '../../domain/events.ts';
import type { LogRecord, OffsetMap, TopicPartition } from '../../platform/log/event-log.port.ts';

/**
 * What a node promises about the effect of each input record.
 * - `at-least-once`: a record may be handled again after a crash or rebalance; the handler's
 *   outputs are idempotent (e.g. deciders turn a repeated command into a no-op).
 * - `effectively-once`: the node stores its checkpoint atomically with its state and resumes from
 *   it, so a redelivered record is a no-op; each record takes effect exactly once in the store.
 * - `exactly-once`: Kafka to Kafka; output records and the consumed offset are committed in one
 *   transaction (KIP-98), read_committed readers never see a duplicate.
 */
export type Guarantee = 'at-least-once' | 'effectively-once' | 'exactly-once';

/** One record of a batch with its decoded event (`undefined` when it could not be decoded, or a tombstone). */
export interface DecodedRecord {
  record: LogRecord;
  event: DomainEvent | undefined;
}

/** A batch handed to a projection: records of one partition not applied yet, in offset order. */
export interface ProjectionBatch {
  topic: string;
  partition: number;
  records: DecodedRecord[];
  /** Checkpoint entry to store atomically with the batch's effect: `{ 'topic:partition' → next offset }`. */
  checkpoint: OffsetMap;
}

/**
 * A projection: builds one read model from its input topics and serves queries `Q` from it.
 * Consumer group `streamwave.projection.<name>` unless the runner says otherwise (replay shadows,
 * per-replica groups).
 */
export interface ProjectionNode<Q = unknown> {
  readonly kind: 'projection';
  /** Stable name of the read model (`video-detail`, `comments`, …): consumer group, metrics, `streamwave replay <name>`. */
  readonly name: string;
  readonly inputs: readonly string[];
  readonly guarantee: 'effectively-once';
  /** What the node writes, e.g. `key-value store` or `ClickHouse table view_heartbeats` (shown by ops tools). */
  readonly output: string;
  /** Queries served from the stored state; usable before and while the node runs. */
  readonly queries: Q;
  /** Max records per batch (one store commit per batch). Default 500. */
  readonly maxBatchSize?: number;
  /**
   * How long a partition's small backlog may wait to fill a batch of `maxBatchSize`, ms (the
   * subscription's `fetchMaxWaitMs`): for a read model whose cost is mostly per commit. It adds up
   * to this much to the time an event takes to show. Default 0.
   */
  readonly fetchMaxWaitMs?: number;
  /**
   * How many input partitions may have a batch being applied at once (the subscription's
   * `partitionsConsumedConcurrently`); the batches of one partition are always applied one at a
   * time, in order. More than 1 only for a node whose batches of different partitions touch
   * disjoint state and carry their own checkpoints (the analytics tables: each insert holds its
   * partition's rows, and the checkpoint is derived from them). Default 1: `apply` is serialised.
   */
  readonly partitionsConcurrently?: number;
  /** The checkpoint stored with the read model: next offset per `topic:partition`. */
  loadCheckpoint(): Promise<OffsetMap>;
  /**
   * Called on every assignment of input partitions to this instance (its start and each
   * rebalance), before the checkpoint is read for them: state a node holds in memory between
   * batches (a cache of its read model) may be stale now, as another instance may have applied
   * those partitions meanwhile. Kafka Streams re-initialises a task's stores on assignment the
   * same way. A rejection fails the assignment, as a failed checkpoint read does.
   */
  onAssigned?(partitions: readonly TopicPartition[]): Promise<void> | void;
  /**
   * Applies a batch and stores `batch.checkpoint` atomically with it. Throwing makes the runtime
   * redeliver the batch, so nothing of it may have been stored. Calls are serialised (per
   * partition with `partitionsConcurrently`). A batch that changes nothing in the read model may
   * store its checkpoint later (Typesense search: views-only batches), as long as applying it
   * again changes nothing either.
   */
  apply(batch: ProjectionBatch): Promise<void>;
  /** Awaited before the first batch, e.g. a snapshot still loading; a rejection fails the start. */
  ready?(): Promise<void>;
  /** Called when consumption stops, e.g. to write a debounced snapshot. */
  flush?(): Promise<void>;
  /** Flushes and closes the store; the node is not used afterwards. Idempotent. */
  close(): Promise<void>;
}

/** Retry policy of a processor before it dead-letters a record. */
export interface RetryPolicy {
  retries: number;
  /** First backoff, ms (exponential, factor 2). */
  minTimeoutMs: number;
  maxTimeoutMs: number;
}

/** What the runtime hands a processor's handler besides the record. */
export interface HandleContext {
  /**
   * Fires when the processor stops (shutdown): the handler must end promptly (kill its child
   * processes) and throw; the record is then redelivered on the next start, not failed.
   */
  signal: AbortSignal;
}

/**
 * A processor: reacts to each record of its input topics (the transcoder). Consumer group
 * `streamwave.<name>`. A record whose handler keeps throwing is retried with backoff, then
 * appended to the dead-letter topic `<input>.<name>.dlq` and the partition keeps flowing.
 */
export interface ProcessorNode {
  readonly kind: 'processor';
  /** Stable name: consumer group `streamwave.<name>`, metric labels, dead-letter topic names. */
  readonly name: string;
  readonly inputs: readonly string[];
  readonly guarantee: 'at-least-once';
  /** Where its effects go (topics written through the command bus, object-store prefixes), for ops tools. */
  readonly outputs: readonly string[];
  /**
   * Handles one record. Throwing means "retry" (with backoff), then dead-letter; after
   * `context.signal` fired it means "stopping": the record stays uncommitted and is redelivered.
   */
  handle(record: LogRecord, context?: HandleContext): Promise<void>;
  /** Optional seek on assignment (e.g. a checkpoint stored with the processor's own state). */
  onAssigned?(partitions: TopicPartition[]): Promise<OffsetMap | void>;
  /** Default: 5 retries, 200 ms → 5 s. */
  readonly retry?: RetryPolicy;
  /** Dead-letter topic; default `<input>.<name>.dlq`. */
  readonly deadLetterTopic?: string;
  /** Called after a record was dead-lettered (e.g. mark the video failed); its errors are logged, not retried. */
  onDeadLetter?(record: LogRecord, error: Error): Promise<void>;
  /** Partitions handled at once (order is kept within a partition). Default 1. */
  readonly concurrency?: number;
  /** Releases what the processor holds, if anything. Idempotent. */
  close?(): Promise<void>;
}

export type TopologyNode = ProjectionNode | ProcessorNode;

/** A processor node from its parts: `kind` and `guarantee` filled in, `outputs` `[]` unless given. */
export function processorNode(spec: Omit<ProcessorNode, 'kind' | 'guarantee' | 'outputs'> & { outputs?: readonly string[] }): ProcessorNode {
  return { ...spec, kind: 'processor', guarantee: 'at-least-once', outputs: spec.outputs ?? [] };
}
