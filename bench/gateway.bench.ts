/**
 * Gateway benchmark (issue 12): a real standalone server (`streamwave start`, as `npm start` runs
 * it, projections in-process, rate limits off so one client can load it) against bare Fastify
 * baselines (bench/gateway/bare-server.ts), side by side in the same run. The load is autocannon
 * in this process; each server is its own process. Two figures:
 *
 * - reads: `GET /api/v1/videos/{id}` against a bare handler returning the same JSON from memory,
 *   and one reading it from Redis when a redis-server is available (deploy/local/redis.sh).
 *   Goal: StreamWave ≥ 1.0× the bare Redis handler in standalone, p99 ≤ 5 ms.
 * - heartbeats: `POST /api/v1/videos/{id}/views` (202 once durable on the log) against a bare
 *   Fastify POST validating the same body with StreamWave's JSON schema and answering 202 after a
 *   group-committed fdatasync append to a log file in the same directory as StreamWave's data.
 *   Every connection sends heartbeats of its own playback session (from `GET /{id}/stream`; one
 *   session per connection), cumulative watched seconds growing by 0.5 s per heartbeat; both
 *   sides get the same bodies. Any non-2xx answer counts as an error. Issue 12 measured 0.41×
 *   (3.6k vs 8.9k /s); goal ≥ 0.7× in standalone, projections included.
 *
 *   npm run bench:gateway -- [--only reads|heartbeats] [--seconds 10] [--connections 32] [--runs 3]
 *
 * Rounds alternate the servers (StreamWave, baseline, …, StreamWave, …) so that a change in the
 * machine's load hits each side alike; the median of the runs is printed with the ratio to each
 * baseline. A benchmark, not a test: exits 0 whatever the figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { StreamWaveClient } from '../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../cli/client/upload-file.ts';
import { makeClip } from '../test/support/make-media.ts';
import { redisMissing, startRedisServer, type RedisServer } from '../test/support/redis-server.ts';
import { freePort, startStandaloneProcess } from '../test/support/standalone-process.ts';
import { printResult, type BenchFigure } from './support/result.ts';
import { median, table } from './support/table.ts';

interface Figures { rps: number; p50: number; p99: number; errors: number; statuses: string }
/** One server under load: its name and the autocannon options (url, method, body…) that load it. */
interface Side { name: string; target: () => Promise<autocannon.Options> }
interface Settings { seconds: number; connections: number; runs: number }

const CLIP_SECONDS = 2;
/** Seconds of watch time each heartbeat adds to its session's cumulative `watched_seconds`. */
const HEARTBEAT_STEP_SECONDS = 0.5;

const progress = (msg: string): void => {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
};

/** Runs autocannon with `target` for `seconds`; requests/s, latency percentiles (ms), errors (connection errors, timeouts and non-2xx) and the count per status. */
async function load(target: autocannon.Options, seconds: number, connections: number): Promise<Figures> {
  const r = await autocannon({ ...target, connections, duration: seconds, pipelining: 1 });
  const statuses = Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => `${code}×${s.count ?? 0}`).join(' ');
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, statuses };
}

/** Starts the bare server (bench/gateway/bare-server.ts) with `args` after its port; resolves once it listens. */
async function startBare(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'gateway', 'bare-server.ts'), String(port), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('listening')) resolve(); });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

const stopChild = (child: ChildProcess): Promise<void> => new Promise((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) return resolve();
  child.once('exit', () => resolve());
  child.kill('SIGTERM');
});

/** Warms every side up (2 s), then `runs` rounds alternating the sides; every run's figures per side. */
async function compare(sides: Side[], { seconds, connections, runs }: Settings): Promise<Map<string, Figures[]>> {
  const results = new Map<string, Figures[]>(sides.map((s) => [s.name, []]));
  for (const s of sides) await load(await s.target(), 2, connections); // warm-up (JIT, connections)
  for (let run = 1; run <= runs; run++) {
    for (const s of sides) {
      progress(`run ${run}/${runs}: ${s.name}, ${seconds} s at ${connections} connections`);
      const f = await load(await s.target(), seconds, connections);
      results.get(s.name)!.push(f);
      progress(`  ${Math.round(f.rps)} req/s, p50 ${f.p50} ms, p99 ${f.p99} ms, ${f.errors} errors (status ${f.statuses || 'none'})`);
    }
  }
  return results;
}

/**
 * Prints the table of medians, the first side (StreamWave) compared with each of the others;
 * returns the medians in req/s by side name.
 */
