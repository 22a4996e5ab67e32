/**
 * Writing a copy of a Kafka partition at the source's offsets. A topic written in transactions
 * has gaps: every commit or abort marker (a control record, KIP-98) takes an offset, and records of
 * aborted transactions take offsets READ_COMMITTED readers never see. Offsets are what consumer
 * groups and read-model checkpoints store, so a copy that closes the gaps would make every stored
 * position point at another record. This writer reproduces them instead, on an empty partition:
 *
 * - records are written without a transaction as they come, except the last one of a run (a run:
 *   records at consecutive offsets), which waits until the gap after it is known;
 * - a gap of g offsets (g ≥ 1) after a run: when g is odd, the run's last record is written in a
 *   transaction, whose commit marker takes the gap's first offset; the rest of the gap (g − 1 or
 *   g offsets, even, or ≥ 2) is filled by one aborted transaction of filler records (n − 1
 *   records + its abort marker = n offsets), which no READ_COMMITTED reader sees;
 * - a run at the end (g = 0) is written without a transaction;
 * - offsets before the source's log start (retention deleted them, e.g. the commands topic's 7
 *   days) are filled with records written without a transaction and then deleted (DeleteRecords),
 *   so the copy's log start is the source's; any other gap before the first record is an aborted
 *   transaction (a gap of exactly 1 there cannot occur in Kafka: a marker follows records of its
 *   own transaction).
 * Fillers carry the timestamp of the record after them, so lookups by timestamp
 * (`offsetsForTimestamp`) land where they did (markers carry the broker's time: a lookup can land
 * on a marker, one offset early). Markers are written by the coordinator after EndTxn answers, so
 * each transaction waits until the partition's end shows its marker before the next write.
 * Produce requests stay under MAX_REQUEST_BYTES (the broker's default message.max.bytes is 1 MiB
 * per batch). Nothing else may write to the partition meanwhile (the migration runs offline).
 */
import type { Producer, Transaction } from 'kafkajs';
import type { ProduceRecord } from '../event-log.port.ts';
import { internalCluster } from './kafka-client.ts';
import type { KafkaEventLog } from './kafka-event-log.adapter.ts';

/** A record to write at `offset` (its offset in the source partition). */
export type OffsetRecord = ProduceRecord & { offset: number };

/** Most messages per produce request. */
const MAX_REQUEST_MESSAGES = 500;
/** Most key + value + header bytes per produce request (the broker's default batch limit is 1 MiB). */
const MAX_REQUEST_BYTES = 512 * 1024;
/** How long a transaction's marker may take to appear, ms. */
const MARKER_TIMEOUT_MS = 30_000;

/** Writes one partition's copy at the source's offsets (see the file comment). */
export interface OffsetPreservingWriter {
  /** Writes `records` (offset order, continuing the previous call's) each at its own offset. @throws Error when an offset cannot be kept. */
  write(records: readonly OffsetRecord[]): Promise<void>;
  /** The source partition ends at `end` (its last stable offset): writes what is pending and fills the gap before `end`. */
  finish(end: number): Promise<void>;
  /** Disconnects the writer's producers (also after a failure). */
  close(): Promise<void>;
}

/**
 * The partitions of `topic` with a transaction still open (a producer that died mid-transaction:
 * the coordinator aborts it after its timeout). READ_COMMITTED readers stop before it, so a copy
 * made now would miss what follows it.
 */
export async function partitionsWithOpenTransactions(log: KafkaEventLog, topic: string): Promise<number[]> {
  const full = log.kafka.topicName(topic);
  const partitions = Array.from({ length: await log.kafka.partitionCount(topic) }, (_, p) => p);
  const starts = await log.beginningOffsets(topic);
  const cluster = internalCluster(log.kafka.client);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(full);
    await cluster.refreshMetadata();
    const open: number[] = [];
    for (const [nodeId, parts] of Object.entries(cluster.findLeaderForPartitions(full, partitions))) {
      const broker = await cluster.findBroker({ nodeId });
      const { responses } = await broker.fetch({
        maxWaitTime: 0, minBytes: 1, maxBytes: 1, isolationLevel: 0,
        topics: [{ topic: full, partitions: parts.map((partition) => ({ partition, fetchOffset: String(starts[partition] ?? 0), maxBytes: 1 })) }],
      });
      for (const r of responses) for (const p of r.partitions) {
        const lso = Number(p.lastStableOffset ?? -1);
        if (lso >= 0 && lso < Number(p.highWatermark)) open.push(p.partition);
      }
    }
    return open.sort((a, b) => a - b);
  } finally {
    await cluster.disconnect();
  }
}

/**
 * A writer for partition `partition` of `topic` (port name) on `log`, which must be empty, for a
 * source whose log starts at `sourceStart` (its beginning offset). The transactional id is
 * `streamwave.copy.<topic>.<partition>`: a rerun after a crash fences the crashed run's producer
 * and aborts its open transaction at once.
 * @throws Error when the partition is not empty.
 */
