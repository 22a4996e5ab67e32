/**
 * "Acknowledged means durable" for the embedded log, observed at the fsync itself. The kill -9
 * crash test cannot see a missing fsync (the page cache survives a process kill), so these tests
 * inject a sync shim through `EmbeddedEventLogOptions.syncData` and check the order of events:
 * the append's bytes are written, then synced, and only when that sync resolved does `append`
 * resolve and do readers see the record. A failing sync rejects the append with IO_FAILED and
 * acknowledges nothing. No timing: every wait is on a promise the shim or the log settles.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedEventLog } from './embedded-event-log.adapter.ts';
import type { SyncData } from './partition-log.ts';
import { EventLogError } from '../event-log.errors.ts';

const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-durability-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
};

/** One call of the shim: the segment's bytes when the sync began, and the test's hand on its outcome. */
interface SyncCall {
  /** The whole segment file as it was when the sync was called. */
  bytes: Buffer;
  release(): void;
  fail(err: Error): void;
}

/**
 * A sync shim that holds every sync until the test releases or fails it, and records
 * `sync-called` / `sync-resolved` / `sync-failed` into `events` (the test adds `ack …`).
 */
function syncShim() {
  const events: string[] = [];
  const pending: SyncCall[] = [];
  const all: SyncCall[] = [];
  const waiters: Array<(c: SyncCall) => void> = [];
  const fn: SyncData = async (file: FileHandle) => {
    const { size } = await file.stat();
    const bytes = Buffer.alloc(size);
    if (size) await file.read(bytes, 0, size, 0);
    let release!: () => void;
    let fail!: (err: Error) => void;
    const outcome = new Promise<void>((res, rej) => { release = res; fail = rej; });
    events.push('sync-called');
    const call: SyncCall = { bytes, release, fail };
    all.push(call);
    const w = waiters.shift();
    if (w) w(call); else pending.push(call);
    try {
      await outcome;
    } catch (err) {
      events.push('sync-failed');
      throw err;
    }
    events.push('sync-resolved');
  };
  /** The next sync call (already made, or the next one to come). */
  const nextCall = () => new Promise<SyncCall>((res) => {
    const c = pending.shift();
    if (c) res(c); else waiters.push(res);
  });
  /** Releases every sync still held, so `close()` can drain after a failed assertion. */
  const releaseAll = () => { for (const c of all) c.release(); };
  return { fn, events, nextCall, releaseAll };
}

/** Resolves with the next sync call, or with `acked` when `append` settles first (a missing fsync). */
const syncBefore = (shim: ReturnType<typeof syncShim>, append: Promise<unknown>) =>
  Promise.race([shim.nextCall(), append.then(() => 'acked' as const, () => 'rejected' as const)]);

/** Lets the event loop run (pending I/O callbacks and timers due now) without waiting on a clock. */
const turn = () => new Promise<void>((r) => setImmediate(r));

const rec = (v: string) => ({ key: 'k', value: Buffer.from(v) });

