/**
 * The Kafka EventLog's exactly-once capability (`subscribeTransactional`, event-log.port.ts)
 * against a real broker:
 * (a) outputs and the input offset committed through `tx.commit` are visible together, outputs on
 *     their key's partition; a bad output record is refused before anything is written;
 * (b) zombie fencing through the adapter's own code path: a member stuck in a batch is evicted,
 *     the partition's next owner (same group, so same transactional.id) initialises its producer,
 *     and the stuck member's later commit fails with PRODUCER_FENCED; READ_COMMITTED readers see
 *     the new owner's outputs only;
 * (c) records of an aborted transaction stay invisible to `read` and to READ_COMMITTED consumers;
 * (d) `tx.commit` resolves with the outputs' positions, and `then` writes records naming those
 *     positions in the same transaction (the command processor's outcome with its events' positions);
 * (e) a consumer of a topic written in transactions catches up: the commit marker after the last
 *     record does not hold `caughtUp` and `lag` forever.
 * (f) two producers' aborted transactions interleaved on one partition stay invisible from every
 *     start offset, to `read` and to a subscription (kafkajs 2.2.4 leaked the later one's first
 *     records when a fetch began inside both; patches/kafkajs+2.2.4.patch).
 * The runtime built on the capability is tested in processors/runtime/transform.runtime.test.ts.
 * Skipped when Java/Maven are missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { supportsTransactions } from '../event-log.port.ts';
import type { LogRecord } from '../event-log.port.ts';
import { within } from '../event-log.contract.ts';
import { EventLogError, TransactionalProcessorError } from '../event-log.errors.ts';
import { partitionForKey } from '../partitioner.ts';
import type { KafkaEventLog } from './kafka-event-log.adapter.ts';
import { isFencingError } from './kafka-transactions.ts';
import { kafkaTestFile } from '../../../test/support/kafka-test-file.ts';
import { consumeAll } from '../../../test/support/kafka-topic-reader.ts';

const kafkaFile = await kafkaTestFile();


const open = (namespace: string, clientId = 'eos-test'): Promise<KafkaEventLog> => kafkaFile.openLog(namespace, clientId);

const text = (r: LogRecord) => r.value!.toString();
/**
 * The records of `topic` once at least `count` are visible to READ_COMMITTED reads. The coordinator
 * answers EndTxn once PREPARE_COMMIT is in its own log and writes the partitions' commit markers
 * after that (KIP-98), so a read right after `tx.commit` may still stop at the open transaction.
 */
async function visible(log: KafkaEventLog, topic: string, partitions: number, count: number): Promise<LogRecord[]> {
  return within((async () => {
    for (;;) {
      const out: LogRecord[] = [];
      for (let p = 0; p < partitions; p++) out.push(...await log.read(topic, p, 0, 100));
      if (out.length >= count) return out;
      await new Promise((r) => setTimeout(r, 50));
    }
  })(), 30_000, `${count} records of ${topic} visible`);
}
const errType = (x: unknown): string => {
  const e = x as { type?: string; name?: string; originalError?: unknown; cause?: unknown } | undefined;
  return e?.type ?? (e?.originalError || e?.cause ? errType(e.originalError ?? e.cause) : e?.name ?? String(x));
};

