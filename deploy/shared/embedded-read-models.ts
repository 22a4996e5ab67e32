/**
 * The read models on their embedded stores (standalone mode, and the cluster roles until their
 * stores move to Redis, ClickHouse and Typesense), as replayable projections, plus the file-backed
 * pointer store of the projection manager.
 *
 * Layout under `<dataDir>/projections/`:
 * - the primary instance of each key-value read model in `<name>/` (`video-detail/`, `comments/`,
 *   `user-accounts/`, `watch-history/`: journal + snapshot); analytics in `analytics/` (a chDB
 *   directory, database `streamwave`); search in `search/video-search.json`;
 * - per read model, `replays/<name>/`: `current.json` (which instance serves; replaced atomically)
 *   and one sub-directory per replay instance `replay-<ts>/` (a key-value store or a search
 *   snapshot). Analytics replay instances are chDB databases `streamwave_replay_<ts>` inside
 *   `analytics/`, because libchdb binds one data directory per process.
 *
 * A key-value store written by another layout of its read model (an older StreamWave) is deleted
 * and rebuilt from offset 0 when opened: read models are disposable, the log is the record. A read
 * model built under another content version (the view rule of video detail and analytics) is
 * readable, so it keeps serving while the projection manager rebuilds a shadow and swaps it in.
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import type { Pseudonyms } from '../../platform/keys/pseudonyms.ts';
import { writeFileAtomic } from '../../platform/files/atomic-file.ts';
import { ANALYTICS_DATABASE } from '../../projections/analytics/analytics.sql.ts';
import { createChdbAnalyticsStore, dropChdbDatabase, listChdbDatabases } from '../../projections/analytics/chdb-analytics-store.adapter.ts';
import { READ_MODELS, type ReadModelName, type ReadModelQueries } from '../../projections/read-model.port.ts';
import { onlyStores, replayableReadModel } from '../../projections/read-models.ts';
import { checkInstanceId, instanceDatabase, instancesOfDatabases, isInstanceId, PRIMARY_INSTANCE, type CurrentInstance, type CurrentInstanceStore, type ReplayableProjection } from '../../projections/replay/replay.port.ts';
import { createFileSnapshotStore } from '../../projections/search/search-snapshot-store.ts';
import type { ViewCountSource } from '../../projections/search/search.port.ts';
import { createEmbeddedKeyValueStore, READ_MODEL_SYNC_INTERVAL_MS } from '../../projections/stores/embedded-key-value-store.adapter.ts';
import { openKeyValueStoreOfLayout } from '../../projections/stores/key-value-projection.ts';

/** Every read model as a replayable projection, by name. */
export type ReplayableReadModels = { [K in ReadModelName]: ReplayableProjection<ReadModelQueries[K]> };

/** `current.json` pointers under `<dataDir>/projections/replays/<name>/`, written atomically (temp + fsync + rename). */
export function createFileCurrentInstanceStore(dataDir: string): CurrentInstanceStore {
  const file = (name: string) => join(dataDir, 'projections', 'replays', name, 'current.json');
  return {
    async load(name) {
      try {
        const j = JSON.parse(await readFile(file(name), 'utf8')) as CurrentInstance;
        if (typeof j.instanceId !== 'string' || typeof j.groupId !== 'string') throw new Error(`malformed ${file(name)}`);
        return j;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async save(name, current) {
      await mkdir(join(dataDir, 'projections', 'replays', name), { recursive: true });
      await writeFileAtomic(file(name), JSON.stringify(current, null, 2), true);
    },
  };
}

/**
 * The read models over `<dataDir>/projections` (see the file comment). Instance ids: `primary` or
 * `replay-<ts>`; anything else is refused (`Error`).
 */
export function embeddedReadModels(opts: {
  dataDir: string;
  /** HMAC key of search cursors. */
  searchCursorSecret: string | Buffer;
  /** Pseudonyms of analytics viewer ids (ReadModelOptions.viewerPseudonyms). */
  viewerPseudonyms?: Pseudonyms;
  /** Video detail's view counts for search's sort=views (ReadModelOptions.viewCounts). */
  viewCounts?: ViewCountSource;
  logger?: pino.Logger;
}): ReplayableReadModels {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const base = join(opts.dataDir, 'projections');
  /** Directory of a file-backed instance (key-value store, search snapshot). */
  const dirOf = (name: ReadModelName, id: string) => (checkInstanceId(id) === PRIMARY_INSTANCE ? join(base, name) : join(base, 'replays', name, id));
  const chdbPath = join(base, 'analytics');
  const exists = (path: string) => stat(path).then(() => true, () => false);
  const readModelOptions = { searchCursorSecret: opts.searchCursorSecret, viewerPseudonyms: opts.viewerPseudonyms, viewCounts: opts.viewCounts, logger };

  const fileBacked = <K extends ReadModelName>(name: K) => replayableReadModel(name, {
    stores: (id) => onlyStores({
      keyValue: (kv, layout) => openKeyValueStoreOfLayout({
        open: () => createEmbeddedKeyValueStore({ dir: dirOf(name, id), syncIntervalMs: READ_MODEL_SYNC_INTERVAL_MS, logger: logger.child({ store: kv, instance: id }) }),
        wipe: () => rm(dirOf(name, id), { recursive: true, force: true }),
        layout, where: dirOf(name, id), logger,
      }),
      searchSnapshots: () => createFileSnapshotStore({ path: join(dirOf(name, id), 'video-search.json') }),
    }),
    async destroy(id) { await rm(dirOf(name, id), { recursive: true, force: true }); },
    async instances() {
      const primary = (await exists(dirOf(name, PRIMARY_INSTANCE))) ? [PRIMARY_INSTANCE] : [];
      const replays = (await readdir(join(base, 'replays', name)).catch(() => [] as string[])).filter((f) => f !== PRIMARY_INSTANCE && isInstanceId(f));
      return [...primary, ...replays];
    },
  }, readModelOptions);

  const analytics = replayableReadModel('analytics', {
    stores: (id) => onlyStores({
      analytics: () => createChdbAnalyticsStore({ path: chdbPath, database: instanceDatabase(ANALYTICS_DATABASE, id), logger: logger.child({ store: 'analytics', instance: id }) }),
    }),
    destroy: (id) => dropChdbDatabase(chdbPath, instanceDatabase(ANALYTICS_DATABASE, id)),
    instances: async () => instancesOfDatabases(ANALYTICS_DATABASE, await listChdbDatabases(chdbPath, ANALYTICS_DATABASE)),
  }, readModelOptions);

  return Object.fromEntries(READ_MODELS.map((name) => [name, name === 'analytics' ? analytics : fileBacked(name)])) as ReplayableReadModels;
}
