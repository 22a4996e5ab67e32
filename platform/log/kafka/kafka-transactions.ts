/**
 * The Kafka adapter's exactly-once capability (`TransactionalEventLog.subscribeTransactional`,
 * event-log.port.ts, where the guarantee is stated): one transactional producer per input
 * partition; each batch's outputs and the input partition's next offset (`sendOffsets`, the
 * TxnOffsetCommit of KIP-98) are committed in ONE Kafka transaction.
 *
 * Fencing without KIP-447: kafkajs 2.2.x implements KIP-98 transactions but not KIP-447 (the
 * producer cannot send the consumer group metadata — generation, member id — with
 * TxnOffsetCommit, so the group coordinator cannot reject the offset commit of a member that was
 * evicted in a rebalance). The sound scheme left is Kafka Streams' original "EOS alpha": a
 * transactional.id stable per INPUT partition, `<groupId>.<topic>.<partition>` (broker-side
 * names; {@link transactionalIdOf}). Whoever is assigned the partition next calls InitProducerId
 * for that id BEFORE the adapter reads the committed offset; the broker bumps the producer epoch
 * (any older producer with that id — a zombie still processing the partition — now fails with
 * PRODUCER_FENCED / INVALID_PRODUCER_EPOCH and its transaction is aborted) and completes any
 * transaction left open, so the offset read afterwards is final.
 *
 * A producer is (re)initialised ONLY on a fresh assignment (a GROUP_JOIN of the consumer group),
 * never lazily after an error: a member that does not yet know it was evicted must not fence the
 * partition's new owner. So a failed transaction (fenced, or any other error: kafkajs has no
 * KIP-360 epoch bump, so a producer whose send failed may hold stale sequence numbers) drops that
 * partition's producer, aborts when it still can, and makes the subscription leave and rejoin the
 * group; the batch is redelivered from the committed offset to whoever owns the partition then.
 *
 * Producers: `idempotent: true`, `maxInFlightRequests: 1`, `acks: -1`; output partitions are chosen
 * by `toKafkaMessage` (kafka-producer.ts), as for `append`. Built on the adapter's consumer
 * (kafka-consumer.ts: pause/seek on assignment, stale-batch dropping, redelivery with backoff).
 * After a batch's transaction the consumer skips its own commit of the offset the transaction
 * committed (`committedThrough`); it commits non-transactionally (generation-fenced, through the
 * batch) only past markers fetched at a batch's tail. A fetch of nothing but markers is left to
 * the next transaction (kafka-marker-commits.ts says why).
 */
import type { Producer, Transaction } from 'kafkajs';
import type { pino } from 'pino';
import type {
  ConsumerHandle, OffsetMap, OutputRecord, RecordMetadata, TopicPartition, TransactionalSubscription,
} from '../event-log.port.ts';
import { tpKey } from '../event-log.port.ts';
import { TransactionalProcessorError } from '../event-log.errors.ts';
import { MAX_BACKOFF_MS, type KafkaContext } from './kafka-client.ts';
import { sleep } from '../../shared/sleep.ts';
import { partitionCount } from './kafka-admin.ts';
import { subscribe } from './kafka-consumer.ts';
import { positionsOf, toKafkaMessage, type PartitionedMessage } from './kafka-producer.ts';
import { settledWithin } from '../../shared/settled-within.ts';

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

/** transactional.id of an input partition (broker-side names): stable, so the next owner fences the previous one. */
const transactionalIdOf = (fullGroup: string, fullTopic: string, partition: number): string => `${fullGroup}.${fullTopic}.${partition}`;

/** A usable producer of an assigned input partition; `busy` settles when its last transaction has. */
interface Slot { producer: Producer; busy: Promise<void> }

