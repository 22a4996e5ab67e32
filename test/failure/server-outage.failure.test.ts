/**
 * Failure proof — SERVER OUTAGES (issue 9, "Outages") — one local cluster on the real servers
 * (`startLocalCluster`: Kafka, Redis with AOF fsynced always, ClickHouse, Typesense, SeaweedFS,
 * then the registry, a projector, a transcoder and a gateway as their own processes). Then, for
 * each of Redis, ClickHouse, Typesense and SeaweedFS in turn, under a steady load:
 *
 * - events appended straight to Kafka (Avro, through the registry): comments on a few published
 *   videos, player heartbeats of new sessions (a third never reach 10 s), a new published video
 *   every 2 s — so the oracle is exact;
 * - the gateway's public API driven at the same time: video detail, comment list, analytics,
 *   search, a comment posted (its 201 is an acknowledged write), an upload created (S3);
 *
 * the server is stopped (`<server>.sh stop`, or `kill -9` with STREAMWAVE_OUTAGE_KILL=1) for
 * STREAMWAVE_OUTAGE_SECONDS (default 30) with the load going on, restarted on the same port and
 * data dir, and the projector must catch up with 0 lost and 0 duplicated: comment counts and lists
 * per video equal the comments topic, views (video detail and analytics, counted by the view rule,
 * duplicate-insensitive) equal the sessions that qualified, search finds every published video
 * exactly once. Every gateway answer during the whole run is a 2xx, a 4xx, or a 503 with
 * Retry-After — never another 5xx, never no answer, never held longer than the client's bound
 * (REQUEST_TIMEOUT_MS of running time: time in which the test process itself stalled, as when the
 * host pauses the VM, does not count; outage-support.ts's StallMonitor).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { startLocalCluster, type LocalCluster, type LocalServer } from '../../deploy/local/local-cluster.ts';
import { freePort, kafkaRequirement } from '../support/kafka-broker.ts';
import { redisRequirement } from '../support/redis-server.ts';
import { clickhouseRequirement } from '../support/clickhouse-server.ts';
import { typesenseRequirement } from '../support/typesense-server.ts';
import { seaweedfsRequirement } from '../support/seaweedfs-server.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createConfluentSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { keyOf, type DomainEvent } from '../../domain/events.ts';
import { TOPICS, TOPIC_OF } from '../../schemas/topics.ts';
import { projectionGroupId } from '../../processors/runtime/projection.runtime.ts';
import { sleep, waitUntil } from './support/cluster-harness.ts';
import {
  committedTotal, groupDone, heartbeat, probe, probeProblems, publishedVideo, qualifies, readWholeTopic, serverControl, stallMonitor, statusCounts, type Probe, type StopMode,
} from './support/outage-support.ts';

const OUTAGE_SECONDS = Number(process.env.STREAMWAVE_OUTAGE_SECONDS ?? 30);
const MODE: StopMode = process.env.STREAMWAVE_OUTAGE_KILL === '1' ? 'sigkill' : 'stop';
/**
 * The bound on one request: the adapters' longest configured server timeout (ClickHouse's request
 * timeout, 10 s; Redis commands 2 s; Typesense 5 s per connection attempt) with margin. A slower
 * answer, or none, counts as a request held too long; stalls of the test process are not counted.
 */
const REQUEST_TIMEOUT_MS = 16_000;
const TICK_MS = 250;
const WORD = 'quokkaload';
const BASE = ['vid_base0', 'vid_base1', 'vid_base2', 'vid_base3'];
const SERVERS: LocalServer[] = ['redis', 'clickhouse', 'typesense', 'seaweedfs'];
const PROJECTIONS = ([
  ['video-detail', [TOPICS.videos, TOPICS.comments, TOPICS.views]],
  ['comments', [TOPICS.comments]],
  ['analytics', [TOPICS.views]],
  ['search', [TOPICS.videos]],
] as const).map(([name, topics]) => [projectionGroupId(name), topics] as const);
/** The projections whose read model lives on each server: they must commit nothing while it is down. */
const WRITES_TO: Record<string, string[]> = { redis: ['video-detail', 'comments'], clickhouse: ['analytics'], typesense: ['search'], seaweedfs: [] };

const skip = (await kafkaRequirement()) || (await redisRequirement()) || (await clickhouseRequirement()) || (await typesenseRequirement()) || (await seaweedfsRequirement());

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

