/**
 * Transform runtime: an exactly-once consume-transform-produce processor (log → log) on the
 * EventLog port's optional transactional capability (`TransactionalEventLog`,
 * platform/log/event-log.port.ts; the Kafka adapter has it, the embedded and in-memory logs do not).
 *
 * Every batch of an input partition becomes ONE transaction holding `handle`'s outputs for the
 * batch's records and the partition's next offset. Guarantee: the capability's — exactly-once per
 * input partition for READ_COMMITTED readers (every input's outputs visible once: 0 lost, 0
 * duplicated, across crashes, restarts and rebalances), zombies fenced per input partition
 * (transactional.id `<group>.<topic>.<partition>`; kafkajs has no KIP-447). It holds only if
 * `handle` is a pure function of the record: it runs again when a batch is redelivered. Side
 * effects of `handle` outside the log happen at least once.
 */
import { pino } from 'pino';
import type { EventLog, LogRecord, OutputRecord } from '../../platform/log/event-log.port.ts';
import { supportsTransactions } from '../../platform/log/event-log.port.ts';

/** Stable codes of {@link TransformRuntimeError}. */
export type TransformRuntimeErrorCode =
  /** The log has no transactional capability (`supportsTransactions(log)` is false), e.g. the embedded log. */
  'TRANSACTIONS_UNSUPPORTED';

export class TransformRuntimeError extends Error {
  constructor(readonly code: TransformRuntimeErrorCode, message: string) {
    super(message);
    this.name = 'TransformRuntimeError';
  }
}

/** Options of {@link runTransactionalProcessor}. */
export interface TransactionalProcessorOptions {
  /** Consumer group id (port name); also the prefix of the per-partition transactional.ids. */
  groupId: string;
  /** Input topics (must exist). */
  topics: string[];
  /**
   * Maps one input record to its output records (output topics must exist). Must be a pure
   * function of the record for the exactly-once figure to mean anything: it runs again when a
   * batch is redelivered. Throwing redelivers the batch (with the log's backoff).
   */
  handle(record: LogRecord): Promise<OutputRecord[]>;
  logger?: pino.Logger;
  /** Records per transaction (default 500). */
  maxBatchSize?: number;
  /** Where to start without a committed offset: earliest (true, default) or latest. */
  fromBeginning?: boolean;
}

export interface TransactionalProcessorHandle {
  /** Consumer group id (port name). */
  readonly groupId: string;
  /** Resolves once every assigned input partition is processed up to the end offsets at call time. */
  caughtUp(): Promise<void>;
  /** Per input `topic:partition`: end offset minus the processor's position (records). */
  lag(): Promise<Map<string, number>>;
  /**
   * Leaves the group and closes the producers; an open transaction is aborted by the next owner
   * (or the transaction timeout). The log stays open: it belongs to the caller.
   */
  stop(): Promise<void>;
}

/**
 * Starts an exactly-once processor on `log`: joins consumer group `opts.groupId` on `opts.topics`
 * and commits each batch's outputs with the input offset (see the file comment).
 * @throws TransformRuntimeError TRANSACTIONS_UNSUPPORTED when `log` lacks the capability;
 *   whatever `subscribeTransactional` throws (e.g. EventLogError UNKNOWN_TOPIC for a missing input topic).
 */
export async function runTransactionalProcessor(log: EventLog, opts: TransactionalProcessorOptions): Promise<TransactionalProcessorHandle> {
  if (!supportsTransactions(log)) {
    throw new TransformRuntimeError('TRANSACTIONS_UNSUPPORTED',
      `processor ${opts.groupId}: the event log has no transactional capability (exactly-once needs the Kafka log)`);
  }
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ processor: opts.groupId });
  const consumer = await log.subscribeTransactional({
    groupId: opts.groupId,
    topics: opts.topics,
    fromBeginning: opts.fromBeginning,
    maxBatchSize: opts.maxBatchSize,
    async eachBatch(batch, tx) {
      const outputs: OutputRecord[] = [];
      for (const record of batch.records) outputs.push(...await opts.handle(record));
      await tx.commit(outputs, batch.records[batch.records.length - 1].offset + 1);
    },
  });
  logger.info({ groupId: opts.groupId, topics: opts.topics }, 'transactional processor started');
  let stopping: Promise<void> | null = null;
  return {
    groupId: opts.groupId,
    caughtUp: () => consumer.caughtUp(),
    lag: () => consumer.lag(),
    stop() {
      stopping ??= consumer.stop().then(() => logger.info('transactional processor stopped'));
      return stopping;
    },
  };
}