describe('Kafka EventLog: exactly-once capability (real broker)', { skip: kafkaFile.skip }, () => {
  test('(a) tx.commit makes outputs and the input offset visible together; a bad output is refused before any write', { timeout: 60_000 }, async () => {
    const ns = `eos-a-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    assert.ok(supportsTransactions(log), 'the Kafka adapter has the capability');
    await log.createTopic({ name: 'in', partitions: 2 });
    await log.createTopic({ name: 'out', partitions: 3 });
    const meta = await log.append('in', ['a', 'b', 'c', 'd'].map((v) => ({ key: `k-${v}`, value: Buffer.from(v) })));
    const refusals: unknown[] = [];
    const scopes: string[] = [];
    const handle = await log.subscribeTransactional({
      groupId: 'upper',
      topics: ['in'],
      async eachBatch(batch, tx) {
        scopes.push(`${tx.topic}:${tx.partition}=${batch.topic}:${batch.partition}`);
        const outputs = batch.records.map((r) => ({ topic: 'out', key: r.key, value: Buffer.from(text(r).toUpperCase()) }));
        await tx.commit([...outputs, { topic: 'out', key: null, value: null, partition: 99 }], batch.records.at(-1)!.offset + 1)
          .catch((e: unknown) => { refusals.push(e); });
        await tx.commit(outputs, batch.records.at(-1)!.offset + 1);
      },
    });
    await within(handle.caughtUp(), 30_000, 'transactional subscription caught up');
    await handle.stop();

    const out = await visible(log, 'out', 3, 4);
    assert.deepEqual(out.map(text).sort(), ['A', 'B', 'C', 'D'], 'each output once; the refused commits wrote nothing');
    for (const r of out) assert.equal(r.partition, partitionForKey(`${ns}.out`, r.key!, 3), `${r.key} on its murmur2 partition`);
    for (const s of scopes) assert.match(s, /^in:(\d)=in:\1$/, 'tx is the batch\'s input partition');
    assert.ok(refusals.length >= 1 && refusals.every((e) => e instanceof EventLogError && e.code === 'INVALID_PARTITION'));
    const committed = await log.committedOffsets('upper');
    const ends = await log.endOffsets('in');
    for (const p of new Set(meta.map((m) => m.partition))) assert.equal(committed.get(`in:${p}`), ends[p]);
  });

  test('(b) zombie fencing through subscribeTransactional: the evicted owner\'s commit is fenced, only the new owner\'s outputs are visible', { timeout: 90_000 }, async (t) => {
    const ns = `eos-b-${randomUUID().slice(0, 8)}`;
    const zombieLog = await open(ns, 'eos-zombie');
    const successorLog = await open(ns, 'eos-successor');
    await zombieLog.createTopic({ name: 'in', partitions: 1 });
    await zombieLog.createTopic({ name: 'out', partitions: 1 });
    await zombieLog.append('in', ['1', '2'].map((v) => ({ key: 'k', value: Buffer.from(v) })));
    const outputsOf = (who: string, records: LogRecord[]) => records.map((r) => ({ topic: 'out', key: r.key, value: Buffer.from(`${who}-${text(r)}`) }));

    // The zombie: takes the partition, then hangs in its first batch (a GC pause, a stuck call)
    // while heartbeating, so only the rebalance timeout evicts it.
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let entered!: () => void;
    const inBatch = new Promise<void>((r) => { entered = r; });
    let zombieCommit: Promise<unknown> | undefined;
    const zombie = await zombieLog.subscribeTransactional({
      groupId: 'doubler',
      topics: ['in'],
      async eachBatch(batch, tx) {
        if (zombieCommit) throw new Error('the zombie only ever handles its first batch');
        entered();
        await released;
        zombieCommit = tx.commit(outputsOf('zombie', batch.records), batch.records.at(-1)!.offset + 1).then(() => undefined, (e: unknown) => e);
        const outcome = await zombieCommit;
        if (outcome) throw outcome;
      },
    });
    await within(inBatch, 30_000, 'zombie in its first batch');

    // The successor joins the same group; once the zombie is evicted it gets the partition and
    // initialises the partition's transactional.id, which fences the zombie's producer.
    const successor = await successorLog.subscribeTransactional({
      groupId: 'doubler',
      topics: ['in'],
      async eachBatch(batch, tx) { await tx.commit(outputsOf('successor', batch.records), batch.records.at(-1)!.offset + 1); },
    });
    await within(successor.caughtUp(), 30_000, 'successor caught up');

    release();
    const fenceError = await within((async () => { while (!zombieCommit) await new Promise((r) => setTimeout(r, 10)); return zombieCommit; })(), 30_000, 'zombie commit attempted');
    await zombie.stop();
    await successor.stop();
    t.diagnostic(`zombie commit rejected with ${(fenceError as TransactionalProcessorError)?.code} (cause ${errType((fenceError as Error)?.cause)})`);
    assert.ok(fenceError instanceof TransactionalProcessorError, `a TransactionalProcessorError, got ${String(fenceError)}`);
    assert.equal(fenceError.code, 'PRODUCER_FENCED');
    assert.ok(isFencingError(fenceError.cause), `a broker fencing error (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH), got ${errType(fenceError.cause)}`);

    const viaRead = (await visible(successorLog, 'out', 1, 2)).map(text);
    const committed = (await consumeAll(kafkaFile.broker().bootstrap, `${ns}.out`, false)).map((r) => r.value);
    const uncommitted = (await consumeAll(kafkaFile.broker().bootstrap, `${ns}.out`, true)).map((r) => r.value);
    t.diagnostic(`read_committed sees [${committed.join(', ')}]; read_uncommitted sees [${uncommitted.join(', ')}]`);
    assert.deepEqual(committed, ['successor-1', 'successor-2']);
    assert.deepEqual(viaRead, ['successor-1', 'successor-2']);
    assert.equal((await successorLog.committedOffsets('doubler')).get('in:0'), 2);
  });

  test('(d) tx.commit returns the outputs\' positions; records built from them by `then` commit in the same transaction', { timeout: 60_000 }, async () => {
    const ns = `eos-d-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 'in', partitions: 1 });
    await log.createTopic({ name: 'out', partitions: 3 });
    await log.createTopic({ name: 'replies', partitions: 1 });
    await log.append('in', ['a', 'b', 'c', 'd', 'e'].map((v) => ({ key: 'k', value: Buffer.from(v) })));
    const returned: string[] = [];
    const handle = await log.subscribeTransactional({
      groupId: 'positions',
      topics: ['in'],
      async eachBatch(batch, tx) {
        // Two outputs per input on different keys (so on several partitions), interleaved.
        const outputs = batch.records.flatMap((r) => [1, 2].map((n) => ({ topic: 'out', key: `${text(r)}-${n}`, value: Buffer.from(`${text(r)}-${n}`) })));
        const positions = await tx.commit(outputs, batch.records.at(-1)!.offset + 1, (pos) =>
          outputs.map((o, i) => ({ topic: 'replies', key: null, value: Buffer.from(`${o.value!.toString()}@${pos[i].partition}:${pos[i].offset}`) })));
        positions.forEach((p, i) => returned.push(`${outputs[i].value!.toString()}@${p.partition}:${p.offset}`));
      },
    });
    await within(handle.caughtUp(), 30_000, 'transactional subscription caught up');
    await handle.stop();
    const actual = (await visible(log, 'out', 3, 10)).map((r) => `${text(r)}@${r.partition}:${r.offset}`);
    const replies = (await visible(log, 'replies', 1, 10)).map(text);
    assert.equal(actual.length, 10);
    assert.deepEqual([...returned].sort(), [...actual].sort(), 'the returned positions are where the outputs are');
    assert.deepEqual([...replies].sort(), [...actual].sort(), 'the follow-up records name the same positions, and were committed');
  });

  test('(e) a consumer of a transactionally written topic catches up past the commit marker, and commits past it', { timeout: 240_000 }, async () => {
    const ns = `eos-e-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 'in', partitions: 1 });
    await log.createTopic({ name: 'out', partitions: 1 });
    await log.append('in', [{ key: 'k', value: Buffer.from('a') }]);
    const tx = await log.subscribeTransactional({
      groupId: 'copy', topics: ['in'],
      async eachBatch(batch, t) { await t.commit(batch.records.map((r) => ({ topic: 'out', key: r.key, value: r.value })), batch.records.at(-1)!.offset + 1); },
    });
    await within(tx.caughtUp(), 30_000, 'copied');
    await tx.stop();
    await visible(log, 'out', 1, 1); // the marker is written (see `visible`); the end offset is the last stable offset
    assert.deepEqual(await log.endOffsets('out'), [2], 'one record and its commit marker');
    const seen: string[] = [];
    const reader = await log.subscribe({ groupId: 'reader', topics: ['out'], async eachBatch(b) { seen.push(...b.records.map(text)); } });
    await within(reader.caughtUp(), 30_000, 'a reader of the transactional topic caught up');
    assert.deepEqual(seen, ['a']);
    assert.deepEqual([...await reader.lag()], [['out:0', 0]], 'no lag left on the marker');
    await reader.stop();
    // A subscriber with its own checkpoint (a projection: interval commits) restarting at it, just
    // before the marker: only the marker is left to read, and its group offset still reaches the end.
    const resumed = await log.subscribe({
      groupId: 'checkpointed', topics: ['out'], commitIntervalMs: 50,
      onAssigned: async () => new Map([['out:0', 1]]), async eachBatch(b) { seen.push(...b.records.map(text)); },
    });
    await within(resumed.caughtUp(), 30_000, 'the resumed reader caught up');
    await within((async () => { while ((await log.committedOffsets('checkpointed')).get('out:0') !== 2) await new Promise((r) => setTimeout(r, 50)); })(), 30_000, 'group offset past the marker');
    assert.deepEqual(seen, ['a'], 'nothing redelivered');
    await resumed.stop();
    // A subscriber committing after every batch (a processor) whose group offset stopped just
    // before the marker: the fetch holds only the marker, which no batch commits, yet the group
    // offset reaches the end (the Java consumer's commit moves past markers too).
    await log.commitOffsets('per-batch', new Map([['out:0', 1]]));
    const perBatch = await log.subscribe({ groupId: 'per-batch', topics: ['out'], async eachBatch(b) { seen.push(...b.records.map(text)); } });
    await within(perBatch.caughtUp(), 30_000, 'the per-batch reader caught up');
    await within((async () => { while ((await log.committedOffsets('per-batch')).get('out:0') !== 2) await new Promise((r) => setTimeout(r, 50)); })(), 30_000, 'per-batch group offset past the marker');
    assert.deepEqual(seen, ['a'], 'nothing redelivered');
    await perBatch.stop();
  });

  test('(c) records of an aborted transaction stay invisible to EventLog.read and READ_COMMITTED consumers', { timeout: 60_000 }, async (t) => {
    const ns = `eos-c-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 'out', partitions: 1 });
    // A bare transactional producer: this test is about isolation, not about the adapter's producers.
    const kafka = new Kafka({ clientId: 'eos-aborter', brokers: [kafkaFile.broker().bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ transactionalId: `${ns}.aborter`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    kafkaFile.onCleanup(() => producer.disconnect());
    await producer.connect();
    const aborted = await producer.transaction();
    await aborted.send({ topic: `${ns}.out`, acks: -1, messages: [{ key: 'x', value: 'aborted-1', partition: 0 }, { key: 'x', value: 'aborted-2', partition: 0 }] });
    await aborted.abort();
    const kept = await producer.transaction();
    await kept.send({ topic: `${ns}.out`, acks: -1, messages: [{ key: 'x', value: 'committed', partition: 0 }] });
    await kept.commit();

    const committed = (await consumeAll(kafkaFile.broker().bootstrap, `${ns}.out`, false)).map((r) => r.value);
    const uncommitted = (await consumeAll(kafkaFile.broker().bootstrap, `${ns}.out`, true)).map((r) => r.value);
    const viaRead = (await log.read('out', 0, 0, 100)).map(text);
    t.diagnostic(`read_committed sees [${committed.join(', ')}]; read_uncommitted sees [${uncommitted.join(', ')}]; EventLog.read [${viaRead.join(', ')}]`);
    assert.deepEqual(committed, ['committed']);
    assert.deepEqual(viaRead, ['committed'], 'EventLog.read filters aborted transactional records');
    assert.ok(uncommitted.includes('aborted-1') && uncommitted.includes('aborted-2'), 'the aborted records were written, not never sent');
  });

  test('(f) interleaved aborted transactions of two producers stay invisible from every start offset', { timeout: 60_000 }, async (t) => {
    const ns = `eos-f-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 'out', partitions: 1 });
    const kafka = new Kafka({ clientId: 'eos-interleaver', brokers: [kafkaFile.broker().bootstrap], logLevel: logLevel.NOTHING });
    const producers = [0, 1].map((i) => kafka.producer({ transactionalId: `${ns}.p${i}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false }));
    for (const p of producers) { kafkaFile.onCleanup(() => p.disconnect()); await p.connect(); }
    const send = (tx: Awaited<ReturnType<typeof producers[0]['transaction']>>, value: string) => tx.send({ topic: `${ns}.out`, acks: -1, messages: [{ key: 'k', value, partition: 0 }] });
    // p0-a, p1-a, p0-b, p1-b (both aborted), then p0's committed record.
    const [a, b] = [await producers[0].transaction(), await producers[1].transaction()];
    await send(a, 'p0-a'); await send(b, 'p1-a'); await send(a, 'p0-b'); await send(b, 'p1-b');
    await a.abort(); await b.abort();
    const ok = await producers[0].transaction();
    await send(ok, 'committed');
    await ok.commit();

    const [end] = await log.endOffsets('out');
    const leaks: string[] = [];
    for (let from = 0; from < end; from++) {
      for (const r of await log.read('out', 0, from, 100)) if (text(r) !== 'committed') leaks.push(`read from ${from}: ${text(r)}`);
    }
    // A subscription whose group starts inside both aborted transactions (offset 1: p1-a).
    const seen: string[] = [];
    const sub = await log.subscribe({ groupId: 'from-one', topics: ['out'], onAssigned: async () => new Map([['out:0', 1]]), async eachBatch(batch) { seen.push(...batch.records.map(text)); } });
    kafkaFile.onCleanup(() => sub.stop());
    await within(sub.caughtUp(), 30_000, 'subscription caught up');
    for (const v of seen) if (v !== 'committed') leaks.push(`subscription from 1: ${v}`);
    t.diagnostic(`${end} offsets (4 aborted records, 2 abort markers, 1 committed record, 1 commit marker) read from each; subscription saw [${seen.join(', ')}]; leaks: ${leaks.length ? leaks.join('; ') : 'none'}`);
    assert.deepEqual(leaks, []);
    assert.deepEqual(seen, ['committed']);
  });
});
