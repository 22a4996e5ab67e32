/**
 * The stable face of a replayable read model: a query port and a consumer handle that delegate to
 * whichever instance is current at call time, so a replay's swap is invisible to the gateway. It
 * counts the queries running on each instance so a replaced one is closed only once they are done.
 */
import type { RecordMetadata } from '../../platform/log/event-log.port.ts';
import type { ProjectionHandle } from '../../processors/runtime/projection.runtime.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { ReplayError } from './replay.port.ts';

/** Max wait for queries still running on a replaced instance before it is closed, ms. */
const QUERY_DRAIN_TIMEOUT_MS = 5_000;

/** One running instance (store + consumer) of a read model. */
export interface Instance<Q> {
  instanceId: string;
  groupId: string;
  projection: ProjectionNode<Q>;
  handle: ProjectionHandle;
  /** Queries running on this instance now. */
  inflight: number;
  /** Called when `inflight` drops to 0. */
  drained: Set<() => void>;
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

/** Waits (at most QUERY_DRAIN_TIMEOUT_MS) until no query runs on `inst`. */
export const drainQueries = (inst: Instance<unknown>) => new Promise<void>((resolve) => {
  if (inst.inflight === 0) return resolve();
  const done = () => { clearTimeout(t); inst.drained.delete(done); resolve(); };
  const t = setTimeout(done, QUERY_DRAIN_TIMEOUT_MS);
  inst.drained.add(done);
});

/**
 * The managed projection `name` over `currentOf()` (the manager's current-instance map).
 * Queries throw ReplayError `MANAGER_CLOSED` / `NOT_STARTED` when no instance is current.
 */
export function createManagedProjection(name: string, currentOf: () => Instance<unknown> | undefined, isClosed: () => boolean, now: () => number): ManagedProjection<unknown> {
  const cur = () => {
    const c = currentOf();
    if (!c) throw new ReplayError(isClosed() ? 'MANAGER_CLOSED' : 'NOT_STARTED', `projection ${name} is not running`);
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
          const inst = currentOf();
          if (!inst) return false;
          if (await inst.handle.waitFor(positions, Math.max(0, deadline - now()))) return true;
          // The instance was swapped out while we waited: ask the new one with the time left.
          if (currentOf() === inst || now() >= deadline) return false;
        }
      },
      lag: () => cur().handle.lag(),
      caughtUp: () => cur().handle.caughtUp(),
      failures: () => cur().handle.failures(),
    },
  };
}
