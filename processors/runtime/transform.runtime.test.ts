/**
 * Exactly-once processing on the log's transactional capability:
 * - without the capability (in-memory log) the transform runtime refuses with a typed error;
 * against a real Kafka broker:
 * (a) a keyed transform n → 2n run by the transform runtime, processed exactly once end to end,
 *     read back READ_COMMITTED;
 * (b) crash proof: the transform runtime in a child process, SIGKILLed mid-load and restarted; the
 *     committed outputs hold every input exactly once;
 * (c) the processor runtime's dead-letter path on a transactional log: DLQ record + source offset
 *     in one transaction, no second DLQ record after a restart.
 * The capability itself (fencing, isolation) is tested in platform/log/kafka/kafka-transactions.test.ts.
 * Kafka cases are skipped when Java/Maven are missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from '../../platform/log/event-log.contract.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { KafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { kafkaTestFile, kafkaTestLogger as testLogger } from '../../test/support/kafka-test-file.ts';
import { consumeAll, type SeenRecord } from '../../test/support/kafka-topic-reader.ts';
import { DLQ_HEADERS, deadLetterTopicFor, runProcessor } from './processor.runtime.ts';
import { processorNode } from './topology.port.ts';
import { runTransactionalProcessor, TransformRuntimeError, type TransactionalProcessorHandle } from './transform.runtime.ts';

test('without the transactional capability the transform runtime refuses with TRANSACTIONS_UNSUPPORTED', async () => {
  const log = createInMemoryEventLog();
  await log.createTopic({ name: 'in', partitions: 1 });
  await assert.rejects(
    runTransactionalProcessor(log, { groupId: 'doubler', topics: ['in'], handle: async () => [] }),
    (e: unknown) => e instanceof TransformRuntimeError && e.code === 'TRANSACTIONS_UNSUPPORTED',
  );
});

const kafkaFile = await kafkaTestFile();

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'testing', 'transactional-doubler.child.ts');
const N = 2000;
const PARTITIONS = 3;

const open = (namespace: string, clientId = 'eos-test'): Promise<KafkaEventLog> => kafkaFile.openLog(namespace, clientId);

/** Creates `in`/`out` and appends inputs 0..n-1 (value = n, 50 distinct keys). */
async function seedInputs(log: KafkaEventLog, n: number): Promise<void> {
  await log.createTopic({ name: 'in', partitions: PARTITIONS });
  await log.createTopic({ name: 'out', partitions: PARTITIONS });
  for (let i = 0; i < n; i += 500) {
    const chunk = Array.from({ length: Math.min(500, n - i) }, (_, j) => i + j);
    await log.append('in', chunk.map((v) => ({ key: `k${v % 50}`, value: Buffer.from(String(v)) })));
  }
}