describe('embedded event log: acknowledged means fsynced', () => {
  test('append resolves only after the sync of the bytes it wrote resolved; readers see it only then', () => withDir(async (dir) => {
    const shim = syncShim();
    const log = await createEmbeddedEventLog({ dataDir: dir, syncData: shim.fn });
    try {
      await log.createTopic({ name: 't', partitions: 1 });
      const a = log.append('t', [rec('durable-A')]).then((m) => { shim.events.push('ack A'); return m; });
      const syncA = await syncBefore(shim, a);
      assert.equal(typeof syncA, 'object', `a sync must run before the append settles (got "${String(syncA)}")`);
      const callA = syncA as SyncCall;
      assert.ok(callA.bytes.includes('durable-A'), 'the sync runs after the record was written to the segment');

      // While A's sync is pending: not acknowledged, not visible; a new append B joins the next group commit.
      await turn();
      await turn();
      assert.deepEqual(shim.events, ['sync-called'], 'nothing acknowledged while the sync is pending');
      assert.deepEqual(await log.endOffsets('t'), [0], 'readers do not see a record whose sync is pending');
      assert.deepEqual(await log.read('t', 0, 0, 10), []);
      const b = log.append('t', [rec('durable-B')]).then((m) => { shim.events.push('ack B'); return m; });

      callA.release();
      assert.equal((await a)[0].offset, 0);
      assert.deepEqual(shim.events, ['sync-called', 'sync-resolved', 'ack A']);
      assert.deepEqual(await log.endOffsets('t'), [1]);

      // B must get its own sync: A's covered only what was written before it began.
      const syncB = await syncBefore(shim, b);
      assert.equal(typeof syncB, 'object', `B needs a sync of its own before it settles (got "${String(syncB)}")`);
      const callB = syncB as SyncCall;
      assert.ok(callB.bytes.includes('durable-B'), 'the second sync covers B\'s bytes');
      await turn();
      assert.ok(!shim.events.includes('ack B'), 'B is not acknowledged while its sync is pending');
      callB.release();
      assert.equal((await b)[0].offset, 1);
      assert.deepEqual(shim.events, ['sync-called', 'sync-resolved', 'ack A', 'sync-called', 'sync-resolved', 'ack B']);
      assert.deepEqual((await log.read('t', 0, 0, 10)).map((r) => r.value!.toString()), ['durable-A', 'durable-B']);
    } finally {
      shim.releaseAll();
      await log.close();
    }
  }));

  test('appends of one tick share one sync, and none of them resolves before it', () => withDir(async (dir) => {
    const shim = syncShim();
    const log = await createEmbeddedEventLog({ dataDir: dir, syncData: shim.fn });
    try {
      await log.createTopic({ name: 't', partitions: 1 });
      const appends = ['g1', 'g2', 'g3'].map((v) => log.append('t', [rec(v)]).then((m) => { shim.events.push(`ack ${v}`); return m; }));
      const call = await syncBefore(shim, Promise.race(appends));
      assert.equal(typeof call, 'object', 'a sync runs before any of the appends settles');
      for (const v of ['g1', 'g2', 'g3']) assert.ok((call as SyncCall).bytes.includes(v), `the shared sync covers ${v}`);
      (call as SyncCall).release();
      assert.deepEqual((await Promise.all(appends)).map((m) => m[0].offset), [0, 1, 2]);
      assert.deepEqual(shim.events.slice(0, 2), ['sync-called', 'sync-resolved']);
      assert.equal(shim.events.filter((e) => e === 'sync-called').length, 1, 'one sync for the group commit');
    } finally {
      shim.releaseAll();
      await log.close();
    }
  }));

  test('a failing sync rejects the append with IO_FAILED, acknowledges nothing, and the partition refuses further appends', () => withDir(async (dir) => {
    const shim = syncShim();
    const log = await createEmbeddedEventLog({ dataDir: dir, syncData: shim.fn });
    try {
      await log.createTopic({ name: 't', partitions: 2 });
      const a = log.append('t', [{ ...rec('lost-A'), partition: 0 }]);
      const call = await syncBefore(shim, a);
      assert.equal(typeof call, 'object', `a sync must run before the append settles (got "${String(call)}")`);
      // Queued behind the failing group commit: must not be acknowledged either.
      const queued = log.append('t', [{ ...rec('lost-Q'), partition: 0 }]);
      const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      (call as SyncCall).fail(eio);

      const isIoFailed = (err: unknown) => {
        assert.ok(err instanceof EventLogError, `an EventLogError, got ${String(err)}`);
        assert.equal(err.code, 'IO_FAILED');
        return true;
      };
      await assert.rejects(a, (err: unknown) => isIoFailed(err) && (err as Error).cause === eio);
      await assert.rejects(queued, isIoFailed);
      assert.deepEqual(await log.endOffsets('t'), [0, 0], 'no record of the failed sync is acknowledged');
      assert.deepEqual(await log.read('t', 0, 0, 10), [], 'readers see nothing of it');

      const callsBefore = shim.events.filter((e) => e === 'sync-called').length;
      await assert.rejects(log.append('t', [{ ...rec('after'), partition: 0 }]), isIoFailed);
      assert.equal(shim.events.filter((e) => e === 'sync-called').length, callsBefore, 'the broken partition does not even try');

      // The other partition is unaffected.
      const other = log.append('t', [{ ...rec('fine'), partition: 1 }]);
      const ok = await syncBefore(shim, other);
      assert.equal(typeof ok, 'object');
      (ok as SyncCall).release();
      assert.equal((await other)[0].offset, 0);
      assert.deepEqual(await log.endOffsets('t'), [0, 1]);
    } finally {
      shim.releaseAll();
      await log.close();
    }
  }));
});
