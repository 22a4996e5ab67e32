/**
 * Writing a copy of a Kafka partition at the source's offsets. A topic written in transactions
 * has gaps: every commit or abort marker (a control record, KIP-98) takes an offset, and records of
 * aborted transactions take offsets READ_COMMITTED readers never see. Offsets are what consumer
 * groups and read-model checkpoints store, so a copy that closes the gaps would make every stored
 * position point at another record. This writer reproduces them instead, on an empty partition:
 *
 * - a run of visible records followed by a gap of g offsets (g ≥ 1) is written in a transaction
 *   when g is odd (its commit marker takes the first offset of the gap), and without one when g is
 *   even; the rest of the gap (g − 1 or g offsets, always even or ≥ 2) is filled by one aborted
 *   transaction of filler records (n − 1 records + its abort marker = n offsets), which no
 *   READ_COMMITTED reader sees;
 * - a gap before the first record is one aborted transaction; a run at the end (g = 0) is written
 *   without a transaction.
 * A gap of exactly 1 before any record cannot occur in Kafka (a marker follows records of its own
 * transaction) and is refused. Markers are written by the coordinator after EndTxn answers, so each
 * transaction waits until the partition's end offset shows its marker before the next write.
 * Nothing else may write to the partition meanwhile (the personal-data migration runs offline).
 */
import { randomUUID } from 'node:crypto';
import type { Producer, Transaction } from 'kafkajs';
import type { ProduceRecord } from '../event-log.port.ts';
import type { KafkaEventLog } from './kafka-event-log.adapter.ts';

/** A record to write at `offset` (its offset in the source partition). */
export type OffsetRecord = ProduceRecord & { offset: number };

/** Messages per produce request. */
const CHUNK = 500;

/** How long a transaction's marker may take to appear, ms. */
const MARKER_TIMEOUT_MS = 30_000;

/** Writes one partition's copy at the source's offsets (see the file comment). */
export interface OffsetPreservingWriter {
  /** Writes `records` (offset order, continuing the previous call's) each at its own offset. @throws Error when an offset cannot be kept. */
  write(records: readonly OffsetRecord[]): Promise<void>;
  /** The source partition ends at `end` (its high watermark): writes what is pending and fills the gap before `end`. */
  finish(end: number): Promise<void>;
  /** Disconnects the writer's producers (also after a failure). */
  close(): Promise<void>;
}

/**
 * A writer for partition `partition` of `topic` (port name) on `log`, which must be empty.
 * @throws Error when the partition is not empty.
 */
export async function openOffsetPreservingWriter(log: KafkaEventLog, topic: string, partition: number): Promise<OffsetPreservingWriter> {
  const start = (await log.endOffsets(topic))[partition];
  if (start !== 0) throw new Error(`${topic}/${partition} must be empty to receive a copy at the source's offsets; it ends at ${start}`);
  const brokerTopic = log.kafka.topicName(topic);
  const plain: Producer = log.kafka.client.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const tx: Producer = log.kafka.client.producer({
    idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, transactionalId: `streamwave.copy.${brokerTopic}.${partition}.${randomUUID()}`,
  });
  await plain.connect();
  await tx.connect();
  let at = 0;
  let run: OffsetRecord[] = [];

  const messages = (records: readonly ProduceRecord[]) => records.map((r) => ({
    key: r.key, value: r.value, headers: r.headers, partition, ...(r.timestamp !== undefined && { timestamp: String(r.timestamp) }),
  }));
  async function send(via: Producer | Transaction, records: readonly ProduceRecord[], expectOffset: number | null): Promise<void> {
    for (let i = 0; i < records.length; i += CHUNK) {
      const meta = await via.send({ topic: brokerTopic, acks: -1, messages: messages(records.slice(i, i + CHUNK)) });
      const base = Number(meta.find((m) => m.partition === partition)?.baseOffset);
      if (expectOffset !== null && base !== expectOffset + i) throw new Error(`${topic}/${partition}: a record meant for offset ${expectOffset + i} landed at ${base}; another writer?`);
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
  /** Fills `n` offsets (≥ 2) with one aborted transaction of n − 1 filler records. */
  async function fillAborted(n: number): Promise<void> {
    if (n < 2) throw new Error(`${topic}/${partition}: a gap of ${n} offset at ${at} cannot be reproduced (it needs a marker of a transaction with records before it)`);
    const t = await tx.transaction();
    try {
      await send(t, Array.from({ length: n - 1 }, () => ({ key: null, value: Buffer.alloc(0) })), at);
    } finally {
      await t.abort();
    }
    at += n;
    await markerAt(at);
  }
  async function flushRun(gap: number): Promise<void> {
    const records = run;
    run = [];
    if (gap % 2 === 1) {
      const t = await tx.transaction();
      try {
        await send(t, records, at);
      } catch (err) {
        await t.abort();
        throw err;
      }
      await t.commit();
      at += records.length + 1;
      await markerAt(at);
      if (gap >= 3) await fillAborted(gap - 1);
    } else {
      await send(plain, records, at);
      at += records.length;
      if (gap > 0) await fillAborted(gap);
    }
  }
  return {
    async write(records) {
      for (const r of records) {
        const last = run.length ? run[run.length - 1].offset : at - 1;
        if (r.offset <= last) throw new Error(`${topic}/${partition}: offset ${r.offset} after ${last}`);
        if (run.length && r.offset !== last + 1) await flushRun(r.offset - last - 1);
        else if (!run.length && r.offset > at) await fillAborted(r.offset - at);
        run.push(r);
      }
    },
    async finish(end) {
      const last = run.length ? run[run.length - 1].offset : at - 1;
      if (end <= last) throw new Error(`${topic}/${partition}: end ${end} before the last record ${last}`);
      if (run.length) await flushRun(end - last - 1);
      else if (end > at) await fillAborted(end - at);
    },
    async close() {
      await Promise.allSettled([plain.disconnect(), tx.disconnect()]);
    },
  };
}
