/** Embedded-log specifics beyond the port contract: torn-tail recovery, lock file, typed errors. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { within } from '../event-log.contract.ts';
import { appendFile, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLEAN_SHUTDOWN_MARKER, createEmbeddedEventLog } from './embedded-event-log.adapter.ts';
import { EventLogError } from '../event-log.errors.ts';

const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-embedded-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
};
const code = (c: string) => (err: unknown) => err instanceof EventLogError && err.code === c;
const seg = (dir: string, topic: string, p: number) => join(dir, 'log', 'topics', topic, `${p}.log`);
/** What a crash leaves: no clean-shutdown marker (a clean close writes it). */
const crashed = (dir: string) => rm(join(dir, 'log', CLEAN_SHUTDOWN_MARKER));

describe('embedded event log', () => {
  test('a torn tail (partial record) is truncated on open and appends continue densely', () => withDir(async (dir) => {
    let log = await createEmbeddedEventLog({ dataDir: dir });
    await log.createTopic({ name: 't', partitions: 1 });
    await log.append('t', [0, 1, 2].map((i) => ({ key: 'k', value: Buffer.from(`v${i}`) })));
    await log.close();
    const goodSize = (await stat(seg(dir, 't', 0))).size;
    await crashed(dir);
    // Simulate a crash mid-write: a length prefix promising more bytes than were written.
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(500, 0);
    await appendFile(seg(dir, 't', 0), torn);
    log = await createEmbeddedEventLog({ dataDir: dir });
    assert.equal((await stat(seg(dir, 't', 0))).size, goodSize);
    assert.deepEqual(await log.endOffsets('t'), [3]);
    const m = await log.append('t', [{ key: 'k', value: Buffer.from('v3') }]);
    assert.equal(m[0].offset, 3);
    assert.deepEqual((await log.read('t', 0, 0, 10)).map((r) => r.value!.toString()), ['v0', 'v1', 'v2', 'v3']);
    await log.close();
  }));

  test('a last record failing its CRC after a crash is a torn tail: the valid log ends there', () => withDir(async (dir) => {
    let log = await createEmbeddedEventLog({ dataDir: dir });
    await log.createTopic({ name: 't', partitions: 1 });
    await log.append('t', [{ key: 'a', value: Buffer.from('first') }]);
    const size1 = (await stat(seg(dir, 't', 0))).size;
    await log.append('t', [{ key: 'b', value: Buffer.from('second') }]);
    await log.close();
    const fh = await open(seg(dir, 't', 0), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, size1 + 40); // flip a byte inside record 1's body
    await fh.close();
    await crashed(dir);
    log = await createEmbeddedEventLog({ dataDir: dir });
    assert.deepEqual(await log.endOffsets('t'), [1]);
    assert.equal((await log.read('t', 0, 0, 10))[0].value!.toString(), 'first');
    await log.close();
  }));

  test('a second open of the same data dir fails with LOG_LOCKED; a stale lock is taken over', () => withDir(async (dir) => {
    const log = await createEmbeddedEventLog({ dataDir: dir });
    await assert.rejects(createEmbeddedEventLog({ dataDir: dir }), code('LOG_LOCKED'));
    await log.close();
    // A lock left by a dead process (kill -9): pid that cannot be alive.
    await writeFile(join(dir, 'log', 'LOCK'), '2147483646\n');
    const again = await createEmbeddedEventLog({ dataDir: dir });
    await again.close();
  }));

  test('typed errors: unknown topic, invalid partition, topic conflict, closed log', () => withDir(async (dir) => {
    const log = await createEmbeddedEventLog({ dataDir: dir, fsync: false, maxRecordBytes: 1024 });
    await log.createTopic({ name: 't', partitions: 2 });
    await assert.rejects(log.append('nope', [{ key: 'k', value: null }]), code('UNKNOWN_TOPIC'));
    await assert.rejects(log.append('t', [{ key: 'k', value: null, partition: 2 }]), code('INVALID_PARTITION'));
    await assert.rejects(log.read('t', 5, 0, 1), code('INVALID_PARTITION'));
    await assert.rejects(log.createTopic({ name: 't', partitions: 3 }), code('TOPIC_CONFLICT'));
    await assert.rejects(log.createTopic({ name: 'bad/name', partitions: 1 }), code('INVALID_TOPIC'));
    await assert.rejects(log.append('t', [{ key: 'k', value: Buffer.alloc(2048) }]), code('RECORD_TOO_LARGE'));
    assert.deepEqual(await log.endOffsets('t'), [0, 0], 'a rejected call appends nothing');
    await log.close();
    await assert.rejects(log.append('t', [{ key: 'k', value: null }]), code('LOG_CLOSED'));
  }));

  test('group commit: many concurrent appends across partitions are all durable and dense after reopen', () => withDir(async (dir) => {
    let log = await createEmbeddedEventLog({ dataDir: dir });
    await log.createTopic({ name: 't', partitions: 3 });
    const metas = (await Promise.all(Array.from({ length: 300 }, (_, i) => log.append('t', [{ key: `k${i}`, value: Buffer.from(String(i)) }])))).flat();
    await log.close();
    log = await createEmbeddedEventLog({ dataDir: dir });
    const ends = await log.endOffsets('t');
    assert.equal(ends.reduce((a, b) => a + b, 0), 300);
    for (let p = 0; p < 3; p++) {
      const offsets = metas.filter((m) => m.partition === p).map((m) => m.offset).sort((a, b) => a - b);
      assert.deepEqual(offsets, Array.from({ length: ends[p] }, (_, i) => i));
    }
    const recs = await log.read('t', metas[123].partition, metas[123].offset, 1);
    assert.equal(recs[0].value!.toString(), '123');
    await log.close();
  }));

  test('partitionsConsumedConcurrently runs batches of different partitions at once, keeping order per partition', () => withDir(async (dir) => {
    const log = await createEmbeddedEventLog({ dataDir: dir, fsync: false });
    await log.createTopic({ name: 't', partitions: 2 });
    await log.append('t', Array.from({ length: 6 }, (_, i) => ({ key: null, value: Buffer.from(String(i)), partition: i % 2 })));
    let active = 0;
    let maxActive = 0;
    const order = new Map<number, number[]>();
    let release!: () => void;
    const bothStarted = new Promise<void>((r) => { release = r; });
    const c = await log.subscribe({
      groupId: 'g', topics: ['t'], maxBatchSize: 1, partitionsConsumedConcurrently: 2,
      eachBatch: async (b) => {
        active++;
        maxActive = Math.max(maxActive, active);
        if (active === 2) release();
        // The first batch of each partition waits until both partitions are in flight: without
        // concurrency this never happens, and the hang guard below fails the test.
        await bothStarted;
        order.set(b.partition, [...(order.get(b.partition) ?? []), b.records[0].offset]);
        active--;
      },
    });
    await within(c.caughtUp(), 60_000, 'both partitions in flight at once, then caught up');
    await c.stop();
    assert.equal(maxActive, 2);
    assert.deepEqual(order.get(0), [0, 1, 2]);
    assert.deepEqual(order.get(1), [0, 1, 2]);
    await log.close();
  }));
  test('fetchMaxWaitMs: records appended one by one wait to fill a batch; a backlog of a full batch is delivered at once', () => withDir(async (dir) => {
    const log = await createEmbeddedEventLog({ dataDir: dir });
    await log.createTopic({ name: 't', partitions: 1 });
    const batches: string[][] = [];
    const sub = await log.subscribe({
      groupId: 'g', topics: ['t'], maxBatchSize: 4, fetchMaxWaitMs: 600_000,
      async eachBatch(b) { batches.push(b.records.map((r) => r.value!.toString())); },
    });
    // Four separate appends: without the fetch wait the first would be delivered on its own.
    for (let i = 0; i < 4; i++) await log.append('t', [{ key: 'k', value: Buffer.from(`a${i}`) }]);
    await within(sub.caughtUp(), 10_000, 'the fourth record fills the batch');
    // A backlog of two full batches in one append: delivered without waiting.
    await log.append('t', [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({ key: 'k', value: Buffer.from(`b${i}`) })));
    await within(sub.caughtUp(), 10_000, 'full batches go at once');
    assert.deepEqual(batches, [['a0', 'a1', 'a2', 'a3'], ['b0', 'b1', 'b2', 'b3'], ['b4', 'b5', 'b6', 'b7']]);
    // Less than a batch waits (here for the whole wait): the consumer shows it as lag.
    await log.append('t', [{ key: 'k', value: Buffer.from('c0') }]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(Object.fromEntries(await sub.lag()), { 't:0': 1 });
    await sub.stop();
    await log.close();
  }));
});
