import type { LogRecord, OffsetMap, TopicPartition } from '../../platform/log/event-log.port.ts';

/**
 * A declared processor (Kafka Streams style: declared by a `build…` function, run by the
 * runtime in processors/runtime/processor.runtime.ts; tests call the same `build…` function).
 */
export interface ProcessorDefinition {
  /** Stable explicit name: consumer group `streamwave.<name>`, metric labels, DLQ topic names. */
  name: string;
  /** Source topics. */
  topics: string[];
  /** Handles one record. Throwing means "retry" (with backoff), then dead-letter. */
  handle(record: LogRecord): Promise<void>;
  /** Optional seek on assignment (e.g. a checkpoint stored with the processor's state). */
  onAssigned?(partitions: TopicPartition[]): Promise<OffsetMap | void>;
  /** Retry policy before dead-lettering. Default: 5 retries, 200 ms → 5 s exponential backoff. */
  retry?: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  /** Dead-letter topic; default `<source-topic>.<name>.dlq`. */
  deadLetterTopic?: string;
  /**
   * Called after a record was dead-lettered (e.g. the transcoder marks the video failed so it
   * is never stuck). Errors thrown here are logged, not retried.
   */
  onDeadLetter?(record: LogRecord, error: Error): Promise<void>;
  /** Records handled concurrently across partitions (order is kept within a partition). Default 1. */
  concurrency?: number;
}