/** One transactional subscription. Keys are port `topic:partition` of input partitions. */
interface TransactionalRun {
  readonly ctx: KafkaContext;
  readonly sub: TransactionalSubscription;
  readonly fullGroup: string;
  readonly logger: pino.Logger;
  readonly slots: Map<string, Slot>;
  /** Next offset committed by our own transactions in the current assignment. */
  readonly committedNext: Map<string, number>;
  /**
   * Per input partition, the batch being processed: the next batch of the partition waits for it.
   * kafkajs re-fetches every partition when one partition's handler throws while others still run
   * (with `partitionsConsumedConcurrently`, kafkajs#946), so the same records can be handed over
   * again while their first batch is still deciding; waiting, then dropping what that batch
   * committed, keeps one decision per record.
   */
  readonly inFlight: Map<string, Promise<void>>;
  /** Round-robin counters of null-key outputs, per broker-side topic. */
  readonly roundRobin: Map<string, number>;
  /** The consumer of the current membership; replaced by every rejoin. */
  current: ConsumerHandle | undefined;
  restarting: Promise<void> | null;
  stopped: boolean;
}

/** Connects a transactional producer for an input partition and initialises it (fencing the previous owner). */
async function openProducer(r: TransactionalRun, topic: string, partition: number): Promise<Producer> {
  const transactionalId = transactionalIdOf(r.fullGroup, r.ctx.ns.topic(topic), partition);
  const producer = r.ctx.client.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    transactionTimeout: r.ctx.settings.transactionTimeoutMs,
    // The broker finishes a committed transaction asynchronously (markers), so the next
    // transaction's AddPartitionsToTxn often gets CONCURRENT_TRANSACTIONS for a few ms; kafkajs'
    // default first backoff (300 ms) would make that the cost of every batch. Java retries after
    // ~20 ms; the markers of a local broker take 2–10 ms, so 5 ms first (then doubling): the
    // commit's p99 in bench:commands went from ≤ 100 to ≤ 50 ms. Retries stay unbounded (kafkajs'
    // idempotent default); a stuck transaction ends when the partition's next owner fences this
    // producer.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 5, maxRetryTime: 1_000 },
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
  r.logger.debug({ transactionalId }, 'transactional producer initialised');
  return producer;
}

const closeProducer = (r: TransactionalRun, key: string, producer: Producer) =>
  producer.disconnect().catch((e: unknown) => r.logger.warn({ err: e, partition: key }, 'transactional producer disconnect failed'));

/** Drops a revoked partition's producer after its in-flight transaction (bounded by `revokeWaitMs`). */
async function dropSlot(r: TransactionalRun, key: string): Promise<void> {
  const slot = r.slots.get(key);
  if (!slot) return;
  r.slots.delete(key);
  r.committedNext.delete(key);
  await settledWithin(slot.busy, r.ctx.settings.revokeWaitMs);
  await closeProducer(r, key, slot.producer);
}

/** The consumer's `onAssigned`: drop revoked partitions' producers, initialise the new ones, then the caller's `onAssigned`. */
async function onAssigned(r: TransactionalRun, parts: TopicPartition[]): Promise<OffsetMap | void> {
  const keep = new Set(parts.map((p) => tpKey(p.topic, p.partition)));
  await Promise.all([...r.slots.keys()].filter((k) => !keep.has(k)).map((k) => dropSlot(r, k)));
  // The consumer seeks every assigned partition to its committed offset after this returns.
  r.committedNext.clear();
  const opened = await Promise.allSettled(parts.filter((p) => !r.slots.has(tpKey(p.topic, p.partition))).map(async (p) => {
    const producer = await openProducer(r, p.topic, p.partition);
    if (r.stopped) { await closeProducer(r, tpKey(p.topic, p.partition), producer); return; }
    r.slots.set(tpKey(p.topic, p.partition), { producer, busy: Promise.resolve() });
  }));
  const failed = opened.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  // The consumer retries onAssigned with backoff; partitions already opened are kept.
  if (failed) throw failed.reason;
  r.logger.info({ partitions: parts.length }, 'input partitions assigned; transactional producers ready');
  return r.sub.onAssigned?.(parts);
}

