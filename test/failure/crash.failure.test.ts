/**
 * Failure proof — CRASH — during a load of ≥ 50,000 events (VideoViewed heartbeats of a
 * few hundred sessions over a handful of published videos, plus comments, plus real uploads for
 * the transcoder), the projector role process and a transcoder role process are `kill -9`ed at
 * random points several times and restarted. Afterwards each read model equals a CLEAN REPLAY of
 * the log into fresh stores (sorted-JSON digest), and views per video == distinct qualifying
 * sessions generated: 0 lost, 0 double-counted. Real Kafka broker (deploy/local/kafka.sh).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaAvailable, startKafkaBroker, freePort, type KafkaBroker } from '../support/kafka-broker.ts';
import { createKafkaEventLog, type KafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createConfluentSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createEmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { loadConfig } from '../../deploy/config/config.ts';
import { startRole, type RunningRole } from '../../deploy/cluster/roles.ts';
import { keyOf, type DomainEvent } from '../../domain/events.ts';
import { ensureEventTopics, TOPICS, TOPIC_OF } from '../../schemas/topics.ts';
import { heartbeatQualifies } from '../../domain/view/view-rule.ts';
import { projectionGroupId } from '../../processors/runtime/projection.runtime.ts';
import { processorGroupId } from '../../processors/runtime/processor.runtime.ts';
import { ROOT, prng, spawnRole, waitHealthy, waitUntil, sleep, type RoleProcess } from './support/cluster-harness.ts';

const VIDEOS = 5;
const SESSIONS = 320;
const HEARTBEATS_PER_SESSION = 150;
const COMMENTS = 2_100;
const CHUNK = 1_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const WORDS = ['aurora', 'basalt', 'cobalt', 'dunes', 'ember'];

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => {});
});

const hasFfmpeg = () => spawnSync('ffmpeg', ['-version']).status === 0;

/** Lifecycle of a published video (as the transcoder would have written it). */
function publishedVideo(videoId: string, i: number): DomainEvent[] {
  const rendition = { name: '144p', width: 256, height: 144, bandwidth: 300_000, codecs: 'avc1.64000c,mp4a.40.2', playlist: '144p/index.m3u8' };
  const t = T0 + i;
  return [
    { type: 'UploadStarted', data: { videoId, ownerId: 'usr_owner', uploadId: `upl_${videoId}`, objectKey: `uploads/${videoId}/missing`, filename: 'v.mp4', sizeBytes: 1000, contentType: 'video/mp4', title: `${WORDS[i]} journey`, description: 'load video', tags: ['load'], partSizeBytes: 5_242_880, startedAt: t } },
    { type: 'UploadCompleted', data: { videoId, uploadId: `upl_${videoId}`, objectKey: `uploads/${videoId}/missing`, sizeBytes: 1000, completedAt: t + 1 } },
    { type: 'VideoProcessingStarted', data: { videoId, ladder: [rendition], durationSeconds: 60, startedAt: t + 2 } },
    { type: 'RenditionEncoded', data: { videoId, rendition, at: t + 3 } },
    { type: 'VideoPublished', data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `hls/${videoId}/thumb.jpg`, durationSeconds: 60, publishedAt: t + 4 } },
  ];
}

const runDigest = (args: string[]) => new Promise<string>((resolve, reject) => {
  execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'test/failure/support/read-model-digest.ts'), ...args],
    { cwd: ROOT, timeout: 240_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim())));
});

/** True once every partition of every topic `group` consumes has its committed offset at the end offset. */
async function groupDone(log: KafkaEventLog, group: string, topics: string[]): Promise<boolean> {
  const committed = await log.committedOffsets(group);
  for (const topic of topics) {
    const ends = await log.endOffsets(topic);
    for (let p = 0; p < ends.length; p++) if ((committed.get(`${topic}:${p}`) ?? 0) < ends[p]) return false;
  }
  return true;
}

