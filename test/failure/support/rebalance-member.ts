/**
 * One member of the rebalance proof, run as a child process:
 *
 *   node --import tsx rebalance-member.ts <brokers> <topic> <groupId> <sinkDir> <memberId>
 *
 * It runs the PROJECTION RUNTIME (processors/runtime/projection.runtime.ts — what every projector role
 * runs) in consumer group `<groupId>` with a store standing in for the shared read-model store of
 * cluster mode: each member appends `partition offset member` lines to its own file in `sinkDir`
 * (the batch and its checkpoint in ONE append), and the checkpoint it seeks to on assignment is
 * the highest applied offset per partition across ALL members' files. Prints `ready` once
 * subscribed; SIGTERM stops it gracefully (in-flight batch finished, consumer left the group).
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKafkaEventLog } from '../../../platform/log/kafka/kafka-event-log.adapter.ts';
import { runProjection } from '../../../processors/runtime/projection.runtime.ts';
import { tpKey, type OffsetMap } from '../../../platform/log/event-log.port.ts';
import type { EventCodec } from '../../../schemas/event-codec.port.ts';
import type { DomainEvent } from '../../../domain/events.ts';

/** Applied `(partition, offset)` lines of every member file; a line without its newline was never completed. */
export function readSink(sinkDir: string): Array<{ partition: number; offset: number; member: string }> {
  const out: Array<{ partition: number; offset: number; member: string }> = [];
  for (const f of readdirSync(sinkDir)) {
    const text = readFileSync(join(sinkDir, f), 'utf8');
    for (const line of text.split('\n').slice(0, -1)) {
      const [p, o, m] = line.split(' ');
      out.push({ partition: Number(p), offset: Number(o), member: m });
    }
  }
  return out;
}

async function main() {
  const [brokers, topic, groupId, sinkDir, memberId] = process.argv.slice(2);
  const log = await createKafkaEventLog({
    brokers: brokers.split(','), clientId: memberId, replicationFactor: 1,
    sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000, rebalanceTimeoutMs: 20_000, maxWaitTimeMs: 200,
  });
  // The payloads are opaque here: the runner only needs a decode that succeeds.
  const codec: EventCodec = { encode: async () => Buffer.alloc(0), decode: async () => ({ type: 'opaque' }) as unknown as DomainEvent };
  const file = join(sinkDir, `${memberId}.log`);
  const loadCheckpoint = async (): Promise<OffsetMap> => {
    const cp: OffsetMap = new Map();
    for (const r of readSink(sinkDir)) {
      const k = tpKey(topic, r.partition);
      cp.set(k, Math.max(cp.get(k) ?? 0, r.offset + 1));
    }
    return cp;
  };
  const handle = await runProjection({
    kind: 'projection', name: 'rebalance-proof', inputs: [topic], guarantee: 'effectively-once', output: 'member files', queries: {},
    loadCheckpoint, maxBatchSize: 200,
    async apply(batch) {
      appendFileSync(file, batch.records.map((r) => `${r.record.partition} ${r.record.offset} ${memberId}\n`).join(''));
    },
    async close() {},
  }, { log, codec, groupId });
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void (async () => {
      await handle.stop();
      await log.close();
      process.exit(0);
    })();
  });
}

if (process.argv[1]?.endsWith('rebalance-member.ts')) {
  main().catch((e: unknown) => { process.stderr.write(`${(e as Error).stack ?? e}\n`); process.exit(1); });
}
