/**
 * The read models of bench:replay exactly as standalone mode opens them
 * (deploy/shared/embedded-read-models.ts: embedded key-value stores, the search snapshot file,
 * chDB for analytics, the file pointer store), plus each read model's input topics.
 *
 * The standalone wiring imports chDB, a native module: when it cannot be loaded here, the
 * key-value and search read models are opened with the same pieces (minus analytics, reported as
 * unavailable) so the rest of the benchmark still runs.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalyticsStore } from '../../projections/analytics/analytics-store.port.ts';
import { READ_MODELS, type ReadModelName } from '../../projections/read-model.port.ts';
import { onlyStores, openReadModel, replayableReadModel } from '../../projections/read-models.ts';
import type { CurrentInstance, CurrentInstanceStore, ReplayableProjection } from '../../projections/replay/replay.port.ts';
import { checkInstanceId, PRIMARY_INSTANCE } from '../../projections/replay/replay.port.ts';
import { createFileSnapshotStore } from '../../projections/search/search-snapshot-store.ts';
import { createEmbeddedKeyValueStore, READ_MODEL_SYNC_INTERVAL_MS } from '../../projections/stores/embedded-key-value-store.adapter.ts';
import { createInMemoryKeyValueStore } from '../../projections/stores/in-memory-key-value-store.adapter.ts';
import { openKeyValueStoreOfLayout } from '../../projections/stores/key-value-projection.ts';

/** The replayable read models of a data directory and where their instance pointers live. */
export interface StandaloneReadModels {
  slots: Partial<Record<ReadModelName, ReplayableProjection<unknown>>>;
  pointers: CurrentInstanceStore;
  /** Read models that cannot run here, with the reason. */
  unavailable: Map<ReadModelName, string>;
}

/** The read models over `<dataDir>/projections`, as standalone mode opens them (see the file comment). */
export async function standaloneReadModels(dataDir: string, searchCursorSecret: Buffer): Promise<StandaloneReadModels> {
  try {
    const m = await import('../../deploy/shared/embedded-read-models.ts');
    return { slots: m.embeddedReadModels({ dataDir, searchCursorSecret }), pointers: m.createFileCurrentInstanceStore(dataDir), unavailable: new Map() };
  } catch (err) {
    const why = `the standalone read-model wiring does not load here (chDB?): ${(err as Error).message.split('\n')[0]}`;
    return { ...withoutChdb(dataDir, searchCursorSecret), unavailable: new Map([['analytics', why]]) };
  }
}

/** Fallback: the file-backed read models of embeddedReadModels, and pointers in memory. */
function withoutChdb(dataDir: string, searchCursorSecret: Buffer): Omit<StandaloneReadModels, 'unavailable'> {
  const base = join(dataDir, 'projections');
  const dirOf = (name: ReadModelName, id: string) => (checkInstanceId(id) === PRIMARY_INSTANCE ? join(base, name) : join(base, 'replays', name, id));
  const slots: Partial<Record<ReadModelName, ReplayableProjection<unknown>>> = {};
  for (const name of READ_MODELS.filter((n) => n !== 'analytics')) {
    slots[name] = replayableReadModel(name, {
      stores: (id) => onlyStores({
        keyValue: (_kv, layout) => openKeyValueStoreOfLayout({
          open: () => createEmbeddedKeyValueStore({ dir: dirOf(name, id), syncIntervalMs: READ_MODEL_SYNC_INTERVAL_MS }),
          wipe: () => rm(dirOf(name, id), { recursive: true, force: true }),
          layout, where: dirOf(name, id), logger: { warn: () => undefined },
        }),
        searchSnapshots: () => createFileSnapshotStore({ path: join(dirOf(name, id), 'video-search.json') }),
      }),
      async destroy(id) { await rm(dirOf(name, id), { recursive: true, force: true }); },
      instances: async () => [],
    }, { searchCursorSecret }) as ReplayableProjection<unknown>;
  }
  const current = new Map<string, CurrentInstance>();
  return { slots, pointers: { load: async (n) => current.get(n), save: async (n, c) => { current.set(n, c); } } };
}

/** The input topics of read model `name` (its projection node opened on throwaway in-memory stores). */
export async function inputsOf(name: ReadModelName): Promise<readonly string[]> {
  const unused = () => { throw new Error('not used'); };
  const analytics = { insertHeartbeats: unused, checkpoint: unused, videoAnalytics: unused, close: async () => undefined } as unknown as AnalyticsStore;
  const node = await openReadModel(name, {
    keyValue: async () => createInMemoryKeyValueStore(),
    analytics: async () => analytics,
    searchSnapshots: () => ({ load: async () => undefined, save: async () => undefined }),
  }, { searchCursorSecret: 'unused' });
  const inputs = [...node.inputs];
  await node.close();
  return inputs;
}
