/**
 * Exactly-once Kafka → Kafka (kafka-transactional-processor.ts) against a real broker:
 * (a) a keyed transform n → 2n processed exactly once end to end, read back READ_COMMITTED;
 * (b) crash proof: the processor in a child process, SIGKILLed mid-load and restarted; the
 *     committed outputs hold every input exactly once;
 * (c) zombie fencing: two producers with one transactional.id — the older one's commit fails with
 *     a fencing error and its records stay invisible to READ_COMMITTED readers (kafkajs consumers
 *     and the EventLog adapter's `read`).
 * (d) the processor runtime's Kafka dead-letter path: DLQ record + source offset in one transaction.
 * Skipped when Java/Maven are missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { within } from '../event-log.contract.ts';
import { createKafkaEventLog } from './kafka-event-log.adapter.ts';
import type { KafkaEventLog } from './kafka-event-log.adapter.ts';
import { isFencingError, runTransactionalProcessor, subscribeTransactional } from './kafka-transactions.ts';
import { DLQ_HEADERS, deadLetterTopicFor, runProcessor } from '../../../processors/runtime/processor.runtime.ts';
import type { ProcessorDefinition } from '../../../processors/runtime/processor.port.ts';
import type { TransactionalProcessorHandle } from './kafka-transactions.ts';
import { kafkaAvailable, startKafkaBroker } from '../../../test/support/kafka-broker.ts';
import type { KafkaBroker } from '../../../test/support/kafka-broker.ts';

const available = await kafkaAvailable();
let broker: KafkaBroker | undefined;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => { if (available) broker = await startKafkaBroker(); }, { timeout: 600_000 });
after(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => {});
  await broker?.stop();
}, { timeout: 120_000 });

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'testing', 'transactional-doubler.child.ts');
const N = 2000;
const PARTITIONS = 3;
const testLogger = () => (process.env.KAFKA_TEST_LOG ? pino({ level: process.env.KAFKA_TEST_LOG }, pino.destination(2)) : undefined);

async function open(namespace: string): Promise<KafkaEventLog> {
  const log = await createKafkaEventLog({ brokers: [broker!.bootstrap], clientId: 'eos-test', namespace, replicationFactor: 1, logger: testLogger() });
  cleanups.push(() => log.close());
  return log;
}

/** Creates `in`/`out` and appends inputs 0..n-1 (value = n, 50 distinct keys). */
async function seedInputs(log: KafkaEventLog, n: number): Promise<void> {
  await log.createTopic({ name: 'in', partitions: PARTITIONS });
  await log.createTopic({ name: 'out', partitions: PARTITIONS });
  for (let i = 0; i < n; i += 500) {
    const chunk = Array.from({ length: Math.min(500, n - i) }, (_, j) => i + j);
    await log.append('in', chunk.map((v) => ({ key: `k${v % 50}`, value: Buffer.from(String(v)) })));
  }
}

interface Seen { partition: number; key: string | null; value: string }

/**
 * Reads a whole topic with a kafkajs consumer (fresh group, from the beginning) until every
 * partition's position reaches the high watermark at call time (commit/abort markers count).
 * `readUncommitted: false` is READ_COMMITTED (KIP-98 isolation).
 */