export async function openOffsetPreservingWriter(log: KafkaEventLog, topic: string, partition: number, sourceStart = 0): Promise<OffsetPreservingWriter> {
  const start = (await log.endOffsets(topic))[partition];
  if (start !== 0) throw new Error(`${topic}/${partition} must be empty to receive a copy at the source's offsets; it ends at ${start}`);
  const brokerTopic = log.kafka.topicName(topic);
  const plain: Producer = log.kafka.client.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const tx: Producer = log.kafka.client.producer({
    idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, transactionalId: `streamwave.copy.${brokerTopic}.${partition}`,
  });
  try {
    await plain.connect();
    await tx.connect();
  } catch (err) {
    await Promise.allSettled([plain.disconnect(), tx.disconnect()]);
    throw err;
  }
  /** The next offset the partition will give. */
  let at = 0;
  /** Records of the current run written without a transaction, not sent yet. */
  let queued: OffsetRecord[] = [];
  /** The current run's last record, held until the gap after it is known. */
  let last: OffsetRecord | undefined;

  const sizeOf = (r: ProduceRecord) => (r.key?.length ?? 0) + (r.value?.length ?? 0) + Object.entries(r.headers ?? {}).reduce((n, [k, v]) => n + k.length + v.length, 0) + 64;
  const message = (r: ProduceRecord) => ({
    key: r.key, value: r.value, headers: r.headers, partition, ...(r.timestamp !== undefined && { timestamp: String(r.timestamp) }),
  });
  /** Sends `records` through `via` in requests under the limits; they must land from offset `at`. */
  async function send(via: Producer | Transaction, records: readonly ProduceRecord[]): Promise<void> {
    for (let i = 0; i < records.length;) {
      let bytes = 0;
      let j = i;
      while (j < records.length && j - i < MAX_REQUEST_MESSAGES && (j === i || bytes + sizeOf(records[j]) <= MAX_REQUEST_BYTES)) bytes += sizeOf(records[j++]);
      const meta = await via.send({ topic: brokerTopic, acks: -1, messages: records.slice(i, j).map(message) });
      const base = Number(meta.find((m) => m.partition === partition)?.baseOffset);
      if (base !== at) throw new Error(`${topic}/${partition}: a record meant for offset ${at} landed at ${base}; another writer?`);
      at += j - i;
      i = j;
    }
  }
  async function markerAt(end: number): Promise<void> {
    const deadline = Date.now() + MARKER_TIMEOUT_MS;
    for (;;) {
      const now = (await log.endOffsets(topic))[partition];
      if (now === end) return;
      if (now > end) throw new Error(`${topic}/${partition} ends at ${now}, expected ${end}; another writer?`);
      if (Date.now() > deadline) throw new Error(`${topic}/${partition}: the transaction marker did not appear within ${MARKER_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const fillers = (n: number, timestamp: number | undefined) => Array.from({ length: n }, () => ({ key: null, value: Buffer.alloc(0), timestamp }));
  /** Fills `n` offsets (≥ 2) with one aborted transaction of n − 1 fillers. */
  async function fillAborted(n: number, timestamp: number | undefined): Promise<void> {
    if (n < 2) throw new Error(`${topic}/${partition}: a gap of ${n} offset at ${at} cannot be reproduced (it needs a marker of a transaction with records before it)`);
    const t = await tx.transaction();
    try {
      await send(t, fillers(n - 1, timestamp));
    } finally {
      await t.abort();
    }
    at += 1; // the abort marker
    await markerAt(at);
  }
  /** Offsets before the source's log start: fillers, then deleted, so the copy starts where the source does. */
  async function fillRetained(upTo: number, timestamp: number | undefined): Promise<void> {
    while (at < upTo) await send(plain, fillers(Math.min(upTo - at, 10 * MAX_REQUEST_MESSAGES), timestamp));
    const admin = log.kafka.client.admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics: [brokerTopic] }); // deleteTopicRecords needs it loaded
      await admin.deleteTopicRecords({ topic: brokerTopic, partitions: [{ partition, offset: String(upTo) }] });
    } finally {
      await admin.disconnect();
    }
  }
  /** Ends the current run: `gap` offsets follow its last record; `nextTimestamp` is the next record's. */
  async function endRun(gap: number, nextTimestamp: number | undefined): Promise<void> {
    const run = last!;
    last = undefined;
    await send(plain, queued);
    queued = [];
    if (gap % 2 === 1) {
      const t = await tx.transaction();
      try {
        await send(t, [run]);
      } catch (err) {
        await t.abort();
        throw err;
      }
      await t.commit();
      at += 1; // the commit marker
      await markerAt(at);
      if (gap >= 3) await fillAborted(gap - 1, nextTimestamp);
    } else {
      await send(plain, [run]);
      if (gap > 0) await fillAborted(gap, nextTimestamp);
    }
  }
  return {
    async write(records) {
      for (const r of records) {
        const prev = last?.offset ?? at - 1;
        if (r.offset <= prev) throw new Error(`${topic}/${partition}: offset ${r.offset} after ${prev}`);
        if (last && r.offset === prev + 1) {
          queued.push(last);
          if (queued.length >= MAX_REQUEST_MESSAGES) { await send(plain, queued); queued = []; }
        } else if (last) {
          await endRun(r.offset - prev - 1, r.timestamp);
        } else if (r.offset > at) {
          if (at < sourceStart) await fillRetained(Math.min(sourceStart, r.offset), r.timestamp);
          if (r.offset > at) await fillAborted(r.offset - at, r.timestamp);
        }
        last = r;
      }
    },
    async finish(end) {
      const prev = last?.offset ?? at - 1;
      if (end <= prev) throw new Error(`${topic}/${partition}: end ${end} before the last record ${prev}`);
      if (last) await endRun(end - prev - 1, undefined);
      else if (end > at) {
        if (at < sourceStart) await fillRetained(Math.min(sourceStart, end), undefined);
        if (end > at) await fillAborted(end - at, undefined);
      }
    },
    async close() {
      await Promise.allSettled([plain.disconnect(), tx.disconnect()]);
    },
  };
}
