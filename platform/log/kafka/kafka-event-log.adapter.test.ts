/**
 * Kafka-specific behaviour of the Kafka EventLog beyond the shared contract, against a real
 * broker: rebalances between two members of one group, a broker restart under a producer and a
 * consumer, broker-side record validation, and consumer-less commits on an active group.
 * Skipped when Java/Maven are missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LogRecord, TopicPartition } from '../event-log.port.ts';
import { tpKey } from '../event-log.port.ts';
import { within } from '../event-log.contract.ts';
import { EventLogError } from '../event-log.errors.ts';
import type { KafkaEventLog } from './kafka-event-log.adapter.ts';
import { kafkaTestFile } from '../../../test/support/kafka-test-file.ts';

const kafkaFile = await kafkaTestFile();

const BOUND_MS = 30_000;
const buf = (s: string) => Buffer.from(s, 'utf8');

const open = (namespace: string): Promise<KafkaEventLog> => kafkaFile.openLog(namespace, 'adapter-test');

/** Polls `cond` every 50 ms until true; rejects after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Kafka EventLog (real broker)', { skip: kafkaFile.skip }, () => {
  test('a null key on a compacted topic is rejected by the broker with a typed error', async () => {
    const log = await open(`a-${randomUUID().slice(0, 8)}`);
    await log.createTopic({ name: 'c', partitions: 1, compacted: true });
    await assert.rejects(log.append('c', [{ key: null, value: buf('x') }]), (e: unknown) => e instanceof EventLogError && e.code === 'INVALID_RECORD');
    await assert.rejects(log.createTopic({ name: 'c', partitions: 2, compacted: true }), (e: unknown) => e instanceof EventLogError && e.code === 'TOPIC_CONFLICT');
    await assert.rejects(log.createTopic({ name: 'c', partitions: 1 }), (e: unknown) => e instanceof EventLogError && e.code === 'TOPIC_CONFLICT');
  });

  test('two members of one group split the partitions; a rebalance hands them over and every record is processed', async () => {
    const ns = `r-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    await log.createTopic({ name: 't', partitions: 4 });
    await log.append('t', Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: buf(String(i)) })));
    const seen = new Map<string, number>();
    const record = (r: LogRecord) => seen.set(`${r.partition}/${r.offset}`, (seen.get(`${r.partition}/${r.offset}`) ?? 0) + 1);
    const assignedA: TopicPartition[][] = [];
    const assignedB: TopicPartition[][] = [];
    const a = await log.subscribe({ groupId: 'g', topics: ['t'], onAssigned: async (p) => { assignedA.push(p); }, eachBatch: async (b) => { b.records.forEach(record); } });
    await within(a.caughtUp(), BOUND_MS, 'member a caught up');
    assert.equal(assignedA.at(-1)?.length, 4, 'a alone owns every partition');
    // A second member (another log instance = another process in production) joins: rebalance.
    const log2 = await open(ns);
    const b = await log2.subscribe({ groupId: 'g', topics: ['t'], onAssigned: async (p) => { assignedB.push(p); }, eachBatch: async (x) => { x.records.forEach(record); } });
    await until(() => (assignedA.at(-1)?.length ?? 0) + (assignedB.at(-1)?.length ?? 0) === 4 && (assignedB.at(-1)?.length ?? 0) > 0, BOUND_MS, 'rebalance split');
    const owned = [...(assignedA.at(-1) ?? []), ...(assignedB.at(-1) ?? [])].map((p) => p.partition).sort();
    assert.deepEqual(owned, [0, 1, 2, 3], 'partitions split without overlap');
    await log.append('t', Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: buf(String(40 + i)) })));
    await within(Promise.all([a.caughtUp(), b.caughtUp()]), BOUND_MS, 'both caught up');
    await Promise.all([a.stop(), b.stop()]);
    const ends = await log.endOffsets('t');
    assert.equal(ends.reduce((x, y) => x + y, 0), 80);
    for (let p = 0; p < 4; p++) for (let o = 0; o < ends[p]; o++) assert.ok(seen.has(`${p}/${o}`), `record ${p}/${o} processed`);
    const committed = await log.committedOffsets('g');
    ends.forEach((end, p) => assert.equal(committed.get(tpKey('t', p)), end, `partition ${p} committed to its end`));
  });

  test('commitOffsets without a local member is refused while another process holds the group', async () => {
    const ns = `m-${randomUUID().slice(0, 8)}`;
    const log = await open(ns);
    const other = await open(ns);
    await log.createTopic({ name: 't', partitions: 1 });
    const c = await other.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async () => {} });
    await assert.rejects(log.commitOffsets('g', new Map([[tpKey('t', 0), 1]])), (e: unknown) => e instanceof EventLogError && e.code === 'GROUP_ACTIVE');
    // Through the process that has the member, the commit goes through the member's generation.
    await other.commitOffsets('g', new Map([[tpKey('t', 0), 0]]));
    await c.stop();
    await log.commitOffsets('g', new Map([[tpKey('t', 0), 0]]));
    assert.deepEqual([...(await log.committedOffsets('g'))], [['t:0', 0]]);
    assert.ok((await log.listGroups()).includes('g'));
  });

  test('a broker restart: acknowledged records survive, the producer and the consumer carry on', { timeout: 240_000 }, async () => {
    const log = await open(`b-${randomUUID().slice(0, 8)}`);
    await log.createTopic({ name: 't', partitions: 2 });
    await log.append('t', Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: buf(String(i)) })));
    const seen = new Set<string>();
    const c = await log.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async (b) => { b.records.forEach((r) => seen.add(r.value!.toString())); } });
    await within(c.caughtUp(), BOUND_MS, 'caught up before restart');
    await kafkaFile.broker().restart();
    await within(log.append('t', Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: buf(String(10 + i)) }))), 120_000, 'append after restart');
    await until(() => seen.size === 20, 60_000, 'consumer sees the records appended after the restart');
    await c.stop();
    const all = (await Promise.all([0, 1].map((p) => log.read('t', p, 0, 100)))).flat().map((r) => r.value!.toString());
    assert.deepEqual(all.map(Number).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  });

  test('end and beginning offsets asked at once for several topics (one ListOffsets per end) answer each topic its own; an unknown topic among them fails alone', async () => {
    const log = await open(`o-${randomUUID().slice(0, 8)}`);
    await log.createTopic({ name: 'x', partitions: 2 });
    await log.createTopic({ name: 'y', partitions: 3 });
    const appended = [...await log.append('x', Array.from({ length: 7 }, (_, i) => ({ key: `k${i}`, value: buf('v') }))), ...await log.append('y', [{ key: 'only', value: buf('v') }])];
    const ends = (topic: string, partitions: number) => Array.from({ length: partitions }, (_, p) => appended.filter((m) => m.topic === topic && m.partition === p).reduce((end, m) => Math.max(end, m.offset + 1), 0));
    const [x, y, xStart, yAgain] = await Promise.all([log.endOffsets('x'), log.endOffsets('y'), log.beginningOffsets('x'), log.endOffsets('y')]);
    assert.deepEqual(x, ends('x', 2));
    assert.deepEqual(y, ends('y', 3));
    assert.deepEqual(yAgain, y);
    assert.notEqual(yAgain, y, 'each caller gets an array of its own');
    assert.deepEqual(xStart, [0, 0]);
    const [unknown, xWithIt] = await Promise.allSettled([log.endOffsets('nope'), log.endOffsets('x')]);
    assert.ok(unknown.status === 'rejected' && unknown.reason instanceof EventLogError && unknown.reason.code === 'UNKNOWN_TOPIC', String((unknown as PromiseRejectedResult).reason));
    assert.deepEqual(xWithIt, { status: 'fulfilled', value: ends('x', 2) });
  });
});
