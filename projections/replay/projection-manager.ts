/**
 * Projection manager: holds the CURRENT instance of each read model, serves queries through a
 * stable delegating query port, and rebuilds a read model without downtime:
 *
 * 1. open a shadow instance (fresh store) with its own consumer group
 *    `streamwave.projection.<name>.replay-<ts>` (so the live group's offsets and lag stay intact);
 * 2. consume from the start offsets (beginning of the log, or `offsetsForTimestamp(T)`) while the
 *    live instance keeps consuming and answering queries;
 * 3. once the shadow has caught up with the end offsets taken after it started, persist the
 *    pointer (`CurrentInstanceStore`, written atomically), swap the in-memory pointer (one
 *    assignment, so every later query goes to the shadow), then stop the old consumer, wait for
 *    queries still running on the old instance, close it and delete its store.
 *
 * A crash before step 3 leaves the old pointer, so the old instance serves after restart and the
 * orphan shadow is deleted on start; a crash after the pointer write opens the shadow (caught up).
 *
 * Log-agnostic (EventLog port only): each instance is the same projection node run by the
 * projection runtime with its own consumer group (and, for a partial rebuild, a lower bound on its
 * start offsets), so projections need no replay-specific code.
 */
import pino from 'pino';
import type { EventLog, OffsetMap, RecordMetadata, TopicPartition } from '../../platform/log/event-log.port.ts';
import { tpKey } from '../../platform/log/event-log.port.ts';
import { projectionGroupId, runProjection, type ProjectionHandle } from '../../processors/runtime/projection.runtime.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import {
  PRIMARY_INSTANCE, ReplayError, type CurrentInstance, type CurrentInstanceStore, type ReplayFrom, type ReplayableProjection, type ReplayStatus,
} from './replay.port.ts';

/** Max wait for queries still running on a replaced instance before it is closed, ms. */
const QUERY_DRAIN_TIMEOUT_MS = 5_000;

export interface ProjectionManagerOptions<M extends Record<string, unknown>> {
  log: EventLog;
  /** Decodes the records the projections consume. */
  codec: EventCodec;
  /**
   * Consumer group of a projection's live instance; default `streamwave.projection.<name>`. A
   * replay shadow consumes in `<that group>.replay-<ts>`.
   */
  groupIdOf?(name: string): string;
  /** The replayable projections by name (`video-detail`, `analytics`, `search`). */
  projections: { [K in keyof M & string]: ReplayableProjection<M[K]> };
  pointers: CurrentInstanceStore;
  logger?: pino.Logger;
  /** How often replay progress is sampled and reported, ms. Default 500. */
  progressIntervalMs?: number;
  /** Wall clock, ms. Default Date.now. */
  now?: () => number;
}

/** A running read model as the gateway sees it: stable across swaps. */
export interface ManagedProjection<Q> {
  readonly name: string;
  /** Delegates every call to the instance current at call time. */
  readonly queries: Q;
  /** `waitFor`/`lag`/`caughtUp` of the current instance's consumer (`waitFor` follows a swap). */
  readonly handle: Pick<ProjectionHandle, 'waitFor' | 'lag' | 'caughtUp' | 'failures'>;
  /** Id and group of the instance serving now. */
  current(): { instanceId: string; groupId: string };
}

export interface ProjectionManager<M extends Record<string, unknown>> {
  /** Opens the current instance of every projection (per the pointer store) and starts them; removes orphan shadows. */
  start(): Promise<void>;
  get<K extends keyof M & string>(name: K): ManagedProjection<M[K]>;
  names(): string[];
  /**
   * Rebuilds `name` into a shadow and swaps it in; resolves with the final status once swapped.
   * `onProgress` is called every `progressIntervalMs` and at the end.
   * @throws ReplayError UNKNOWN_PROJECTION, REPLAY_IN_PROGRESS, INVALID_REPLAY_FROM, NOT_STARTED,
   *         MANAGER_CLOSED; or the error that failed the replay (status `failed`, shadow deleted).
   */
  replay(name: string, from: ReplayFrom, onProgress?: (s: ReplayStatus) => void): Promise<ReplayStatus>;
  /** Starts a replay in the background; returns its first status (poll with `replayStatus`). Same errors as `replay` for bad requests. */
  startReplay(name: string, from: ReplayFrom): ReplayStatus;
  replayStatus(replayId: string): ReplayStatus | undefined;
  /** Aborts running replays (deleting their shadows), stops and closes every current instance. */
  close(): Promise<void>;
}