/** `outputs` as kafkajs topic messages (partitions chosen as by `append`), grouped by topic, with each output's place. */
async function toTopicMessages(r: TransactionalRun, outputs: OutputRecord[]) {
  const byTopic = new Map<string, { name: string; messages: PartitionedMessage[]; indexes: number[] }>();
  for (const [i, o] of outputs.entries()) {
    const full = r.ctx.ns.topic(o.topic);
    const message = toKafkaMessage(o, { name: o.topic, full, partitions: await partitionCount(r.ctx, o.topic) }, r.roundRobin);
    const group = byTopic.get(full) ?? { name: o.topic, messages: [], indexes: [] };
    group.messages.push(message);
    group.indexes.push(i);
    byTopic.set(full, group);
  }
  return [...byTopic].map(([topic, g]) => ({ topic, ...g }));
}

/** Sends `outputs` in the open transaction `txn`; their positions, in the order of `outputs`. */
async function sendInTransaction(r: TransactionalRun, txn: Transaction, outputs: OutputRecord[]): Promise<RecordMetadata[]> {
  const groups = await toTopicMessages(r, outputs);
  if (groups.length === 0) return [];
  const meta = await txn.sendBatch({ acks: -1, topicMessages: groups.map(({ topic, messages }) => ({ topic, messages })) });
  const positions: RecordMetadata[] = new Array(outputs.length);
  for (const g of groups) {
    const own = meta.filter((m) => m.topicName === g.topic);
    positionsOf(g.name, g.messages, own).forEach((pos, k) => { positions[g.indexes[k]] = pos; });
  }
  return positions;
}

/** `PartitionTransaction.commit` of input partition `key`, serialised on its slot. */
function commitIn(
  r: TransactionalRun, key: string, slot: Slot, input: TopicPartition, outputs: OutputRecord[], nextOffset: number,
  then?: (positions: RecordMetadata[]) => OutputRecord[] | Promise<OutputRecord[]>,
): Promise<RecordMetadata[]> {
  const run = (async () => {
    await slot.busy;
    if (r.slots.get(key) !== slot) throw new TransactionalProcessorError('PARTITION_NOT_OWNED', `${key}: partition revoked or its producer dropped`);
    // A bad output record is refused here, before the transaction begins.
    await toTopicMessages(r, outputs);
    const txn = await slot.producer.transaction();
    let positions: RecordMetadata[];
    try {
      positions = await sendInTransaction(r, txn, outputs);
      if (then) await sendInTransaction(r, txn, await then(positions));
      await txn.sendOffsets({
        consumerGroupId: r.fullGroup,
        topics: [{ topic: r.ctx.ns.topic(input.topic), partitions: [{ partition: input.partition, offset: String(nextOffset) }] }],
      });
      await txn.commit();
    } catch (e) {
      const fenced = isFencingError(e);
      if (!fenced && txn.isActive()) await txn.abort().catch((ae: unknown) => r.logger.warn({ err: ae, partition: key }, 'abort failed; the next owner or the transaction timeout aborts it'));
      // Unusable from here (fenced, or sequence numbers possibly out of step): drop it, and
      // rejoin the group so the partition's next owner (maybe us) initialises a fresh epoch.
      if (r.slots.get(key) === slot) r.slots.delete(key);
      r.committedNext.delete(key);
      void closeProducer(r, key, slot.producer);
      r.logger.warn({ err: e, partition: key, fenced }, 'transaction failed; rejoining the consumer group');
      requestRejoin(r);
      throw new TransactionalProcessorError(fenced ? 'PRODUCER_FENCED' : 'TRANSACTION_FAILED',
        `${key}: transaction ${fenced ? 'fenced by a newer producer of the same transactional.id' : 'failed'}: ${(e as Error).message}`, { cause: e });
    }
    if (r.slots.get(key) === slot) r.committedNext.set(key, nextOffset);
    return positions;
  })();
  slot.busy = run.then(() => {}, () => {});
  return run;
}

