/**
 * Coalesced appends (coalesced-appends.ts) over the in-memory log, with a gate that holds an
 * append in flight until the test lets it go: what arrives meanwhile goes in the next append, and
 * every caller gets exactly the positions its records landed at.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInMemoryEventLog } from './in-memory/in-memory-event-log.adapter.ts';
import { coalescedAppends } from './coalesced-appends.ts';
import type { EventLog, ProduceRecord, RecordMetadata } from './event-log.port.ts';

/** The in-memory log with topics a and b (2 partitions each), whose appends wait for `release()` while held. */
async function gatedLog() {
  const inner = createInMemoryEventLog();
  await inner.createTopic({ name: 'a', partitions: 2 });
  await inner.createTopic({ name: 'b', partitions: 2 });
  const calls: { topic: string; records: number }[] = [];
  let held = false;
  let waiters: (() => void)[] = [];
  let failNext: Error | null = null;
  const log: Pick<EventLog, 'append'> = {
    async append(topic, records) {
      calls.push({ topic, records: records.length });
      if (held) await new Promise<void>((r) => waiters.push(r));
      if (failNext) { const e = failNext; failNext = null; throw e; }
      return inner.append(topic, records);
    },
  };
  return {
    inner, log, calls,
    hold: () => { held = true; },
    release: () => { held = false; const w = waiters; waiters = []; for (const r of w) r(); },
    failNextWith: (e: Error) => { failNext = e; },
  };
}

const rec = (caller: number, i: number): ProduceRecord => ({ key: `k${(caller + i) % 5}`, value: Buffer.from(`${caller}:${i}`) });
const tick = () => new Promise((r) => setImmediate(r));

/** Whether each caller's positions hold exactly its own records, in its order. */
async function landedWhereTold(inner: ReturnType<typeof createInMemoryEventLog>, topic: string, sent: ProduceRecord[][], got: RecordMetadata[][]): Promise<boolean> {
  const all = inner.records(topic);
  return sent.every((records, c) => records.every((r, i) => {
    const at = got[c]![i]!;
    const found = all.find((x) => x.partition === at.partition && x.offset === at.offset);
    return at.topic === topic && found !== undefined && found.value!.equals(r.value!);
  }));
}