function report(title: string, sides: Side[], results: Map<string, Figures[]>, s: Settings, goal: string): Map<string, number> {
  const med = (name: string, k: 'rps' | 'p50' | 'p99'): number => median(results.get(name)!.map((f) => f[k]));
  const sw0 = sides[0]!.name;
  console.log(`\n${title}, ${s.connections} connections, ${s.seconds} s × ${s.runs} runs (median)`);
  console.log(`machine: ${cpus().length} cores × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}\n`);
  console.log(table(['server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'StreamWave / this'], sides.map((side) => [
    side.name, String(Math.round(med(side.name, 'rps'))), String(med(side.name, 'p50')), String(med(side.name, 'p99')),
    String(results.get(side.name)!.reduce((n, f) => n + f.errors, 0)),
    side.name === sw0 ? '' : `${(med(sw0, 'rps') / med(side.name, 'rps')).toFixed(2)}x`,
  ])));
  console.log(`\n${goal}`);
  return new Map(sides.map((side) => [side.name, med(side.name, 'rps')]));
}

/** Figure 1: `GET /api/v1/videos/{id}`, StreamWave vs bare Fastify from memory and from Redis. */
async function benchReads(swUrl: string, videoId: string, dir: string, settings: Settings, children: ChildProcess[]): Promise<BenchFigure[]> {
  const path = `/api/v1/videos/${videoId}`;
  const body = await (await fetch(`${swUrl}${path}`)).text();
  const jsonFile = join(dir, 'video.json');
  await writeFile(jsonFile, body);
  const at = (url: string) => async (): Promise<autocannon.Options> => ({ url });
  const sides: Side[] = [{ name: 'StreamWave standalone', target: at(`${swUrl}${path}`) }];
  const memory = await startBare([jsonFile]);
  children.push(memory.child);
  sides.push({ name: 'bare Fastify, JSON in memory', target: at(`${memory.url}${path}`) });
  let redis: RedisServer | undefined;
  try {
    const whyNoRedis = await redisMissing();
    if (whyNoRedis) progress(`no Redis baseline: ${whyNoRedis}`);
    else {
      redis = await startRedisServer();
      const onRedis = await startBare([jsonFile, redis.url]);
      children.push(onRedis.child);
      sides.push({ name: 'bare Fastify, JSON from Redis', target: at(`${onRedis.url}${path}`) });
    }
    const results = await compare(sides, settings);
    const rps = report(`Gateway read benchmark: GET /api/v1/videos/{id} (${body.length} bytes of JSON)`, sides, results, settings,
      'Goal (issue 12): StreamWave ≥ 1.0× the bare Redis handler in standalone, p99 ≤ 5 ms.');
    const sw = rps.get(sides[0]!.name)!;
    return sides.slice(1).map((side) => {
      const base = rps.get(side.name)!;
      const goal = side.name.includes('Redis') ? { goal: '≥ 1.0× bare Fastify on Redis', met: sw >= base } : {};
      return { name: 'video detail reads, standalone', value: sw, unit: 'req/s', baseline: { name: side.name, value: base }, ...goal };
    });
  } finally {
    for (const c of children.splice(0)) await stopChild(c);
    await redis?.stop();
  }
}

/**
 * Playback sessions of the video, one per connection, from `GET /{id}/stream`. They live
 * STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS (6 h by default), far longer than a run, but `fresh`
 * fetches new ones anyway when any would expire before `untilMs`.
 */
function sessionPool(swUrl: string, videoId: string, count: number) {
  let sessions: { id: string; expiresAt: number }[] = [];
  return async function fresh(untilMs: number): Promise<string[]> {
    if (sessions.length < count || sessions.some((s) => s.expiresAt <= untilMs)) {
      sessions = await Promise.all(Array.from({ length: count }, async () => {
        const res = await fetch(`${swUrl}/api/v1/videos/${videoId}/stream`);
        if (res.status !== 200) throw new Error(`GET /stream answered ${res.status}: ${await res.text()}`);
        const s = (await res.json()) as { session_id: string; session_expires_at: string };
        return { id: s.session_id, expiresAt: Date.parse(s.session_expires_at) };
      }));
    }
    return sessions.map((s) => s.id);
  };
}

/**
 * autocannon options sending heartbeats to `url`: connection k (setupClient) sends the session
 * `sessions[k]` with its cumulative watched seconds (kept across runs, per session) growing by
 * HEARTBEAT_STEP_SECONDS and the playhead looping over the clip.
 */
