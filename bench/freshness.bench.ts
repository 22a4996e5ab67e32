/**
 * Creator analytics freshness (issue 15): how long after the gateway accepts a view or a playback
 * event the creator's numbers (`GET /api/v1/videos/{id}/analytics`) include it, under a sustained
 * load of heartbeats and playback events, on a real standalone server (`streamwave start`, rate
 * limits off, as `npm start` runs it), or with `--target cluster` on a local cluster (Kafka,
 * ClickHouse server, Redis, Typesense, S3; two gateways and two of every scalable role, as
 * `npm run test:cluster` starts it: test/support/e2e-target.ts; `--instances 1` runs one of
 * each, one process per role), the load spread over the gateways and the analytics read from the
 * first.
 *
 *   npm run bench:freshness -- [--target standalone|cluster] [--instances 2] [--videos 1] [--rate 1000] [--seconds 60] [--connections 16|64] [--load-nice 0]
 *
 * Load: `--rate` events/s for `--seconds` s, half heartbeats (200 sessions) and half playback
 * events (rebuffer start/end pairs), from `--connections` concurrent senders, paced to the rate.
 * `--videos N` publishes N clips and spreads the 200 sessions over them (the probes and the reads
 * stay on the first): a video's events share one partition of each topic (keyed by video), so
 * one video loads one partition and N videos load up to the topics' partitions, as a platform's
 * many videos do; the figures' names say how many, and how many of the topics' partitions the
 * videos' ids hash to (at the default partition count).
 * Each sender waits for its 202 before its next request (a closed loop), so the senders reach at
 * most `connections` × 4/3 events ÷ the mean time to a 202. Default 16 in standalone, whose 202
 * waits for the embedded log's group commit (p50 about 12 ms at 1,000 events/s on 2 cores), and
 * 64 in cluster mode (of the load's 200 viewer sessions, each of which would have a connection of
 * its own), whose 202 waits for Kafka's acks (p50 54–70 ms there, which held 16 senders to about
 * 400 events/s). The run prints the time to a 202, that ceiling, and how long the senders waited
 * for their pace (near 0 % with the rate missed: the senders set the rate; more of them shows
 * whether the target takes more).
 * The load comes from a child process (bench/freshness/load.ts), so its responses do not share
 * an event loop with the probes' and the reader's clocks, and its CPU is printed apart.
 * `--load-nice` (0 to 19, default 0) lowers its CPU priority, standing in for viewers on other
 * machines; measured, it starved the load generator with two of every role and changed nothing
 * beyond the spread otherwise (README).
 * Probes, one every 100 ms on top (one at a time, on a fixed schedule; about 300 of each kind in
 * 60 s): alternately a playback start of a fresh session (visible when
 * `startup_time_ms.samples` counts it) and a heartbeat that makes a fresh session a view (visible
 * when `views` counts it; each probe session was issued 3 s before, so view rule v2 lets 10 s
 * count). The analytics are read 50 ms after the previous read returned; a probe's freshness is
 * the time from its 202 to the end of the first read that includes it (the read in flight when it
 * became visible may not, so it waits for up to two reads). Prints p50/p95/p99/max per kind and
 * the event rate achieved; goal p99 ≤ 1 s. Beside them, from the projector processes' (or the
 * standalone server's) /metrics scraped before and after the load, the analytics projection's
 * record end-to-end latency (log timestamp → read model; bench/support/histograms.ts), which
 * says how much of the freshness is the projection and how much the reads.
 * It says when its data directory (under TMPDIR) is on an ext4 without a journal, where runs
 * started within 5 minutes of the previous one's clean-up were slower (bench/support/file-system.ts).
 * A benchmark, not a test: exits 0 when it is missed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StreamWaveClient } from '../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../cli/client/upload-file.ts';
import { makeClip } from '../test/support/make-media.ts';
import { startLoad, type RunningLoad } from './freshness/load.ts';
import { quantileBetween, scrapeHistograms } from './support/histograms.ts';
import { printResult, type BenchFigure } from './support/result.ts';
import { partitionForKey } from '../platform/log/partitioner.ts';
import { DEFAULT_TOPIC_PARTITIONS, TOPICS } from '../schemas/topics.ts';
import { percentile } from './support/table.ts';
import { cpuShares, cpuSnapshot, type CpuGroup, type CpuSnapshot } from './support/process-cpu.ts';
import { journalLessExt4 } from './support/file-system.ts';
import type { E2eTarget } from '../test/support/e2e-target.ts';

const GOAL_MS = 1000;
/** The analytics projection's histograms scraped around the load: each record's end-to-end latency (KIP-613), each batch's apply + checkpoint. */
const E2E_METRIC = 'streamwave_projection_record_e2e_latency_seconds';
const BATCH_METRIC = 'streamwave_projection_batch_duration_seconds';
const scrapeProjection = (urls: readonly string[]) => scrapeHistograms(urls, [E2E_METRIC, BATCH_METRIC], { projection: 'analytics' });
const PROBE_EVERY_MS = 100;
const READ_EVERY_MS = 50;
/** Playback sessions the load's heartbeats and playback events come from, spread over `--videos`. */
const LOAD_SESSIONS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Nearest-rank percentile `p` of unsorted `xs` (NaN when empty). */
const pct = (xs: number[], p: number) => percentile([...xs].sort((a, b) => a - b), p);

