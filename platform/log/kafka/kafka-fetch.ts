/**
 * Group-less reads of the Kafka EventLog (`read`), and the kafkajs message → `LogRecord`
 * conversion shared with the consumer (kafka-consumer.ts).
 *
 * `read` is a direct Fetch request to the partition leader (the analogue of the Java consumer's
 * `assign()` + `seek()`), no consumer group involved. kafkajs has no public API for it, so it uses
 * kafkajs' internal `Cluster` (kafka-client.ts). It is READ_COMMITTED: records of open
 * transactions are not returned yet, records of aborted ones never (kafkajs' aborted-transaction
 * filter is applied to the raw fetches too), control records (commit/abort markers) never.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Headers, LogRecord } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';
import { ensureOpen, filterAbortedMessages, type InternalBroker, type KafkaContext, type KafkaJsError } from './kafka-client.ts';
import { sleep } from '../../shared/sleep.ts';
import { partitionCount, topicOffsets } from './kafka-admin.ts';

const headersOf = (h: KafkaMessage['headers']): Headers => {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    // Kafka allows repeated header keys; the port has one value per key: the last one wins.
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    out[k] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
};

/** The port record of a kafkajs message of `topic` (port name) / `partition`. Keys are UTF-8. */
export const toRecord = (topic: string, partition: number, m: KafkaMessage): LogRecord => ({
  topic,
  partition,
  offset: Number(m.offset),
  key: m.key === null || m.key === undefined ? null : m.key.toString('utf8'),
  value: m.value ?? null,
  headers: headersOf(m.headers),
  timestamp: Number(m.timestamp),
});

/**
 * `EventLog.read`: up to `maxRecords` committed records of one partition from `fromOffset`
 * (inclusive). An offset below the log start continues from the start (as
 * `auto.offset.reset=earliest`); at or past the end returns what was read.
 * @throws EventLogError UNKNOWN_TOPIC, INVALID_TOPIC, INVALID_PARTITION (partition or offset),
 *   IO_FAILED (after 5 retries of retriable / leadership errors)
 */
export async function read(ctx: KafkaContext, topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
  ensureOpen(ctx);
  const { cluster } = ctx;
  const full = ctx.ns.topic(topic);
  const n = await partitionCount(ctx, topic);
  if (!Number.isInteger(partition) || partition < 0 || partition >= n) throw new EventLogError('INVALID_PARTITION', `partition ${partition} outside [0, ${n}) of ${topic}`);
  if (!Number.isInteger(fromOffset) || fromOffset < 0) throw new EventLogError('INVALID_PARTITION', `invalid offset ${fromOffset}`);
  const out: LogRecord[] = [];
  let offset = fromOffset;
  let maxBytes = 1 << 20;
  for (let attempt = 0; out.length < maxRecords; attempt++) {
    let resp: Awaited<ReturnType<InternalBroker['fetch']>>;
    try {
      await cluster.addTargetTopic(full);
      const leaders = cluster.findLeaderForPartitions(full, [partition]);
      const nodeId = Object.keys(leaders)[0];
      if (nodeId === undefined) throw Object.assign(new Error('no leader'), { type: 'LEADER_NOT_AVAILABLE' });
      const broker = await cluster.findBroker({ nodeId });
      resp = await broker.fetch({
        maxWaitTime: 0, minBytes: 1, maxBytes, isolationLevel: 1,
        topics: [{ topic: full, partitions: [{ partition, fetchOffset: String(offset), maxBytes }] }],
      });
    } catch (e) {
      const type = (e as KafkaJsError).type;
      if (type === 'OFFSET_OUT_OF_RANGE') {
        const { low, high } = (await topicOffsets(ctx, topic))[partition];
        // Below the log start (retention/compaction removed it): continue from the start, as
        // auto.offset.reset=earliest would; at or past the end: nothing to read.
        if (offset < low) { offset = low; continue; }
        if (offset >= high) return out;
      }
      if (attempt < 5 && ((e as KafkaJsError).retriable || type === 'LEADER_NOT_AVAILABLE' || type === 'NOT_LEADER_FOR_PARTITION' || type === 'UNKNOWN_TOPIC_OR_PARTITION')) {
        await cluster.refreshMetadata();
        await sleep(50 * (attempt + 1));
        continue;
      }
      throw new EventLogError('IO_FAILED', `read ${topic}/${partition}@${offset} failed: ${(e as Error).message}`, { cause: e });
    }
    const p = resp.responses.find((r) => r.topicName === full)?.partitions.find((x) => x.partition === partition);
    const raw = (p?.messages ?? []).filter((m) => Number(m.offset) >= offset);
    // READ_COMMITTED (isolationLevel 1): records of aborted transactions are dropped here, as
    // kafkajs' consumers do, and control records (commit/abort markers) are never records.
    const messages = filterAbortedMessages({ messages: raw, abortedTransactions: p?.abortedTransactions })
      .filter((m) => !m.isControlRecord);
    const hw = Number(p?.highWatermark ?? -1);
    const lso = Number(p?.lastStableOffset ?? -1);
    // Nothing at or past the last stable offset is readable until its transaction ends.
    const end = lso >= 0 ? Math.min(lso, hw) : hw;
    for (const m of messages) {
      if (out.length >= maxRecords) return out;
      out.push(toRecord(topic, partition, m));
    }
    if (raw.length === 0) {
      if (end <= offset) return out;
      // Records exist but none came back (a batch larger than maxBytes on an old broker): widen.
      maxBytes = Math.min(maxBytes * 4, 64 << 20);
      continue;
    }
    // Move past everything fetched, aborted records and markers included.
    offset = Number(raw[raw.length - 1].offset) + 1;
    if (offset >= end) break;
  }
  return out;
}