interface Instance<Q> {
  instanceId: string;
  groupId: string;
  projection: ProjectionNode<Q>;
  handle: ProjectionHandle;
  inflight: number;
  drained: Set<() => void>;
}

/** `offsetsForTimestamp(T)` for every assigned partition (Kafka ListOffsets by timestamp). */
const timestampSeek = (log: EventLog, timestamp: number) => async (partitions: TopicPartition[]): Promise<OffsetMap> => {
  const out: OffsetMap = new Map();
  for (const topic of new Set(partitions.map((p) => p.topic))) {
    const offsets = await log.offsetsForTimestamp(topic, timestamp);
    offsets.forEach((o, partition) => out.set(tpKey(topic, partition), o));
  }
  return out;
};

/**
 * Creates the manager (nothing opened until `start`).
 *
 * `--from-timestamp T` semantics: the shadow consumes each partition from its first record with
 * timestamp ≥ T (Kafka's ListOffsets/offsetsForTimes), so the rebuilt read model reflects ONLY
 * events at/after T. That is a partial rebuild meant for backfills (e.g. re-deriving analytics
 * after a view-rule fix for recent data); for models that need full history (video detail) it
 * drops everything older than T. The bound is persisted with the instance, so restarts keep it.
 */
export function createProjectionManager<M extends Record<string, unknown>>(opts: ProjectionManagerOptions<M>): ProjectionManager<M> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const now = opts.now ?? Date.now;
  const progressIntervalMs = opts.progressIntervalMs ?? 500;
  const slots = opts.projections as Record<string, ReplayableProjection<unknown>>;
  const current = new Map<string, Instance<unknown>>();
  const managed = new Map<string, ManagedProjection<unknown>>();
  const replays = new Map<string, ReplayStatus>();
  const running = new Map<string, { abort(): void; done: Promise<unknown> }>();
  let started = false;
  let closed = false;
  let lastReplayTs = 0;

  const slot = (name: string) => {
    const s = slots[name];
    if (!s) throw new ReplayError('UNKNOWN_PROJECTION', `unknown projection "${name}" (known: ${Object.keys(slots).join(', ')})`);
    return s;
  };

  const groupIdOf = opts.groupIdOf ?? projectionGroupId;
  const openInstance = async <Q>(s: ReplayableProjection<Q>, ptr: { instanceId: string; groupId?: string; fromTimestamp?: number }): Promise<Instance<Q>> => {
    const projection = await s.open(ptr.instanceId);
    const groupId = ptr.groupId ?? groupIdOf(projection.name);
    try {
      const startAt = ptr.fromTimestamp === undefined ? undefined : timestampSeek(opts.log, ptr.fromTimestamp);
      const handle = await runProjection(projection, { log: opts.log, codec: opts.codec, groupId, startAt, logger });
      return { instanceId: ptr.instanceId, groupId, projection, handle, inflight: 0, drained: new Set() };
    } catch (err) {
      await projection.close().catch(() => undefined);
      throw err;
    }
  };

  /** Waits (bounded) until no query runs on `inst`. */
  const drain = (inst: Instance<unknown>) => new Promise<void>((resolve) => {
    if (inst.inflight === 0) return resolve();
    const done = () => { clearTimeout(t); inst.drained.delete(done); resolve(); };
    const t = setTimeout(done, QUERY_DRAIN_TIMEOUT_MS);
    inst.drained.add(done);
  });

  const retire = async (s: ReplayableProjection<unknown>, inst: Instance<unknown>) => {
    await inst.handle.stop();
    await drain(inst);
    await inst.projection.close();
    await s.destroy(inst.instanceId);
  };

  const managedFor = (name: string): ManagedProjection<unknown> => {
    const cur = () => {
      const c = current.get(name);
      if (!c) throw new ReplayError(closed ? 'MANAGER_CLOSED' : 'NOT_STARTED', `projection ${name} is not running`);
      return c;
    };
    const queries = new Proxy({}, {
      get(_t, prop) {
        if (typeof prop !== 'string' || prop === 'then') return undefined;
        return async (...args: unknown[]) => {
          const inst = cur();
          const fn = (inst.projection.queries as Record<string, unknown>)[prop];
          if (typeof fn !== 'function') throw new TypeError(`${name} queries have no method ${prop}`);
          inst.inflight++;
          try {
            return await (fn as (...a: unknown[]) => Promise<unknown>).apply(inst.projection.queries, args);
          } finally {
            if (--inst.inflight === 0) for (const d of [...inst.drained]) d();
          }
        };
      },
    });
    return {
      name,
      queries,
      current: () => ({ instanceId: cur().instanceId, groupId: cur().groupId }),
      handle: {
        async waitFor(positions: RecordMetadata[], timeoutMs: number) {
          const deadline = now() + timeoutMs;
          for (;;) {
            const inst = current.get(name);
            if (!inst) return false;
            if (await inst.handle.waitFor(positions, Math.max(0, deadline - now()))) return true;
            // The instance was swapped out while we waited: ask the new one with the time left.
            if (current.get(name) === inst || now() >= deadline) return false;
          }
        },
        lag: () => cur().handle.lag(),
        caughtUp: () => cur().handle.caughtUp(),
        failures: () => cur().handle.failures(),
      },
    };
  };

  const validateFrom = (from: ReplayFrom): number | undefined => {
    if ('fromTimestamp' in from) {
      if (!Number.isFinite(from.fromTimestamp) || from.fromTimestamp < 0) {
        throw new ReplayError('INVALID_REPLAY_FROM', `fromTimestamp must be a non-negative number of ms, got ${String(from.fromTimestamp)}`);
      }
      return from.fromTimestamp;
    }
    if (from.fromBeginning !== true) throw new ReplayError('INVALID_REPLAY_FROM', 'give fromBeginning: true or fromTimestamp');
    return undefined;
  };

  /** Start offsets of the shadow per topic:partition (what "consumed" counts from). */
  const startOffsets = async (topics: readonly string[], fromTimestamp: number | undefined): Promise<OffsetMap> => {
    const out: OffsetMap = new Map();
    for (const topic of topics) {
      const offs = fromTimestamp === undefined ? await opts.log.beginningOffsets(topic) : await opts.log.offsetsForTimestamp(topic, fromTimestamp);
      offs.forEach((o, p) => out.set(tpKey(topic, p), o));
    }
    return out;
  };

  const launch = (name: string, from: ReplayFrom, onProgress?: (s: ReplayStatus) => void): { status: ReplayStatus; done: Promise<ReplayStatus> } => {
    if (closed) throw new ReplayError('MANAGER_CLOSED', 'projection manager is closed');
    if (!started) throw new ReplayError('NOT_STARTED', 'projection manager is not started');
    const s = slot(name);
    const fromTimestamp = validateFrom(from);
    if (running.has(name)) throw new ReplayError('REPLAY_IN_PROGRESS', `a replay of ${name} is already running`);
    const live = current.get(name)!;
    // Unique, increasing per process even within one millisecond.
    const ts = Math.max(now(), lastReplayTs + 1);
    lastReplayTs = ts;
    const instanceId = `replay-${ts}`;
    const baseGroup = groupIdOf(name);
    const status: ReplayStatus = {
      replayId: `${name}.${instanceId}`, projection: name, status: 'running', instanceId, groupId: `${baseGroup}.${instanceId}`,
      consumed: 0, total: 0, eventsPerSecond: 0, etaSeconds: null, startedAt: now(), finishedAt: null, error: null,
    };
    replays.set(status.replayId, status);
    let aborted = false;
    let abortNow: () => void = () => {};
    const abortSignal = new Promise<never>((_, reject) => {
      abortNow = () => { aborted = true; reject(new ReplayError('REPLAY_ABORTED', `replay ${status.replayId} aborted`)); };
    });
    abortSignal.catch(() => undefined);
    const report = () => { try { onProgress?.({ ...status }); } catch (err) { logger.warn({ err }, 'replay progress callback failed'); } };

    const run = async (): Promise<ReplayStatus> => {
      let shadow: Instance<unknown> | undefined;
      let opening: Promise<Instance<unknown>> | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        const starts = await startOffsets(live.projection.inputs, fromTimestamp);
        opening = openInstance(s, { instanceId, groupId: status.groupId, fromTimestamp });
        shadow = await Promise.race([opening, abortSignal]);
        logger.info({ projection: name, instanceId, groupId: status.groupId, fromTimestamp }, 'replay: shadow started');
        const samples: { t: number; consumed: number }[] = [];
        const shadowHandle = shadow.handle;
        const sample = async () => {
          const lag = await shadowHandle.lag();
          let consumed = 0;
          let total = 0;
          for (const topic of live.projection.inputs) {
            const ends = await opts.log.endOffsets(topic);
            ends.forEach((end, p) => {
              const k = tpKey(topic, p);
              const start = Math.min(starts.get(k) ?? 0, end);
              const position = lag.has(k) ? end - lag.get(k)! : start;
              total += end - start;
              consumed += Math.max(0, Math.min(end, position) - start);
            });
          }
          const t = now();
          samples.push({ t, consumed });
          while (samples.length > 2 && t - samples[0].t > 5_000) samples.shift();
          const first = samples[0];
          const rate = t > first.t ? ((consumed - first.consumed) * 1000) / (t - first.t) : 0;
          status.consumed = consumed;
          status.total = total;
          status.eventsPerSecond = Math.round(rate * 10) / 10;
          status.etaSeconds = total <= consumed ? 0 : rate > 0 ? Math.ceil((total - consumed) / rate) : null;
        };
        const tick = () => {
          timer = setTimeout(() => {
            sample().then(report, (err) => logger.debug({ err }, 'replay progress sample failed')).finally(() => { if (!aborted && status.status === 'running') tick(); });
          }, progressIntervalMs);
        };
        await sample();
        report();
        tick();
        await Promise.race([shadow.handle.caughtUp(), abortSignal]);
        clearTimeout(timer);
        if (aborted) throw new ReplayError('REPLAY_ABORTED', `replay ${status.replayId} aborted`);

        // Swap: durable pointer first, then the in-memory one.
        const ptr: CurrentInstance = { instanceId, groupId: status.groupId, since: now(), ...(fromTimestamp !== undefined && { fromTimestamp }) };
        await opts.pointers.save(name, ptr);
        const old = current.get(name)!;
        current.set(name, shadow);
        shadow = undefined;
        opening = undefined;
        await sample().catch(() => undefined);
        status.status = 'swapped';
        status.finishedAt = now();
        status.etaSeconds = 0;
        logger.info({ projection: name, from: old.instanceId, to: instanceId }, 'replay: swapped');
        try {
          await retire(s, old);
        } catch (err) {
          logger.error({ err, projection: name, instanceId: old.instanceId }, 'replay: could not delete the replaced instance');
        }
        report();
        return { ...status };
      } catch (err) {
        clearTimeout(timer);
        status.status = 'failed';
        status.finishedAt = now();
        status.error = (err as Error).message ?? String(err);
        logger.error({ err, projection: name, instanceId }, 'replay failed; deleting the shadow');
        // Aborted while the shadow was still opening: wait for it, then delete it like any shadow.
        shadow ??= await opening?.catch(() => undefined);
        if (shadow) {
          await retire(s, shadow).catch((e) => logger.error({ err: e, instanceId }, 'replay: could not delete the shadow'));
        } else {
          await s.destroy(instanceId).catch(() => undefined);
        }
        report();
        throw err;
      } finally {
        running.delete(name);
      }
    };
    const done = run();
    running.set(name, { abort: () => abortNow(), done: done.catch(() => undefined) });
    return { status: { ...status }, done };
  };

  const manager: ProjectionManager<M> = {
    async start() {
      if (closed) throw new ReplayError('MANAGER_CLOSED', 'projection manager is closed');
      if (started) return;
      try {
        for (const [name, s] of Object.entries(slots)) {
          const ptr = await opts.pointers.load(name);
          const inst = await openInstance(s, ptr ?? { instanceId: PRIMARY_INSTANCE });
          current.set(name, inst);
          managed.set(name, managedFor(name));
          // Shadows of a replay interrupted by a crash are garbage: only the pointer counts.
          for (const id of (await s.instances?.()) ?? []) {
            if (id === inst.instanceId) continue;
            logger.warn({ projection: name, instanceId: id }, 'deleting an orphan projection instance (interrupted replay or retired store)');
            await s.destroy(id).catch((err) => logger.error({ err, instanceId: id }, 'could not delete orphan instance'));
          }
        }
      } catch (err) {
        for (const inst of current.values()) {
          await inst.handle.stop().catch(() => undefined);
          await inst.projection.close().catch(() => undefined);
        }
        current.clear();
        throw err;
      }
      started = true;
    },
    get(name) {
      slot(name);
      let m = managed.get(name);
      if (!m) managed.set(name, m = managedFor(name));
      return m as ManagedProjection<M[typeof name]>;
    },
    names: () => Object.keys(slots),
    async replay(name, from, onProgress) {
      return launch(name, from, onProgress).done;
    },
    startReplay(name, from) {
      const { status, done } = launch(name, from);
      done.catch(() => undefined); // outcome is in the status
      return status;
    },
    replayStatus(id) {
      const s = replays.get(id);
      return s && { ...s };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const r of running.values()) r.abort();
      await Promise.all([...running.values()].map((r) => r.done));
      for (const inst of current.values()) {
        await inst.handle.stop().catch((err) => logger.error({ err }, 'projection stop failed'));
        await inst.projection.close().catch((err) => logger.error({ err }, 'projection close failed'));
      }
      current.clear();
    },
  };
  return manager;
}