test(`server outages: Redis, ClickHouse, Typesense and SeaweedFS each down ${OUTAGE_SECONDS} s under load; 0 lost, 0 duplicated, no 500`, { timeout: 900_000, skip }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sw-outage-'));
  let passed = false;
  // Kept after a failure: servers/<name>/ and roles/<label>/role.log tell what happened.
  cleanups.push(async () => (passed ? rm(dataDir, { recursive: true, force: true }) : console.error(`# outage proof failed: data and logs kept in ${dataDir}`)));
  const startedAt = Date.now();
  const cluster: LocalCluster = await startLocalCluster({
    dataDir, gatewayPort: await freePort(), port: freePort, gateways: 1,
    env: { STREAMWAVE_LOG_LEVEL: 'warn', STREAMWAVE_RATE_LIMITS: 'off', STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: '6000' },
    logger: pino({ level: 'warn' }),
  });
  cleanups.push(() => cluster.stop());
  const gw = cluster.gatewayUrls[0]!;
  t.diagnostic(`cluster up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; outage ${OUTAGE_SECONDS} s per server by ${MODE}`);

  // --- the loader: events straight to Kafka ----------------------------------------------------
  const log = await createKafkaEventLog({ brokers: [cluster.servers.kafka.bootstrap!], clientId: 'outage-loader', replicationFactor: 1 });
  cleanups.push(() => log.close());
  const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({
    host: cluster.roleEnv.STREAMWAVE_SCHEMA_REGISTRY_URL!, auth: { username: 'streamwave', password: cluster.roleEnv.STREAMWAVE_SCHEMA_REGISTRY_PASSWORD! },
  }) });
  await codec.registerAll();
  const append = async (events: DomainEvent[]) => {
    const byTopic = new Map<string, { key: string; value: Buffer }[]>();
    for (const e of events) {
      const topic = TOPIC_OF[e.type];
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), { key: keyOf(e), value: await codec.encode(topic, e) }]);
    }
    await Promise.all([...byTopic].map(([topic, rs]) => log.append(topic, rs)));
  };
  // The viewer owns the base videos (analytics are the owner's) and posts comments through the gateway.
  const viewer = new StreamWaveClient(gw);
  const { id: viewerId } = await viewer.register('viewer', 'viewer@example.com', 'viewer-password-1');
  const token = await viewer.login('viewer', 'viewer-password-1');
  const published: string[] = [...BASE];
  await append(BASE.flatMap((v, i) => publishedVideo(v, `${WORD} base ${i}`, viewerId)));
  const viewers = new Map<string, Set<string>>(BASE.map((v) => [v, new Set()]));
  const loaderComments = new Set<string>();

  // --- the gateway's client -------------------------------------------------------------------
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const acknowledged = new Set<string>();

  // Wait for the base videos to be readable before the first outage.
  await waitUntil('base videos published', 120_000, async () => {
    for (const v of BASE) if ((await fetch(`${gw}/api/v1/videos/${v}`)).status !== 200) return false;
    return true;
  }, 500);

  /** Reads every read model through the gateway and compares it with the oracle. */
  const compare = async () => {
    const problems: string[] = [];
    let lost = 0;
    let duplicated = 0;
    const topicComments = new Map<string, Set<string>>(BASE.map((v) => [v, new Set()]));
    const seen = new Set<string>();
    for (const r of await readWholeTopic(log, TOPICS.comments)) {
      const e = await codec.decode(r.value!);
      if (e.type !== 'CommentPosted') continue;
      if (seen.has(e.data.commentId)) problems.push(`comment ${e.data.commentId} twice on the log`);
      seen.add(e.data.commentId);
      topicComments.get(e.data.videoId)?.add(e.data.commentId);
    }
    for (const id of [...loaderComments, ...acknowledged]) if (!seen.has(id)) { lost++; problems.push(`acknowledged comment ${id} not on the log`); }
    const get = async (path: string) => {
      const res = await fetch(`${gw}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    for (const v of BASE) {
      const want = topicComments.get(v)!;
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await get(`/api/v1/videos/${v}/comments?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`) as { comments: { id: string }[]; next_cursor: string | null };
        ids.push(...page.comments.map((c) => c.id));
        cursor = page.next_cursor;
      } while (cursor);
      const got = new Set(ids);
      const missing = [...want].filter((id) => !got.has(id)).length;
      const extra = ids.length - [...got].filter((id) => want.has(id)).length;
      lost += missing;
      duplicated += extra;
      if (missing || extra) problems.push(`${v} comments: ${missing} missing, ${extra} duplicated or unknown (want ${want.size}, listed ${ids.length})`);
      const detail = await get(`/api/v1/videos/${v}`) as { views: number; comment_count: number };
      const views = viewers.get(v)!.size;
      const analytics = await get(`/api/v1/videos/${v}/analytics`) as { views: number };
      for (const [what, got2, want2] of [['comment_count', detail.comment_count, want.size], ['detail views', detail.views, views], ['analytics views', analytics.views, views]] as const) {
        if (got2 < want2) lost += want2 - got2;
        if (got2 > want2) duplicated += got2 - want2;
        if (got2 !== want2) problems.push(`${v} ${what}: ${got2}, want ${want2}`);
      }
    }
    const found: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/api/v1/search/videos?q=${WORD}&page_size=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`) as { videos: { id: string }[]; next_cursor: string | null };
      found.push(...page.videos.map((x) => x.id));
      cursor = page.next_cursor;
    } while (cursor);
    const missingVideos = published.filter((v) => !found.includes(v));
    const dupVideos = found.length - new Set(found).size;
    lost += missingVideos.length;
    duplicated += dupVideos;
    if (missingVideos.length || dupVideos) problems.push(`search: ${missingVideos.length} published videos not found (${missingVideos.slice(0, 5).join(', ')}), ${dupVideos} found twice`);
    return { lost, duplicated, problems };
  };

  // --- one outage per server -------------------------------------------------------------------
  const allProbes: Probe[] = [];
  // A host pause (or this process's own work) is not the gateway holding a request: see StallMonitor.
  const stalls = stallMonitor();
  cleanups.push(async () => stalls.stop());
  const figures: string[] = [];
  const failures: string[] = [];
  let sessionNo = 0;
  let commentNo = 0;
  for (const name of SERVERS) {
    const server = serverControl(cluster, dataDir, name);
    const probes: Probe[] = [];
    let running = true;
    let tick = 0;
    const sessions: { videoId: string; id: string; watched: number; stopAt: number }[] = [];
    const pending = new Set<Promise<unknown>>();
    const fire = (p: Promise<unknown>) => { pending.add(p); void p.finally(() => pending.delete(p)); };
    const loader = (async () => {
      while (running) {
        const events: DomainEvent[] = [];
        for (let k = 0; k < 2; k++) {
          const commentId = `cmt_load_${commentNo++}`;
          loaderComments.add(commentId);
          events.push({ type: 'CommentPosted', data: { commentId, videoId: BASE[commentNo % BASE.length]!, authorId: 'usr_loader', parentId: null, body: `load ${commentId}`, postedAt: Date.now() } });
        }
        const n = sessionNo++;
        sessions.push({ videoId: BASE[n % BASE.length]!, id: `ses_${name}_${n}`, watched: 0, stopAt: n % 3 === 0 ? 8 : 16 });
        for (const s of sessions.filter((x) => x.watched < x.stopAt)) {
          s.watched += 4;
          events.push(heartbeat(s.videoId, s.id, s.watched));
          if (tick % 5 === 0) events.push(heartbeat(s.videoId, s.id, s.watched)); // a repeated heartbeat: must not count twice
          if (qualifies(s.watched)) viewers.get(s.videoId)!.add(s.id);
        }
        if (tick % 8 === 0) {
          const videoId = `vid_${name}_${tick}`;
          events.push(...publishedVideo(videoId, `${WORD} ${name} ${tick}`, viewerId, Date.now()));
          published.push(videoId);
        }
        await append(events);
        tick++;
        await sleep(TICK_MS);
      }
    })();
    const prober = (async () => {
      let round = 0;
      while (running) {
        const v = BASE[round % BASE.length]!;
        const opt = { timeoutMs: REQUEST_TIMEOUT_MS, stalledWithin: stalls.stalledWithin };
        fire(probe(probes, 'GET video', `${gw}/api/v1/videos/${v}`, opt));
        fire(probe(probes, 'GET comments', `${gw}/api/v1/videos/${v}/comments`, opt));
        fire(probe(probes, 'GET analytics', `${gw}/api/v1/videos/${v}/analytics`, { ...opt, headers: { authorization: `Bearer ${token}` } }));
        fire(probe(probes, 'GET search', `${gw}/api/v1/search/videos?q=${WORD}`, opt));
        // Issue 14 (seed 004's cascade): up next is never a 5xx, even with its read models' server down.
        fire(probe(probes, 'GET up next', `${gw}/api/v1/videos/${v}/recommendations`, opt));
        fire(probe(probes, 'POST comment', `${gw}/api/v1/videos/${v}/comments`, { ...opt, method: 'POST', headers: auth, body: JSON.stringify({ body: `via gateway ${round}` }) })
          .then((r) => { if (r.status === 201) acknowledged.add((r.body as { id: string }).id); }));
        if (round % 4 === 0) {
          fire(probe(probes, 'POST upload', `${gw}/api/v1/uploads`, { ...opt, method: 'POST', headers: auth, body: JSON.stringify({ filename: 'p.mp4', size_bytes: 1000, content_type: 'video/mp4', title: `probe ${round}` }) }));
        }
        round++;
        await sleep(TICK_MS);
      }
    })();

    const frozen = PROJECTIONS.filter(([g]) => WRITES_TO[name]!.some((n) => g === projectionGroupId(n)));
    const committed = async () => (await Promise.all(frozen.map(([g, topics]) => committedTotal(log, g, topics)))).reduce((a, b) => a + b, 0);
    await sleep(3_000);
    const downAt = Date.now();
    await server.stop(MODE);
    const goneAt = Date.now();
    // A batch in flight when the server went may still end (failing); then nothing may be committed.
    await sleep(2_000);
    const committedEarly = await committed();
    await sleep(Math.max(0, OUTAGE_SECONDS * 1000 - 2_000));
    const committedLate = await committed();
    const restartAt = Date.now();
    await server.start();
    const upAt = Date.now();
    await sleep(2_000);
    running = false;
    await Promise.all([loader, prober]);
    await Promise.all([...pending]);

    let result = await compare().catch((e: Error) => ({ lost: -1, duplicated: -1, problems: [e.message] }));
    let caughtUp = false;
    try {
      result = await waitUntil(`${name}: read models equal the oracle`, 120_000, async () => {
        const r = await compare().catch((e: Error) => ({ lost: -1, duplicated: -1, problems: [e.message] }));
        result = r;
        if (r.problems.length > 0) return false;
        for (const [g, topics] of PROJECTIONS) if (!(await groupDone(log, g, topics))) return false;
        return r;
      }, 500);
      caughtUp = true;
    } catch { /* reported below with the last comparison */ }
    const catchUp = (Date.now() - upAt) / 1000;

    allProbes.push(...probes);
    const during = statusCounts(probes, downAt, upAt);
    const bad = probeProblems(probes, REQUEST_TIMEOUT_MS, stalls.stalledWithin);
    const slowest = probes.filter((p) => p.startedAt >= downAt && p.startedAt < upAt).reduce<Probe | undefined>((a, p) => (!a || p.ms > a.ms ? p : a), undefined);
    // Requests from the stop command on: a server shutting down already refuses or stalls some.
    const byWhat = [...new Set(probes.map((p) => p.what))].map((w) => `${w} ${JSON.stringify(statusCounts(probes.filter((p) => p.what === w), downAt, upAt))}`).join('; ');
    const line = `${name}: outage ${((upAt - goneAt) / 1000).toFixed(1)} s (process gone → serving again; ${MODE} took ${((goneAt - downAt) / 1000).toFixed(1)} s, restart ${((upAt - restartAt) / 1000).toFixed(1)} s); `
      + `offsets committed meanwhile by ${WRITES_TO[name]!.join('+') || 'no projection'}: ${committedLate - committedEarly}; `
      + `requests during outage ${JSON.stringify(during)} (slowest ${slowest ? `${slowest.ms} ms, ${slowest.what} → ${slowest.status || slowest.error} at ${new Date(slowest.startedAt).toISOString().slice(11, 23)}` : 'none'}; while stopping ${JSON.stringify(statusCounts(probes, downAt, goneAt))}, `
      + `gone ${JSON.stringify(statusCounts(probes, goneAt, restartAt))}, starting ${JSON.stringify(statusCounts(probes, restartAt, upAt))}) — ${byWhat}; `
      + `caught up ${caughtUp ? `${catchUp.toFixed(1)} s after restart (load ran on for 2 s of it)` : `NOT within ${catchUp.toFixed(0)} s`}; lost ${result.lost}, duplicated ${result.duplicated}`;
    figures.push(line);
    t.diagnostic(line);
    if (!caughtUp || result.lost !== 0 || result.duplicated !== 0) failures.push(`${name}: ${result.problems.join('; ')}`);
    if (committedLate !== committedEarly) failures.push(`${name}: ${WRITES_TO[name]!.join('+')} committed ${committedLate - committedEarly} offsets while ${name} was down`);
    if (bad.length) failures.push(`${name}: ${bad.length} bad answers: ${bad.slice(0, 8).join('; ')}`);
    const upNextRefused = probes.filter((p) => p.what === 'GET up next' && p.status !== 200);
    if (upNextRefused.length) failures.push(`${name}: up next answered ${upNextRefused.length} time(s) without 200: ${JSON.stringify(statusCounts(upNextRefused, 0, Infinity))}`);
  }
  t.diagnostic(`totals: ${allProbes.length} gateway requests ${JSON.stringify(statusCounts(allProbes, 0, Infinity))}; ${loaderComments.size} comments appended, ${acknowledged.size} acknowledged by the gateway, `
    + `${[...viewers.values()].reduce((a, s) => a + s.size, 0)} views, ${published.length} published videos; whole run ${((Date.now() - startedAt) / 1000).toFixed(0)} s; `
    + `this process stalled ${stalls.stalls.length ? stalls.stalls.map((s) => `${new Date(s.from).toISOString().slice(11, 19)} for ${s.to - s.from} ms`).join(', ') : 'never'} (≥ 1 s; not counted in a request's time)`);
  assert.deepEqual(failures, []);
  passed = true;
});
