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
import { ANALYTICS_DATABASE } from '../../projections/analytics/analytics.sql.ts';
import { createClickHouseAnalyticsStore, dropClickHouseDatabase, listClickHouseDatabases } from '../../projections/analytics/clickhouse-analytics-store.adapter.ts';
import type { ServersConfig } from '../config/servers-config.ts';
import { Client as TypesenseClient } from 'typesense';
import { aliasSwappingPointers, typesenseSearchReadModel } from '../../projections/search/typesense-search.adapter.ts';
import type { CurrentInstanceStore } from '../../projections/replay/replay.port.ts';

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
  /** ClickHouse for analytics (STREAMWAVE_CLICKHOUSE_*); absent: analytics from `fallback`. */
  clickhouse?: ServersConfig['clickhouse'];
  /** Typesense for search (STREAMWAVE_TYPESENSE_*); absent: search from `fallback`. */
  typesense?: ServersConfig['typesense'];
  /** Wraps each store so its errors are counted (`streamwave_adapter_errors_total{adapter}`); default: unwrapped. */
  countErrors?: <T extends object>(adapter: string, port: T) => T;
  /** HMAC key of search cursors (the same on every gateway: STREAMWAVE_CURSOR_SECRET). */
  searchCursorSecret: string | Buffer;
  logger: pino.Logger;
}

/**
 * The key-value read models on Redis; the others from `fallback` until their server adapters are
 * wired (see `withAnalytics` / `withSearch` callers in deploy/cluster/roles.ts).
 */
export function redisReadModels(opts: ServerReadModelsOptions): { models: ReplayableReadModels; pointersOver(inner: CurrentInstanceStore): CurrentInstanceStore } {
  const instancesKey = (name: string) => `sw:{${name}}:instances`;
  const openStore = async (name: KeyValueReadModel, id: string, layout: string): Promise<KeyValueStore> => {
    const storeName = redisStoreName(name, id);
    await opts.redis.sadd(instancesKey(name), id);
    const count = <T extends object>(port: T) => opts.countErrors?.('redis-key-value-store', port) ?? port;
    const store = await createRedisKeyValueStore({ client: opts.redis, name: storeName });
    if (!(await holdsOtherLayout(store, layout))) return count(store);
    await store.close();
    opts.logger.warn({ store: storeName, layout }, 'read model store was written by another layout: deleting it and rebuilding from offset 0');
    await deleteRedisKeyValueStore(opts.redis, storeName);
    return count(await createRedisKeyValueStore({ client: opts.redis, name: storeName }));
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
  const models = Object.fromEntries(READ_MODELS.map((name) => [name, isKeyValueReadModel(name) ? keyValue(name) : opts.fallback[name]])) as ReplayableReadModels;
  if (opts.clickhouse) models.analytics = clickhouseAnalytics(opts.clickhouse, opts);
  let pointersOver = (inner: CurrentInstanceStore) => inner;
  if (opts.typesense) {
    const search = typesenseSearchReadModel({ client: typesenseClient(opts.typesense), cursorSecret: opts.searchCursorSecret, logger: opts.logger.child({ store: 'search' }) });
    models.search = search;
    // The Typesense alias follows the search read model's current-instance pointer.
    pointersOver = (inner) => aliasSwappingPointers(inner, search);
  }
  return { models, pointersOver };
}

/**
 * A Typesense client for `url` (http(s)://host[:port]): 5 s connection timeout, 2 retries 0.2 s
 * apart, so an outage rejects (SEARCH_UNAVAILABLE) instead of holding a request.
 * @throws TypeError for a URL that cannot be parsed.
 */
export function typesenseClient(ts: NonNullable<ServersConfig['typesense']>): TypesenseClient {
  const u = new URL(ts.url);
  const protocol = u.protocol.replace(':', '');
  return new TypesenseClient({
    nodes: [{ host: u.hostname, port: Number(u.port || (protocol === 'https' ? 443 : 80)), protocol, ...(u.pathname !== '/' && { path: u.pathname }) }],
    apiKey: ts.apiKey,
    connectionTimeoutSeconds: 5,
    numRetries: 2,
    retryIntervalSeconds: 0.2,
    logLevel: 'silent',
  });
}

/**
 * Analytics on a ClickHouse server: instance `primary` in database `<db>` (STREAMWAVE_CLICKHOUSE_DATABASE,
 * default `streamwave`), a replay shadow `replay-<ts>` in `<db>_replay_<ts>` on the same server.
 */
function clickhouseAnalytics(ch: NonNullable<ServersConfig['clickhouse']>, opts: Pick<ServerReadModelsOptions, 'searchCursorSecret' | 'logger' | 'countErrors'>): ReplayableReadModels['analytics'] {
  const base = ch.database || ANALYTICS_DATABASE;
  const databaseOf = (id: string) => {
    if (id === PRIMARY_INSTANCE) return base;
    if (!INSTANCE_ID.test(id)) throw new Error(`invalid projection instance id "${id}"`);
    return `${base}_${id.replace('-', '_')}`;
  };
  const conn = { url: ch.url, username: ch.username, password: ch.password };
  const stores = (id: string): ReadModelStores => ({
    keyValue: () => { throw new Error('analytics has no key-value store'); },
    analytics: async () => {
      const store = await createClickHouseAnalyticsStore({ ...conn, database: databaseOf(id), dialect: ch.dialect, logger: opts.logger.child({ store: 'analytics', instance: id }) });
      return opts.countErrors?.('clickhouse-analytics-store', store) ?? store;
    },
    searchSnapshots: () => { throw new Error('analytics has no search store'); },
  });
  return {
    name: 'analytics',
    ...(READ_MODEL_CONTENT_VERSIONS.analytics !== undefined && { contentVersion: READ_MODEL_CONTENT_VERSIONS.analytics }),
    open: (id) => openReadModel('analytics', stores(id), { searchCursorSecret: opts.searchCursorSecret, logger: opts.logger }),
    destroy: (id) => dropClickHouseDatabase(conn, databaseOf(id)),
    async instances() {
      const dbs = await listClickHouseDatabases(conn, base);
      const prefix = `${base}_replay_`;
      return [
        ...(dbs.includes(base) ? [PRIMARY_INSTANCE] : []),
        ...dbs.filter((d) => d.startsWith(prefix)).map((d) => `replay-${d.slice(prefix.length)}`).filter((id) => INSTANCE_ID.test(id)),
      ];
    },
  };
}
