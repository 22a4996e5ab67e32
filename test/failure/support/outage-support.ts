/**
 * Pieces of the server-outage proof (test/failure/server-outage.failure.test.ts): stopping and
 * restarting one server of a local cluster on its own data dir, a prober that drives the gateway's
 * public API and records every answer (status, Retry-After, time), the events the load appends
 * straight to Kafka, and the consumer-group check that a projection has read everything.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCluster, LocalServer } from '../../../deploy/local/local-cluster.ts';
import type { DomainEvent } from '../../../domain/events.ts';
import type { KafkaEventLog } from '../../../platform/log/kafka/kafka-event-log.adapter.ts';
import type { LogRecord } from '../../../platform/log/event-log.port.ts';
import { ROOT } from './cluster-harness.ts';

/** How a server is taken down: its script's `stop` (SIGTERM, then SIGKILL) or `kill -9` of its pid. */
export type StopMode = 'stop' | 'sigkill';

export interface ServerControl {
  name: LocalServer;
  port: number;
  dir: string;
  /** Takes the server down; resolves once its process is gone. */
  stop(mode: StopMode): Promise<void>;
  /** Starts it again on the same port and dir; resolves once it serves (the script waits). */
  start(): Promise<void>;
}

const script = (name: string, args: string[], env: Record<string, string>) => new Promise<string>((res, rej) => {
  execFile('bash', [join(ROOT, 'deploy/local', `${name}.sh`), ...args], { timeout: 300_000, env: { ...process.env, ...env } },
    (err, stdout, stderr) => (err ? rej(new Error(`${name}.sh ${args[0]}: ${err.message}\n${stderr.slice(-1500)}`)) : res(stdout)));
});

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** Control of server `name` of a cluster started under `dataDir` (the same port, dir and credentials as `startLocalCluster` gave it). */
export function serverControl(cluster: LocalCluster, dataDir: string, name: LocalServer): ServerControl {
  const dir = join(dataDir, 'servers', name);
  const port = Number(new URL(cluster.servers[name].url!).port);
  const secrets = Object.fromEntries(readFileSync(join(dataDir, 'secrets.env'), 'utf8').split('\n').filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const env: Record<string, string> = name === 'typesense' ? { TYPESENSE_API_KEY: secrets.TYPESENSE_API_KEY! }
    : name === 'seaweedfs' ? { SEAWEEDFS_ACCESS_KEY: secrets.S3_ACCESS_KEY_ID!, SEAWEEDFS_SECRET_KEY: secrets.S3_SECRET_ACCESS_KEY! } : {};
  let pid = Number(cluster.servers[name].pid);
  return {
    name, port, dir,
    async stop(mode) {
      if (mode === 'stop') return void await script(name, ['stop', '--dir', dir], env);
      process.kill(pid, 'SIGKILL');
      while (alive(pid) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) await new Promise((r) => setTimeout(r, 50));
    },
    async start() {
      const out = await script(name, ['start', '--port', String(port), '--dir', dir, ...(name === 'redis' ? ['--aof'] : [])], env);
      pid = Number(/^pid=(\d+)$/m.exec(out)?.[1] ?? pid);
    },
  };
}

/** One answer (or non-answer) of the gateway. `status` 0 = no HTTP answer (connection error or the client's timeout). */
export interface Probe {
  what: string;
  startedAt: number;
  ms: number;
  status: number;
  retryAfter: string | null;
  error?: string;
}

/**
 * A fetch against the gateway that never throws: records the status, Retry-After and duration.
 * Aborted once `timeoutMs` of running time has passed (then status 0, error `timeout`): time in
 * which this process stalled (`stalledWithin`, see StallMonitor; default none) does not count, up
 * to three times `timeoutMs` of wall-clock time in all.
 */
export async function probe(log: Probe[], what: string, url: string, init: RequestInit & { timeoutMs: number; stalledWithin?: StallMonitor['stalledWithin'] }): Promise<{ status: number; body: unknown }> {
  const startedAt = Date.now();
  const { timeoutMs, stalledWithin = () => 0, ...request } = init;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    timer = setTimeout(() => {
      const now = Date.now();
      const left = timeoutMs - (now - startedAt - stalledWithin(startedAt, now));
      if (left > 0 && now - startedAt < 3 * timeoutMs) arm(left);
      else abort.abort(new DOMException('the probe ran out of time', 'TimeoutError'));
    }, ms);
  };
  arm(timeoutMs);
  try {
    const res = await fetch(url, { ...request, signal: abort.signal });
    const text = await res.text();
    log.push({ what, startedAt, ms: Date.now() - startedAt, status: res.status, retryAfter: res.headers.get('retry-after') });
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body };
  } catch (e) {
    const error = (e as Error).name === 'TimeoutError' ? 'timeout' : `${(e as Error).message} ${String((e as { cause?: unknown }).cause ?? '')}`;
    log.push({ what, startedAt, ms: Date.now() - startedAt, status: 0, retryAfter: null, error });
    return { status: 0, body: undefined };
  } finally {
    clearTimeout(timer);
  }
}

