/**
 * The three measurements of bench:replay, all on the same embedded log:
 * - `readAndDecode`: the ceiling — every record of a topic read from the log (500 per read, the
 *   consumer's batch size) and decoded with the Avro codec, nothing applied;
 * - `runtimeNoApply`: the projection runtime (`runProjection`: consumer loop, group offset
 *   commits, decode, checkpoint tracking) feeding a projection node that applies nothing, to split
 *   the runtime's cost from the read model's;
 * - `rebuild`: the real thing — a projection manager over the standalone read models, started on
 *   an empty data directory (its primary instance is built from offset 0: the "first build"), then
 *   `replay(name, { fromBeginning: true })`: a shadow instance on a fresh store, consuming from
 *   offset 0 in its own consumer group until caught up, then swapped in. The code path of
 *   `POST /admin/replays` and `streamwave replay`.
 */
import { Registry } from 'prom-client';
import type { EventLog, OffsetMap } from '../../platform/log/event-log.port.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { ReadModelName } from '../../projections/read-model.port.ts';
import { createProjectionManager } from '../../projections/replay/projection-manager.ts';
import type { CurrentInstanceStore, ReplayableProjection, ReplayStatus } from '../../projections/replay/replay.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { profileBegin, profileEnd } from './profile.ts';
import { machineBusySeconds } from '../support/process-cpu.ts';

/** Records (count) and the wall time they took (seconds). */
export interface Timed {
  records: number;
  seconds: number;
}

/** Seconds since `t0` (a `performance.now()` value, ms). */
const since = (t0: number): number => (performance.now() - t0) / 1000;

/** Reads every record of `topic` (all partitions, `batch` records per read) and decodes it; records and seconds. */
export async function readAndDecode(log: EventLog, codec: EventCodec, topic: string, batch = 500): Promise<Timed> {
  const t0 = performance.now();
  const ends = await log.endOffsets(topic);
  let records = 0;
  for (let p = 0; p < ends.length; p++) {
    for (let offset = 0; offset < ends[p];) {
      const rs = await log.read(topic, p, offset, batch);
      if (!rs.length) break;
      for (const r of rs) if (r.value) await codec.decode(r.value);
      records += rs.length;
      offset = rs[rs.length - 1].offset + 1;
    }
  }
  return { records, seconds: since(t0) };
}

/** Records on `topics` (sum of end offsets; the embedded log starts every partition at 0). */
export async function recordsOn(log: EventLog, topics: readonly string[]): Promise<number> {
  let n = 0;
  for (const t of topics) n += (await log.endOffsets(t)).reduce((a, b) => a + b, 0);
  return n;
}

/**
 * `runProjection` over `topics` with a node that applies nothing (its checkpoint kept in memory),
 * in a fresh consumer group, from offset 0 until caught up; records and seconds.
 */
export async function runtimeNoApply(log: EventLog, codec: EventCodec, topics: readonly string[], groupId: string): Promise<Timed> {
  const checkpoint: OffsetMap = new Map();
  const node: ProjectionNode<Record<string, never>> = {
    kind: 'projection', name: 'bench-no-apply', inputs: topics, guarantee: 'effectively-once', output: 'nothing', queries: {},
    loadCheckpoint: async () => new Map(checkpoint),
    apply: async (b) => { for (const [k, v] of b.checkpoint) checkpoint.set(k, v); },
    close: async () => undefined,
  };
  const records = await recordsOn(log, topics);
  const t0 = performance.now();
  const handle = await runProjection(node, { log, codec, groupId });
  try {
    await handle.caughtUp();
    return { records, seconds: since(t0) };
  } finally {
    await handle.stop();
  }
}

/** What `rebuild` measured. */
export interface RebuildResult {
  /** Records on the read model's input topics. */
  records: number;
  /** Primary instance built from offset 0 on an empty data dir: `start()` until caught up, seconds; rate from what it consumed when not caught up. */
  firstBuild: Timed & { caughtUp: boolean };
  /**
   * The replay: the manager's own `startedAt` → `finishedAt` (shadow opened, caught up, pointer
   * saved, swapped), seconds; undefined when the first build did not finish. `cpuSeconds`: this
   * process's CPU time (user + system, all threads) over the replay call; `othersCpuSeconds`:
   * the CPU time of every other process meanwhile (contention; undefined without /proc/stat).
   */
  replay?: Timed & { caughtUp: boolean; cpuSeconds: number; othersCpuSeconds?: number };
  /** Where the replay's CPU profile went (BENCH_CPU_PROFILE_DIR), if one was taken. */
  profile?: string;
  /** The whole `replay()` call including retiring the old instance (close + delete), seconds. */
  replayCallSeconds?: number;
}

