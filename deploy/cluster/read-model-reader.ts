/**
 * The gateway's read models in cluster mode on the servers (issue 9): query-only. The projector
 * role writes the read models into Redis, ClickHouse and Typesense; a gateway opens the same
 * stores WITHOUT consuming (any number of gateways, none of them holding state of its own), and:
 *
 * - follows the instance the projector's projection manager made current (the pointer in the
 *   shared CurrentInstanceStore), re-read every `pointerPollMs`, so a replay's swap reaches every
 *   gateway within that period;
 * - answers read-your-writes by polling the checkpoint stored WITH the read model on its server
 *   (`ProjectionNode.loadCheckpoint`), not a local consumer's position: a write is visible once the
 *   read model's stored checkpoint passes the write's offset.
 */
import type { pino } from 'pino';
import { checkpointCovers } from '../../processors/runtime/projection.runtime.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { READ_MODELS, type ReadModelName, type ReadModelQueries } from '../../projections/read-model.port.ts';
import { PRIMARY_INSTANCE, type CurrentInstanceStore, type ReplayableProjection } from '../../projections/replay/replay.port.ts';
import type { ReadYourWrites } from '../../gateway/gateway.types.ts';

export interface ReadModelReaderOptions {
  projections: { [K in ReadModelName]: ReplayableProjection<ReadModelQueries[K]> };
  pointers: CurrentInstanceStore;
  /** How often the current-instance pointers are re-read, ms (default 5 000). */
  pointerPollMs?: number;
  /** Checkpoint poll period of read-your-writes, ms (default 25). */
  checkpointPollMs?: number;
  /** Longest read-your-writes wait, ms (default 5 000; then the answer goes out anyway). */
  readYourWritesTimeoutMs?: number;
  /**
   * Hot-video protection, ms (default 250; 0 turns it off): concurrent `getVideo` calls for one id
   * share one read from the server (request coalescing), and the answer is reused for this long, so a
   * video everybody opens at once costs one Redis read per period per gateway instead of one per
   * request (no stampede). A write through this gateway clears it (read-your-writes), and so does
   * a replay swap; writes through other gateways show after at most this long.
   */
  hotCacheMs?: number;
  logger: pino.Logger;
}

export interface ReadModelReader {
  /** The query port of every read model; each call goes to the instance current at that moment. */
  readModels: ReadModelQueries;
  readYourWrites: ReadYourWrites;
  /** Instance id each read model is served from. */
  instances(): Record<ReadModelName, string>;
  close(): Promise<void>;
}

/**
 * Opens every read model's current instance for queries.
 * @throws whatever opening a store throws (server unreachable: the adapters' `STORE_IO`, `ANALYTICS_IO`, …).
 */
export async function openReadModelReader(opts: ReadModelReaderOptions): Promise<ReadModelReader> {
  const pointerPollMs = opts.pointerPollMs ?? 5_000;
  const pollMs = opts.checkpointPollMs ?? 25;
  const rywTimeout = opts.readYourWritesTimeoutMs ?? 5_000;
  type Open = { instanceId: string; node: ProjectionNode<unknown>; inputs: ReadonlySet<string> };
  const open = new Map<ReadModelName, Open>();
  let hot: ReturnType<typeof coalescing>;
  const openCurrent = async (name: ReadModelName): Promise<void> => {
    const instanceId = (await opts.pointers.load(name))?.instanceId ?? PRIMARY_INSTANCE;
    const was = open.get(name);
    if (was?.instanceId === instanceId) return;
    const node = (await opts.projections[name].open(instanceId)) as ProjectionNode<unknown>;
    await node.ready?.();
    open.set(name, { instanceId, node, inputs: new Set(node.inputs) });
    if (name === 'video-detail') hot?.clear();
    if (was) {
      opts.logger.info({ readModel: name, from: was.instanceId, to: instanceId }, 'read model swapped by a replay: now serving the new instance');
      // Requests already running on the old instance finish first.
      setTimeout(() => void was.node.close().catch(() => {}), 2_000).unref();
    }
  };
  for (const name of READ_MODELS) await openCurrent(name);

  let closed = false;
  const timer = setInterval(() => {
    for (const name of READ_MODELS) {
      void openCurrent(name).catch((err: unknown) => opts.logger.warn({ err, readModel: name }, 'could not follow the current-instance pointer; still serving the previous instance'));
    }
  }, pointerPollMs);
  timer.unref();

  /** A query port forwarding every method call to the read model's current node. */
  const forward = (name: ReadModelName) => new Proxy({}, {
    get: (_t, prop) => {
      const q = open.get(name)!.node.queries as Record<string | symbol, unknown>;
      const v = q[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(q) : v;
    },
  });
  const readModels = Object.fromEntries(READ_MODELS.map((name) => [name, forward(name)])) as unknown as ReadModelQueries;
  hot = coalescing(opts.hotCacheMs ?? 250, readModels['video-detail']);
  if (hot) readModels['video-detail'] = hot.queries;

  return {
    readModels,
    async readYourWrites(name, positions) {
      // Whatever was cached before this write must not answer the read that follows it.
      if (name === 'video-detail') hot?.clear();
      const deadline = Date.now() + rywTimeout;
      for (;;) {
        if (closed) return;
        const current = open.get(name)!;
        try {
          if (checkpointCovers(await current.node.loadCheckpoint(), positions, current.inputs)) {
            if (name === 'video-detail') hot?.clear();
            return;
          }
        } catch (err) {
          // Server unreachable: answer now (the write is durable; the read may lag).
          opts.logger.warn({ err, readModel: name }, 'read-your-writes: checkpoint unreadable; answering without waiting');
          return;
        }
        if (Date.now() >= deadline) return;
        await new Promise((r) => setTimeout(r, pollMs));
      }
    },
    instances: () => Object.fromEntries([...open].map(([n, o]) => [n, o.instanceId])) as Record<ReadModelName, string>,
    async close() {
      closed = true;
      clearInterval(timer);
      for (const o of open.values()) await o.node.close().catch(() => {});
      open.clear();
    },
  };
}

/**
 * `getVideo` with request coalescing and a short reuse period (see `hotCacheMs`); the other
 * video-detail queries pass through. Undefined when `ttlMs` ≤ 0.
 */
function coalescing(ttlMs: number, inner: ReadModelQueries['video-detail']) {
  if (ttlMs <= 0) return undefined;
  type Entry = { at: number; value: ReturnType<ReadModelQueries['video-detail']['getVideo']> };
  let entries = new Map<string, Entry>();
  const queries = new Proxy(inner, {
    get(t, prop) {
      if (prop !== 'getVideo') return Reflect.get(t, prop) as unknown;
      return (videoId: string) => {
        const now = Date.now();
        const e = entries.get(videoId);
        if (e && now - e.at < ttlMs) return e.value;
        const mine = entries;
        const value = t.getVideo(videoId);
        mine.set(videoId, { at: now, value });
        // A failed read is not reused; the map is bounded by the ids asked for within one period.
        value.catch(() => { if (mine.get(videoId)?.value === value) mine.delete(videoId); });
        if (mine.size > 10_000) for (const [k, v] of mine) if (now - v.at >= ttlMs) mine.delete(k);
        return value;
      };
    },
  });
  return { queries, clear: () => { entries = new Map(); } };
}
