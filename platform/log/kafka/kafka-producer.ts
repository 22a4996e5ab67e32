/**
 * Writing to Kafka: `append` through the adapter's idempotent producer, and the one mapping of a
 * port record to a kafkajs message with its partition, shared with the transactional producers
 * of kafka-transactions.ts.
 *
 * - Producer: idempotent (`idempotent: true`, KIP-98 producer id + per-partition sequence numbers),
 *   `acks: -1` (all in-sync replicas), `maxInFlightRequests: 1`, so `append` resolves only once the
 *   records are on every in-sync replica, retries cannot duplicate or reorder them, and records of
 *   one call to one partition keep their order.
 * - Partitions: the adapter picks every record's partition itself (explicit partition, checked;
 *   else murmur2 `partitionForKey` for keys, i.e. the Java client's default partitioner; else
 *   round-robin per topic for null keys), so `RecordMetadata` maps back to the input exactly.
 * - Lost sequence state: kafkajs rolls back the sequence numbers of *every* partition of a produce
 *   request when any one partition fails, so after a partial failure (one partition written, one
 *   refused, e.g. NOT_LEADER_OR_FOLLOWER during a leader election or a broker restart) the broker
 *   refuses every later batch of that producer with OUT_OF_ORDER_SEQUENCE_NUMBER, for ever. The
 *   Java client answers this by bumping the producer epoch (KIP-360); kafkajs cannot, so the append
 *   that met it fails (IO_FAILED, not acknowledged: its records may or may not be on the log) and the
 *   adapter replaces the producer with a fresh one (new producer id, sequences from 0) for the next.
 * - Sequence numbers are never handed out twice: kafkajs also rolled back the sequences of a
 *   produce request whose connection broke (a broker crash, a timeout), although the broker may
 *   have written its batches; the next batch of the same size on that partition then reused them,
 *   and the broker took it for a duplicate of the written one: acknowledged, never written (an
 *   acknowledged record lost, seen in the broker-crash failure proof). patches/kafkajs+2.2.4.patch
 *   keeps the sequences of a send for its retries instead (the broker deduplicates what it has);
 *   a send that fails for good leaves a gap, which the broker answers with
 *   OUT_OF_ORDER_SEQUENCE_NUMBER, and the adapter replaces the producer as above.
 */
import { Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import type { ProduceRecord, RecordMetadata } from '../event-log.port.ts';
import { partitionForKey } from '../partitioner.ts';
import { EventLogError } from '../event-log.errors.ts';
import { ensureOpen, type KafkaContext, type KafkaJsError } from './kafka-client.ts';
import { partitionCount } from './kafka-admin.ts';

/** The adapter's producer for `append` (not connected). */
export function createIdempotentProducer(client: Kafka): Producer {
  return client.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Only consulted when a record has no partition, which the adapter never sends; kept so a
    // record routed by kafkajs would still land where `partitionForKey` (murmur2) says.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

/** A kafkajs message with its partition always set. */
export interface PartitionedMessage {
  key: string | null;
  value: Buffer | null;
  partition: number;
  headers?: Record<string, string>;
  timestamp?: string;
}

/** Where a record goes: its topic's port name, broker-side name and partition count. */
export interface TargetTopic {
  name: string;
  full: string;
  partitions: number;
}

/**
 * The kafkajs message for `record` on `target`, with its partition chosen: the explicit
 * `record.partition`, else `partitionForKey` (murmur2) of the key, else the next of
 * `roundRobin[target.full]` modulo the partition count.
 * @throws EventLogError INVALID_PARTITION when an explicit partition is outside `[0, partitions)`
 */
export function toKafkaMessage(record: ProduceRecord, target: TargetTopic, roundRobin: Map<string, number>): PartitionedMessage {
  const n = target.partitions;
  let partition: number;
  if (record.partition !== undefined) {
    if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= n) {
      throw new EventLogError('INVALID_PARTITION', `partition ${record.partition} outside [0, ${n}) of ${target.name}`);
    }
    partition = record.partition;
  } else if (record.key !== null) {
    partition = partitionForKey(target.full, record.key, n);
  } else {
    const c = roundRobin.get(target.full) ?? 0;
    roundRobin.set(target.full, c + 1);
    partition = c % n;
  }
  return {
    key: record.key,
    value: record.value,
    partition,
    headers: record.headers ? { ...record.headers } : undefined,
    timestamp: record.timestamp !== undefined ? String(record.timestamp) : undefined,
  };
}

/**
 * `EventLog.append`: one `send` with acks=all, bounded by `deliveryTimeoutMs`.
 * @throws EventLogError UNKNOWN_TOPIC, INVALID_TOPIC, INVALID_PARTITION (before anything is sent),
 *   INVALID_RECORD (broker-side validation), RECORD_TOO_LARGE, IO_FAILED (timeout or any other failure)
 */
export async function append(ctx: KafkaContext, topic: string, records: ProduceRecord[]): Promise<RecordMetadata[]> {
  ensureOpen(ctx);
  const target: TargetTopic = { name: topic, full: ctx.ns.topic(topic), partitions: await partitionCount(ctx, topic) };
  if (records.length === 0) return [];
  const messages = records.map((r) => toKafkaMessage(r, target, ctx.roundRobin));
  if (ctx.rotating) await ctx.rotating;
  const producer = ctx.producer;
  const send = producer.send({ topic: target.full, acks: -1, messages });
  const { deliveryTimeoutMs } = ctx.settings;
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
    if (producerStateLost(ke)) rotateProducer(ctx, producer, ke);
    throw new EventLogError('IO_FAILED', `append to ${topic} failed: ${ke.message}`, { cause: e });
  }).finally(() => clearTimeout(timer));
  return positionsOf(topic, messages, meta);
}