describe('coalesced appends', () => {
  test('given an idle topic, when one caller appends, then its records go at once, alone', async () => {
    const g = await gatedLog();
    const appends = coalescedAppends(g.log);
    const positions = await appends.append('a', [rec(0, 0), rec(0, 1)]);
    assert.deepEqual(g.calls, [{ topic: 'a', records: 2 }]);
    assert.equal(await landedWhereTold(g.inner, 'a', [[rec(0, 0), rec(0, 1)]], [positions]), true);
  });

  test('given an append in flight, when 50 callers append meanwhile, then they go in one next append and each gets its own positions in its order', async () => {
    const g = await gatedLog();
    const reported: [string, number][] = [];
    const appends = coalescedAppends(g.log, { onAppend: (topic, callers) => reported.push([topic, callers]) });
    g.hold();
    const first = appends.append('a', [rec(99, 0)]);
    await tick();
    const sent = Array.from({ length: 50 }, (_, c) => Array.from({ length: 1 + (c % 3) }, (_, i) => rec(c, i)));
    const pending = sent.map((records) => appends.append('a', records));
    await tick();
    g.release();
    const got = await Promise.all(pending);
    await first;
    assert.deepEqual(g.calls.map((c) => c.records), [1, sent.flat().length], 'one append in flight, then one for all 50 callers');
    assert.equal(appends.appendsMade(), 2);
    assert.deepEqual(reported, [['a', 1], ['a', 50]], 'onAppend (the view recorder\'s metrics) sees each append with the callers it carries');
    assert.equal(await landedWhereTold(g.inner, 'a', sent, got), true);
    assert.equal(new Set(got.flat().map((p) => `${p.partition}:${p.offset}`)).size, sent.flat().length, 'no two records share a position');
  });

  test('given a failing batch, then every caller in it gets the error, and the callers after it are appended', async () => {
    const g = await gatedLog();
    const appends = coalescedAppends(g.log);
    g.hold();
    const first = appends.append('a', [rec(0, 0)]);
    await tick();
    g.failNextWith(new Error('broker gone'));
    const failing = [appends.append('a', [rec(1, 0)]), appends.append('a', [rec(2, 0)])];
    await tick();
    g.release();
    await assert.rejects(first, /broker gone/, 'the batch in flight when the failure was armed');
    const outcomes = await Promise.allSettled(failing);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled'], 'the next batch went through');
    const after = await appends.append('a', [rec(3, 0)]);
    assert.equal(await landedWhereTold(g.inner, 'a', [[rec(3, 0)]], [after]), true);
    assert.equal(g.inner.records('a').length, 3, 'the failed record is not on the log; the three others are');
  });

  test('given a bound of 4 records, then batches stop at it, and a caller with more than that goes whole, alone', async () => {
    const g = await gatedLog();
    const appends = coalescedAppends(g.log, { maxRecords: 4 });
    g.hold();
    const first = appends.append('a', [rec(0, 0)]);
    await tick();
    const sent = [[rec(1, 0), rec(1, 1)], [rec(2, 0), rec(2, 1)], [rec(3, 0)], Array.from({ length: 6 }, (_, i) => rec(4, i)), [rec(5, 0)]];
    const pending = sent.map((records) => appends.append('a', records));
    await tick();
    g.release();
    const got = await Promise.all(pending);
    await first;
    assert.deepEqual(g.calls.map((c) => c.records), [1, 4, 1, 6, 1]);
    assert.equal(await landedWhereTold(g.inner, 'a', sent, got), true);
  });

  test('given an append in flight on one topic, then another topic does not wait for it', async () => {
    const g = await gatedLog();
    const appends = coalescedAppends(g.log);
    g.hold();
    const onA = appends.append('a', [rec(0, 0)]);
    await tick();
    const onB = appends.append('b', [rec(1, 0)]);
    await tick();
    assert.deepEqual(g.calls.map((c) => c.topic), ['a', 'b'], "b's append reached the log while a's was held");
    g.release();
    assert.equal((await onB)[0]!.topic, 'b');
    assert.equal((await onA)[0]!.topic, 'a');
  });

  test('given a linger, when callers append a moment apart on an idle topic, then they go in one append (without it the first goes alone)', async () => {
    // A linger of 1 s: the three ticks between the callers fit in it even on a busy machine.
    for (const lingerMs of [0, 1_000]) {
      const g = await gatedLog();
      const appends = coalescedAppends(g.log, { lingerMs });
      const sent = [[rec(0, 0)], [rec(1, 0), rec(1, 1)], [rec(2, 0)]];
      const pending: Promise<RecordMetadata[]>[] = [];
      for (const records of sent) {
        pending.push(appends.append('a', records));
        await tick(); // a moment apart: not in the same turn of the event loop
      }
      const got = await Promise.all(pending);
      if (lingerMs) assert.deepEqual(g.calls.map((c) => c.records), [4]);
      else assert.equal(g.calls[0]!.records, 1, 'without a linger the first caller went alone');
      assert.equal(await landedWhereTold(g.inner, 'a', sent, got), true);
    }
  });

  // The timeout fails (rather than hangs) a regression; the linger ends the file within a minute then.
  test('given a linger far longer than the test, when a batch is full, then it goes without waiting', { timeout: 10_000 }, async () => {
    const g = await gatedLog();
    const appends = coalescedAppends(g.log, { lingerMs: 60_000, maxRecords: 3 });
    const sent = [[rec(0, 0)], [rec(1, 0), rec(1, 1)]];
    const pending = sent.map((records) => appends.append('a', records));
    await tick();
    assert.deepEqual(g.calls.map((c) => c.records), [3], 'the full batch reached the log in the next turn');
    assert.equal(await landedWhereTold(g.inner, 'a', sent, await Promise.all(pending)), true);
  });
});