/** The process trees whose CPU the run prints: each role (cluster) or the server (standalone), the servers the cluster runs on, and the load generator. */
function cpuGroups(target: E2eTarget, load: RunningLoad): CpuGroup[] {
  const groups: CpuGroup[] = [];
  /** A pid that is missing (undefined, or NaN from a server that printed none) is left out. */
  const add = (name: string, pid: number | undefined) => {
    if (pid === undefined || !Number.isInteger(pid)) return;
    const g = groups.find((x) => x.name === name);
    if (g) g.pids.push(pid);
    else groups.push({ name, pids: [pid] });
  };
  if (target.cluster) {
    for (const r of target.cluster.roles) add(r.role, r.process.pid);
    for (const [name, fields] of Object.entries(target.cluster.servers)) add(name, Number(fields.pid));
  } else {
    add('server', target.standalone?.child.pid);
  }
  add('load generator', load.pid);
  return groups;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { target: { type: 'string', default: 'standalone' }, rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '60' }, connections: { type: 'string' }, instances: { type: 'string', default: '2' }, videos: { type: 'string', default: '1' }, 'load-nice': { type: 'string', default: '0' } } });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const target = values.target;
  /** Senders: see the file comment for the defaults. */
  const connections = Number(values.connections ?? (target === 'cluster' ? 64 : 16));
  if (target !== 'standalone' && target !== 'cluster') throw new Error(`--target must be standalone or cluster, got ${target}`);
  const instances = Number(values.instances);
  if (!Number.isInteger(instances) || instances < 1) throw new Error(`--instances must be a whole number ≥ 1, got ${values.instances}`);
  if (!Number.isInteger(connections) || connections < 1) throw new Error(`--connections must be a whole number ≥ 1, got ${values.connections}`);
  const videos = Number(values.videos);
  if (!Number.isInteger(videos) || videos < 1 || videos > LOAD_SESSIONS) throw new Error(`--videos must be a whole number from 1 to ${LOAD_SESSIONS}, got ${values.videos}`);
  const loadNice = Number(values['load-nice']);
  if (!Number.isInteger(loadNice) || loadNice < 0 || loadNice > 19) throw new Error(`--load-nice must be a whole number from 0 to 19, got ${values['load-nice']}`);
  /** The target as the figures name it. */
  let label = target === 'cluster' ? `cluster, ${instances} of every role` : target;
  const dir = await mkdtemp(join(tmpdir(), 'sw-bench-fresh-'));
  process.stderr.write(`starting a ${target === 'cluster' ? 'local cluster' : 'standalone server'}…\n`);
  // e2e-target reads its mode from the environment when it is loaded.
  process.env.STREAMWAVE_E2E_TARGET = target;
  // The broker with the full C2 JIT, as in production (deploy/local/kafka.sh KAFKA_JVM_FLAGS): the
  // local cluster's default, the quick C1 JIT only, is for tests' quick starts; under this load it
  // had the higher p99 in each of four pairs of runs (README).
  if (target === 'cluster') process.env.KAFKA_JVM_FLAGS ??= '-XX:+UseSerialGC';
  const { startE2eTarget } = await import('../test/support/e2e-target.ts');
  const server = await startE2eTarget({ dataDir: join(dir, 'data'), env: { STREAMWAVE_RATE_LIMITS: 'off' }, instances, timeoutMs: 300_000 });
  const figures: BenchFigure[] = [];
  let load: RunningLoad | undefined;
  try {
    const owner = new StreamWaveClient(server.url);
    await owner.register('fresh', 'fresh@example.org', 'correct horse battery staple');
    await owner.login('fresh', 'correct horse battery staple');
    const clip = join(dir, 'clip.mp4');
    await makeClip(clip, { seconds: 20, width: 320, height: 180, audio: false });
    process.stderr.write(`uploading and publishing ${videos === 1 ? 'a 20 s clip' : `${videos} 20 s clips`}…\n`);
    const videoIds: string[] = [];
    for (let v = 0; v < videos; v++) videoIds.push((await uploadFile(owner, clip, { title: `freshness ${v + 1}`, resumeFile: join(dir, `resume-${v}.json`) })).videoId);
    for (const id of videoIds) await waitForProcessing(owner, id, { intervalMs: 250, timeoutMs: 300_000 });
    // The probes and the reader use the first video; the load is spread over all of them.
    const videoId = videoIds[0]!;
    // Topics are keyed by video: the partitions the load reaches (of each topic, at the default count).
    const partitionsHit = new Set(videoIds.map((id) => partitionForKey(TOPICS.views, id, DEFAULT_TOPIC_PARTITIONS))).size;
    // The run's name says how many videos and partitions the load reached (random video ids, so 12
    // videos reach 5.3 of 6 partitions on average).
    if (videos > 1) label += `, load over ${videos} videos in ${partitionsHit} of ${DEFAULT_TOPIC_PARTITIONS} partitions`;
    const anon = new StreamWaveClient(server.url);
    const pathOf = (id: string, what: string) => `/api/v1/videos/${id}/${what}`;
    const path = (what: string) => pathOf(videoId, what);
    const sessionOf = async (id: string) => (await anon.request<{ session_id: string }>('GET', pathOf(id, 'stream'))).session_id;
    const session = () => sessionOf(videoId);
    const loadSessions = await Promise.all(Array.from({ length: LOAD_SESSIONS }, async (_, i) => {
      const id = videoIds[i % videos]!;
      return { videoId: id, sessionId: await sessionOf(id) };
    }));
    // Probe sessions, issued ahead so a probe is one request: for views 3 s before they are used
    // (view rule v2: 10 s watched needs 2.5 s), for playback starts whenever.
    const viewProbes: { id: string; at: number }[] = [];
    const startProbes: string[] = [];
    let stopping = false;
    const issuer = (async () => {
      while (!stopping) {
        const from = performance.now();
        viewProbes.push({ id: await session(), at: performance.now() });
        startProbes.push(await session());
        await sleep(PROBE_EVERY_MS * 2 - (performance.now() - from));
      }
    })().catch((err: unknown) => process.stderr.write(`issuing probe sessions stopped: ${String(err)}\n`)); // a failed run says why below, not here
    await sleep(3_500);

    // --- the load (a child process: bench/freshness/load.ts), paced to `rate` events/s over `connections` senders
    // Where the analytics projection runs (its record end-to-end latency is scraped around the load).
    const projectors = server.cluster ? server.cluster.roles.filter((r) => r.role === 'projector').map((r) => r.url) : [server.url];
    const projectorBefore = await scrapeProjection(projectors);
    load = await startLoad({ urls: server.urls, sessions: loadSessions, rate, seconds, connections }, { nice: loadNice });
    const started = performance.now();
    const cpuAtStart = process.cpuUsage();
    // Where the machine's CPU went during the load (Linux /proc), read just before the load ends.
    const machineAtStart = cpuSnapshot();
    let machineAtEnd: CpuSnapshot | undefined;
    const machineEnd = setTimeout(() => (machineAtEnd = cpuSnapshot()), Math.max(0, seconds * 1000 - 500)).unref();
    const deadline = started + seconds * 1000;

    // --- probes and the reader
    const pendingStarts: number[] = [];
    const pendingViews: number[] = [];
    const fresh = { playback: [] as number[], view: [] as number[] };
    /** How long each analytics read took, ms (a probe waits for up to two of them). */
    const reads: number[] = [];
    let baseSamples = -1;
    let baseViews = -1;
    // One probe at a time (so their 202s come in log order, the order the reader counts them in), on
    // a fixed schedule: a slow probe delays the next, it does not thin out the samples.
    const probe = async () => {
      let k = 0;
      for (let due = performance.now() + PROBE_EVERY_MS; performance.now() < deadline; due += PROBE_EVERY_MS) {
        await sleep(due - performance.now());
        if (k++ % 2 === 0) {
          const s = startProbes.shift();
          if (!s) continue;
          await anon.request('POST', path('playback-events'), { session_id: s, events: [{ type: 'start', position_seconds: 0, startup_time_ms: 100 }] });
          pendingStarts.push(performance.now());
        } else {
          const p = viewProbes.find((v) => performance.now() - v.at >= 3_000);
          if (!p) continue;
          viewProbes.splice(viewProbes.indexOf(p), 1);
          await anon.request('POST', path('views'), { session_id: p.id, watched_seconds: 10, position_seconds: 10 });
          pendingViews.push(performance.now());
        }
      }
    };
    const reader = async () => {
      let seenSamples = 0;
      let seenViews = 0;
      while (performance.now() < deadline + 10_000 && (performance.now() < deadline || pendingStarts.length > seenSamples || pendingViews.length > seenViews)) {
        const asked = performance.now();
        const a = await owner.request<{ views: number; startup_time_ms: { samples: number } }>('GET', path('analytics'));
        const now = performance.now();
        reads.push(now - asked);
        if (baseSamples < 0) { baseSamples = a.startup_time_ms.samples; baseViews = a.views; }
        while (seenSamples < Math.min(pendingStarts.length, a.startup_time_ms.samples - baseSamples)) fresh.playback.push(now - pendingStarts[seenSamples++]!);
        while (seenViews < Math.min(pendingViews.length, a.views - baseViews)) fresh.view.push(now - pendingViews[seenViews++]!);
        await sleep(READ_EVERY_MS);
      }
    };
    process.stderr.write(`load: ${rate} events/s for ${seconds} s over ${connections} senders${videos > 1 ? ` and ${videos} videos` : ''}, probes every ${PROBE_EVERY_MS} ms…\n`);
    const progress = setInterval(() => process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(0)} s: ${load!.sent()} events sent, ${fresh.playback.length + fresh.view.length} probes seen\n`), 10_000);
    const readerDone = reader();
    readerDone.catch(() => undefined); // awaited below; a failure before then is reported there, not as an unhandled rejection
    const [{ sent, failed, failures, accepted, pacedMs, loadSeconds, cpuSeconds }] = await Promise.all([load.done, probe()]);
    const whyFailed = failed ? ` (${Object.entries(failures).map(([why, n]) => `${why}: ${n}`).join(', ')})` : '';
    const achieved = sent / loadSeconds;
    const cpu = process.cpuUsage(cpuAtStart);
    /** This process during the load (probes, reader; in cluster mode also copying the roles' output to their logs), % of one core. */
    const benchCpu = ((cpu.user + cpu.system) / 1e6 / loadSeconds) * 100;
    /** The load generator (the child), % of one core. */
    const loadCpu = (cpuSeconds / loadSeconds) * 100;
    clearInterval(progress);
    clearTimeout(machineEnd);
    await readerDone;
    const projectorAfter = await scrapeProjection(projectors);
    stopping = true;
    await issuer;

    console.log(`\nCreator analytics freshness (${label}${target === 'cluster' ? `, ${server.urls.length} gateways` : ''}; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version})`);
    if (target === 'cluster') console.log(`Kafka broker JVM flags: ${process.env.KAFKA_JVM_FLAGS || '(the JVM\'s defaults)'}`);
    const device = journalLessExt4(dir);
    if (device) console.log(`data directory: ${dir} on ext4 without a journal (${device}): a run started within 5 minutes of deleting many files there (the previous run's clean-up) spends much of ClickHouse's CPU in ext4's inode allocator (bench/support/file-system.ts); leave 5 minutes between runs, or set TMPDIR to a tmpfs or a journaled file system`);
    console.log(`load: ${achieved.toFixed(0)} events/s achieved (asked ${rate}), ${failed} failed requests${whyFailed}; analytics read every ${READ_EVERY_MS} ms; the load generator (nice ${loadNice}) used ${loadCpu.toFixed(0)} % of a core, the benchmark's process (probes, reader) ${benchCpu.toFixed(0)} %`);
    const machine = cpuShares(machineAtStart, machineAtEnd, cpuGroups(server, load));
    if (machine) console.log(`CPU during the load (/proc): ${machine}`);
    const pacedShare = (100 * pacedMs) / (connections * loadSeconds * 1000);
    const meanAcceptedMs = accepted.reduce((a, b) => a + b, 0) / Math.max(1, accepted.length);
    /** The most the senders could send at the mean time to a 202: `connections` × 4/3 events ÷ that time. */
    const senderCeiling = (connections * (4 / 3) * 1000) / meanAcceptedMs;
    console.log(`load requests: 202 after p50 ${pct(accepted, 50).toFixed(0)} ms, p99 ${pct(accepted, 99).toFixed(0)} ms (mean ${meanAcceptedMs.toFixed(0)} ms: ${connections} senders can send at most ${senderCeiling.toFixed(0)} events/s); the senders waited for their pace ${pacedShare.toFixed(0)} % of the time${pacedShare < 5 && achieved < rate * 0.98 ? ' (nearly never: the senders set the rate; more --connections shows whether the target takes more)' : ''}`);
    console.log('kind                 probes  unseen  p50 ms  p95 ms  p99 ms  max ms  goal p99 ≤ 1000 ms');
    const sentProbes = { playback: pendingStarts.length, view: pendingViews.length };
    for (const [kind, seen] of Object.entries(fresh)) {
      // A probe the reads never counted (within 10 s of the load's end) is slower than any seen:
      // it counts as infinitely late, so it can only raise the percentiles, never hide.
      const unseen = sentProbes[kind as keyof typeof sentProbes] - seen.length;
      const xs = [...seen, ...new Array<number>(Math.max(0, unseen)).fill(Number.POSITIVE_INFINITY)];
      const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : 'never').padStart(6);
      const p99 = pct(xs, 99);
      console.log(`${kind.padEnd(20)} ${String(xs.length).padStart(6)}  ${String(unseen).padStart(6)}  ${ms(pct(xs, 50))}  ${ms(pct(xs, 95))}  ${ms(p99)}  ${ms(Math.max(...xs))}  ${p99 <= GOAL_MS ? 'met' : 'MISSED'}`);
      figures.push({ name: `freshness p99 (${label}), ${kind} event → creator analytics (at ${achieved.toFixed(0)} events/s)`, value: p99, unit: 'ms', goal: `≤ ${GOAL_MS} ms`, met: p99 <= GOAL_MS });
    }
    console.log(`analytics reads: ${reads.length}, p50 ${pct(reads, 50).toFixed(0)} ms, p99 ${pct(reads, 99).toFixed(0)} ms (a probe waits for the read in flight and the next one)`);
    const [e50, e99, b50, b99] = [E2E_METRIC, BATCH_METRIC].flatMap((m) => [0.5, 0.99].map((q) => quantileBetween(projectorBefore.get(m)!, projectorAfter.get(m)!, q)));
    const ms = (x: { seconds: number } | undefined) => (x ? (x.seconds * 1000).toFixed(0) : '?');
    console.log(e99
      ? `analytics projection (its histograms' buckets, interpolated): ${e99.count} records from their log timestamp to the read model (KIP-613 record e2e latency) p50 ${ms(e50)} ms, p99 ${ms(e99)} ms; ${b99?.count ?? 0} batches applied in p50 ${ms(b50)} ms, p99 ${ms(b99)} ms. The rest of a probe's freshness is the reads`
      : 'analytics projection: no record e2e latency scraped');
    figures.push({ name: `sustained event rate during the freshness run (${label})`, value: achieved, unit: 'events/s', goal: `≥ ${rate} events/s`, met: achieved >= rate * 0.98 });
  } finally {
    load?.kill();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  printResult({ bench: target === 'cluster' ? 'freshness-cluster' : 'freshness', figures, notes: ['freshness: a probe is seen by the first analytics read (every 50 ms) that counts it'] });
}

await main();