test('crash: kill -9 projector and transcoder during a 50k-event load; read models equal a clean replay, 0 lost / 0 double-counted views', { timeout: 900_000 }, async (t) => {
  if (!(await kafkaAvailable())) { t.skip('no java/maven for a Kafka broker'); return; }
  const seed = Number(process.env.STREAMWAVE_FAILURE_SEED ?? Date.now() % 1_000_000);
  const rnd = prng(seed);
  t.diagnostic(`seed ${seed} (STREAMWAVE_FAILURE_SEED to reproduce)`);

  const broker: KafkaBroker = await startKafkaBroker();
  cleanups.push(() => broker.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-crash-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

  // The registry role in this process (not under test here); the others reach it by URL.
  const registryPort = await freePort();
  const registry: RunningRole = await startRole('registry', loadConfig({
    STREAMWAVE_DATA_DIR: join(dataDir, 'registry'), STREAMWAVE_PORT: String(registryPort), STREAMWAVE_KAFKA_BROKERS: broker.bootstrap, STREAMWAVE_LOG_LEVEL: 'silent',
  }));
  cleanups.push(() => registry.stop());

  const log = await createKafkaEventLog({ brokers: [broker.bootstrap], clientId: 'crash-loader', replicationFactor: 1 });
  cleanups.push(() => log.close());
  await ensureEventTopics(log, { partitions: 6, replicationFactor: 1 });
  const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: registry.url }) });
  await codec.registerAll();

  // --- the load -------------------------------------------------------------------------------
  const videoIds = Array.from({ length: VIDEOS }, (_, i) => `vid_load${i}`);
  const events: DomainEvent[] = videoIds.flatMap((v, i) => publishedVideo(v, i));
  // Real uploads for the transcoder (tiny clips), when ffmpeg is here.
  const transcodeIds: string[] = [];
  if (hasFfmpeg()) {
    const store = createEmbeddedObjectStore({ dir: join(dataDir, 'roles', 'objects'), publicBaseUrl: 'http://127.0.0.1:1', s3: { endpointPath: '/s3', bucket: 'b', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 's' } });
    for (let i = 0; i < 3; i++) {
      const videoId = `vid_tx${i}`;
      const clip = join(dataDir, `clip${i}.mp4`);
      const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=256x144:rate=15:duration=${2 + i}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', clip]);
      assert.equal(r.status, 0, String(r.stderr));
      const objectKey = `uploads/${videoId}/source`;
      await store.putFile(objectKey, clip, 'video/mp4');
      transcodeIds.push(videoId);
      events.push(
        { type: 'UploadStarted', data: { videoId, ownerId: 'usr_owner', uploadId: `upl_${videoId}`, objectKey, filename: 'c.mp4', sizeBytes: 1, contentType: 'video/mp4', title: `transcoded ${i}`, description: '', tags: [], partSizeBytes: 5_242_880, startedAt: T0 } },
        { type: 'UploadCompleted', data: { videoId, uploadId: `upl_${videoId}`, objectKey, sizeBytes: 1, completedAt: T0 + 1 } },
      );
    }
  } else {
    t.diagnostic('ffmpeg not found: transcoder kills run without transcode jobs');
  }
  const prelude = events.length;

  // Heartbeats: session s watches video s % VIDEOS; a third never reach 10 s (not a view).
  const expectedViews = new Map<string, Set<string>>(videoIds.map((v) => [v, new Set()]));
  const load: DomainEvent[] = [];
  const sessions = Array.from({ length: SESSIONS }, (_, s) => ({ videoId: videoIds[s % VIDEOS], sessionId: `ses_${s}`, step: s % 3 === 0 ? 0.05 : 0.5, n: 0 }));
  for (let k = 0; k < SESSIONS * HEARTBEATS_PER_SESSION; k++) {
    const s = sessions[Math.floor(rnd() * SESSIONS)];
    if (s.n >= HEARTBEATS_PER_SESSION) { k--; continue; }
    s.n++;
    const watched = Math.round(s.n * s.step * 100) / 100;
    const hb = { videoId: s.videoId, sessionId: s.sessionId, viewerId: null, watchedSeconds: watched, positionSeconds: watched, videoDurationSeconds: 60, viewedAt: T0 + 60_000 + k * 10 };
    if (heartbeatQualifies(hb)) expectedViews.get(s.videoId)!.add(s.sessionId);
    load.push({ type: 'VideoViewed', data: hb });
  }
  const expectedComments = new Map<string, number>(videoIds.map((v) => [v, 0]));
  for (let c = 0; c < COMMENTS; c++) {
    const videoId = videoIds[c % VIDEOS];
    expectedComments.set(videoId, expectedComments.get(videoId)! + 1);
    load.splice(Math.floor(rnd() * load.length), 0, { type: 'CommentPosted', data: { commentId: `cmt_${c}`, videoId, authorId: 'usr_viewer', parentId: null, body: `comment ${c}`, postedAt: T0 + 120_000 + c } });
  }
  events.push(...load);
  assert.ok(load.length >= 50_000, `load has ${load.length} events`);
  const encoded = await Promise.all(events.map(async (e) => ({ topic: TOPIC_OF[e.type], key: keyOf(e), value: await codec.encode(TOPIC_OF[e.type], e) })));

  // --- roles under test ------------------------------------------------------------------------
  const roleEnv = {
    STREAMWAVE_DATA_DIR: join(dataDir, 'roles'), STREAMWAVE_KAFKA_BROKERS: broker.bootstrap, STREAMWAVE_SCHEMA_REGISTRY_URL: registry.url,
    STREAMWAVE_JWT_SECRET: 'x'.repeat(40),
  };
  const live: Record<'projector' | 'transcoder', RoleProcess | undefined> = { projector: undefined, transcoder: undefined };
  cleanups.push(async () => { await Promise.all(Object.values(live).map((p) => p?.kill9())); });
  const start = async (role: 'projector' | 'transcoder') => { live[role] = await spawnRole(role, roleEnv); return live[role]!; };
  await Promise.all([start('projector'), start('transcoder')]);
  await Promise.all([waitHealthy(live.projector!), waitHealthy(live.transcoder!)]);

  // Append the prelude first so transcode jobs run while the load goes on.
  const appendRange = async (from: number, to: number) => {
    const byTopic = new Map<string, typeof encoded>();
    for (const r of encoded.slice(from, to)) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
    await Promise.all([...byTopic].map(([topic, rs]) => log.append(topic, rs.map((r) => ({ key: r.key, value: r.value })))));
  };
  await appendRange(0, prelude);

  const chunks = Math.ceil((encoded.length - prelude) / CHUNK);
  const killAt = new Map<number, Array<'projector' | 'transcoder'>>();
  const pick = (role: 'projector' | 'transcoder', times: number) => {
    for (let i = 0; i < times; i++) {
      const c = 1 + Math.floor(rnd() * (chunks - 2));
      killAt.set(c, [...(killAt.get(c) ?? []), role]);
    }
  };
  pick('projector', 3);
  pick('transcoder', 2);
  const recoveries: number[] = [];
  const restarts: Promise<void>[] = [];
  let kills = 0;
  const loadStarted = Date.now();
  for (let c = 0; c < chunks; c++) {
    for (const role of killAt.get(c) ?? []) {
      // Each kill hits a process that is up and consuming (the previous restart has finished).
      await Promise.all(restarts.splice(0));
      const victim = live[role]!;
      await sleep(Math.floor(rnd() * 1500));
      await victim.kill9();
      kills++;
      const killedAt = Date.now();
      restarts.push((async () => {
        const next = await start(role);
        await waitHealthy(next);
        recoveries.push((Date.now() - killedAt) / 1000);
      })());
    }
    await appendRange(prelude + c * CHUNK, Math.min(encoded.length, prelude + (c + 1) * CHUNK));
  }
  await Promise.all(restarts);
  const loadSeconds = (Date.now() - loadStarted) / 1000;

  // --- drain: transcoder first (it appends video events), then the projections -----------------
  const drainStarted = Date.now();
  await waitUntil('transcoder drained', 240_000, () => groupDone(log, processorGroupId('transcoder'), [TOPICS.videos]), 500);
  // Each read model's consumer group and input topics (the projection nodes' `inputs`).
  const projectionGroups = ([
    ['video-detail', [TOPICS.videos, TOPICS.comments, TOPICS.views]],
    ['comments', [TOPICS.comments]],
    ['user-accounts', [TOPICS.users]],
    ['watch-history', [TOPICS.views]],
    ['analytics', [TOPICS.views]],
    ['search', [TOPICS.videos]],
  ] as const).map(([name, topics]) => [projectionGroupId(name), topics] as const);
  await waitUntil('projections drained', 300_000, async () => {
    for (const [g, topics] of projectionGroups) if (!(await groupDone(log, g, [...topics]))) return false;
    return true;
  }, 500);
  const drainSeconds = (Date.now() - drainStarted) / 1000;
  await Promise.all([live.projector!.terminate(), live.transcoder!.terminate()]);

  // --- compare with a clean replay --------------------------------------------------------------
  const allIds = [...videoIds, ...transcodeIds];
  const stored = await runDigest(['stored', join(dataDir, 'roles', 'projector'), allIds.join(','), WORDS.join(',')]);
  const replayed = await runDigest(['replay', join(dataDir, 'replay'), allIds.join(','), WORDS.join(','), broker.bootstrap, registry.url]);
  const s = JSON.parse(stored) as { videos: Record<string, { detail: { views: number; commentCount: number; status: string; renditions: { name: string }[] } | null; comments: unknown[]; analytics: { views: number } }> };

  let lost = 0;
  let duplicated = 0;
  for (const v of videoIds) {
    const want = expectedViews.get(v)!.size;
    const got = s.videos[v].detail?.views ?? 0;
    lost += Math.max(0, want - got);
    duplicated += Math.max(0, got - want);
    const gotAnalytics = s.videos[v].analytics.views;
    lost += Math.max(0, want - gotAnalytics);
    duplicated += Math.max(0, gotAnalytics - want);
  }
  const commentsLost = videoIds.reduce((n, v) => n + Math.max(0, expectedComments.get(v)! - s.videos[v].comments.length), 0);
  const commentsDuplicated = videoIds.reduce((n, v) => n + Math.max(0, s.videos[v].comments.length - expectedComments.get(v)!), 0);

  t.diagnostic(`load: ${load.length} events (+${prelude} lifecycle) in ${loadSeconds.toFixed(1)} s; kill -9: ${kills} (projector ×3, transcoder ×2)`);
  t.diagnostic(`recovery (kill → restarted role healthy), seconds: ${recoveries.map((r) => r.toFixed(1)).join(', ')}; drain after load: ${drainSeconds.toFixed(1)} s`);
  t.diagnostic(`views: expected ${videoIds.map((v) => expectedViews.get(v)!.size).join('/')} → lost ${lost}, double-counted ${duplicated}; comments lost ${commentsLost}, duplicated ${commentsDuplicated}`);
  t.diagnostic(`digest: stored ${stored.length} chars, replay ${replayed.length} chars, equal=${stored === replayed}`);

  if (stored !== replayed) {
    // Name what differs (the digests are large): per video, the sections that disagree.
    const r = JSON.parse(replayed) as typeof s & { search: unknown };
    const diffs: string[] = [];
    for (const v of allIds) {
      for (const k of ['detail', 'comments', 'analytics'] as const) {
        const a = JSON.stringify(s.videos[v]?.[k]);
        const b = JSON.stringify(r.videos[v]?.[k]);
        if (a !== b) diffs.push(`${v}.${k}: stored ${a?.slice(0, 300)} | replay ${b?.slice(0, 300)}`);
      }
    }
    if (JSON.stringify((JSON.parse(stored) as { search: unknown }).search) !== JSON.stringify(r.search)) diffs.push('search differs');
    assert.fail(`the projector read models differ from a clean replay of the log:\n${diffs.join('\n')}`);
  }
  assert.equal(lost, 0);
  assert.equal(duplicated, 0);
  assert.equal(commentsLost + commentsDuplicated, 0);
  for (const v of videoIds) assert.equal(s.videos[v].detail?.commentCount, expectedComments.get(v));
  for (const v of transcodeIds) {
    const d = s.videos[v].detail;
    assert.equal(d?.status, 'ready', `${v} should be transcoded and published despite the kills`);
    const names = d!.renditions.map((r) => r.name);
    assert.deepEqual(names, [...new Set(names)], `${v}: a rendition recorded twice`);
  }
});
