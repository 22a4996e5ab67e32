/**
 * Reads a whole Kafka topic the way an independent client would: a bare kafkajs consumer in a
 * fresh group, from the beginning, with an explicit isolation level. Used by the exactly-once
 * tests to compare what READ_COMMITTED and READ_UNCOMMITTED readers see.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { within } from '../../platform/log/event-log.contract.ts';

export interface SeenRecord { partition: number; key: string | null; value: string }

/**
 * Reads `fullTopic` (broker-side name) until every partition's position reaches the high
 * watermark at call time (commit/abort markers count). `readUncommitted: false` is READ_COMMITTED
 * (KIP-98 isolation): records of open or aborted transactions are not returned.
 * @throws when the end is not reached within 60 s.
 */
export async function consumeAll(bootstrap: string, fullTopic: string, readUncommitted: boolean): Promise<SeenRecord[]> {
  const kafka = new Kafka({ clientId: 'eos-reader', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(fullTopic)).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
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
