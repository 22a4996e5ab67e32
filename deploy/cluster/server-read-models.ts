/**
 * The read models on the servers of cluster mode (issue 9): the key-value read models (video
 * detail, comments, user accounts, watch history) in Redis, analytics in ClickHouse, search in
 * Typesense, as replayable projections (primary + replay shadows, swapped by the projection
 * manager through the shared pointer store), so the projector role that writes them and the
 * gateways that read them share no disk.
 *
 * A server that is not configured leaves its read models on the embedded adapters under the
 * role's data dir (the `fallback`): fine for one process, not for roles on several machines.
 *
 * Instances: `primary` is the Redis store `<name>` (`sw:{video-detail}:v`, …); a replay shadow
 * `replay-<ts>` is `<name>@replay-<ts>` in the same hash slot. Every instance opened is recorded
 * in the set `sw:{<name>}:instances`, so `instances()` finds a shadow left by an interrupted replay.
 */
import type { Redis } from 'ioredis';
import type { pino } from 'pino';
import { READ_MODELS, type ReadModelName, type ReadModelQueries } from '../../projections/read-model.port.ts';
import { isKeyValueReadModel, openReadModel, READ_MODEL_CONTENT_VERSIONS, type KeyValueReadModel, type ReadModelStores } from '../../projections/read-models.ts';
import { PRIMARY_INSTANCE, type ReplayableProjection } from '../../projections/replay/replay.port.ts';
import { createRedisKeyValueStore, deleteRedisKeyValueStore } from '../../projections/stores/redis-key-value-store.adapter.ts';
import { holdsOtherLayout } from '../../projections/stores/key-value-projection.ts';
import type { KeyValueStore } from '../../projections/stores/key-value-store.port.ts';
import type { ReplayableReadModels } from '../shared/embedded-read-models.ts';

const INSTANCE_ID = /^replay-\d+$/;

/** The Redis store name of instance `id` of key-value read model `name`. @throws Error for an id that is neither `primary` nor `replay-<digits>`. */
export function redisStoreName(name: KeyValueReadModel, id: string): string {
  if (id === PRIMARY_INSTANCE) return name;
  if (!INSTANCE_ID.test(id)) throw new Error(`invalid projection instance id "${id}"`);
  return `${name}@${id}`;
}

export interface ServerReadModelsOptions {
  /** A ready ioredis client (platform/redis/redis-client.ts), shared by every store; not closed here. */
  redis: Redis;
  /** The read models of servers that are not configured (embedded, under the role's data dir). */
  fallback: ReplayableReadModels;
  /** HMAC key of search cursors (the same on every gateway: STREAMWAVE_CURSOR_SECRET). */
  searchCursorSecret: string | Buffer;
  logger: pino.Logger;
}

/**
 * The key-value read models on Redis; the others from `fallback` until their server adapters are
 * wired (see `withAnalytics` / `withSearch` callers in deploy/cluster/roles.ts).
 */
export function redisReadModels(opts: ServerReadModelsOptions): ReplayableReadModels {
  const instancesKey = (name: string) => `sw:{${name}}:instances`;
  const openStore = async (name: KeyValueReadModel, id: string, layout: string): Promise<KeyValueStore> => {
    const storeName = redisStoreName(name, id);
    await opts.redis.sadd(instancesKey(name), id);
    const store = await createRedisKeyValueStore({ client: opts.redis, name: storeName });
    if (!(await holdsOtherLayout(store, layout))) return store;
    await store.close();
    opts.logger.warn({ store: storeName, layout }, 'read model store was written by another layout: deleting it and rebuilding from offset 0');
    await deleteRedisKeyValueStore(opts.redis, storeName);
    return createRedisKeyValueStore({ client: opts.redis, name: storeName });
  };
  const keyValue = <K extends ReadModelName>(name: K & KeyValueReadModel): ReplayableProjection<ReadModelQueries[K]> => {
    const fb = opts.fallback[name];
    const stores = (id: string): ReadModelStores => ({
      keyValue: (kv, layout) => openStore(kv, id, layout),
      analytics: () => { throw new Error(`${name} has no analytics store`); },
      searchSnapshots: () => { throw new Error(`${name} has no search store`); },
    });
    return {
      name,
      ...(READ_MODEL_CONTENT_VERSIONS[name] !== undefined && { contentVersion: READ_MODEL_CONTENT_VERSIONS[name] }),
      open: (id) => openReadModel(name, stores(id), { searchCursorSecret: opts.searchCursorSecret, logger: opts.logger }) as ReturnType<typeof fb.open>,
      async destroy(id) {
        await deleteRedisKeyValueStore(opts.redis, redisStoreName(name, id));
        await opts.redis.srem(instancesKey(name), id);
      },
      async instances() {
        return (await opts.redis.smembers(instancesKey(name))).filter((id) => id === PRIMARY_INSTANCE || INSTANCE_ID.test(id));
      },
    };
  };
  return Object.fromEntries(READ_MODELS.map((name) => [name, isKeyValueReadModel(name) ? keyValue(name) : opts.fallback[name]])) as ReplayableReadModels;
}
