/**
 * Failure proof — BROKER CRASH — the Kafka broker JVM is SIGKILLed (no clean shutdown, no flush)
 * in the middle of an append load through the product's Kafka log (idempotent producer, acks from
 * all in-sync replicas), then started again on the same data dir. Every record whose `append`
 * resolved must be read back from the log afterwards: 0 acknowledged records lost. Appends that
 * failed while the broker was down are not acknowledged and may or may not be on the log.
 * The kill is triggered by the number of acknowledgements, not by a clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kafkaTestFile } from '../support/kafka-test-file.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';

const kafkaFile = await kafkaTestFile();
const TOPIC = 'crash.events';
const WRITERS = 4;
const PER_APPEND = 10;
const KILL_AFTER_ACKED_APPENDS = 60;
/** Bound on appends per writer, so a producer that never recovers ends the test (as a failure). */
const MAX_APPENDS_PER_WRITER = 2_000;

describe('broker SIGKILL mid-load', { skip: kafkaFile.skip }, () => {
  test('every acknowledged record is read back after the broker is killed and restarted on the same data', { timeout: 600_000 }, async (t) => {
    const broker = kafkaFile.broker();
    const log = await createKafkaEventLog({ ...kafkaFile.logOptions('crash', 'broker-crash'), deliveryTimeoutMs: 30_000 });
    kafkaFile.onCleanup(() => log.close());
    await log.createTopic({ name: TOPIC, partitions: 3 });

    const acked = new Set<number>();
    const failed = new Set<number>();
    let seq = 0;
    let ackedAppends = 0;
    let crash: Promise<void> | undefined;
    let restarted = false;
    let ackedAfterRestart = 0;
    let firstError: string | undefined;

    const writer = async () => {
      for (let n = 0; n < MAX_APPENDS_PER_WRITER; n++) {
        const batch = Array.from({ length: PER_APPEND }, () => seq++);
        const restartedBefore = restarted;
        try {
          await log.append(TOPIC, batch.map((s) => ({ key: `k${s % 50}`, value: Buffer.from(String(s)) })));
          batch.forEach((s) => acked.add(s));
          ackedAppends++;
          if (restartedBefore) ackedAfterRestart++;
        } catch (e) {
          firstError ??= String((e as Error).message);
          batch.forEach((s) => failed.add(s));
        }
        // Kill while the other writers have appends in flight.
        if (!crash && ackedAppends >= KILL_AFTER_ACKED_APPENDS) {
          crash = broker.restart({ signal: 'SIGKILL' }).then(() => { restarted = true; });
        }
        // Each writer stops once it got an append acknowledged that started after the restart.
        if (restartedBefore && acked.has(batch[0])) return;
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    await crash;

    const onLog = new Map<number, number>();
    const ends = await log.endOffsets(TOPIC);
    for (let p = 0; p < ends.length; p++) {
      for (let o = 0; o < ends[p];) {
        const recs = await log.read(TOPIC, p, o, 5000);
        if (recs.length === 0) break;
        for (const r of recs) { const s = Number(r.value!.toString()); onLog.set(s, (onLog.get(s) ?? 0) + 1); }
        o = recs[recs.length - 1].offset + 1;
      }
    }
    const lost = [...acked].filter((s) => !onLog.has(s));
    const duplicated = [...onLog].filter(([, n]) => n > 1).map(([s]) => s);
    t.diagnostic(`appended ${seq}: acknowledged ${acked.size}, failed ${failed.size} (of which on the log ${[...failed].filter((s) => onLog.has(s)).length}); ` +
      `acknowledged after the restart ${ackedAfterRestart} appends; lost ${lost.length}; duplicated ${duplicated.length}` +
      (firstError ? `; first failure: ${firstError}` : ''));

    assert.ok(crash, 'the broker was killed mid-load');
    assert.ok(restarted, 'the broker came back on the same data dir');
    assert.ok(ackedAfterRestart >= WRITERS, 'every writer got an acknowledgement after the restart');
    assert.deepEqual(lost, [], 'no acknowledged record lost');
    assert.deepEqual(duplicated, [], 'no record on the log twice (idempotent producer)');
  });
});
