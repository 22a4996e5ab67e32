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
import { writeFileAtomic } from '../../platform/files/atomic-file.ts';
import { ANALYTICS_DATABASE } from '../../projections/analytics/analytics.sql.ts';
import { createChdbAnalyticsStore, dropChdbDatabase, listChdbDatabases } from '../../projections/analytics/chdb-analytics-store.adapter.ts';
import { READ_MODELS, type ReadModelName, type ReadModelQueries } from '../../projections/read-model.port.ts';
import { isKeyValueReadModel, openReadModel, READ_MODEL_CONTENT_VERSIONS, type KeyValueReadModel, type ReadModelStores } from '../../projections/read-models.ts';
import { PRIMARY_INSTANCE, type CurrentInstance, type CurrentInstanceStore, type ReplayableProjection } from '../../projections/replay/replay.port.ts';
import { createFileSnapshotStore } from '../../projections/search/search-snapshot-store.ts';
import { createEmbeddedKeyValueStore } from '../../projections/stores/embedded-key-value-store.adapter.ts';
import { holdsOtherLayout } from '../../projections/stores/key-value-projection.ts';
import type { KeyValueStore } from '../../projections/stores/key-value-store.port.ts';

const INSTANCE_ID = /^replay-\d+$/;

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
  logger?: pino.Logger;
}): ReplayableReadModels {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const base = join(opts.dataDir, 'projections');
  const check = (id: string) => {
    if (id !== PRIMARY_INSTANCE && !INSTANCE_ID.test(id)) throw new Error(`invalid projection instance id "${id}"`);
    return id;
  };
  /** Directory of a file-backed instance (key-value store, search snapshot). */
  const dirOf = (name: ReadModelName, id: string) => (check(id) === PRIMARY_INSTANCE ? join(base, name) : join(base, 'replays', name, id));
  const chdbPath = join(base, 'analytics');
  const chdbDatabase = (id: string) => (check(id) === PRIMARY_INSTANCE ? ANALYTICS_DATABASE : `${ANALYTICS_DATABASE}_${id.replace('-', '_')}`);
  const exists = (path: string) => stat(path).then(() => true, () => false);

  const storesOf = (name: ReadModelName, id: string): ReadModelStores => ({
    keyValue: (kv, layout) => openKeyValueStore(kv, dirOf(name, id), layout, logger.child({ store: kv, instance: id })),
    analytics: () => createChdbAnalyticsStore({ path: chdbPath, database: chdbDatabase(id), logger: logger.child({ store: 'analytics', instance: id }) }),
    searchSnapshots: () => createFileSnapshotStore({ path: join(dirOf(name, id), 'video-search.json') }),
  });

  const fileBacked = <K extends ReadModelName>(name: K): ReplayableProjection<ReadModelQueries[K]> => ({
    name,
    ...(READ_MODEL_CONTENT_VERSIONS[name] !== undefined && { contentVersion: READ_MODEL_CONTENT_VERSIONS[name] }),
    open: (id) => openReadModel(name, storesOf(name, id), { searchCursorSecret: opts.searchCursorSecret, logger }),
    async destroy(id) { await rm(dirOf(name, id), { recursive: true, force: true }); },
    async instances() {
      const primary = (await exists(dirOf(name, PRIMARY_INSTANCE))) ? [PRIMARY_INSTANCE] : [];
      const replays = (await readdir(join(base, 'replays', name)).catch(() => [] as string[])).filter((f) => INSTANCE_ID.test(f));
      return [...primary, ...replays];
    },
  });

  const analytics: ReplayableProjection<ReadModelQueries['analytics']> = {
    name: 'analytics',
    contentVersion: READ_MODEL_CONTENT_VERSIONS.analytics,
    open: (id) => openReadModel('analytics', storesOf('analytics', id), { searchCursorSecret: opts.searchCursorSecret, logger }),
    async destroy(id) { await dropChdbDatabase(chdbPath, chdbDatabase(id)); },
    async instances() {
      const prefix = `${ANALYTICS_DATABASE}_replay_`;
      const dbs = await listChdbDatabases(chdbPath, ANALYTICS_DATABASE);
      const ids = dbs.filter((d) => d.startsWith(prefix)).map((d) => `replay-${d.slice(prefix.length)}`).filter((id) => INSTANCE_ID.test(id));
      return [...(dbs.includes(ANALYTICS_DATABASE) ? [PRIMARY_INSTANCE] : []), ...ids];
    },
  };

  return Object.fromEntries(READ_MODELS.map((name) => [name, name === 'analytics' ? analytics : fileBacked(name)])) as ReplayableReadModels;
}

/**
 * The embedded key-value store in `dir`, emptied first when it holds another layout of read model
 * `name` (an upgrade that changed the layout): the read model is then rebuilt from offset 0.
 */
async function openKeyValueStore(name: KeyValueReadModel, dir: string, layout: string, logger: pino.Logger): Promise<KeyValueStore> {
  if (!isKeyValueReadModel(name)) throw new RangeError(`${name} is not a key-value read model`);
  const store = await createEmbeddedKeyValueStore({ dir, logger });
  if (!(await holdsOtherLayout(store, layout))) return store;
  await store.close();
  logger.warn({ dir, layout }, 'read model store was written by another layout: deleting it and rebuilding from offset 0');
  await rm(dir, { recursive: true, force: true });
  return createEmbeddedKeyValueStore({ dir, logger });
}
