/**
 * The freshness benchmark's load generator (bench/freshness.bench.ts), in a child process of its
 * own: its 64 senders' responses no longer share an event loop with the probes' and the
 * analytics reader's clocks (which stay in the benchmark's process), its CPU is counted apart, and
 * it may run at a lower CPU priority than the system measured (`nice`), as viewers on other
 * machines would.
 *
 * `startLoad(spec, { nice })` forks this file; the child paces `spec.rate` events/s for
 * `spec.seconds` s over `spec.connections` closed-loop senders (each waits for its 202 before its
 * next request), half heartbeats and half playback events, and reports its count every second and
 * its result at the end.
 */
import { fork } from 'node:child_process';
import { Agent } from 'node:http';
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { httpText } from '../support/http.ts';

/** What the load sends: to `urls` (the gateways, taken in turn by the senders), on `sessions`' behalf. */
export interface LoadSpec {
  urls: string[];
  /** Playback sessions the load's heartbeats and playback events use, taken in turn, each with the video it plays. */
  sessions: { videoId: string; sessionId: string }[];
  /** Events per second asked (a playback request carries two events, a heartbeat one). */
  rate: number;
  seconds: number;
  /** Concurrent senders, each waiting for its 202 before the next request. */
  connections: number;
}

/** What the load did. */
export interface LoadResult {
  /** Events sent (a playback request counts two). */
  sent: number;
  /** Requests that got no 202 (another status, a socket error, no answer in 30 s). */
  failed: number;
  /** The failed requests by why: `HTTP <status>`, or the error's code or name (e.g. `ECONNRESET`). */
  failures: Record<string, number>;
  /** Time from each request to its 202, ms. */
  accepted: number[];
  /** Time the senders spent waiting for their pace, ms, all senders together. */
  pacedMs: number;
  /** How long the load ran, s. */
  loadSeconds: number;
  /** The load generator's CPU time (user + system), s. */
  cpuSeconds: number;
}

type FromChild = { type: 'started' } | { type: 'progress'; sent: number } | { type: 'done'; result: LoadResult };

/**
 * The load itself (run in the child): see the file comment. `onProgress` gets the events sent so
 * far every second. It posts with node:http (httpText) on kept-alive sockets rather than fetch:
 * the load generator shares the cores with the system measured, and fetch costs more CPU per
 * request.
 */
async function runLoad(spec: LoadSpec, onProgress: (sent: number) => void = () => undefined): Promise<LoadResult> {
  const per = Math.ceil(spec.connections / spec.urls.length);
  const senders = spec.urls.map((base) => {
    const agent = new Agent({ keepAlive: true, maxSockets: per });
    const post = async (path: string, json: unknown) => {
      const { status } = await httpText(`${base}${path}`, agent, { method: 'POST', json, timeoutMs: 30_000 });
      if (status !== 202) throw new Error(`POST ${path}: HTTP ${status}`);
    };
    return { post, close: () => agent.destroy() };
  });
  const path = (videoId: string, what: string) => `/api/v1/videos/${videoId}/${what}`;
  let sent = 0;
  const failures: Record<string, number> = {};
  const accepted: number[] = [];
  let pacedMs = 0;
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const deadline = started + spec.seconds * 1000;
  const progress = setInterval(() => onProgress(sent), 1000);
  const sender = async (c: number) => {
    let n = c; // senders start at different sessions
    while (performance.now() < deadline) {
      const due = started + (sent / spec.rate) * 1000;
      if (due > performance.now()) {
        const waitFrom = performance.now();
        await sleep(due - waitFrom);
        pacedMs += performance.now() - waitFrom; // as slept (timers round up to 1 ms and run late)
        continue;
      }
      const { videoId, sessionId: s } = spec.sessions[n++ % spec.sessions.length]!;
      const heartbeat = n % 3 !== 0; // two requests in three: half the events are heartbeats
      sent += heartbeat ? 1 : 2;
      try {
        const via = senders[c % senders.length]!.post;
        const asked = performance.now();
        if (heartbeat) await via(path(videoId, 'views'), { session_id: s, watched_seconds: 1, position_seconds: 1 });
        else await via(path(videoId, 'playback-events'), { session_id: s, events: [{ type: 'rebuffer_start', position_seconds: 1 }, { type: 'rebuffer_end', position_seconds: 1, rebuffer_ms: 10 }] });
        accepted.push(performance.now() - asked);
      } catch (err) {
        const why = /HTTP \d+$/.exec(String((err as Error).message))?.[0] ?? (err as NodeJS.ErrnoException).code ?? (err as Error).name ?? 'error';
        failures[why] = (failures[why] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.connections }, (_, c) => sender(c)));
  } finally {
    clearInterval(progress);
    for (const s of senders) s.close();
  }
  const cpu = process.cpuUsage(cpuAtStart);
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return { sent, failed, failures, accepted, pacedMs, loadSeconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** A running load (see `startLoad`). */
export interface RunningLoad {
  /** Events sent so far (as last reported, every second). */
  sent(): number;
  /** The load's result once it ended. @throws (rejects) when the child exits without one. */
  done: Promise<LoadResult>;
  /** Ends the child at once (for a `finally`). */
  kill(): void;
  /** The child's process id (for bench/support/process-cpu.ts). */
  pid: number | undefined;
}

/**
 * Forks this file as the load generator at CPU priority `nice` (0 = the benchmark's own, up to 19:
 * `os.setPriority`) and resolves once it started sending.
 * @throws (rejects) when the child fails to start, exits before it started, or its priority cannot be set (the child is then ended).
 */
export async function startLoad(spec: LoadSpec, opts: { nice: number }): Promise<RunningLoad> {
  const child = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    if (opts.nice !== 0) setPriority(child.pid!, opts.nice);
  } catch (err) {
    child.kill();
    throw err;
  }
  let sent = 0;
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((res) => (onStarted = res));
  const done = new Promise<LoadResult>((resolve, reject) => {
    child.on('message', (m: FromChild) => {
      if (m.type === 'started') onStarted();
      else if (m.type === 'progress') sent = m.sent;
      else if (m.type === 'done') { sent = m.result.sent; resolve(m.result); }
    });
    child.on('error', reject); // it could not be started, or a message could not be sent
    // 'close', not 'exit': the IPC channel may still hold the result when the process has exited.
    child.on('close', (code, signal) => reject(new Error(`the load generator exited (${signal ?? code}) before its result`)));
  });
  child.send(spec);
  await Promise.race([started, done]);
  return { sent: () => sent, done, kill: () => child.kill(), pid: child.pid };
}

if (process.argv[2] === '--child' && process.send) {
  const send = (m: FromChild) => process.send!(m);
  process.once('message', (spec: LoadSpec) => {
    send({ type: 'started' });
    void runLoad(spec, (sent) => send({ type: 'progress', sent })).then((result) => {
      // Disconnect once the result is written: a large message is sent in parts, and an earlier
      // disconnect cut it off (the parent saw the child close without a result).
      process.send!({ type: 'done', result } satisfies FromChild, undefined, {}, () => process.disconnect?.());
    }, (err: unknown) => {
      console.error('load generator failed:', err); // the parent reports the exit without a result
      process.exit(1);
    });
  });
}
