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
 * Content versions (issue 8, view rule v2): a projection may declare `contentVersion` (what its
 * numbers mean, e.g. `view-rule/v2`). The pointer records the version each instance was built
 * under; on `start`, an instance that has consumed records under another version (or under an
 * unrecorded one: a data directory of an older StreamWave) keeps serving while the manager
 * rebuilds it from the beginning of the log into a shadow and swaps it in, exactly as an admin
 * replay. So a rule change is applied by replay, never by rewriting a live read model.
 *
 * Log-agnostic (EventLog port only): each instance is the same projection node run by the
 * projection runtime with its own consumer group (and, for a partial rebuild, a lower bound on its
 * start offsets), so projections need no replay-specific code.
 */
import pino from 'pino';
import type { Registry } from 'prom-client';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { projectionGroupId, runProjection } from '../../processors/runtime/projection.runtime.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { createManagedProjection, drainQueries, type Instance, type ManagedProjection } from './managed-projection.ts';
import { replayProgressSampler, replayStartOffsets, timestampSeek } from './replay-progress.ts';
import {
  PRIMARY_INSTANCE, ReplayError, type CurrentInstance, type CurrentInstanceStore, type ReplayFrom, type ReplayableProjection, type ReplayStatus,
} from './replay.port.ts';

