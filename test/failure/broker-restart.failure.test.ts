/**
 * Failure proof — BROKER RESTART — the (single) Kafka broker process is stopped and
 * started again in the middle of a produce + consume load. The producer and the consumer recover
 * without a process restart, and every ACKNOWLEDGED event is on the log exactly once (count per
 * key/sequence). An append that failed while the broker was down is not acknowledged: it may or
 * may not be on the log (never twice), and it is reported, not retried (a retry would be a new
 * record — that is the caller's idempotency problem, not the log's).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kafkaRequirement, startKafkaBroker } from '../support/kafka-broker.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { waitUntil, sleep } from './support/cluster-harness.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

const TOPIC = 'restart.events';
const KEYS = 40;
const PER_APPEND = 25;
const APPENDS = 240; // 6,000 events

const skip = await kafkaRequirement();

test('broker restart mid-load: producer and consumer recover in-process; every acknowledged event is on the log exactly once', { timeout: 600_000, skip }, async (t) => {
  const broker = await startKafkaBroker();
  cleanups.push(() => broker.stop());
  const log = await createKafkaEventLog({
    brokers: [broker.bootstrap], clientId: 'restart-proof', replicationFactor: 1,
    sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000, deliveryTimeoutMs: 60_000,
  });
  cleanups.push(() => log.close());
  await log.createTopic({ name: TOPIC, partitions: 3 });

  const delivered = new Map<number, number>();
  let lastDeliveryAt = 0;
  const consumer = await log.subscribe({
    groupId: 'restart-proof',
    topics: [TOPIC],
    async eachBatch(batch) {
      for (const r of batch.records) {
        const seq = Number(r.value!.toString());
        delivered.set(seq, (delivered.get(seq) ?? 0) + 1);
      }
      lastDeliveryAt = Date.now();
    },
  });
  cleanups.push(() => consumer.stop());

  const acked = new Set<number>();
  const unacked = new Set<number>();
  let restartDone = 0;
  let restartBegan = 0;
  let firstAckAfterRestart = 0;
  let restart: Promise<void> | undefined;
  let seq = 0;
  for (let a = 0; a < APPENDS; a++) {
    if (a === Math.floor(APPENDS / 3)) {
      restartBegan = Date.now();
      restart = broker.restart().then(() => { restartDone = Date.now(); });
    }
    const batch = Array.from({ length: PER_APPEND }, () => seq++);
    try {
      await log.append(TOPIC, batch.map((s) => ({ key: `k${s % KEYS}`, value: Buffer.from(String(s)) })));
      for (const s of batch) acked.add(s);
      if (restartDone && !firstAckAfterRestart) firstAckAfterRestart = Date.now();
    } catch {
      for (const s of batch) unacked.add(s);
      await sleep(200);
    }
  }
  await restart;
  // Keep appending after the restart until one append is acknowledged (bounded): the producer recovered.
  await waitUntil('an acknowledged append after the restart', 120_000, async () => {
    const batch = Array.from({ length: PER_APPEND }, () => seq++);
    try {
      await log.append(TOPIC, batch.map((s) => ({ key: `k${s % KEYS}`, value: Buffer.from(String(s)) })));
      for (const s of batch) acked.add(s);
      if (!firstAckAfterRestart) firstAckAfterRestart = Date.now();
      return true;
    } catch {
      for (const s of batch) unacked.add(s);
      return false;
    }
  }, 500);
  const consumerBack = Date.now();
  await waitUntil('the consumer to receive every acknowledged event', 180_000, async () => [...acked].every((s) => delivered.has(s)), 500);
  const consumerRecovered = (Date.now() - consumerBack) / 1000;

  // Count per sequence number on the log itself.
  const onLog = new Map<number, number>();
  const ends = await log.endOffsets(TOPIC);
  for (let p = 0; p < ends.length; p++) {
    for (let o = 0; o < ends[p];) {
      const recs = await log.read(TOPIC, p, o, 5000);
      if (recs.length === 0) break;
      for (const r of recs) {
        const s = Number(r.value!.toString());
        onLog.set(s, (onLog.get(s) ?? 0) + 1);
        // Key ↔ partition stayed stable across the restart.
        assert.equal(r.key, `k${s % KEYS}`);
      }
      o = recs[recs.length - 1].offset + 1;
    }
  }
  const lost = [...acked].filter((s) => !onLog.has(s)).length;
  const duplicated = [...onLog.values()].filter((n) => n > 1).length;
  const unackedPresent = [...unacked].filter((s) => onLog.has(s)).length;
  const redelivered = [...delivered.values()].filter((n) => n > 1).length;
  t.diagnostic(`appended ${seq} (acked ${acked.size}, failed ${unacked.size}, of which on the log ${unackedPresent}); lost ${lost}, duplicated on the log ${duplicated}`);
  t.diagnostic(`broker restart took ${((restartDone - restartBegan) / 1000).toFixed(1)} s; first ack ${((firstAckAfterRestart - restartDone) / 1000).toFixed(1)} s after the broker was back; consumer caught up ${consumerRecovered.toFixed(1)} s after the load; redelivered to the consumer (at-least-once) ${redelivered}; last delivery ${lastDeliveryAt > restartDone ? 'after' : 'before'} restart`);

  assert.ok(restartDone > 0 && firstAckAfterRestart >= restartDone, 'the producer recovered after the restart without a new process');
  assert.ok(lastDeliveryAt > restartDone, 'the consumer delivered records after the restart without a new process');
  assert.equal(lost, 0, 'every acknowledged event is on the log');
  assert.equal(duplicated, 0, 'no event is on the log twice');
  for (const s of acked) assert.equal(onLog.get(s), 1);
});
