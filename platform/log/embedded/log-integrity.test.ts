/**
 * Issue 8, finding 8: one corrupted record in the middle of a partition used to truncate every
 * record after it at start-up. Now only a torn tail is ever cut; mid-log corruption (or any bad
 * byte after a clean shutdown) stops the open with LOG_CORRUPTED naming the file and byte offset.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLEAN_SHUTDOWN_MARKER, createEmbeddedEventLog } from './embedded-event-log.adapter.ts';
import { EventLogError } from '../event-log.errors.ts';
import { verifyLog } from './log-verify.ts';

const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-integrity-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
};
const seg = (dir: string, p: number) => join(dir, 'log', 'topics', 't', `${p}.log`);
const crashed = (dir: string) => rm(join(dir, 'log', CLEAN_SHUTDOWN_MARKER), { force: true });

/** Writes 10 records (one append each) to partition 0 of topic `t`; returns the file positions of each. */
async function tenRecords(dir: string): Promise<number[]> {
  const log = await createEmbeddedEventLog({ dataDir: dir });
  await log.createTopic({ name: 't', partitions: 2 });
  const starts: number[] = [];
  for (let i = 0; i < 10; i++) {
    starts.push((await stat(seg(dir, 0)).catch(() => ({ size: 0 }))).size);
    await log.append('t', [{ key: 'k', value: Buffer.from(`value-${i}`), partition: 0 }]);
  }
  await log.close();
  return starts;
}

async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] ^= 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();
}

describe('log integrity (issue 8, finding 8)', () => {
  test('a corrupted record in the middle stops the open with LOG_CORRUPTED naming file and byte offset; nothing is cut', () => withDir(async (dir) => {
    const starts = await tenRecords(dir);
    const sizeBefore = (await stat(seg(dir, 0))).size;
    await crashed(dir); // even after a crash (no clean marker) mid-log damage is not a torn tail
    await flipByte(seg(dir, 0), starts[4] + 30);
    await assert.rejects(createEmbeddedEventLog({ dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof EventLogError && err.code === 'LOG_CORRUPTED', String(err));
      assert.match(err.message, new RegExp(`${seg(dir, 0).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.match(err.message, new RegExp(`at byte offset ${starts[4]}\\b`));
      return true;
    });
    assert.equal((await stat(seg(dir, 0))).size, sizeBefore, 'the segment is left as it was');
    // The lock was released: verify (and a later start after a restore) can open the directory.
    const report = await verifyLog(dir);
    const p0 = report.partitions.find((p) => p.partition === 0)!;
    assert.equal(p0.status, 'corrupted');
    assert.equal(p0.atByte, starts[4]);
    assert.equal(p0.validRecords, 4);
    assert.equal(report.ok, false);
    console.log(`corrupted byte at ${starts[4] + 30}: open refused, verify says ${p0.status} at byte ${p0.atByte} after ${p0.validRecords} records`);
  }));

  test('a torn tail after a crash is cut and start proceeds; verify reports it before', () => withDir(async (dir) => {
    await tenRecords(dir);
    const good = (await stat(seg(dir, 0))).size;
    await crashed(dir);
    const torn = Buffer.alloc(40, 7);
    torn.writeUInt32LE(300, 0);
    await appendFile(seg(dir, 0), torn);
    const report = await verifyLog(dir);
    const p0 = report.partitions.find((p) => p.partition === 0)!;
    assert.deepEqual([p0.status, p0.atByte, p0.validRecords, report.ok], ['torn-tail', good, 10, true]);
    const log = await createEmbeddedEventLog({ dataDir: dir });
    assert.deepEqual(await log.endOffsets('t'), [10, 0]);
    assert.equal((await stat(seg(dir, 0))).size, good);
    await log.close();
    const after = await verifyLog(dir);
    assert.deepEqual(after.partitions.map((p) => p.status), ['ok', 'ok']);
  }));

  test('after a clean shutdown no truncation is allowed: even a bad tail is LOG_CORRUPTED', () => withDir(async (dir) => {
    const starts = await tenRecords(dir);
    await flipByte(seg(dir, 0), starts[9] + 30); // the very last record
    await assert.rejects(createEmbeddedEventLog({ dataDir: dir }), (err: unknown) =>
      err instanceof EventLogError && err.code === 'LOG_CORRUPTED' && /shut down cleanly/.test(err.message));
    // The marker stays, so a second try is just as strict.
    await assert.rejects(createEmbeddedEventLog({ dataDir: dir }), (err: unknown) => err instanceof EventLogError && err.code === 'LOG_CORRUPTED');
  }));

  test('a clean close writes the marker and an open removes it', () => withDir(async (dir) => {
    await tenRecords(dir);
    await stat(join(dir, 'log', CLEAN_SHUTDOWN_MARKER));
    const log = await createEmbeddedEventLog({ dataDir: dir });
    await assert.rejects(stat(join(dir, 'log', CLEAN_SHUTDOWN_MARKER)));
    await log.close();
  }));

  test('a partition whose fsync failed is listed as refusing writes, and its close is not marked clean', () => withDir(async (dir) => {
    let fail = false;
    const log = await createEmbeddedEventLog({ dataDir: dir, syncData: async (fh) => { if (fail) throw new Error('EIO: injected'); await fh.datasync(); } });
    await log.createTopic({ name: 't', partitions: 2 });
    assert.deepEqual(log.refusedPartitions(), []);
    fail = true;
    await assert.rejects(log.append('t', [{ key: 'k', value: Buffer.from('x'), partition: 1 }]));
    assert.deepEqual(log.refusedPartitions().map((p) => [p.topic, p.partition, /EIO: injected/.test(p.reason)]), [['t', 1, true]]);
    await log.close();
    await assert.rejects(stat(join(dir, 'log', CLEAN_SHUTDOWN_MARKER)));
  }));
});
