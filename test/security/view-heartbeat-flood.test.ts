/**
 * Issue 8, finding 2 ("views that cannot be forged"), Done-when: 100,000 heartbeats with fresh
 * forged session ids against a gateway on the real wiring (gateway/testing/test-gateway.ts: real
 * command bus, Avro-encoded log, projections) count 0 views, append nothing to the views topic, and
 * grow the process' resident memory by at most 64 MiB (verification is stateless: gateway/playback),
 * measured after a warm-up of 20,000 more (see WARM_UP).
 * The per-IP limiter is switched off (`rateLimits: 'off'`, as the Done-when says), so
 * this test measures the session check and not the limiter.
 *
 * Against cluster:local (issue 9; STREAMWAVE_E2E_TARGET=cluster, `npm run test:cluster`) the same
 * flood goes over real HTTP to a gateway role process (STREAMWAVE_RATE_LIMITS=off on every role):
 * the views are counted on the Kafka views topic, the rejections on the gateway's /metrics, and the
 * memory is the gateway process' resident set (/proc/<pid>/status VmRSS; no forced GC in another
 * process, so the figure is an upper bound). The in-process test below is standalone only (it
 * builds its own gateway in this process; cluster mode runs the HTTP variant instead).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestGateway, type TestGateway } from '../../gateway/testing/test-gateway.ts';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { IN_CLUSTER, startE2eTarget, topicEvents, type E2eTarget } from '../support/e2e-target.ts';
import { makeClip } from '../support/make-media.ts';
import { sampleSum } from '../support/prometheus-text.ts';
import { ffmpegMissing, requirement } from '../support/requirements.ts';

const HEARTBEATS = 100_000;
/** Heartbeats in flight at once (a flood from many clients). */
const BATCH = 100;
/**
 * Forged heartbeats sent BEFORE the first RSS reading, on top of the measured HEARTBEATS: the
 * allocator's high-water mark (V8 young generation, malloc arenas) settles within the first
 * ~20,000 requests of any route and is never handed back, whatever the route keeps. What the issue
 * asks is that the flood itself does not grow memory: measured over the 100,000 after the warm-up
 * (the heap-used difference is printed too).
 */
const WARM_UP = 20_000;
const MiB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
/**
 * The resident set once the heap has settled. Each reading follows a memory-reducing full GC
 * (V8's gc extension with `flavor: 'last-resort'`, the collection V8 itself runs before giving up
 * on an allocation): a plain gc() leaves V8's pool of freed 256 KiB heap pages mapped and resident
 * (MemoryAllocator::Pool, released only by a memory-reducing GC), and on Node 22 that pool alone
 * grew by 40-60 MiB over the flood while the heap in use shrank (CI run of stop 30 failed at
 * 65.5 MiB; the pages were counted in /proc/self/smaps and their release traced with strace at
 * isolate teardown). A full GC also leaves the pages it freed committed until V8's concurrent
 * sweepers finish, so five rounds of GC + 200 ms, keeping the least reading, measure what the
 * process holds rather than when the sweepers last ran (±100 MiB seen, CI run of stop 28). The
 * plain gc() first keeps the reading honest on a V8 without GC options (Node 20 ran the options
 * call as a young-generation GC only).
 */
const rss = async () => {
  let least = Infinity;
  for (let round = 0; round < 5; round++) {
    gc();
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    least = Math.min(least, process.memoryUsage().rss);
  }
  return least;
};

