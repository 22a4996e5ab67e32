/**
 * Exactly-once Kafka → Kafka processing on kafkajs (issue 3: "where a processor reads from Kafka
 * and writes to Kafka exactly once, use ONE TRANSACTIONAL PRODUCER PER INPUT PARTITION").
 *
 * Guarantee: exactly-once per input partition. For each batch of an input partition the outputs
 * AND the consumer group offset of that partition (`sendOffsets`, the TxnOffsetCommit of KIP-98)
 * are written in ONE Kafka transaction: either both become visible (commit) or neither (abort, or
 * a crash before the commit — the broker aborts the open transaction when the partition's next
 * owner initialises the same transactional.id, or after `transactionTimeoutMs`). Readers must be
 * READ_COMMITTED (the Kafka EventLog adapter's consumers and `read` are); they then see every
 * input's outputs exactly once — 0 lost, 0 duplicated — across crashes, restarts and rebalances.
 * Side effects of `handle` outside Kafka are NOT covered (they happen at least once).
 *
 * Fencing — what kafkajs lacks and what replaces it: kafkajs 2.2.x implements KIP-98 transactions
 * but not KIP-447 (the producer cannot send the consumer group metadata — generation, member id —
 * with TxnOffsetCommit, so the group coordinator cannot reject the offset commit of a member that
 * was evicted in a rebalance). Without it, the only sound scheme is Kafka Streams' original
 * "EOS alpha": one transactional producer per INPUT partition with a transactional.id stable per
 * input partition, `<groupId>.<topic>.<partition>` (broker-side names). Whoever is assigned the
 * partition next calls InitProducerId for that id BEFORE it reads the committed offset; the broker
 * bumps the producer epoch (any older producer with that id — a zombie still processing the
 * partition — now fails with PRODUCER_FENCED / INVALID_PRODUCER_EPOCH and its transaction is
 * aborted) and completes any transaction left open, so the offset read afterwards is final.
 *
 * A producer is (re)initialised ONLY on a fresh assignment (a GROUP_JOIN of the consumer group),
 * never lazily after an error: a member that does not yet know it was evicted must not fence the
 * partition's new owner. So a failed transaction (fenced, or any other error: kafkajs has no
 * KIP-360 epoch bump, so a producer whose send failed may hold stale sequence numbers) drops that
 * partition's producer, aborts when it still can, and makes the subscription leave and rejoin the
 * group; the batch is redelivered from the committed offset to whoever owns the partition then.
 *
 * Producers: `idempotent: true`, `maxInFlightRequests: 1`, `acks: -1`; output partitions are chosen
 * with `partitionForKey` (murmur2, Kafka's default partitioner) so keys land where the rest of
 * StreamWave expects; null keys go round-robin. Built on the Kafka EventLog adapter's consumer
 * (pause/seek on assignment, stale-batch dropping, redelivery with backoff): see
 * kafka-event-log.adapter.ts. After a batch's transaction the adapter also commits the same
 * offset non-transactionally (generation-fenced, same value): redundant, harmless.
 */
import { pino } from 'pino';
import type { Producer } from 'kafkajs';
import type {
  ConsumerHandle, LogRecord, OffsetMap, ProduceRecord, RecordBatch, TopicPartition,
} from '../event-log.port.ts';
import { tpKey } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';
import { createKafkaEventLog } from './kafka-event-log.adapter.ts';
import { toKafkaMessage, type PartitionedMessage } from './kafka-producer.ts';
import type { KafkaEventLog, KafkaEventLogOptions } from './kafka-event-log.adapter.ts';

/** An output record: a `ProduceRecord` plus its topic (port name, without namespace). */
export interface OutputRecord extends ProduceRecord {
  topic: string;
}

export type TransactionalProcessorErrorCode =
  /** Another producer initialised this partition's transactional.id: the partition moved (or we are a zombie). */
  | 'PRODUCER_FENCED'
  /** The transaction failed for another reason; it was aborted (or will be by the next owner / the timeout). */
  | 'TRANSACTION_FAILED'
  /** The partition has no usable producer (dropped after a failure; a rejoin is pending). */
  | 'PARTITION_NOT_OWNED';

