/**
 * Typed errors raised by the EventLog adapters in platform/log. Each carries a stable `code`
 * so callers (gateway, CLI, runtime) can branch without parsing messages; none of them should
 * ever crash the process on bad input.
 */

/** Stable codes of {@link EventLogError}. */
export type EventLogErrorCode =
  /** The topic does not exist (append/read/offsets on a topic never created). */
  | 'UNKNOWN_TOPIC'
  /** Topic name outside Kafka's legal set `[a-zA-Z0-9._-]{1,249}` (and not `.`/`..`). */
  | 'INVALID_TOPIC'
  /** `createTopic` on an existing topic with a different partition count or cleanup policy. */
  | 'TOPIC_CONFLICT'
  /** Explicit partition outside `[0, partitions)`, or a negative / non-integer offset. */
  | 'INVALID_PARTITION'
  /** Another live process (or another instance in this process) holds the data directory lock. */
  | 'LOG_LOCKED'
  /** The log was closed. */
  | 'LOG_CLOSED'
  /** A write or fsync failed; the partition refuses further appends until reopened. */
  | 'IO_FAILED'
  /**
   * A segment holds bad bytes followed by valid records (or any bad bytes after a clean
   * shutdown): start-up refuses to cut acknowledged records (issue 8, finding 8).
   */
  | 'LOG_CORRUPTED'
  /** A record does not fit the on-disk format (e.g. larger than the max record size). */
  | 'RECORD_TOO_LARGE'
  /** The broker rejected a record (Kafka INVALID_RECORD, e.g. a null key on a compacted topic). */
  | 'INVALID_RECORD'
  /** Consumer-less `commitOffsets` on a group that has active members in another process (Kafka adapter). */
  | 'GROUP_ACTIVE'
  /** A consumer was stopped while someone awaited `caughtUp()`. */
  | 'CONSUMER_STOPPED';

export class EventLogError extends Error {
  constructor(readonly code: EventLogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventLogError';
  }
}

/** Stable codes of {@link TransactionalProcessorError}. */
export type TransactionalProcessorErrorCode =
  /** Another producer initialised this partition's transactional.id: the partition moved (or we are a zombie). */
  | 'PRODUCER_FENCED'
  /** The transaction failed for another reason; it was aborted (or will be by the next owner / the timeout). */
  | 'TRANSACTION_FAILED'
  /** The partition has no usable producer (dropped after a failure; a rejoin is pending). */
  | 'PARTITION_NOT_OWNED';

/** Raised by `PartitionTransaction.commit` (event-log.port.ts); `cause` holds the client's error. */
export class TransactionalProcessorError extends Error {
  constructor(readonly code: TransactionalProcessorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransactionalProcessorError';
  }
}
