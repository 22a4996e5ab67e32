/**
 * Issue 8, finding 7: `/health` said ok while the system was broken. Each readiness reason is
 * produced here by the real cause (a failed fsync through the durability tests' shim, a projection
 * whose batch keeps throwing, a disk below the floor, a transcoder reporting a timeout, a throwing
 * check) and cleared again where the cause can clear.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { createReadiness } from '../../platform/health/readiness.port.ts';
import { createRoleReadiness, registerLogReadiness, registerProjectionReadiness, registerTranscoderReadiness } from './readiness-wiring.ts';

const silent = pino({ level: 'silent' });
const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-ready-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
};
const health = (minFreeDiskBytes: number, minFreeDiskPercent = 0) => ({ minFreeDiskBytes, minFreeDiskPercent, projectionFailingAfter: 3 });
const codes = async (r: ReturnType<typeof createReadiness>) => (await r.evaluate()).reasons.map((x) => `${x.check}:${x.code}`);

describe('readiness reasons (issue 8, finding 7)', () => {
  test('DISK_SPACE_LOW below the byte floor or the percent floor; ready above them; the real statfs of a temp dir is read', () => withDir(async (dir) => {
    const probe = async () => ({ freeBytes: 100 * 1024 ** 2, totalBytes: 10 * 1024 ** 3 });
    assert.deepEqual(await codes(createRoleReadiness({ dataDir: dir, health: health(512 * 1024 ** 2) }, silent, probe)), ['disk:DISK_SPACE_LOW']);
    assert.deepEqual(await codes(createRoleReadiness({ dataDir: dir, health: health(50 * 1024 ** 2) }, silent, probe)), []);
    assert.deepEqual(await codes(createRoleReadiness({ dataDir: dir, health: health(0, 5) }, silent, probe)), ['disk:DISK_SPACE_LOW']);
    const r = createRoleReadiness({ dataDir: dir, health: health(Number.MAX_SAFE_INTEGER) }, silent);
    const report = await r.evaluate();
    assert.equal(report.ready, false);
    assert.match(report.reasons[0].message, /bytes free, below the floor/);
    assert.doesNotMatch(report.reasons[0].message, new RegExp(dir), 'no server path in a public answer');
    assert.deepEqual(await codes(createRoleReadiness({ dataDir: dir, health: health(1) }, silent)), []);
  }));

  test('LOG_WRITES_REFUSED once an fsync fails (the durability tests\' shim), naming the partition', () => withDir(async (dir) => {
    let fail = false;
    const log = await createEmbeddedEventLog({ dataDir: dir, syncData: async (fh) => { if (fail) throw new Error('EIO'); await fh.datasync(); } });
    try {
      await log.createTopic({ name: 'streamwave.videos', partitions: 3 });
      const r = createReadiness();
      registerLogReadiness(r, log);
      await log.append('streamwave.videos', [{ key: 'a', value: Buffer.from('x'), partition: 2 }]);
      assert.deepEqual((await r.evaluate()).ready, true);
      fail = true;
      await assert.rejects(log.append('streamwave.videos', [{ key: 'a', value: Buffer.from('y'), partition: 2 }]));
      const report = await r.evaluate();
      assert.deepEqual(report.reasons.map((x) => [x.code, x.message.includes('streamwave.videos/2')]), [['LOG_WRITES_REFUSED', true]]);
    } finally {
      await log.close();
    }
  }));

  test('a log without refusedPartitions (Kafka) registers no log check', async () => {
    const r = createReadiness();
    registerLogReadiness(r, { append() {} });
    assert.deepEqual(await r.evaluate(), { ready: true, reasons: [] });
  });

  test('PROJECTION_FAILING once a projection\'s batch failed 3 times in a row; ready again once it applies', () => withDir(async (dir) => {
    const log = await createEmbeddedEventLog({ dataDir: dir, fsync: false, redeliveryDelayMs: 5 });
    let poisoned = true;
    let attempts = 0;
    let failedThrice!: () => void;
    const thrice = new Promise<void>((r) => { failedThrice = r; });
    let checkpoint = new Map<string, number>();
    const node: ProjectionNode = {
      kind: 'projection', name: 'video-detail', inputs: ['t'], guarantee: 'effectively-once', output: 'test', queries: {},
      loadCheckpoint: async () => checkpoint,
      async apply(batch) {
        if (poisoned) {
          if (++attempts === 3) failedThrice();
          throw new Error('store commit failed: /var/lib/secret');
        }
        checkpoint = new Map(batch.checkpoint);
      },
      close: async () => {},
    };
    await log.createTopic({ name: 't', partitions: 1 });
    await log.append('t', [{ key: 'k', value: null }]);
    const handle = await runProjection(node, { log, codec: {} as EventCodec, logger: silent });
    const manager = { get: (name: string) => ({ handle: name === 'video-detail' ? handle : { failures: () => ({ consecutive: 0 }) } }) };
    const r = createReadiness();
    registerProjectionReadiness(r, manager, 3);
    try {
      await thrice;
      // The failure is recorded when the failed step settles, right after apply threw.
      await new Promise((res) => setImmediate(res));
      const report = await r.evaluate();
      assert.deepEqual(report.reasons.map((x) => `${x.check}:${x.code}`), ['projection:video-detail:PROJECTION_FAILING']);
      assert.doesNotMatch(report.reasons[0].message, /secret/, 'the error text stays in the log');
      poisoned = false;
      await handle.caughtUp();
      assert.equal(handle.failures().consecutive, 0);
      assert.deepEqual(await r.evaluate(), { ready: true, reasons: [] });
    } finally {
      await handle.stop();
      await log.close();
    }
  }));

  test('TRANSCODE_TIMED_OUT from the transcoder node\'s readiness() hook; no hook, no check', async () => {
    const r = createReadiness();
    // The transcoder node's own shape (processors/transcoder/transcoder.processor.ts TranscoderUnready).
    let timedOut: { reason: 'TRANSCODE_TIMED_OUT'; at: number; videoId: string } | null = { reason: 'TRANSCODE_TIMED_OUT', at: Date.now(), videoId: 'vid_1' };
    registerTranscoderReadiness(r, { name: 'transcoder', readiness: () => timedOut });
    assert.deepEqual(await codes(r), ['transcoder:TRANSCODE_TIMED_OUT']);
    timedOut = null;
    assert.deepEqual(await codes(r), []);
    const none = createReadiness();
    registerTranscoderReadiness(none, { name: 'transcoder' });
    assert.deepEqual(await codes(none), []);
  });

  test('CHECK_FAILED when a check throws, without its message; the error goes to the callback', async () => {
    const seen: string[] = [];
    const r = createReadiness((name, err) => seen.push(`${name}:${(err as Error).message}`));
    r.register('boom', () => { throw new Error('ENOENT /srv/data'); });
    const report = await r.evaluate();
    assert.deepEqual(report.reasons.map((x) => [x.check, x.code, /srv/.test(x.message)]), [['boom', 'CHECK_FAILED', false]]);
    assert.deepEqual(seen, ['boom:ENOENT /srv/data']);
  });
});