/** Typed error of this module; `cause` holds the kafkajs error. */
export class TransactionalProcessorError extends Error {
  constructor(readonly code: TransactionalProcessorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransactionalProcessorError';
  }
}

/** Kafka error names meaning "this producer's epoch is no longer current" (KIP-98 fencing). */
const FENCING = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

/** True when `e` (or its cause chain) is a KIP-98 fencing error from the broker. */
export function isFencingError(e: unknown): boolean {
  for (let x = e as { type?: unknown; cause?: unknown; code?: unknown; originalError?: unknown } | undefined, i = 0; x && i < 5; i++) {
    if (typeof x.type === 'string' && FENCING.has(x.type)) return true;
    if (x.code === 'PRODUCER_FENCED') return true;
    x = (x.cause ?? x.originalError) as typeof x;
  }
  return false;
}

/** One input partition's transaction scope, handed to `eachBatch`. */
export interface PartitionTransaction {
  /** Input topic and partition (port names). */
  readonly topic: string;
  readonly partition: number;
  /**
   * In ONE Kafka transaction: appends `outputs` (may be empty) and commits the consumer group's
   * offset of the input partition to `nextOffset` (the next record to read). Serialised per
   * partition. After it resolves, records below `nextOffset` are never delivered again to this
   * subscription (nor, through the committed offset, to any later owner).
   * @throws TransactionalProcessorError PRODUCER_FENCED | TRANSACTION_FAILED | PARTITION_NOT_OWNED
   *   (nothing of the transaction is visible to READ_COMMITTED readers; the subscription rejoins
   *   the group and the batch is redelivered).
   * @throws EventLogError UNKNOWN_TOPIC / INVALID_PARTITION for a bad output record (before any write).
   */
  commit(outputs: OutputRecord[], nextOffset: number): Promise<void>;
}

/** A subscription whose batches get a {@link PartitionTransaction} for their input partition. */
export interface TransactionalSubscription {
  /** Consumer group id (port name; the namespace is added). */
  groupId: string;
  topics: string[];
  /** Where to start without a committed offset: earliest (true, default) or latest. */
  fromBeginning?: boolean;
  /** Called after the assigned partitions' producers are initialised (fenced); may return seek offsets. */
  onAssigned?(partitions: TopicPartition[]): Promise<OffsetMap | void>;
  /**
   * Handles a batch of one input partition. Records already committed through `tx` in this
   * assignment are removed from redelivered batches. Throwing redelivers the (rest of the) batch.
   */
  eachBatch(batch: RecordBatch, tx: PartitionTransaction): Promise<void>;
  maxBatchSize?: number;
  partitionsConsumedConcurrently?: number;
}

