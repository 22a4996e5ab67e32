/**
 * Cluster mode on the real engines (issue 9), end to end: `startLocalCluster` (what `npm run
 * cluster:local` runs) starts Kafka, Redis, ClickHouse, Typesense and SeaweedFS, then the registry,
 * a projector, a transcoder and TWO gateways, each its own process with its own data dir. The
 * public API is driven through both gateways at once, so every read crosses processes: accounts,
 * video detail and comments from Redis, search from Typesense, analytics from ClickHouse, uploads
 * and HLS from the S3 server, rate limits shared in Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ApiError, StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { startLocalCluster, type LocalCluster } from '../../deploy/local/local-cluster.ts';
import { freePort, kafkaRequirement } from '../support/kafka-broker.ts';
import { redisRequirement } from '../support/redis-server.ts';
import { clickhouseRequirement } from '../support/clickhouse-server.ts';
import { typesenseRequirement } from '../support/typesense-server.ts';
import { seaweedfsRequirement } from '../support/seaweedfs-server.ts';
import { ffmpegMissing, requirement } from '../support/requirements.ts';
import { makeClip } from '../support/make-media.ts';
import { heartbeat, startPlayback } from '../support/playback.ts';
import { checkHls } from '../support/media-check.ts';
import { eventually } from '../support/eventually.ts';

const skip = (await kafkaRequirement()) || (await redisRequirement()) || (await clickhouseRequirement())
  || (await typesenseRequirement()) || (await seaweedfsRequirement()) || requirement('FFmpeg', await ffmpegMissing());

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return e.status;
  }
}

describe('cluster:local — every role its own process on Kafka, Redis, ClickHouse, Typesense and SeaweedFS', { skip }, () => {
  let tmp: string;
  let cluster: LocalCluster;
  let g1: string;
  let g2: string;
  let videoId: string;
  const alice1 = () => new StreamWaveClient(g1);

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sw-cluster-'));
    cluster = await startLocalCluster({
      dataDir: tmp,
      gatewayPort: await freePort(),
      port: freePort,
      gateways: 2,
      // register.ip raised for the registration races below (every request comes from this address).
      env: { STREAMWAVE_LOG_LEVEL: 'warn', STREAMWAVE_UPLOADS_PER_HOUR: '50', STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: '6000', STREAMWAVE_RATE_LIMITS: 'register.ip=500/1h' },
      logger: pino({ level: 'warn' }),
    });
    [g1, g2] = cluster.gatewayUrls as [string, string];
  });

  after(async () => {
    await cluster?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('each role is its own process with its own data dir, and none keeps objects or read models on disk', async () => {
    assert.deepEqual(cluster.roles.map((r) => r.role).sort(), ['commands', 'gateway', 'gateway', 'projector', 'registry', 'transcoder']);
    assert.equal(new Set(cluster.roles.map((r) => r.process.pid)).size, cluster.roles.length);
    for (const r of cluster.roles) {
      const dir = join(tmp, 'roles', r.label);
      assert.equal(existsSync(join(dir, 'objects')), false, `${r.label} has no objects dir (they are on S3)`);
      // Secrets come from configuration: nothing generated into the role's dir.
      const keys = (await readdir(dir)).filter((f) => /\.(key|token|password)$/.test(f));
      assert.deepEqual(keys, [], `${r.label} generated no secret files`);
      const health = await fetch(`${r.url}/health/ready`);
      assert.equal(health.status, 200, `${r.label} ready: ${await health.text()}`);
    }
    for (const name of ['video-detail', 'comments', 'user-accounts', 'watch-history']) {
      assert.equal(existsSync(join(tmp, 'roles', 'projector-1', 'projector', 'projections', name)), false, `${name} is not on the projector's disk`);
    }
  });

  test('an account registered through gateway 1 logs in through gateway 2 (accounts in Redis)', async () => {
    await new StreamWaveClient(g1).register('alice', 'alice@example.com', 'alice-password-1');
    // Read-your-writes holds on the gateway that took the write (it waits up to 5 s for the
    // projector); another gateway reads the shared read model as soon as the projector wrote it,
    // which right after start-up (the projectors' group still settling) can take longer.
    const token = await eventually(() => new StreamWaveClient(g2).login('alice', 'alice-password-1'), (t) => t.length > 20, 'login through gateway 2', { retryErrors: true });
    assert.ok(token.length > 20);
  });

  test('an upload through gateway 2 goes straight to the S3 server, is transcoded by the transcoder role, and plays through both gateways', async () => {
    const clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 4, width: 640, height: 360, audio: true });
    const alice = new StreamWaveClient(g2);
    await alice.login('alice', 'alice-password-1');
    const up = await uploadFile(alice, clip, { title: 'Dinosaur documentary', description: 'cluster mode', tags: ['nature'], resumeFile: join(tmp, 'resume.json') });
    videoId = up.videoId;
    const ready = await waitForProcessing(alice, videoId, { timeoutMs: 180_000, intervalMs: 500 }).catch(async (err: Error) => {
      const t = cluster.roles.find((r) => r.role === 'transcoder')!;
      throw new Error(`${err.message}\n--- ${t.logFile} (tail) ---\n${(await readFile(t.logFile, 'utf8')).slice(-6000)}`);
    });
    assert.equal(ready.status, 'ready', JSON.stringify(ready));
    const { manifest_url } = await alice.stream(videoId);
    const viaG1 = await checkHls(manifest_url, { source: clip });
    assert.ok(viaG1.renditions.length >= 1);
    const viaG2 = await checkHls(manifest_url.replace(g1, g2), { source: clip });
    assert.equal(viaG2.renditions.length, viaG1.renditions.length);
  });

  test('search on Typesense finds the video with a typo, through either gateway', async () => {
    for (const g of [g1, g2]) {
      const r = await eventually(() => new StreamWaveClient(g).search('dinosuar'), (v) => v.videos.some((x) => x.id === videoId), `search via ${g}`);
      assert.equal(r.videos[0]!.title, 'Dinosaur documentary');
    }
  });

  test('a comment is visible at once on the gateway that took it (read-your-writes on the Redis checkpoint) and on the other', async () => {
    const alice = alice1();
    await alice.login('alice', 'alice-password-1');
    const { id } = await alice.postComment(videoId, 'first from gateway 1');
    const mine = await alice.listComments(videoId);
    assert.ok(mine.comments.some((c) => c.id === id), 'read-your-writes on the same gateway');
    await eventually(() => new StreamWaveClient(g2).listComments(videoId), (v) => v.comments.some((c) => c.id === id), 'comment via gateway 2');
  });

  test('a heartbeat through gateway 2 on a session from gateway 1 counts one view in ClickHouse, read through gateway 1', async () => {
    const viewer = alice1();
    await viewer.login('alice', 'alice-password-1');
    const p = await startPlayback(viewer, videoId);
    const other = new StreamWaveClient(g2);
    await other.login('alice', 'alice-password-1');
    await heartbeat(other, p, 4);
    const a = await eventually(() => viewer.analytics(videoId), (v) => v.views >= 1, 'analytics view');
    assert.equal(a.views, 1);
    assert.equal(a.view_rule_version, 'v2');
  });

  test('playback events through gateway 2 (decided there, off the commands topic) reach ClickHouse: startup time and stalls, read through gateway 1 (issue 15)', async () => {
    const viewer = alice1();
    await viewer.login('alice', 'alice-password-1');
    const p = await startPlayback(viewer, videoId);
    const res = await new StreamWaveClient(g2).request<{ accepted: number }>('POST', `/api/v1/videos/${videoId}/playback-events`, { session_id: p.sessionId, events: [
      { type: 'start', position_seconds: 0, startup_time_ms: 321, rendition_height: 240 },
      { type: 'rebuffer_start', position_seconds: 2 }, { type: 'rebuffer_end', position_seconds: 2, rebuffer_ms: 700 },
    ] });
    assert.equal(res.accepted, 3);
    const a = await eventually(() => viewer.request<{ startup_time_ms: { samples: number; p50: number }; rebuffer_count: number; renditions_watched: { height: number }[] }>('GET', `/api/v1/videos/${videoId}/analytics`),
      (v) => v.startup_time_ms.samples >= 1 && v.rebuffer_count >= 1, 'playback events in analytics');
    assert.equal(a.startup_time_ms.p50, 321);
    assert.ok(a.renditions_watched.some((r) => r.height === 240));
  });

  test('replays on the servers: comments (Redis), analytics (ClickHouse) and search (Typesense) rebuilt into shadows and swapped; the gateways follow', async () => {
    const projector = cluster.roles.find((r) => r.role === 'projector')!.url;
    const auth = { authorization: `Bearer ${cluster.roleEnv.STREAMWAVE_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const before = { comments: (await new StreamWaveClient(g2).listComments(videoId)).comments.length, views: (await (async () => {
      const c = alice1();
      await c.login('alice', 'alice-password-1');
      return (await c.analytics(videoId)).views;
    })()) };
    for (const projection of ['comments', 'analytics', 'search']) {
      const started = await fetch(`${projector}/admin/replays`, { method: 'POST', headers: auth, body: JSON.stringify({ projection, from_beginning: true }) });
      assert.equal(started.status, 202, await started.clone().text());
      const { replay_id } = await started.json() as { replay_id: string };
      const done = await eventually(async () => (await (await fetch(`${projector}/admin/replays/${replay_id}`, { headers: auth })).json()) as { status: string; error: string | null },
        (v) => v.status !== 'running', `replay of ${projection}`, { timeoutMs: 120_000 });
      assert.equal(done.status, 'swapped', JSON.stringify(done));
    }
    // The swapped-in instances live on the servers: the Redis store of the shadow, not the primary.
    const { Redis } = await import('ioredis');
    const redis = new Redis(cluster.servers.redis.url!);
    try {
      // Dropped after the grace the gateways get to follow the pointer (15 s).
      await eventually(() => redis.exists('sw:{comments}:v'), (n) => n === 0, 'the primary comments store is dropped after the swap');
      const current = JSON.parse((await redis.hget('sw:current-instance', 'comments'))!) as { instanceId: string };
      assert.match(current.instanceId, /^replay-\d+$/);
      assert.equal(await redis.exists(`sw:{comments}@${current.instanceId}:v`), 1);
    } finally { redis.disconnect(); }
    // Gateways follow the pointer (polled every 5 s) and answer the same.
    for (const g of [g1, g2]) {
      await eventually(() => new StreamWaveClient(g).listComments(videoId), (v) => v.comments.length === before.comments, `comments via ${g} after the swap`);
      await eventually(() => new StreamWaveClient(g).search('dinosuar'), (v) => v.videos.some((x) => x.id === videoId), `search via ${g} after the swap`);
    }
    const c = alice1();
    await c.login('alice', 'alice-password-1');
    await eventually(() => c.analytics(videoId), (v) => v.views === before.views, 'analytics after the swap');
  });

  test('registrations of one name raced over HTTP across the two gateways: one registered and one 409 USERNAME_TAKEN per pair (ADR 0006)', async (t) => {
    const PAIRS = 60;
    const outcomes: string[] = [];
    // In waves, so the gateways' password-hashing queues (32 each) never answer 503 SERVER_BUSY.
    for (let wave = 0; wave < PAIRS; wave += 10) {
      outcomes.push(...await Promise.all(Array.from({ length: Math.min(10, PAIRS - wave) }, async (_, k) => {
        const i = wave + k;
        const [a, b] = await Promise.all([
          status(new StreamWaveClient(g1).register(`racer${i}`, `racer${i}a@example.com`, 'racer-password-1')),
          status(new StreamWaveClient(g2).register(`RACER${i}`, `racer${i}b@example.com`, 'racer-password-2')),
        ]);
        return [a, b].sort().join('+');
      })));
    }
    const tally = new Map<string, number>();
    for (const o of outcomes) tally.set(o, (tally.get(o) ?? 0) + 1);
    t.diagnostic(`${PAIRS} pairs across 2 gateways: ${[...tally].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    assert.deepEqual([...tally], [['200+409', PAIRS]], 'exactly one registration of each name (200: registered)');
  });

  test('an Idempotency-Key retried on the other gateway gets the first answer: one account, one upload', async () => {
    const key = `retry-${Date.now()}`;
    const body = { username: 'idem-user', email: 'idem@example.com', password: 'idem-password-1' };
    const register = (g: string) => fetch(`${g}/api/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    const [r1, r2] = await Promise.all([register(g1), register(g2)]);
    const r3 = await register(g2);
    const ids = await Promise.all([r1, r2, r3].map(async (r) => ({ status: r.status, id: ((await r.json()) as { id?: string }).id })));
    assert.deepEqual(ids.map((x) => x.status), [201, 201, 201], JSON.stringify(ids));
    assert.equal(new Set(ids.map((x) => x.id)).size, 1, 'the same account id every time');
    const token = await new StreamWaveClient(g1).login('idem-user', 'idem-password-1');
    const start = (g: string) => fetch(`${g}/api/v1/uploads`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
      body: JSON.stringify({ filename: 'a.mp4', size_bytes: 1000, content_type: 'video/mp4', title: 'once' }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { video_id?: string; upload_id?: string } }));
    const [u1, u2] = [await start(g1), await start(g2)];
    assert.deepEqual([u1.status, u2.status], [201, 201], JSON.stringify([u1, u2]));
    assert.equal(u2.body.video_id, u1.body.video_id);
    assert.equal(u2.body.upload_id, u1.body.upload_id);
  });

  test('wrong passwords are counted across gateways (rate limits shared in Redis): 10 × 401, then 429 on either', async () => {
    await new StreamWaveClient(g1).register('mallory', 'mallory@example.com', 'mallory-password-1');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await status(new StreamWaveClient(i % 2 ? g2 : g1).login('mallory', `wrong-${i}`)));
    assert.deepEqual(statuses, Array(10).fill(401));
    assert.equal(await status(new StreamWaveClient(g1).login('mallory', 'wrong-10')), 429);
    assert.equal(await status(new StreamWaveClient(g2).login('mallory', 'wrong-11')), 429);
  });

  test('after the owner deletes the video, its media answers 404 through both gateways', async () => {
    const alice = alice1();
    await alice.login('alice', 'alice-password-1');
    const { manifest_url } = await alice.stream(videoId);
    await alice.request('DELETE', `/api/v1/videos/${videoId}`);
    for (const url of [manifest_url, manifest_url.replace(g1, g2)]) {
      await eventually(() => fetch(url).then((r) => r.status), (s) => s === 404, `master playlist after delete: ${url}`);
    }
  });
});