/** Joins the group once through the adapter's consumer. */
const subscribeOnce = (r: TransactionalRun): Promise<ConsumerHandle> => subscribe(r.ctx, {
  groupId: r.sub.groupId,
  topics: r.sub.topics,
  fromBeginning: r.sub.fromBeginning,
  maxBatchSize: r.sub.maxBatchSize,
  partitionsConsumedConcurrently: r.sub.partitionsConsumedConcurrently,
  onAssigned: (parts) => onAssigned(r, parts),
  committedThrough: (topic, partition) => r.committedNext.get(tpKey(topic, partition)),
  async eachBatch(batch) {
    const key = tpKey(batch.topic, batch.partition);
    const before = r.inFlight.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    r.inFlight.set(key, mine);
    try {
      await before;
      const done = r.committedNext.get(key);
      const records = done === undefined ? batch.records : batch.records.filter((x) => x.offset >= done);
      if (records.length === 0) return;
      const slot = r.slots.get(key);
      if (!slot) throw new TransactionalProcessorError('PARTITION_NOT_OWNED', `${key}: no transactional producer (waiting for the rejoin)`);
      const input = { topic: batch.topic, partition: batch.partition };
      await r.sub.eachBatch({ ...batch, records }, {
        ...input,
        commit: (outputs, nextOffset, then) => commitIn(r, key, slot, input, outputs, nextOffset, then),
      });
    } finally {
      release();
      if (r.inFlight.get(key) === mine) r.inFlight.delete(key);
    }
  },
});

/** Leaves and rejoins the group (a fresh assignment re-initialises producers). Not awaited by batches. */
function requestRejoin(r: TransactionalRun): void {
  if (r.stopped || r.restarting) return;
  r.restarting = (async () => {
    await r.current?.stop();
    await Promise.all([...r.slots.keys()].map((k) => dropSlot(r, k)));
    for (let attempt = 0; !r.stopped; attempt++) {
      try {
        r.current = await subscribeOnce(r);
        return;
      } catch (e) {
        r.logger.error({ err: e, attempt }, 'rejoining the consumer group failed; retrying');
        await sleep(Math.min(200 * 2 ** attempt, MAX_BACKOFF_MS));
      }
    }
  })().finally(() => { r.restarting = null; });
}

/** Runs `f` on the current consumer, again after a rejoin that stopped it meanwhile. */
async function onCurrent<T>(r: TransactionalRun, f: (h: ConsumerHandle) => Promise<T>): Promise<T> {
  for (;;) {
    if (r.restarting) await r.restarting;
    const h = r.current!;
    try {
      return await f(h);
    } catch (e) {
      if (r.stopped || (h === r.current && !r.restarting)) throw e;
    }
  }
}

/**
 * `TransactionalEventLog.subscribeTransactional` on the Kafka adapter (see the file comment and
 * event-log.port.ts). The handle is registered with the log, so `close()` stops it.
 * @throws as the adapter's `subscribe` (EventLogError UNKNOWN_TOPIC for a missing input topic).
 */
export async function subscribeTransactional(ctx: KafkaContext, sub: TransactionalSubscription): Promise<ConsumerHandle> {
  const r: TransactionalRun = {
    ctx,
    sub,
    fullGroup: ctx.ns.external(sub.groupId),
    logger: ctx.logger.child({ groupId: sub.groupId, eos: 'per-input-partition' }),
    slots: new Map(),
    committedNext: new Map(),
    inFlight: new Map(),
    roundRobin: new Map(),
    current: undefined,
    restarting: null,
    stopped: false,
  };
  r.current = await subscribeOnce(r);
  const handle: ConsumerHandle = {
    caughtUp: () => onCurrent(r, (h) => h.caughtUp()),
    lag: () => onCurrent(r, (h) => h.lag()),
    async stop() {
      if (r.stopped) return;
      r.stopped = true;
      ctx.handles.delete(handle);
      await r.restarting?.catch(() => {});
      await r.current?.stop();
      await Promise.all([...r.slots.keys()].map((k) => dropSlot(r, k)));
    },
  };
  ctx.handles.add(handle);
  return handle;
}
