/**
 * The three standalone read models as replayable projections (instances on local disk) and the
 * file-backed pointer store.
 *
 * Layout under `<dataDir>/projections/`:
 * - primary instances where `openStandaloneProjections` keeps them: `video-detail/`,
 *   `analytics/` (chDB directory, database `streamwave`), `search/video-search.json`;
 * - the replay directory of each projection, `replays/<name>/`: `current.json` (which instance
 *   serves; replaced atomically) and one sub-directory per replay instance `replay-<ts>/`
 *   (video-detail store, search snapshot). Analytics replay instances are chDB databases
 *   `streamwave_replay_<ts>` inside `analytics/` (one chDB directory per process).
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { writeFileAtomic } from '../../platform/files/atomic-file.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import type { AnalyticsQueries, SearchQueries, VideoQueries } from '../read-model.port.ts';
import { createEmbeddedKeyValueStore } from '../stores/embedded-key-value-store.adapter.ts';
import { createVideoDetailProjection } from '../video-detail/video-detail.projection.ts';
import { createChdbAnalyticsStore, dropChdbDatabase, listChdbDatabases } from '../analytics/chdb-analytics-store.adapter.ts';
import { ANALYTICS_DATABASE } from '../analytics/analytics.sql.ts';
import { createVideoAnalyticsProjection } from '../analytics/video-analytics.projection.ts';
import { createFileSnapshotStore } from '../search/search-snapshot-store.ts';
import { createVideoSearchProjection } from '../search/video-search.projection.ts';
import { PRIMARY_INSTANCE, type CurrentInstance, type CurrentInstanceStore, type ReplayableProjection } from './replay.port.ts';

/** Query ports by replayable projection name. */
export type StandaloneQueryMap = {
  'video-detail': VideoQueries;
  analytics: AnalyticsQueries;
  search: SearchQueries;
};

export const REPLAYABLE_PROJECTIONS = ['video-detail', 'analytics', 'search'] as const;

const INSTANCE_ID = /^replay-\d+$/;

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
 * The standalone read models as replayable projections over `<dataDir>/projections`.
 * Instance ids: `primary` or `replay-<ts>`; anything else is refused (`Error`).
 */
export function standaloneReplayableProjections(opts: {
  dataDir: string;
  codec: EventCodec;
  /** HMAC key for search cursors. */
  searchCursorSecret: string | Buffer;
  logger?: pino.Logger;
}): { [K in keyof StandaloneQueryMap & string]: ReplayableProjection<StandaloneQueryMap[K]> } {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const base = join(opts.dataDir, 'projections');
  const replayDir = (name: string) => join(base, 'replays', name);
  const check = (id: string) => {
    if (id !== PRIMARY_INSTANCE && !INSTANCE_ID.test(id)) throw new Error(`invalid projection instance id "${id}"`);
    return id;
  };
  const exists = (path: string) => stat(path).then(() => true, () => false);
  /** Existing instances: the primary when its store exists, plus the replay sub-directories. */
  const instanceDirs = async (name: string, primaryPath: string) => [
    ...((await exists(primaryPath)) ? [PRIMARY_INSTANCE] : []),
    ...(await readdir(replayDir(name)).catch(() => [] as string[])).filter((f) => INSTANCE_ID.test(f)),
  ];
  const chdbPath = join(base, 'analytics');
  const chdbDatabase = (id: string) => (id === PRIMARY_INSTANCE ? ANALYTICS_DATABASE : `${ANALYTICS_DATABASE}_${id.replace('-', '_')}`);

  return {
    'video-detail': {
      name: 'video-detail',
      async open(id) {
        const dir = check(id) === PRIMARY_INSTANCE ? join(base, 'video-detail') : join(replayDir('video-detail'), id);
        const store = await createEmbeddedKeyValueStore({ dir, logger: logger.child({ store: 'video-detail', instance: id }) });
        return createVideoDetailProjection({ store, codec: opts.codec, logger: logger.child({ projection: 'video-detail', instance: id }) });
      },
      async destroy(id) {
        await rm(check(id) === PRIMARY_INSTANCE ? join(base, 'video-detail') : join(replayDir('video-detail'), id), { recursive: true, force: true });
      },
      instances: () => instanceDirs('video-detail', join(base, 'video-detail')),
    },
    analytics: {
      name: 'analytics',
      async open(id) {
        const store = await createChdbAnalyticsStore({ path: chdbPath, database: chdbDatabase(check(id)), logger: logger.child({ store: 'analytics', instance: id }) });
        return createVideoAnalyticsProjection({ store, codec: opts.codec, logger: logger.child({ projection: 'video-analytics', instance: id }) });
      },
      async destroy(id) {
        await dropChdbDatabase(chdbPath, chdbDatabase(check(id)));
      },
      async instances() {
        const prefix = `${ANALYTICS_DATABASE}_replay_`;
        const dbs = await listChdbDatabases(chdbPath, ANALYTICS_DATABASE);
        const ids = dbs.filter((d) => d.startsWith(prefix)).map((d) => `replay-${d.slice(prefix.length)}`).filter((id) => INSTANCE_ID.test(id));
        return [...(dbs.includes(ANALYTICS_DATABASE) ? [PRIMARY_INSTANCE] : []), ...ids];
      },
    },
    search: {
      name: 'search',
      async open(id) {
        const path = check(id) === PRIMARY_INSTANCE ? join(base, 'search', 'video-search.json') : join(replayDir('search'), id, 'video-search.json');
        return createVideoSearchProjection({
          snapshots: createFileSnapshotStore({ path }),
          codec: opts.codec, cursorSecret: opts.searchCursorSecret, logger: logger.child({ projection: 'video-search', instance: id }),
        });
      },
      async destroy(id) {
        await rm(check(id) === PRIMARY_INSTANCE ? join(base, 'search') : join(replayDir('search'), id), { recursive: true, force: true });
      },
      instances: () => instanceDirs('search', join(base, 'search', 'video-search.json')),
    },
  };
}
