/**
 * Child process of embedded-event-log.crash.test.ts (not a test itself). Opens the embedded log
 * in `<dataDir>`, appends keyed records `{"seq":n}` with several appends in flight (so group commit
 * is exercised) and prints `ACK <seq> <partition> <offset>` for each acknowledged record; at the
 * same time a consumer group applies the records to `<dataDir>/consumer-state.json`, written
 * atomically together with its checkpoint (the effectively-once sink pattern), and seeks to that
 * checkpoint in `onAssigned`. On restart it resumes after the highest seq found in the log.
 * Prints `DONE` after `total` records are produced and consumed.
 *
 * Usage: node --import tsx crash-child.ts <dataDir> <total> [inFlight]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createEmbeddedEventLog } from '../embedded-event-log.adapter.ts';
import { writeFileAtomic } from '../../../files/atomic-file.ts';
import { tpKey } from '../../event-log.port.ts';

export const CRASH_TOPIC = 'crash';
export const CRASH_PARTITIONS = 3;
export const CRASH_GROUP = 'crash-consumer';

export interface ConsumerState {
  /** `topic:partition` → next offset to apply. */
  checkpoint: Record<string, number>;
  /** Seqs in apply order; a duplicate here is a double-applied record. */
  applied: number[];
}

async function main(): Promise<void> {
  const [dataDir, totalText, inFlightText] = process.argv.slice(2);
  const total = Number(totalText);
  const inFlight = Number(inFlightText ?? 8);
  const statePath = join(dataDir, 'consumer-state.json');
  const log = await createEmbeddedEventLog({ dataDir });
  await log.createTopic({ name: CRASH_TOPIC, partitions: CRASH_PARTITIONS });

  let maxSeq = -1;
  const ends = await log.endOffsets(CRASH_TOPIC);
  for (let p = 0; p < ends.length; p++) {
    for (let o = 0; o < ends[p]; o += 1000) {
      for (const r of await log.read(CRASH_TOPIC, p, o, 1000)) maxSeq = Math.max(maxSeq, JSON.parse(r.value!.toString()).seq);
    }
  }

  const state: ConsumerState = await readFile(statePath, 'utf8').then((s) => JSON.parse(s), () => ({ checkpoint: {}, applied: [] }));
  const consumer = await log.subscribe({
    groupId: CRASH_GROUP,
    topics: [CRASH_TOPIC],
    maxBatchSize: 50,
    onAssigned: async () => new Map(Object.entries(state.checkpoint)),
    eachBatch: async (batch) => {
      for (const r of batch.records) state.applied.push(JSON.parse(r.value!.toString()).seq);
      state.checkpoint[tpKey(batch.topic, batch.partition)] = batch.records[batch.records.length - 1].offset + 1;
      await writeFileAtomic(statePath, JSON.stringify(state));
    },
  });

  let next = maxSeq + 1;
  const worker = async () => {
    while (next < total) {
      const seq = next++;
      const [m] = await log.append(CRASH_TOPIC, [{ key: `key-${seq % 17}`, value: Buffer.from(JSON.stringify({ seq })) }]);
      // stdout to a pipe is synchronous on Linux: once written, the parent has it even if we are killed next.
      process.stdout.write(`ACK ${seq} ${m.partition} ${m.offset}\n`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  await consumer.caughtUp();
  await consumer.stop();
  await log.close();
  process.stdout.write('DONE\n');
}

main().catch((err) => {
  process.stderr.write(`crash-child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