/** A forged id: the right shape (so the MAC is actually computed and compared), a made-up MAC; every 10th one plain garbage. */
function forgedSessionId(i: number): string {
  if (i % 10 === 9) return `forged-${randomBytes(12).toString('hex')}`;
  const issuedAt = Date.now() - 60_000;
  return `ps1.${issuedAt}.${issuedAt + 3_600_000}.${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
}

let t: TestGateway;
let videoId: string;
if (!IN_CLUSTER) before(async () => {
  t = await createTestGateway({ rateLimits: 'off' });
  const owner = await t.signUp('owner');
  videoId = await t.uploadVideo(owner.token, { publish: true });
});
if (!IN_CLUSTER) after(() => t.close());

if (!IN_CLUSTER) test(`${HEARTBEATS} heartbeats with forged session ids: 0 views, nothing on the views topic, ≤ 64 MiB RSS growth`, async (ctx) => {
  // A genuine session works (the test is not vacuous: the route does record heartbeats).
  const genuine = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id: await t.startPlayback(videoId), watched_seconds: 1, position_seconds: 1 } });
  assert.equal(genuine.statusCode, 202);
  await t.world.settle();
  const viewedBefore = (await t.world.events()).filter(({ event }) => event.type === 'VideoViewed').length;
  assert.equal(viewedBefore, 1);
  const statuses = new Map<string, number>();
  const flood = async (from: number, count: number) => {
    for (let sent = from; sent < from + count; sent += BATCH) {
      const answers = await Promise.all(Array.from({ length: BATCH }, (_, k) =>
        t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id: forgedSessionId(sent + k), watched_seconds: 3600, position_seconds: 3600 } })));
      for (const a of answers) {
        const key = `${a.statusCode} ${a.json<{ code?: string }>().code}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
      if ((sent + BATCH) % 20_000 === 0) ctx.diagnostic(`${sent + BATCH}/${WARM_UP + HEARTBEATS} forged heartbeats sent, RSS ${(process.memoryUsage().rss / MiB).toFixed(1)} MiB, heap ${(process.memoryUsage().heapUsed / MiB).toFixed(1)} MiB`);
    }
  };
  await flood(0, WARM_UP);
  const rssBefore = await rss();
  const heapBefore = process.memoryUsage().heapUsed;
  await flood(WARM_UP, HEARTBEATS);
  await t.world.settle();
  const rssAfter = await rss();
  const heapAfter = process.memoryUsage().heapUsed;
  const growthMiB = (rssAfter - rssBefore) / MiB;
  ctx.diagnostic(`RSS before ${(rssBefore / MiB).toFixed(1)} MiB, after ${(rssAfter / MiB).toFixed(1)} MiB, growth ${growthMiB.toFixed(1)} MiB (heap ${((heapAfter - heapBefore) / MiB).toFixed(1)} MiB); answers ${JSON.stringify(Object.fromEntries(statuses))}`);

  assert.deepEqual(Object.fromEntries(statuses), { '400 INVALID_PLAYBACK_SESSION': WARM_UP + HEARTBEATS });
  const viewedAfter = (await t.world.events()).filter(({ event }) => event.type === 'VideoViewed').length;
  assert.equal(viewedAfter, viewedBefore, 'nothing appended to the views topic');
  const detail = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}` });
  assert.equal(detail.json().views, 0, 'no view counted (the one genuine heartbeat watched 1 s of 10 s)');
  const rejected = await t.registry.getSingleMetric('streamwave_heartbeats_rejected_total')!.get();
  assert.equal(rejected.values.reduce((n, v) => n + v.value, 0), WARM_UP + HEARTBEATS, 'every rejection counted');
  assert.ok(growthMiB <= 64, `RSS grew ${growthMiB.toFixed(1)} MiB (> 64 MiB, issue 8)`);
});

/** The gateway process' resident set in bytes (VmRSS of /proc/<pid>/status). */
function processRss(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(kb![1]) * 1024;
}

if (IN_CLUSTER) {
  const skip = requirement('FFmpeg', await ffmpegMissing());
  let target: E2eTarget | undefined;
  let tmp = '';
  after(async () => {
    await target?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test(`cluster:local: ${HEARTBEATS} heartbeats with forged session ids over HTTP to a gateway role: 0 views, nothing on the views topic, ≤ 64 MiB RSS growth of the gateway`, { skip }, async (ctx) => {
    tmp = await mkdtemp(join(tmpdir(), 'sw-flood-'));
    target = await startE2eTarget({ dataDir: join(tmp, 'cluster'), gateways: 1, env: { STREAMWAVE_RATE_LIMITS: 'off', STREAMWAVE_UPLOADS_PER_HOUR: '50' } });
    const gateway = target.cluster!.roles.find((r) => r.role === 'gateway')!;
    const owner = new StreamWaveClient(target.url);
    await owner.register('owner', 'owner@example.com', 'owner-password-1');
    await owner.login('owner', 'owner-password-1');
    const clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 10, width: 320, height: 180, audio: false });
    const up = await uploadFile(owner, clip, { title: 'flood target', resumeFile: join(tmp, 'resume.json') });
    const ready = await waitForProcessing(owner, up.videoId, { timeoutMs: 180_000, intervalMs: 500 });
    assert.equal(ready.status, 'ready', ready.error ?? '');
    const id = up.videoId;
    const viewed = async () => (await topicEvents(target!, TOPICS.views)).filter((e) => e.type === 'VideoViewed').length;

    // A genuine session works (the test is not vacuous: the route does record heartbeats).
    const { session_id } = await owner.stream(id);
    await owner.recordView(id, { session_id, watched_seconds: 1, position_seconds: 1 });
    let viewedBefore = 0;
    for (const deadline = Date.now() + 60_000; (viewedBefore = await viewed()) < 1 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 250));
    assert.equal(viewedBefore, 1);

    const statuses = new Map<string, number>();
    const flood = async (from: number, count: number) => {
      for (let sent = from; sent < from + count; sent += BATCH) {
        const answers = await Promise.all(Array.from({ length: BATCH }, async (_, k) => {
          const r = await fetch(`${target!.url}/api/v1/videos/${id}/views`, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ session_id: forgedSessionId(sent + k), watched_seconds: 3600, position_seconds: 3600 }),
          });
          return `${r.status} ${((await r.json()) as { code?: string }).code}`;
        }));
        for (const key of answers) statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if ((sent + BATCH) % 20_000 === 0) ctx.diagnostic(`${sent + BATCH}/${WARM_UP + HEARTBEATS} forged heartbeats sent, gateway RSS ${(processRss(gateway.process.pid!) / MiB).toFixed(1)} MiB`);
      }
    };
    const started = Date.now();
    await flood(0, WARM_UP);
    const rssBefore = processRss(gateway.process.pid!);
    await flood(WARM_UP, HEARTBEATS);
    const rssAfter = processRss(gateway.process.pid!);
    const growthMiB = (rssAfter - rssBefore) / MiB;
    const seconds = (Date.now() - started) / 1000;
    ctx.diagnostic(`${WARM_UP + HEARTBEATS} forged heartbeats in ${seconds.toFixed(0)} s (${((WARM_UP + HEARTBEATS) / seconds).toFixed(0)}/s); gateway RSS before ${(rssBefore / MiB).toFixed(1)} MiB, after ${(rssAfter / MiB).toFixed(1)} MiB, growth ${growthMiB.toFixed(1)} MiB; answers ${JSON.stringify(Object.fromEntries(statuses))}`);

    assert.deepEqual(Object.fromEntries(statuses), { '400 INVALID_PLAYBACK_SESSION': WARM_UP + HEARTBEATS });
    assert.equal(await viewed(), viewedBefore, 'nothing appended to the views topic');
    const detail = await owner.video(id);
    assert.equal(detail.views, 0, 'no view counted (the one genuine heartbeat watched 1 s of 10 s)');
    const metrics = await (await fetch(`${target.url}/metrics`)).text();
    assert.equal(sampleSum(metrics, 'streamwave_heartbeats_rejected_total'), WARM_UP + HEARTBEATS, 'every rejection counted');
    assert.ok(growthMiB <= 64, `gateway RSS grew ${growthMiB.toFixed(1)} MiB (> 64 MiB, issue 8)`);
  });
}