export interface TransactionalSubscribeOptions {
  logger?: pino.Logger;
  /** Broker-side transaction timeout, ms (kafkajs default 60 000): how long a crashed owner's open transaction blocks READ_COMMITTED readers of its outputs if nobody takes over the partition. */
  transactionTimeoutMs?: number;
  /** Bound on waiting for an in-flight transaction of a revoked partition before its producer is closed, ms (default 30 000). */
  revokeWaitMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Joins consumer group `sub.groupId` on `log` (Kafka only) with one transactional producer per
 * assigned input partition (see the file comment). The returned handle follows the subscription
 * across the internal rejoins that follow a failed transaction.
 * @throws whatever `log.subscribe` throws (EventLogError UNKNOWN_TOPIC for a missing input topic).
 */
export async function subscribeTransactional(
  log: KafkaEventLog,
  sub: TransactionalSubscription,
  opts: TransactionalSubscribeOptions = {},
): Promise<ConsumerHandle> {
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ groupId: sub.groupId, eos: 'per-input-partition' });
  const { kafka } = log;
  const fullGroup = kafka.groupName(sub.groupId);
  const revokeWaitMs = opts.revokeWaitMs ?? 30_000;

  interface Slot { producer: Producer; busy: Promise<void> }
  /** Usable producer per assigned input partition (`topic:partition`, port names). */
  const slots = new Map<string, Slot>();
  /** Next offset committed by our own transactions in the current assignment. */
  const committedNext = new Map<string, number>();
  const roundRobin = new Map<string, number>();
  let stopped = false;
  let restarting: Promise<void> | null = null;

  /** transactional.id of an input partition: stable, so the next owner fences the previous one. */
  const transactionalIdOf = (topic: string, partition: number) => `${fullGroup}.${kafka.topicName(topic)}.${partition}`;

  async function openProducer(topic: string, partition: number): Promise<Producer> {
    const transactionalId = transactionalIdOf(topic, partition);
    const producer = kafka.client.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionTimeout: opts.transactionTimeoutMs,
      // The broker finishes a committed transaction asynchronously (markers), so the next
      // transaction's AddPartitionsToTxn often gets CONCURRENT_TRANSACTIONS for a few ms; kafkajs'
      // default first backoff (300 ms) would make that the cost of every batch. Java retries after
      // ~20 ms. Retries stay unbounded (kafkajs' idempotent default); a stuck transaction ends when
      // the partition's next owner fences this producer.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20, maxRetryTime: 1_000 },
    });
    await producer.connect();
    try {
      // kafkajs sends InitProducerId lazily in the first transaction(); force it NOW, before the
      // adapter reads the committed offset: it fences the previous owner and waits until that
      // owner's open transaction is completed (CONCURRENT_TRANSACTIONS is retried by kafkajs).
      const t = await producer.transaction();
      await t.abort(); // nothing was added: no EndTxn is sent
    } catch (e) {
      await producer.disconnect().catch(() => {});
      throw e;
    }
    logger.debug({ transactionalId }, 'transactional producer initialised');
    return producer;
  }

  const closeProducer = (key: string, producer: Producer) =>
    producer.disconnect().catch((e: unknown) => logger.warn({ err: e, partition: key }, 'transactional producer disconnect failed'));

  /** Drops a revoked partition's producer after its in-flight transaction (bounded). */
  async function dropSlot(key: string): Promise<void> {
    const slot = slots.get(key);
    if (!slot) return;
    slots.delete(key);
    committedNext.delete(key);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([slot.busy, new Promise<void>((r) => { timer = setTimeout(r, revokeWaitMs); })]).finally(() => clearTimeout(timer));
    await closeProducer(key, slot.producer);
  }

  const onAssigned = async (parts: TopicPartition[]): Promise<OffsetMap | void> => {
    const keep = new Set(parts.map((p) => tpKey(p.topic, p.partition)));
    await Promise.all([...slots.keys()].filter((k) => !keep.has(k)).map(dropSlot));
    // The adapter seeks every assigned partition to its committed offset after this returns.
    committedNext.clear();
    const opened = await Promise.allSettled(parts.filter((p) => !slots.has(tpKey(p.topic, p.partition))).map(async (p) => {
      const producer = await openProducer(p.topic, p.partition);
      if (stopped) { await closeProducer(tpKey(p.topic, p.partition), producer); return; }
      slots.set(tpKey(p.topic, p.partition), { producer, busy: Promise.resolve() });
    }));
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // The adapter retries onAssigned with backoff; partitions already opened are kept.
    if (failed) throw failed.reason;
    logger.info({ partitions: parts.length }, 'input partitions assigned; transactional producers ready');
    return sub.onAssigned?.(parts);
  };

  async function toTopicMessages(outputs: OutputRecord[]) {
    const byTopic = new Map<string, PartitionedMessage[]>();
    for (const r of outputs) {
      const full = kafka.topicName(r.topic);
      const message = toKafkaMessage(r, { name: r.topic, full, partitions: await kafka.partitionCount(r.topic) }, roundRobin);
      byTopic.set(full, [...(byTopic.get(full) ?? []), message]);
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  function commitIn(key: string, slot: Slot, input: TopicPartition, outputs: OutputRecord[], nextOffset: number): Promise<void> {
    const run = (async () => {
      await slot.busy;
      if (slots.get(key) !== slot) throw new TransactionalProcessorError('PARTITION_NOT_OWNED', `${key}: partition revoked or its producer dropped`);
      const topicMessages = await toTopicMessages(outputs);
      const txn = await slot.producer.transaction();
      try {
        if (topicMessages.length > 0) await txn.sendBatch({ acks: -1, topicMessages });
        await txn.sendOffsets({
          consumerGroupId: fullGroup,
          topics: [{ topic: kafka.topicName(input.topic), partitions: [{ partition: input.partition, offset: String(nextOffset) }] }],
        });
        await txn.commit();
      } catch (e) {
        const fenced = isFencingError(e);
        if (!fenced && txn.isActive()) await txn.abort().catch((ae: unknown) => logger.warn({ err: ae, partition: key }, 'abort failed; the next owner or the transaction timeout aborts it'));
        // Unusable from here (fenced, or sequence numbers possibly out of step): drop it, and
        // rejoin the group so the partition's next owner (maybe us) initialises a fresh epoch.
        if (slots.get(key) === slot) slots.delete(key);
        committedNext.delete(key);
        void closeProducer(key, slot.producer);
        logger.warn({ err: e, partition: key, fenced }, 'transaction failed; rejoining the consumer group');
        requestRejoin();
        throw new TransactionalProcessorError(fenced ? 'PRODUCER_FENCED' : 'TRANSACTION_FAILED',
          `${key}: transaction ${fenced ? 'fenced by a newer producer of the same transactional.id' : 'failed'}: ${(e as Error).message}`, { cause: e });
      }
      if (slots.get(key) === slot) committedNext.set(key, nextOffset);
    })();
    slot.busy = run.then(() => {}, () => {});
    return run;
  }

  const subscribeOnce = () => log.subscribe({
    groupId: sub.groupId,
    topics: sub.topics,
    fromBeginning: sub.fromBeginning,
    maxBatchSize: sub.maxBatchSize,
    partitionsConsumedConcurrently: sub.partitionsConsumedConcurrently,
    onAssigned,
    async eachBatch(batch) {
      const key = tpKey(batch.topic, batch.partition);
      const done = committedNext.get(key);
      const records = done === undefined ? batch.records : batch.records.filter((r) => r.offset >= done);
      if (records.length === 0) return;
      const slot = slots.get(key);
      if (!slot) throw new TransactionalProcessorError('PARTITION_NOT_OWNED', `${key}: no transactional producer (waiting for the rejoin)`);
      const input = { topic: batch.topic, partition: batch.partition };
      await sub.eachBatch({ ...batch, records }, {
        ...input,
        commit: (outputs, nextOffset) => commitIn(key, slot, input, outputs, nextOffset),
      });
    },
  });

  let current: ConsumerHandle = await subscribeOnce();

  /** Leaves and rejoins the group (a fresh assignment re-initialises producers). Not awaited by batches. */
  function requestRejoin(): void {
    if (stopped || restarting) return;
    restarting = (async () => {
      await current.stop();
      await Promise.all([...slots.keys()].map(dropSlot));
      for (let attempt = 0; !stopped; attempt++) {
        try {
          current = await subscribeOnce();
          return;
        } catch (e) {
          logger.error({ err: e, attempt }, 'rejoining the consumer group failed; retrying');
          await sleep(Math.min(200 * 2 ** attempt, 5_000));
        }
      }
    })().finally(() => { restarting = null; });
  }

  /** Runs `f` on the current consumer, again after a rejoin that stopped it meanwhile. */
  async function onCurrent<T>(f: (h: ConsumerHandle) => Promise<T>): Promise<T> {
    for (;;) {
      if (restarting) await restarting;
      const h = current;
      try {
        return await f(h);
      } catch (e) {
        if (stopped || (h === current && !restarting)) throw e;
      }
    }
  }

  return {
    caughtUp: () => onCurrent((h) => h.caughtUp()),
    lag: () => onCurrent((h) => h.lag()),
    async stop() {
      if (stopped) return;
      stopped = true;
      await restarting?.catch(() => {});
      await current.stop();
      await Promise.all([...slots.keys()].map(dropSlot));
    },
  };
}

/** Options of {@link runTransactionalProcessor}. Timings in milliseconds. */
export interface TransactionalProcessorOptions {
  /** Bootstrap servers, `host:port`. */
  brokers: string[];
  clientId: string;
  /** Consumer group id (port name); also the prefix of the per-partition transactional.ids. */
  groupId: string;
  /** Input topics (must exist). */
  topics: string[];
  /**
   * Maps one input record to its output records (output topics must exist). Must be a pure
   * function of the record for the exactly-once figure to mean anything: it runs again when a
   * batch is redelivered. Throwing redelivers the batch (with the adapter's backoff).
   */
  handle(record: LogRecord): Promise<OutputRecord[]>;
  logger?: pino.Logger;
  /** Topic / group prefix, as in the Kafka EventLog adapter. */
  namespace?: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  maxWaitTimeMs?: number;
  transactionTimeoutMs?: number;
  /** Records per transaction (default 500). */
  maxBatchSize?: number;
  fromBeginning?: boolean;
  /** Passed to the underlying Kafka EventLog (TLS, SASL, …). */
  kafka?: Pick<KafkaEventLogOptions, 'ssl' | 'sasl' | 'redeliveryDelayMs'>;
}

export interface TransactionalProcessorHandle {
  /** Consumer group id (port name). */
  readonly groupId: string;
  /** Resolves once every assigned input partition is processed up to the end offsets at call time. */
  caughtUp(): Promise<void>;
  lag(): Promise<Map<string, number>>;
  /** Leaves the group, closes the producers and the client; an open transaction is aborted by the next owner. */
  stop(): Promise<void>;
}

/**
 * Runs an exactly-once Kafka → Kafka processor: every batch of an input partition becomes one
 * transaction holding `handle`'s outputs for its records and the partition's next offset.
 * See the file comment for the guarantee and the fencing.
 * @throws the kafkajs connection error when no broker is reachable; EventLogError UNKNOWN_TOPIC
 *   when an input topic is missing.
 */
export async function runTransactionalProcessor(opts: TransactionalProcessorOptions): Promise<TransactionalProcessorHandle> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const log = await createKafkaEventLog({
    brokers: opts.brokers,
    clientId: opts.clientId,
    namespace: opts.namespace,
    logger,
    sessionTimeoutMs: opts.sessionTimeoutMs,
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    rebalanceTimeoutMs: opts.rebalanceTimeoutMs,
    maxWaitTimeMs: opts.maxWaitTimeMs,
    ...opts.kafka,
  });
  let consumer: ConsumerHandle;
  try {
    consumer = await subscribeTransactional(log, {
      groupId: opts.groupId,
      topics: opts.topics,
      fromBeginning: opts.fromBeginning,
      maxBatchSize: opts.maxBatchSize,
      async eachBatch(batch, tx) {
        const outputs: OutputRecord[] = [];
        for (const record of batch.records) outputs.push(...await opts.handle(record));
        await tx.commit(outputs, batch.records[batch.records.length - 1].offset + 1);
      },
    }, { logger, transactionTimeoutMs: opts.transactionTimeoutMs });
  } catch (e) {
    await log.close();
    throw e;
  }
  let stopping: Promise<void> | null = null;
  return {
    groupId: opts.groupId,
    caughtUp: () => consumer.caughtUp(),
    lag: () => consumer.lag(),
    stop() {
      stopping ??= (async () => {
        await consumer.stop();
        await log.close();
      })();
      return stopping;
    },
  };
}