export type { ManagedProjection } from './managed-projection.ts';

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
  /**
   * Prometheus registry for the projection metrics of every instance, live and shadow
   * (processors/runtime/projection-metrics.ts; `instance` = the instance id). None when omitted.
   */
  registry?: Registry;
  /**
   * How long a swapped-out instance's store is kept before it is deleted, ms (default 0). Readers
   * in OTHER processes (cluster-mode gateways reading the servers) follow the pointer by polling,
   * so the old store must outlive their poll period: they keep reading it, stale but whole, until
   * they switch. Shutdown does not wait: an instance not deleted then is an orphan the next start removes.
   */
  retireGraceMs?: number;
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
  /** Every replay of this process (admin-requested and content-version rebuilds), oldest first. */
  listReplays(): ReplayStatus[];
  /** Resolves once every replay running at call time has ended (swapped or failed), with their final statuses. */
  settled(): Promise<ReplayStatus[]>;
  /** Aborts running replays (deleting their shadows), stops and closes every current instance. */
  close(): Promise<void>;
}

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
  const running = new Map<string, {
    abort(): void;
    done: Promise<unknown>;
    replayId: string;
    /** The replay's own outcome, progress listeners and whether the manager started it (content version). */
    outcome: Promise<ReplayStatus>;
    listeners: Set<(s: ReplayStatus) => void>;
    automatic: boolean;
  }>();
  let started = false;
  let closed = false;
  let lastReplayTs = 0;

  const slot = (name: string) => {
    const s = slots[name];
    if (!s) throw new ReplayError('UNKNOWN_PROJECTION', `unknown projection "${name}" (known: ${Object.keys(slots).join(', ')})`);
    return s;
  };

  const groupIdOf = opts.groupIdOf ?? projectionGroupId;
  /** Opens and runs an instance; `consumedBefore` says whether its store held a checkpoint before it ran. */
  const openInstance = async <Q>(s: ReplayableProjection<Q>, ptr: { instanceId: string; groupId?: string; fromTimestamp?: number }): Promise<Instance<Q> & { consumedBefore: boolean }> => {
    const projection = await s.open(ptr.instanceId);
    // The primary instance always consumes in the group groupIdOf gives now (a pointer that only
    // records its content version must not pin, e.g., a gateway replica's host-based group).
    const groupId = ptr.instanceId === PRIMARY_INSTANCE ? groupIdOf(projection.name) : ptr.groupId ?? groupIdOf(projection.name);
    try {
      const consumedBefore = (await projection.loadCheckpoint()).size > 0;
      const startAt = ptr.fromTimestamp === undefined ? undefined : timestampSeek(opts.log, ptr.fromTimestamp);
      const handle = await runProjection(projection, {
        log: opts.log, codec: opts.codec, groupId, startAt, logger, registry: opts.registry, instance: ptr.instanceId,
      });
      return { instanceId: ptr.instanceId, groupId, projection, handle, inflight: 0, drained: new Set(), consumedBefore };
    } catch (err) {
      await projection.close().catch(() => undefined);
      throw err;
    }
  };

  const retire = async (s: ReplayableProjection<unknown>, inst: Instance<unknown>) => {
    await inst.handle.stop();
    await drainQueries(inst);
    await inst.projection.close();
    const grace = opts.retireGraceMs ?? 0;
    if (grace <= 0) {
      await s.destroy(inst.instanceId);
      return;
    }
    setTimeout(() => {
      if (closed) return;
      s.destroy(inst.instanceId).catch((err: unknown) => logger.warn({ err, instanceId: inst.instanceId }, 'could not delete the swapped-out instance; the next start removes it'));
    }, grace).unref();
  };

  const managedFor = (name: string): ManagedProjection<unknown> => createManagedProjection(name, () => current.get(name), () => closed, now);

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

  const launch = (name: string, from: ReplayFrom, onProgress?: (s: ReplayStatus) => void, reason: string | null = null): { status: ReplayStatus; done: Promise<ReplayStatus> } => {
    if (closed) throw new ReplayError('MANAGER_CLOSED', 'projection manager is closed');
    if (!started) throw new ReplayError('NOT_STARTED', 'projection manager is not started');
    const s = slot(name);
    const fromTimestamp = validateFrom(from);
    const ongoing = running.get(name);
    // A full rebuild requested while the manager's own content-version rebuild runs is that rebuild
    // (e.g. `streamwave replay --offline` on an older data directory): join it instead of refusing.
    if (ongoing?.automatic && 'fromBeginning' in from && reason === null) {
      if (onProgress) ongoing.listeners.add(onProgress);
      return { status: { ...replays.get(ongoing.replayId)! }, done: ongoing.outcome };
    }
    if (ongoing) throw new ReplayError('REPLAY_IN_PROGRESS', `a replay of ${name} is already running`);
    const live = current.get(name)!;
    // Unique, increasing per process even within one millisecond.
    const ts = Math.max(now(), lastReplayTs + 1);
    lastReplayTs = ts;
    const instanceId = `replay-${ts}`;
    const baseGroup = groupIdOf(name);
    const status: ReplayStatus = {
      replayId: `${name}.${instanceId}`, projection: name, status: 'running', instanceId, groupId: `${baseGroup}.${instanceId}`,
      consumed: 0, total: 0, eventsPerSecond: 0, etaSeconds: null, startedAt: now(), finishedAt: null, error: null,
      reason, contentVersion: s.contentVersion ?? null,
    };
    replays.set(status.replayId, status);
    let aborted = false;
    let abortNow: () => void = () => {};
    const abortSignal = new Promise<never>((_, reject) => {
      abortNow = () => { aborted = true; reject(new ReplayError('REPLAY_ABORTED', `replay ${status.replayId} aborted`)); };
    });
    abortSignal.catch(() => undefined);
    const listeners = new Set<(s: ReplayStatus) => void>(onProgress ? [onProgress] : []);
    const report = () => {
      for (const l of listeners) {
        try { l({ ...status }); } catch (err) { logger.warn({ err }, 'replay progress callback failed'); }
      }
    };

    const run = async (): Promise<ReplayStatus> => {
      let shadow: Instance<unknown> | undefined;
      let opening: Promise<Instance<unknown>> | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        const starts = await replayStartOffsets(opts.log, live.projection.inputs, fromTimestamp);
        opening = openInstance(s, { instanceId, groupId: status.groupId, fromTimestamp });
        shadow = await Promise.race([opening, abortSignal]);
        logger.info({ projection: name, instanceId, groupId: status.groupId, fromTimestamp, reason }, 'replay: shadow started');
        const sample = replayProgressSampler(opts.log, live.projection.inputs, starts, shadow.handle, status, now);
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
        const ptr: CurrentInstance = {
          instanceId, groupId: status.groupId, since: now(), ...(fromTimestamp !== undefined && { fromTimestamp }), ...(s.contentVersion !== undefined && { contentVersion: s.contentVersion }),
        };
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
    running.set(name, { abort: () => abortNow(), done: done.catch(() => undefined), replayId: status.replayId, outcome: done, listeners, automatic: reason !== null });
    return { status: { ...status }, done };
  };

  const manager: ProjectionManager<M> = {
    async start() {
      if (closed) throw new ReplayError('MANAGER_CLOSED', 'projection manager is closed');
      if (started) return;
      const stale: { name: string; was: string | null }[] = [];
      try {
        for (const [name, s] of Object.entries(slots)) {
          const ptr = await opts.pointers.load(name);
          const { consumedBefore, ...inst } = await openInstance(s, ptr ?? { instanceId: PRIMARY_INSTANCE });
          current.set(name, inst);
          if (s.contentVersion !== undefined && ptr?.contentVersion !== s.contentVersion) {
            if (consumedBefore) {
              stale.push({ name, was: ptr?.contentVersion ?? null });
            } else {
              // Nothing consumed yet: this instance is built under the current version from its first record.
              await opts.pointers.save(name, { ...(ptr ?? { instanceId: inst.instanceId, groupId: inst.groupId, since: now() }), contentVersion: s.contentVersion });
            }
          }
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
      for (const { name, was } of stale) {
        const reason = `content version ${was ?? 'unrecorded (an older StreamWave)'} → ${slots[name].contentVersion}`;
        logger.warn({ projection: name, was, now: slots[name].contentVersion }, 'read model was built under another content version: it keeps serving while a shadow is rebuilt from the log and swapped in');
        let lastLog = Number.NEGATIVE_INFINITY;
        const progress = (st: ReplayStatus) => {
          if (st.status === 'running' && now() - lastLog < 5_000) return; // progress every ~5 s, and the outcome
          lastLog = now();
          logger.info({ projection: name, replayId: st.replayId, status: st.status, consumed: st.consumed, total: st.total, etaSeconds: st.etaSeconds }, 'content-version rebuild progress');
        };
        launch(name, { fromBeginning: true }, progress, reason).done.catch(() => undefined); // outcome in the status
      }
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
    listReplays: () => [...replays.values()].map((s) => ({ ...s })),
    async settled() {
      const ids = [...running.values()].map((r) => r.replayId);
      await Promise.all([...running.values()].map((r) => r.done));
      return ids.map((id) => ({ ...replays.get(id)! }));
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
