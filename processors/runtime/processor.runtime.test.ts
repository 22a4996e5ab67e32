/**
 * Processor runtime on the in-memory log: retries, dead-lettering of a poison record, flow after
 * it, metrics, stop; and, on a log with the transactional capability (a recording wrapper of the
 * in-memory log), the dead-letter path through `tx.commit`. On Kafka: transform.runtime.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Registry } from 'prom-client';
import type { EventLog, LogRecord, OutputRecord, TransactionalEventLog } from '../../platform/log/event-log.port.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { within } from '../../platform/log/event-log.contract.ts';
import { DLQ_HEADERS, deadLetterTopicFor, runProcessor } from './processor.runtime.ts';
import { processorNode } from './topology.port.ts';

/** A processor node from test parts, run on `log`. */
const run = (log: EventLog, spec: Parameters<typeof processorNode>[0], opts?: Parameters<typeof runProcessor>[2]) => runProcessor(log, processorNode(spec), opts);

const BOUND_MS = 10_000;
const fast = { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 5 };
const metricValue = async (registry: Registry, name: string, labels: Record<string, string>) => {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val))?.value;
};

describe('processor runtime', () => {
  test('a poison record is retried, dead-lettered with x-dlq headers, and later records still flow', async () => {
    const log = createInMemoryEventLog();
    await log.createTopic({ name: 'video-events', partitions: 2 });
    await log.append('video-events', ['a', 'poison', 'b', 'c'].map((v) => ({ key: 'video-1', value: Buffer.from(v), headers: { 'content-type': 'test' } })));
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    const deadLettered: { record: LogRecord; error: Error }[] = [];
    const registry = new Registry();
    const proc = await run(log, {
      name: 'thumbnailer',
      inputs: ['video-events'],
      retry: fast,
      async handle(r) {
        const v = r.value!.toString();
        attempts.set(v, (attempts.get(v) ?? 0) + 1);
        if (v === 'poison') throw Object.assign(new Error('cannot decode'), { code: 'DECODE_FAILED' });
        handled.push(v);
      },
      async onDeadLetter(record, error) { deadLettered.push({ record, error }); },
    }, { registry });
    await within(proc.caughtUp(), BOUND_MS, 'caughtUp');
    await log.append('video-events', [{ key: 'video-1', value: Buffer.from('d') }]);
    await within(proc.caughtUp(), BOUND_MS, 'caughtUp after poison');
    await proc.stop();

    assert.deepEqual(handled, ['a', 'b', 'c', 'd']);
    assert.equal(attempts.get('poison'), fast.retries + 1);
    const dlq = log.records('video-events.thumbnailer.dlq');
    assert.equal(dlq.length, 1);
    const source = log.records('video-events').find((r) => r.value!.toString() === 'poison')!;
    assert.equal(dlq[0].key, 'video-1');
    assert.equal(dlq[0].value!.toString(), 'poison');
    assert.deepEqual(dlq[0].headers, {
      'content-type': 'test',
      [DLQ_HEADERS.error]: 'cannot decode',
      [DLQ_HEADERS.errorCode]: 'DECODE_FAILED',
      [DLQ_HEADERS.topic]: 'video-events',
      [DLQ_HEADERS.partition]: String(source.partition),
      [DLQ_HEADERS.offset]: String(source.offset),
      [DLQ_HEADERS.processor]: 'thumbnailer',
    });
    assert.equal(deadLettered.length, 1);
    assert.equal(deadLettered[0].record.offset, source.offset);
    assert.equal(deadLettered[0].error.message, 'cannot decode');
    assert.equal((await log.committedOffsets('streamwave.thumbnailer')).get(`video-events:${source.partition}`), 5);
    assert.equal(await metricValue(registry, 'streamwave_processor_records_processed_total', { processor: 'thumbnailer' }), 4);
    assert.equal(await metricValue(registry, 'streamwave_processor_failures_total', { processor: 'thumbnailer' }), fast.retries + 1);
    assert.equal(await metricValue(registry, 'streamwave_processor_dead_lettered_total', { processor: 'thumbnailer' }), 1);
  });

  test('a transient failure is retried without dead-lettering; TypeErrors are retried too', async () => {
    const log = createInMemoryEventLog();
    await log.createTopic({ name: 't', partitions: 1 });
    await log.append('t', [{ key: 'k', value: Buffer.from('x') }]);
    let calls = 0;
    const proc = await run(log, {
      name: 'flaky', inputs: ['t'], retry: fast,
      async handle() { calls++; if (calls === 1) throw new TypeError('odd'); if (calls === 2) throw 'not an error'; },
    });
    await within(proc.caughtUp(), BOUND_MS, 'caughtUp');
    await proc.stop();
    assert.equal(calls, 3);
    assert.equal((await log.listTopics()).some((t) => t.name.endsWith('.dlq')), false);
  });

  test('custom dead-letter topic, onDeadLetter errors are contained, onAssigned seek is honoured', async () => {
    const log = createInMemoryEventLog();
    await log.createTopic({ name: 't', partitions: 1 });
    await log.append('t', ['skip', 'bad', 'ok'].map((v) => ({ key: 'k', value: Buffer.from(v) })));
    const handled: string[] = [];
    const proc = await run(log, {
      name: 'p', inputs: ['t'], retry: { retries: 0, minTimeoutMs: 1, maxTimeoutMs: 1 }, deadLetterTopic: 'all.dlq',
      onAssigned: async () => new Map([['t:0', 1]]),
      async handle(r) { if (r.value!.toString() === 'bad') throw new Error('bad'); handled.push(r.value!.toString()); },
      async onDeadLetter() { throw new Error('hook broke'); },
    });
    await within(proc.caughtUp(), BOUND_MS, 'caughtUp');
    await proc.stop();
    assert.deepEqual(handled, ['ok']);
    assert.deepEqual(log.records('all.dlq').map((r) => r.value!.toString()), ['bad']);
  });

  test('stop() during a retry backoff returns promptly and neither dead-letters nor commits the record', async () => {
    const log = createInMemoryEventLog();
    await log.createTopic({ name: 't', partitions: 1 });
    await log.append('t', [{ key: 'k', value: Buffer.from('x') }]);
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((r) => { firstAttempt = r; });
    const proc = await run(log, {
      name: 'slow', inputs: ['t'], retry: { retries: 5, minTimeoutMs: 60_000, maxTimeoutMs: 60_000 },
      async handle() { firstAttempt(); throw new Error('down'); },
    });
    await within(attempted, BOUND_MS, 'first attempt');
    await within(proc.stop(), BOUND_MS, 'stop during backoff');
    assert.equal((await log.listTopics()).some((t) => t.name.endsWith('.dlq')), false);
    assert.equal((await log.committedOffsets('streamwave.slow')).get('t:0'), undefined);
  });

  test('issue 8: stop() aborts the in-flight handler through its signal: a hung child is killed, stop is not blocked, the record is redelivered', async () => {
    const log = createInMemoryEventLog();
    await log.createTopic({ name: 't', partitions: 1 });
    await log.append('t', [{ key: 'k', value: Buffer.from('x') }]);
    let childStarted!: (pid: number) => void;
    const started = new Promise<number>((r) => { childStarted = r; });
    let deadLettered = 0;
    const proc = await run(log, {
      name: 'hung', inputs: ['t'], retry: { retries: 5, minTimeoutMs: 1, maxTimeoutMs: 1 },
      async handle(_record, context) {
        // A child that never ends on its own (as a hung FFmpeg), killed when the signal fires.
        const child = spawn('sleep', ['1000'], { signal: context!.signal, stdio: 'ignore' });
        child.once('spawn', () => childStarted(child.pid!));
        await new Promise((resolve, reject) => { child.once('exit', resolve); child.once('error', reject); });
        throw new Error('the child ended without being killed');
      },
      async onDeadLetter() { deadLettered++; },
    });
    const pid = await within(started, BOUND_MS, 'child started');
    await within(proc.stop(), BOUND_MS, 'stop with a hung handler');
    assert.throws(() => process.kill(pid, 0), 'the hung child was killed');
    assert.equal(deadLettered, 0);
    assert.equal((await log.committedOffsets('streamwave.hung')).get('t:0'), undefined, 'left for redelivery');
  });

  test('lag is exported per processor and partition on scrape', async () => {
    const log = createInMemoryEventLog();
    await log.createTopic({ name: 't', partitions: 2 });
    const registry = new Registry();
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    let started!: () => void;
    const blocked = new Promise<void>((r) => { started = r; });
    const proc = await run(log, { name: 'lagging', inputs: ['t'], async handle() { started(); await gate; } }, { registry });
    await log.append('t', [1, 2, 3].map((i) => ({ key: null, value: Buffer.from(String(i)), partition: 0 })));
    await within(blocked, BOUND_MS, 'handler started');
    assert.equal(await metricValue(registry, 'streamwave_processor_lag', { processor: 'lagging', topic: 't', partition: '0' }), 3);
    assert.equal(await metricValue(registry, 'streamwave_processor_lag', { processor: 'lagging', topic: 't', partition: '1' }), 0);
    open();
    await within(proc.caughtUp(), BOUND_MS, 'caughtUp');
    assert.equal(await metricValue(registry, 'streamwave_processor_lag', { processor: 'lagging', topic: 't', partition: '0' }), 0);
    await proc.stop();
  });

  test('on a log with the transactional capability a dead-lettered record and its source offset go through one tx.commit', async () => {
    const inner = createInMemoryEventLog();
    await inner.createTopic({ name: 't', partitions: 1 });
    await inner.append('t', ['a', 'poison', 'b'].map((v) => ({ key: 'k', value: Buffer.from(v) })));
    const commits: Array<{ input: string; outputs: OutputRecord[]; nextOffset: number }> = [];
    const appended: string[] = [];
    const log: TransactionalEventLog = {
      ...inner,
      async append(topic, records) { appended.push(topic); return inner.append(topic, records); },
      subscribeTransactional: (sub) => inner.subscribe({
        ...sub,
        eachBatch: (batch) => sub.eachBatch(batch, {
          topic: batch.topic,
          partition: batch.partition,
          async commit(outputs, nextOffset) { commits.push({ input: `${batch.topic}:${batch.partition}`, outputs, nextOffset }); return []; },
        }),
      }),
    };
    const handled: string[] = [];
    const def = {
      name: 'tx', inputs: ['t'], retry: { retries: 0, minTimeoutMs: 1, maxTimeoutMs: 1 },
      async handle(r: LogRecord) { if (r.value!.toString() === 'poison') throw new Error('no'); handled.push(r.value!.toString()); },
    };
    const proc = await run(log, def);
    await within(proc.caughtUp(), BOUND_MS, 'caughtUp');
    await proc.stop();
    assert.deepEqual(handled, ['a', 'b']);
    assert.deepEqual(appended, [], 'no plain append of the DLQ record');
    assert.equal(commits.length, 1);
    assert.equal(commits[0].input, 't:0');
    assert.equal(commits[0].nextOffset, 2, 'the source offset after the dead-lettered record');
    assert.deepEqual(commits[0].outputs.map((o) => [o.topic, o.value!.toString(), o.headers?.[DLQ_HEADERS.offset]]), [[deadLetterTopicFor(def, 't'), 'poison', '1']]);
  });
});