/** `{ "200": n, "503": m, … }` of the probes started within [from, to). */
export function statusCounts(probes: Probe[], from: number, to: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of probes) if (p.startedAt >= from && p.startedAt < to) out[p.status] = (out[p.status] ?? 0) + 1;
  return out;
}

/**
 * Stalls of this process: spans, ms since the epoch, in which its event loop did not turn for at
 * least `minStallMs` (a timer due every `tickMs` came that much late). A host pausing the VM
 * stalls every process at once (seen in CI: every role and server silent for 15 s, the kernel
 * logging "crng reseeded due to virtual machine fork"), and so does this process's own synchronous
 * work; either way a request's wall-clock time then includes time in which the gateway could not
 * have answered, or its answer waited unread.
 */
export interface StallMonitor {
  /** Stalls so far, [from, to] in ms since the epoch. */
  readonly stalls: ReadonlyArray<{ from: number; to: number }>;
  /** ms of [from, to] covered by stalls. */
  stalledWithin(from: number, to: number): number;
  stop(): void;
}

/** Starts watching this process's event loop; see StallMonitor. */
export function stallMonitor(tickMs = 100, minStallMs = 1_000): StallMonitor {
  const stalls: { from: number; to: number }[] = [];
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - last - tickMs >= minStallMs) stalls.push({ from: last + tickMs, to: now });
    last = now;
  }, tickMs);
  timer.unref();
  return { stalls, stalledWithin: (from, to) => overlapMs(stalls, from, to), stop: () => clearInterval(timer) };
}

/** ms of [from, to] covered by `spans` (which do not overlap each other). */
export function overlapMs(spans: ReadonlyArray<{ from: number; to: number }>, from: number, to: number): number {
  return spans.reduce((ms, s) => ms + Math.max(0, Math.min(to, s.to) - Math.max(from, s.from)), 0);
}

/**
 * Problems with the probes: any 5xx other than 503, a 503 without Retry-After, no answer at all, or
 * an answer slower than `maxMs`. Time in which this process stalled (`stalledWithin`, default none)
 * does not count towards `maxMs`: a request is held too long when its time less the stalls in it
 * is. A client timeout is no answer, unless the probe gave up at its wall-clock cap with less than
 * `maxMs` of running time (stalls took most of it: nothing can be said of the gateway).
 */
export function probeProblems(probes: Probe[], maxMs: number, stalledWithin: StallMonitor['stalledWithin'] = () => 0): string[] {
  const out: string[] = [];
  for (const p of probes) {
    const at = new Date(p.startedAt).toISOString().slice(11, 23);
    const stalled = stalledWithin(p.startedAt, p.startedAt + p.ms);
    const ran = p.ms - stalled;
    const stallNote = stalled > 0 ? `; ${stalled} ms of it this process stalled` : '';
    if (p.status === 0) {
      if (!(p.error === 'timeout' && ran < maxMs)) out.push(`${at} ${p.what}: no answer (${p.error}${stallNote})`);
      continue;
    }
    if (p.status >= 500 && p.status !== 503) out.push(`${at} ${p.what}: ${p.status}`);
    else if (p.status === 503 && !p.retryAfter) out.push(`${at} ${p.what}: 503 without Retry-After`);
    if (ran > maxMs) out.push(`${at} ${p.what}: held ${p.ms} ms (> ${maxMs} ms${stallNote})`);
  }
  return out;
}

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

