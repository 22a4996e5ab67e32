/**
 * Reads a whole Kafka topic the way an independent client would: a bare kafkajs consumer in a
 * fresh group, from the beginning, with an explicit isolation level. Used by the exactly-once
 * tests to compare what READ_COMMITTED and READ_UNCOMMITTED readers see.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { within } from '../../platform/log/event-log.contract.ts';
import { internalCluster } from '../../platform/log/kafka/kafka-client.ts';

/**
 * Each partition's high watermark, once no transaction is open on it (last stable offset = high
 * watermark). The coordinator answers EndTxn before it writes the partitions' commit markers
 * (KIP-98), so right after a commit ListOffsets under READ_COMMITTED can still stop at the open
 * transaction and a reader would miss its records. @throws when not settled within 30 s.
 */
async function settledEnds(kafka: Kafka, fullTopic: string, partitions: number[]): Promise<Map<number, number>> {
  const cluster = internalCluster(kafka);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(fullTopic);
    await cluster.refreshMetadata();
    const leaders = Object.entries(cluster.findLeaderForPartitions(fullTopic, partitions));
    return await within((async () => {
      for (;;) {
        const ends = new Map<number, number>();
        let open = false;
        for (const [nodeId, parts] of leaders) {
          const broker = await cluster.findBroker({ nodeId });
          const { responses } = await broker.fetch({ maxWaitTime: 0, minBytes: 1, maxBytes: 1, isolationLevel: 0,
            topics: [{ topic: fullTopic, partitions: parts.map((partition) => ({ partition, fetchOffset: '0', maxBytes: 1 })) }] });
          for (const r of responses) for (const p of r.partitions) {
            ends.set(p.partition, Number(p.highWatermark));
            if (p.lastStableOffset !== undefined && Number(p.lastStableOffset) >= 0 && Number(p.lastStableOffset) < Number(p.highWatermark)) open = true;
          }
        }
        if (!open) return ends;
        await new Promise((r) => setTimeout(r, 50));
      }
    })(), 30_000, `no open transaction on ${fullTopic}`);
  } finally {
    await cluster.disconnect();
  }
}

export interface SeenRecord { partition: number; key: string | null; value: string }

/**
 * Reads `fullTopic` (broker-side name) until every partition's position reaches its high
 * watermark (commit/abort markers count), taken once no transaction is open on it. `readUncommitted: false` is READ_COMMITTED
 * (KIP-98 isolation): records of open or aborted transactions are not returned.
 * @throws when the end is not reached within 60 s.
 */
export async function consumeAll(bootstrap: string, fullTopic: string, readUncommitted: boolean): Promise<SeenRecord[]> {
  const kafka = new Kafka({ clientId: 'eos-reader', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const partitions = (await admin.fetchTopicOffsets(fullTopic)).map((o) => o.partition);
  await admin.disconnect();
  const ends = await settledEnds(kafka, fullTopic, partitions);
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, readUncommitted, maxWaitTimeInMs: 100, sessionTimeout: 6_000, heartbeatInterval: 500 });
  const out: SeenRecord[] = [];
  const pos = new Map<number, number>();
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  const advance = (partition: number, last: string) => {
    pos.set(partition, Math.max(pos.get(partition) ?? 0, Number(last) + 1));
    if ([...ends].every(([p, e]) => (pos.get(p) ?? 0) >= e)) finish();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (ev) => advance(ev.payload.partition, ev.payload.lastOffset));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: fullTopic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push({ partition: batch.partition, key: m.key?.toString() ?? null, value: m.value!.toString() });
        advance(batch.partition, batch.lastOffset());
      },
    });
    if ([...ends.values()].every((e) => e === 0)) finish();
    await within(done, 60_000, `reading ${fullTopic} to its end`);
  } finally {
    await consumer.disconnect();
  }
  return out;
}