/** Tallies outputs against inputs 0..n-1: how many inputs have 0, 1, >1 outputs, and strays. */
function tally(outputs: SeenRecord[], n: number) {
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

describe('exactly-once processing on Kafka (real broker)', { skip: kafkaFile.skip }, () => {
  test('(a) a keyed transform n → 2n: every input yields exactly one committed output, on its key\'s partition', { timeout: 120_000 }, async (t) => {
    const ns = `eos-a-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await seedInputs(log, N);
    const inputPartitionOfKey = new Map<string, number>();
    for (let p = 0; p < PARTITIONS; p++) for (const r of await log.read('in', p, 0, N)) inputPartitionOfKey.set(r.key!, p);

    let proc: TransactionalProcessorHandle | undefined;
    try {
      proc = await runTransactionalProcessor(log, {
        groupId: 'doubler', topics: ['in'], maxBatchSize: 100, logger: testLogger(),
        async handle(record) {
          const n = Number(record.value!.toString());
          return [{ topic: 'out', key: record.key, value: Buffer.from(String(n * 2)) }];
        },
      });
      await within(proc.caughtUp(), 60_000, 'processor caught up');
    } finally {
      await proc?.stop();
    }

    const outputs = await consumeAll(kafkaFile.broker().bootstrap, `${ns}.out`, false);
    const figures = tally(outputs, N);
    // The adapter's `read` is a raw READ_COMMITTED fetch: it must agree with the consumer.
    const viaRead: SeenRecord[] = [];
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

  test('(b) crash proof: kill -9 of the processor mid-load, restarted; committed outputs hold each input exactly once', { timeout: 150_000 }, async (t) => {
    const ns = `eos-b-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 'in', partitions: PARTITIONS });
    await log.createTopic({ name: 'out', partitions: PARTITIONS });

    const children = new Set<ReturnType<typeof spawn>>();
    kafkaFile.onCleanup(async () => { for (const c of children) c.kill('SIGKILL'); });
    /** Starts the child; resolves once it printed READY (assignment positioned). */
    const startChild = () => new Promise<{ child: ReturnType<typeof spawn>; exited: Promise<number | string | null> }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, kafkaFile.broker().bootstrap, ns, '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      // Kill point: as soon as this run has committed progress (an observed event, not a clock),
      // plus 0–50 ms so the kill lands at varying points of a transaction. 2000 inputs at 10 per
      // transaction leave every kill mid-load.
      const deadline = Date.now() + 60_000;
      while (await processed() <= before) {
        if (Date.now() > deadline) throw new Error(`run ${round} committed nothing in 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
      child.kill('SIGKILL');
      await exited;
      kills++;
      killedAt.push(await processed());
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

    const committedOut = await consumeAll(kafkaFile.broker().bootstrap, `${ns}.out`, false);
    const rawOut = await consumeAll(kafkaFile.broker().bootstrap, `${ns}.out`, true);
    const figures = tally(committedOut, N);
    const aborted = rawOut.length - committedOut.length;
    t.diagnostic(`kills=${kills} (group offsets at kill: ${killedAt.join(', ')}) inputs=${N} committed outputs=${figures.outputs} distinct=${figures.distinct} lost=${figures.lost} duplicated=${figures.duplicated}; aborted records in the log (seen only read_uncommitted)=${aborted}`);

    assert.ok(killedAt.every((at) => at < N), `every kill landed mid-load (group offsets at kill: ${killedAt.join(', ')})`);
    assert.equal(figures.lost, 0, 'no input lost');
    assert.equal(figures.duplicated, 0, 'no input duplicated');
    assert.deepEqual(figures.strays, []);
    assert.equal(figures.outputs, N);
  });

  test('(c) processor runtime dead-letter on a transactional log: the DLQ record and the source offset commit are one transaction', { timeout: 60_000 }, async (t) => {
    const ns = `eos-c-${randomUUID().slice(0, 8)}`;
    const log = await open(ns, 'eos-dlq');
    await log.createTopic({ name: 'src', partitions: 2 });
    const meta = await log.append('src', ['a', 'b', 'poison', 'c', 'd'].map((v) => ({ key: 'k1', value: Buffer.from(v) })));
    const handled: string[] = [];
    const def = processorNode({
      name: 'eos-dlq',
      inputs: ['src'],
      retry: { retries: 1, minTimeoutMs: 10, maxTimeoutMs: 20 },
      async handle(record) {
        const v = record.value!.toString();
        if (v === 'poison') throw Object.assign(new Error('cannot handle poison'), { code: 'POISON' });
        handled.push(v);
      },
    });
    // No option: the runtime uses the log's transactional capability by itself.
    const run = () => runProcessor(log, def, { logger: testLogger() });
    let proc = await run();
    await within(proc.caughtUp(), 30_000, 'processor caught up');
    await proc.stop();
    // A restart must not dead-letter the record again: its offset was committed with the DLQ record.
    proc = await run();
    await within(proc.caughtUp(), 30_000, 'restarted processor caught up');
    await proc.stop();

    const dlqTopic = deadLetterTopicFor(def, 'src');
    const p = meta[2].partition;
    const committedDlq = await consumeAll(kafkaFile.broker().bootstrap, `${ns}.${dlqTopic}`, false);
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