async function consumeAll(fullTopic: string, readUncommitted: boolean): Promise<Seen[]> {
  const kafka = new Kafka({ clientId: 'eos-reader', brokers: [broker!.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(fullTopic)).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, readUncommitted, maxWaitTimeInMs: 100, sessionTimeout: 6_000, heartbeatInterval: 500 });
  const out: Seen[] = [];
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

/** Tallies outputs against inputs 0..n-1: how many inputs have 0, 1, >1 outputs, and strays. */
function tally(outputs: Seen[], n: number) {
  const counts = new Map<number, number>();
  const strays: string[] = [];
  for (const o of outputs) {
    const v = Number(o.value);
    if (!Number.isInteger(v) || v % 2 !== 0 || v / 2 < 0 || v / 2 >= n) { strays.push(o.value); continue; }
    counts.set(v / 2, (counts.get(v / 2) ?? 0) + 1);
  }
  let lost = 0;
  for (let i = 0; i < n; i++) if (!counts.has(i)) lost++;
  const duplicated = [...counts.values()].filter((c) => c > 1).length;
  return { outputs: outputs.length, distinct: counts.size, lost, duplicated, strays };
}

describe('exactly-once Kafka → Kafka processor (real broker)', { skip: !available && 'java or maven missing' }, () => {
  test('(a) a keyed transform n → 2n: every input yields exactly one committed output, on its key\'s partition', { timeout: 120_000 }, async (t) => {
    const ns = `eos-a-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await seedInputs(log, N);
    const inputPartitionOfKey = new Map<string, number>();
    for (let p = 0; p < PARTITIONS; p++) for (const r of await log.read('in', p, 0, N)) inputPartitionOfKey.set(r.key!, p);

    let proc: TransactionalProcessorHandle | undefined;
    try {
      proc = await runTransactionalProcessor({
        brokers: [broker!.bootstrap], clientId: 'eos-a', namespace: ns, groupId: 'doubler', topics: ['in'],
        sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 6_000, maxWaitTimeMs: 100, maxBatchSize: 100,
        logger: testLogger(),
        async handle(record) {
          const n = Number(record.value!.toString());
          return [{ topic: 'out', key: record.key, value: Buffer.from(String(n * 2)) }];
        },
      });
      await within(proc.caughtUp(), 60_000, 'processor caught up');
    } finally {
      await proc?.stop();
    }

    const outputs = await consumeAll(`${ns}.out`, false);
    const figures = tally(outputs, N);
    // The adapter's `read` is a raw READ_COMMITTED fetch: it must agree with the consumer.
    const viaRead: Seen[] = [];
    for (let p = 0; p < PARTITIONS; p++) for (const r of await log.read('out', p, 0, 10 * N)) viaRead.push({ partition: p, key: r.key, value: r.value!.toString() });
    const committed = await log.committedOffsets('doubler');
    const inputEnds = await log.endOffsets('in');
    t.diagnostic(`inputs=${N} committed outputs=${figures.outputs} distinct=${figures.distinct} lost=${figures.lost} duplicated=${figures.duplicated} (EventLog.read: ${viaRead.length})`);

    assert.equal(figures.outputs, N, 'one committed output per input');
    assert.equal(figures.lost, 0);
    assert.equal(figures.duplicated, 0);
    assert.deepEqual(figures.strays, []);
    assert.deepEqual(viaRead.map((r) => r.value).sort(), outputs.map((r) => r.value).sort());
    for (const o of outputs) assert.equal(o.partition, inputPartitionOfKey.get(o.key!), `key ${o.key} on the same partition number as its input`);
    for (let p = 0; p < PARTITIONS; p++) assert.equal(committed.get(`in:${p}`), inputEnds[p], `group offset of in:${p} committed in the transactions`);
  });

  test('(c) zombie fencing: the older producer of a transactional.id cannot commit; its records stay invisible', { timeout: 60_000 }, async (t) => {
    const ns = `eos-c-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 'out', partitions: 1 });
    const kafka = new Kafka({ clientId: 'eos-zombie', brokers: [broker!.bootstrap], logLevel: logLevel.NOTHING });
    const transactionalId = `${ns}.doubler.${ns}.in.0`;
    const mk = () => kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    const zombie = mk();
    const successor = mk();
    cleanups.push(() => zombie.disconnect(), () => successor.disconnect());
    await zombie.connect();
    await successor.connect();

    const zt = await zombie.transaction();
    await zt.send({ topic: `${ns}.out`, acks: -1, messages: [{ key: 'z', value: 'zombie-1', partition: 0 }, { key: 'z', value: 'zombie-2', partition: 0 }] });
    // The partition's next owner initialises the same transactional.id: epoch bump + the zombie's open transaction is aborted.
    const st = await successor.transaction();
    await st.send({ topic: `${ns}.out`, acks: -1, messages: [{ key: 's', value: 'successor', partition: 0 }] });
    await st.commit();

    let fenceError: unknown;
    try {
      await zt.send({ topic: `${ns}.out`, acks: -1, messages: [{ key: 'z', value: 'zombie-3', partition: 0 }] });
      await zt.commit();
    } catch (e) {
      fenceError = e;
    }
    const errType = (x: unknown): string => {
      const e = x as { type?: string; name?: string; originalError?: unknown; cause?: unknown } | undefined;
      return e?.type ?? (e?.originalError || e?.cause ? errType(e.originalError ?? e.cause) : e?.name ?? String(x));
    };
    t.diagnostic(`zombie commit rejected with ${errType(fenceError)}`);
    assert.ok(fenceError, 'the zombie commit must fail');
    assert.ok(isFencingError(fenceError), `a fencing error (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH), got ${errType(fenceError)}: ${(fenceError as Error).message}`);

    const committed = (await consumeAll(`${ns}.out`, false)).map((r) => r.value);
    const uncommitted = (await consumeAll(`${ns}.out`, true)).map((r) => r.value);
    const viaRead = (await log.read('out', 0, 0, 100)).map((r) => r.value!.toString());
    t.diagnostic(`read_committed sees [${committed.join(', ')}]; read_uncommitted sees [${uncommitted.join(', ')}]`);
    assert.deepEqual(committed, ['successor']);
    assert.deepEqual(viaRead, ['successor'], 'EventLog.read filters aborted transactional records');
    assert.ok(uncommitted.includes('zombie-1') && uncommitted.includes('zombie-2'), 'the zombie records were written (and aborted), not never sent');
  });

  test('(b) crash proof: kill -9 of the processor mid-load, restarted; committed outputs hold each input exactly once', { timeout: 150_000 }, async (t) => {
    const ns = `eos-b-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 'in', partitions: PARTITIONS });
    await log.createTopic({ name: 'out', partitions: PARTITIONS });

    const children = new Set<ReturnType<typeof spawn>>();
    cleanups.push(async () => { for (const c of children) c.kill('SIGKILL'); });
    /** Starts the child; resolves once it printed READY (assignment positioned). */
    const startChild = () => new Promise<{ child: ReturnType<typeof spawn>; exited: Promise<number | string | null> }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, broker!.bootstrap, ns, '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let stderr = '';
      let ready = false;
      const bound = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child not ready in 60 s: ${stderr}`)); }, 60_000);
      const exited = new Promise<number | string | null>((r) => child.on('close', (code, signal) => { children.delete(child); clearTimeout(bound); r(signal ?? code); if (!ready) reject(new Error(`child exited ${signal ?? code}: ${stderr}`)); }));
      child.stderr!.on('data', (d) => { stderr += d; });
      child.stdout!.on('data', (d: Buffer) => { if (!ready && d.toString().includes('READY')) { ready = true; clearTimeout(bound); resolve({ child, exited }); } });
      child.on('error', reject);
    });
    const processed = async () => [...(await log.committedOffsets('doubler')).values()].reduce((a, b) => a + b, 0);

    // A backlog of 2000 inputs, so every kill lands while the processor is busy (mostly mid-transaction).
    for (let i = 0; i < N; i += 500) {
      await log.append('in', Array.from({ length: 500 }, (_, j) => ({ key: `k${(i + j) % 50}`, value: Buffer.from(String(i + j)) })));
    }

    let kills = 0;
    const killedAt: number[] = [];
    for (let round = 0; round < 3; round++) {
      const { child, exited } = await startChild();
      const before = await processed();
      // Random kill point: once this run has committed some progress, after a further 0–300 ms.
      const deadline = Date.now() + 30_000;
      while (await processed() <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      const at = await processed();
      if (at >= N) { child.kill('SIGTERM'); await exited; break; }
      child.kill('SIGKILL');
      await exited;
      kills++;
      killedAt.push(at);
    }
    // Final run to completion.
    const { child, exited } = await startChild();
    const deadline = Date.now() + 60_000;
    while (await processed() < N) {
      if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`final run stuck at ${await processed()}/${N}`); }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    assert.equal(await within(exited, 30_000, 'child graceful stop'), 0);

    const committedOut = await consumeAll(`${ns}.out`, false);
    const rawOut = await consumeAll(`${ns}.out`, true);
    const figures = tally(committedOut, N);
    const aborted = rawOut.length - committedOut.length;
    t.diagnostic(`kills=${kills} (group offsets at kill: ${killedAt.join(', ')}) inputs=${N} committed outputs=${figures.outputs} distinct=${figures.distinct} lost=${figures.lost} duplicated=${figures.duplicated}; aborted records in the log (seen only read_uncommitted)=${aborted}`);

    assert.ok(kills >= 2, `killed mid-load at least twice (got ${kills})`);
    assert.equal(figures.lost, 0, 'no input lost');
    assert.equal(figures.duplicated, 0, 'no input duplicated');
    assert.deepEqual(figures.strays, []);
    assert.equal(figures.outputs, N);
  });

  test('(d) runtime dead-letter on Kafka: the DLQ record and the source offset commit are one transaction', { timeout: 60_000 }, async (t) => {
    const ns = `eos-d-${randomUUID().slice(0, 8)}`;
    const log = await createKafkaEventLog({
      brokers: [broker!.bootstrap], clientId: 'eos-d', namespace: ns, replicationFactor: 1, logger: testLogger(),
      sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 6_000, maxWaitTimeMs: 100, redeliveryDelayMs: 10,
    });
    cleanups.push(() => log.close());
    await log.createTopic({ name: 'src', partitions: 2 });
    const meta = await log.append('src', ['a', 'b', 'poison', 'c', 'd'].map((v) => ({ key: 'k1', value: Buffer.from(v) })));
    const handled: string[] = [];
    const def: ProcessorDefinition = {
      name: 'eos-dlq',
      topics: ['src'],
      retry: { retries: 1, minTimeoutMs: 10, maxTimeoutMs: 20 },
      async handle(record) {
        const v = record.value!.toString();
        if (v === 'poison') throw Object.assign(new Error('cannot handle poison'), { code: 'POISON' });
        handled.push(v);
      },
    };
    const run = () => runProcessor(log, def, { transactionalSubscribe: (sub) => subscribeTransactional(log, sub, { logger: testLogger() }) });
    let proc = await run();
    await within(proc.caughtUp(), 30_000, 'processor caught up');
    await proc.stop();
    // A restart must not dead-letter the record again: its offset was committed with the DLQ record.
    proc = await run();
    await within(proc.caughtUp(), 30_000, 'restarted processor caught up');
    await proc.stop();

    const dlqTopic = deadLetterTopicFor(def, 'src');
    const p = meta[2].partition;
    const committedDlq = await consumeAll(`${ns}.${dlqTopic}`, false);
    const viaRead = await log.read(dlqTopic, p, 0, 100);
    const dlqEnd = (await log.endOffsets(dlqTopic))[p];
    const committed = await log.committedOffsets('streamwave.eos-dlq');
    t.diagnostic(`DLQ records (read_committed)=${committedDlq.length}; DLQ partition end offset=${dlqEnd} (record + commit marker); handled=[${handled.join(', ')}]`);
    assert.deepEqual(committedDlq.map((r) => r.value), ['poison']);
    assert.equal(viaRead.length, 1);
    assert.equal(viaRead[0].headers[DLQ_HEADERS.offset], String(meta[2].offset));
    assert.equal(viaRead[0].headers[DLQ_HEADERS.errorCode], 'POISON');
    // Written in a transaction: the commit marker takes the next offset of the DLQ partition.
    assert.equal(dlqEnd, 2);
    assert.deepEqual(handled, ['a', 'b', 'c', 'd'], 'later records keep flowing, once each');
    assert.equal(committed.get(`src:${p}`), meta[4].offset + 1);
  });
});