/** The lifecycle of a published video of `ownerId` (as the uploader and the transcoder would have written it). */
export function publishedVideo(videoId: string, title: string, ownerId: string, at = T0): DomainEvent[] {
  const rendition = { name: '144p', width: 256, height: 144, bandwidth: 300_000, codecs: 'avc1.64000c,mp4a.40.2', playlist: '144p/index.m3u8' };
  return [
    { type: 'UploadStarted', data: { videoId, ownerId, uploadId: `upl_${videoId}`, objectKey: `uploads/${videoId}/missing`, filename: 'v.mp4', sizeBytes: 1000, contentType: 'video/mp4', title, description: 'outage load', tags: ['load'], partSizeBytes: 5_242_880, startedAt: at } },
    { type: 'UploadCompleted', data: { videoId, uploadId: `upl_${videoId}`, objectKey: `uploads/${videoId}/missing`, sizeBytes: 1000, completedAt: at + 1 } },
    { type: 'VideoProcessingStarted', data: { videoId, ladder: [rendition], durationSeconds: 60, startedAt: at + 2 } },
    { type: 'RenditionEncoded', data: { videoId, rendition, at: at + 3 } },
    { type: 'VideoPublished', data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `hls/${videoId}/thumb.jpg`, durationSeconds: 60, publishedAt: at + 4 } },
  ];
}

/** A v1 player heartbeat (no `sessionStartedAt`) of a 60 s video. */
export function heartbeat(videoId: string, sessionId: string, watchedSeconds: number): DomainEvent {
  return { type: 'VideoViewed', data: { videoId, sessionId, viewerId: null, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds: 60, viewedAt: Date.now() } };
}

/**
 * The view rule for these heartbeats, restated from docs/view-rule.md (v1 heartbeat of a 60 s
 * video: effective watched = watchedSeconds, a view once it reaches 10 s), not production code.
 */
export const qualifies = (watchedSeconds: number) => watchedSeconds >= 10;

/** Every record of `topic`, all partitions, from the beginning to the end offsets at call time. */
export async function readWholeTopic(log: KafkaEventLog, topic: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  const ends = await log.endOffsets(topic);
  const starts = await log.beginningOffsets(topic);
  for (let p = 0; p < ends.length; p++) {
    let next = starts[p]!;
    while (next < ends[p]!) {
      const batch = await log.read(topic, p, next, 1_000);
      if (batch.length === 0) break; // only transaction markers (or aborted records) left
      out.push(...batch);
      next = batch.at(-1)!.offset + 1;
    }
  }
  return out;
}

/** True once every partition of every topic `group` consumes has its committed offset at the end offset. */
export async function groupDone(log: KafkaEventLog, group: string, topics: readonly string[]): Promise<boolean> {
  const committed = await log.committedOffsets(group);
  for (const topic of topics) {
    const ends = await log.endOffsets(topic);
    for (let p = 0; p < ends.length; p++) if ((committed.get(`${topic}:${p}`) ?? 0) < ends[p]!) return false;
  }
  return true;
}

/** Sum over the partitions of `topics` of `group`'s committed offsets (records the group has committed as processed). */
export async function committedTotal(log: KafkaEventLog, group: string, topics: readonly string[]): Promise<number> {
  const committed = await log.committedOffsets(group);
  let n = 0;
  for (const [tp, offset] of committed) if (topics.some((topic) => tp.startsWith(`${topic}:`))) n += offset;
  return n;
}