export interface RebuildOptions {
  log: EventLog;
  codec: EventCodec;
  slot: ReplayableProjection<unknown>;
  pointers: CurrentInstanceStore;
  inputs: readonly string[];
  /** Cap of each of the two builds, seconds: past it the build is abandoned and its rate so far reported. */
  maxSeconds: number;
  /** Called about every `progressEverySeconds` during both builds, with what was consumed of `total`. */
  onProgress(phase: 'first build' | 'replay', consumed: number, total: number): void;
  progressEverySeconds?: number;
}

/** Sleeps `ms` (unref'd), resolving `'timeout'`. */
const timeout = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());

/**
 * Rebuilds read model `opts.slot.name` twice through a projection manager (see the file comment):
 * the first build of its primary instance, then a replay from the beginning into a shadow.
 * @throws what opening the read model throws (e.g. chDB unavailable); the manager is closed.
 */
export async function rebuild(opts: RebuildOptions): Promise<RebuildResult> {
  const { log, slot } = opts;
  const name = slot.name as ReadModelName;
  const every = (opts.progressEverySeconds ?? 2) * 1000;
  const records = await recordsOn(log, opts.inputs);
  const manager = createProjectionManager<Record<string, unknown>>({
    log, codec: opts.codec, projections: { [name]: slot }, pointers: opts.pointers, registry: new Registry(), progressIntervalMs: every,
  });
  try {
    // First build: the primary instance of an empty data dir consumes from offset 0.
    const t0 = performance.now();
    await manager.start();
    const live = manager.get(name).handle;
    const consumedNow = async () => records - [...(await live.lag()).values()].reduce((a, b) => a + b, 0);
    const ticker = setInterval(() => { consumedNow().then((c) => opts.onProgress('first build', c, records), () => undefined); }, every);
    let first: RebuildResult['firstBuild'];
    try {
      const done = await Promise.race([live.caughtUp().then(() => 'done' as const), timeout(opts.maxSeconds * 1000)]);
      const seconds = since(t0);
      first = done === 'done' ? { records, seconds, caughtUp: true } : { records: await consumedNow(), seconds, caughtUp: false };
    } finally {
      clearInterval(ticker);
    }
    if (!first.caughtUp) return { records, firstBuild: first };

    // Replay from the beginning into a shadow, swapped in once caught up.
    let last: ReplayStatus | undefined;
    await profileBegin();
    const cpu0 = process.cpuUsage();
    const machine0 = machineBusySeconds();
    const t1 = performance.now();
    const replaying = manager.replay(name, { fromBeginning: true }, (s) => {
      last = s;
      if (s.status === 'running') opts.onProgress('replay', s.consumed, s.total);
    });
    replaying.catch(() => undefined);
    const outcome = await Promise.race([replaying, timeout(opts.maxSeconds * 1000)]);
    const callSeconds = since(t1);
    const { user, system } = process.cpuUsage(cpu0);
    const cpuSeconds = (user + system) / 1e6;
    const machine1 = machineBusySeconds();
    const othersCpuSeconds = machine0 === undefined || machine1 === undefined ? undefined : Math.max(0, machine1 - machine0 - cpuSeconds);
    const profile = await profileEnd(`replay-${name}`);
    if (outcome === 'timeout') {
      const s = last;
      const seconds = s ? (Date.now() - s.startedAt) / 1000 : callSeconds;
      return { records, firstBuild: first, replay: { records: s?.consumed ?? 0, seconds, caughtUp: false, cpuSeconds, othersCpuSeconds }, profile };
    }
    return {
      records,
      firstBuild: first,
      replay: { records: outcome.consumed, seconds: (outcome.finishedAt! - outcome.startedAt) / 1000, caughtUp: true, cpuSeconds, othersCpuSeconds },
      replayCallSeconds: callSeconds,
      profile,
    };
  } finally {
    await manager.close();
  }
}