function heartbeats(url: string, sessions: string[], watched: Map<string, number>): autocannon.Options {
  const headers = { 'content-type': 'application/json' };
  let next = 0;
  return {
    url, method: 'POST', headers,
    setupClient: (client) => {
      const session = sessions[next++ % sessions.length]!;
      client.setRequests([{
        method: 'POST', headers,
        setupRequest: (req) => {
          const w = Math.min((watched.get(session) ?? 0) + HEARTBEAT_STEP_SECONDS, 1e7); // the schema's maximum
          watched.set(session, w);
          return { ...req, body: JSON.stringify({ session_id: session, watched_seconds: w, position_seconds: w % CLIP_SECONDS }) };
        },
      }]);
    },
  };
}

/** Figure 2: `POST /api/v1/videos/{id}/views`, StreamWave vs bare Fastify with a group-committed fsync append. */
async function benchHeartbeats(swUrl: string, videoId: string, dir: string, settings: Settings, children: ChildProcess[]): Promise<BenchFigure[]> {
  const path = `/api/v1/videos/${videoId}/views`;
  const sessions = sessionPool(swUrl, videoId, settings.connections);
  const watched = new Map<string, number>();
  const bare = await startBare(['--heartbeats', join(dir, 'bare-heartbeats.log')]);
  children.push(bare.child);
  try {
    // Until the end of the whole comparison (warm-ups, every run of both sides), with margin.
    const until = (): number => Date.now() + (settings.runs * 2 + 1) * (settings.seconds + 2) * 1000 + 60_000;
    // One heartbeat on each side first: both must answer 202, or the figures would measure errors.
    for (const base of [swUrl, bare.url]) {
      const [session] = await sessions(until());
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session_id: session, watched_seconds: 0, position_seconds: 0 }) });
      if (res.status !== 202) throw new Error(`heartbeat to ${base} answered ${res.status}: ${await res.text()}`);
    }
    const sides: Side[] = [
      { name: 'StreamWave standalone', target: async () => heartbeats(`${swUrl}${path}`, await sessions(until()), watched) },
      { name: 'bare Fastify, group-commit fsync', target: async () => heartbeats(`${bare.url}${path}`, await sessions(until()), watched) },
    ];
    const results = await compare(sides, settings);
    await stopChild(bare.child); // prints its appends per fsync on stderr
    const rps = report('Gateway heartbeat benchmark: POST /api/v1/videos/{id}/views (202 once durable)', sides, results, settings,
      'Goal (issue 12): StreamWave ≥ 0.7× the bare group-commit handler in standalone, projections included (was 0.41×).');
    const sw = rps.get(sides[0]!.name)!;
    const base = rps.get(sides[1]!.name)!;
    return [{ name: 'view heartbeats, standalone', value: sw, unit: 'req/s', baseline: { name: sides[1]!.name, value: base }, goal: '≥ 0.7× bare group-commit POST', met: sw >= 0.7 * base }];
  } finally {
    for (const c of children.splice(0)) await stopChild(c);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    only: { type: 'string' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' }, runs: { type: 'string', default: '3' },
  } });
  if (values.only !== undefined && values.only !== 'reads' && values.only !== 'heartbeats') throw new Error(`--only: reads or heartbeats, not ${values.only}`);
  const settings: Settings = { seconds: Number(values.seconds), connections: Number(values.connections), runs: Number(values.runs) };
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-bench-gateway-'));
  const children: ChildProcess[] = [];
  const sw = await startStandaloneProcess({ dataDir: join(dir, 'data'), env: { STREAMWAVE_RATE_LIMITS: 'off' } });
  try {
    progress(`uploading a ${CLIP_SECONDS} s clip and waiting until it is ready`);
    const client = new StreamWaveClient(sw.url);
    await client.register('bench', 'bench@example.com', 'bench-password-1');
    await client.login('bench', 'bench-password-1');
    const clip = await makeClip(join(dir, 'clip.mp4'), { seconds: CLIP_SECONDS, width: 640, height: 360 });
    const { videoId } = await uploadFile(client, clip, { title: 'Benchmark clip', description: 'The document every request reads', tags: ['bench'] });
    const final = await waitForProcessing(client, videoId, { timeoutMs: 120_000 });
    if (final.status !== 'ready') throw new Error(`the clip ended ${final.status}`);
    const figures: BenchFigure[] = [];
    if (values.only !== 'heartbeats') figures.push(...await benchReads(sw.url, videoId, dir, settings, children));
    if (values.only !== 'reads') figures.push(...await benchHeartbeats(sw.url, videoId, dir, settings, children));
    printResult({ bench: 'gateway', figures, notes: [`${settings.connections} connections, ${settings.seconds} s × ${settings.runs} runs, medians`] });
  } finally {
    for (const c of children) await stopChild(c);
    await sw.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