/**
 * Broker errors after which an idempotent producer's sequence state is unusable (KIP-360).
 */
const PRODUCER_STATE_LOST = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

/** Whether `e`, or an error it wraps (kafkajs's retrier wraps in `originalError` or `cause`), says the sequence state is lost. */
function producerStateLost(e: KafkaJsError | undefined, depth = 0): boolean {
  if (!e || depth > 4) return false;
  if (PRODUCER_STATE_LOST.has(e.type ?? '')) return true;
  return producerStateLost(e.originalError, depth + 1) || producerStateLost(e.cause as KafkaJsError | undefined, depth + 1);
}

/**
 * Replaces `failed` (if it is still the adapter's producer) with a fresh idempotent producer: a new
 * producer id, so sequences start again at 0 on every partition. Appends wait for the swap
 * (`ctx.rotating`); appends already in flight on the old producer finish or fail on their own, and it
 * is disconnected once they have had their delivery timeout. A fresh producer that cannot connect
 * is dropped: the old one stays, and the next append that meets the error tries again.
 */
export function rotateProducer(ctx: KafkaContext, failed: Producer, cause: KafkaJsError): void {
  if (ctx.producer !== failed || ctx.rotating || ctx.closed) return;
  ctx.logger.warn({ err: cause.message }, 'kafka producer sequence state lost: replacing the idempotent producer');
  ctx.rotating = (async () => {
    const fresh = createIdempotentProducer(ctx.client);
    try {
      await fresh.connect();
      ctx.producer = fresh;
      ctx.retired.add(failed);
      setTimeout(() => { ctx.retired.delete(failed); void failed.disconnect().catch(() => {}); }, ctx.settings.deliveryTimeoutMs).unref();
    } catch (e) {
      ctx.logger.warn({ err: (e as Error).message }, 'kafka producer replacement could not connect; keeping the old one');
      await fresh.disconnect().catch(() => {});
    } finally {
      ctx.rotating = undefined;
    }
  })();
}

/**
 * Log positions of `messages` sent to one topic in one request, in input order: kafkajs groups
 * messages per partition in input order, so the k-th message of partition p gets baseOffset(p) + k.
 * `topic` is the port name put in the positions.
 */
export function positionsOf(topic: string, messages: readonly { partition: number }[], meta: readonly { partition: number; baseOffset?: string | number }[]): RecordMetadata[] {
  const base = new Map<number, number>();
  for (const m of meta) base.set(m.partition, Number(m.baseOffset));
  const next = new Map<number, number>();
  return messages.map(({ partition: p }) => {
    const k = next.get(p) ?? 0;
    next.set(p, k + 1);
    return { topic, partition: p, offset: (base.get(p) ?? 0) + k };
  });
}
