/**
 * Gateway read benchmark (issue 12): `GET /api/v1/videos/{id}` of a real standalone server
 * (`streamwave start`, as `npm start` runs it, rate limits off so one client can load it) against
 * a bare Fastify handler returning the same JSON from memory, and one reading it from Redis when
 * a redis-server is available (deploy/local/redis.sh), side by side in the same run. The load is
 * autocannon in this process (32 connections); each server is its own process.
 *
 *   npm run bench:gateway -- [--seconds 10] [--connections 32] [--runs 3]
 *
 * Rounds alternate the servers (StreamWave, bare memory, bare Redis, StreamWave, …) so that a
 * change in the machine's load hits each side alike; the median of the runs is printed with the
 * ratio to each baseline. Goal (issue 12): StreamWave ≥ 1.0× the bare Redis handler in standalone,
 * p99 ≤ 5 ms. A benchmark, not a test: exits 0 whatever the figures.
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
import { median, table } from './transcode/support.ts';

interface Figures { rps: number; p50: number; p99: number; errors: number }

const progress = (msg: string): void => {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
};

/** Runs autocannon against `url` for `seconds`; requests/s and latency percentiles, ms. */
async function load(url: string, seconds: number, connections: number): Promise<Figures> {
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

/** Starts the bare server (bench/gateway/bare-server.ts) as a child; resolves once it listens. */
async function startBare(jsonFile: string, redisUrl?: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'gateway', 'bare-server.ts'), String(port), jsonFile, ...(redisUrl ? [redisUrl] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('listening')) resolve(); });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

const stopChild = (child: ChildProcess): Promise<void> => new Promise((resolve) => {
  if (child.exitCode !== null) return resolve();
  child.once('exit', () => resolve());
  child.kill('SIGTERM');
});

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' }, runs: { type: 'string', default: '3' } } });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const runs = Number(values.runs);
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-bench-gateway-'));
  const children: ChildProcess[] = [];
  let redis: RedisServer | undefined;
  const sw = await startStandaloneProcess({ dataDir: join(dir, 'data'), env: { STREAMWAVE_RATE_LIMITS: 'off' } });
  try {
    progress('uploading a 2 s clip and waiting until it is ready');
    const client = new StreamWaveClient(sw.url);
    await client.register('bench', 'bench@example.com', 'bench-password-1');
    await client.login('bench', 'bench-password-1');
    const clip = await makeClip(join(dir, 'clip.mp4'), { seconds: 2, width: 640, height: 360 });
    const { videoId } = await uploadFile(client, clip, { title: 'Benchmark clip', description: 'The document every request reads', tags: ['bench'] });
    const final = await waitForProcessing(client, videoId, { timeoutMs: 120_000 });
    if (final.status !== 'ready') throw new Error(`the clip ended ${final.status}`);
    const path = `/api/v1/videos/${videoId}`;
    const body = await (await fetch(`${sw.url}${path}`)).text();
    const jsonFile = join(dir, 'video.json');
    await writeFile(jsonFile, body);

    const sides: { name: string; url: string }[] = [{ name: 'StreamWave standalone', url: `${sw.url}${path}` }];
    const memory = await startBare(jsonFile);
    children.push(memory.child);
    sides.push({ name: 'bare Fastify, JSON in memory', url: `${memory.url}${path}` });
    const whyNoRedis = await redisMissing();
    if (whyNoRedis) progress(`no Redis baseline: ${whyNoRedis}`);
    else {
      redis = await startRedisServer();
      const onRedis = await startBare(jsonFile, redis.url);
      children.push(onRedis.child);
      sides.push({ name: 'bare Fastify, JSON from Redis', url: `${onRedis.url}${path}` });
    }

    const results = new Map<string, Figures[]>(sides.map((s) => [s.name, []]));
    for (const s of sides) await load(s.url, 2, connections); // warm-up (JIT, connections)
    for (let run = 1; run <= runs; run++) {
      for (const s of sides) {
        progress(`run ${run}/${runs}: ${s.name}, ${seconds} s at ${connections} connections`);
        const f = await load(s.url, seconds, connections);
        results.get(s.name)!.push(f);
        progress(`  ${Math.round(f.rps)} req/s, p50 ${f.p50} ms, p99 ${f.p99} ms, ${f.errors} errors`);
      }
    }

    const med = (name: string, k: keyof Figures): number => median(results.get(name)!.map((f) => f[k]));
    const sw0 = sides[0]!.name;
    console.log(`\nGateway read benchmark: GET ${'/api/v1/videos/{id}'} (${body.length} bytes of JSON), ${connections} connections, ${seconds} s × ${runs} runs (median)`);
    console.log(`machine: ${cpus().length} cores × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}\n`);
    console.log(table(['server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'StreamWave / this'], sides.map((s) => [
      s.name, String(Math.round(med(s.name, 'rps'))), String(med(s.name, 'p50')), String(med(s.name, 'p99')),
      String(results.get(s.name)!.reduce((n, f) => n + f.errors, 0)),
      s.name === sw0 ? '' : `${(med(sw0, 'rps') / med(s.name, 'rps')).toFixed(2)}x`,
    ])));
    console.log('\nGoal (issue 12): StreamWave ≥ 1.0× the bare Redis handler in standalone, p99 ≤ 5 ms.');
  } finally {
    for (const c of children) await stopChild(c);
    await redis?.stop();
    await sw.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
