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
import type { ViewCountSource } from '../../projections/search/search.port.ts';
import type { Pseudonyms } from '../../platform/keys/pseudonyms.ts';
import { READ_MODELS, type ReadModelName } from '../../projections/read-model.port.ts';
import { isKeyValueReadModel, onlyStores, replayableReadModel, type KeyValueReadModel } from '../../projections/read-models.ts';
import { checkInstanceId, instanceDatabase, instancesOfDatabases, isInstanceId, PRIMARY_INSTANCE } from '../../projections/replay/replay.port.ts';
import { createRedisKeyValueStore, deleteRedisKeyValueStore } from '../../projections/stores/redis-key-value-store.adapter.ts';
import type { ReplayableReadModels } from '../shared/embedded-read-models.ts';
import { openKeyValueStoreOfLayout } from '../../projections/stores/key-value-projection.ts';
import { ANALYTICS_DATABASE } from '../../projections/analytics/analytics.sql.ts';
import { createClickHouseAnalyticsStore, dropClickHouseDatabase, listClickHouseDatabases } from '../../projections/analytics/clickhouse-analytics-store.adapter.ts';
import type { ServersConfig } from '../config/servers-config.ts';
import { Client as TypesenseClient } from 'typesense';
import { aliasSwappingPointers, typesenseSearchReadModel } from '../../projections/search/typesense-search.adapter.ts';
import type { CurrentInstanceStore } from '../../projections/replay/replay.port.ts';

/** The Redis store name of instance `id` of key-value read model `name`. @throws Error for an id that is neither `primary` nor `replay-<digits>`. */
export function redisStoreName(name: KeyValueReadModel, id: string): string {
  return checkInstanceId(id) === PRIMARY_INSTANCE ? name : `${name}@${id}`;
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
  /** Pseudonyms of analytics viewer ids (ReadModelOptions.viewerPseudonyms). */
  viewerPseudonyms?: Pseudonyms;
  /** Video detail's view counts for search's sort=views (ReadModelOptions.viewCounts). */
  viewCounts?: ViewCountSource;
  logger: pino.Logger;
}

/**
 * The read models on the servers: the key-value ones on Redis, analytics on ClickHouse and search
 * on Typesense when configured (else from `fallback`: only the single-process `all` role may run
 * so, see missingReadModelServers), and the wrapper that makes the pointer store move the
 * Typesense alias with the search read model's current instance.
 */
export function redisReadModels(opts: ServerReadModelsOptions): { models: ReplayableReadModels; pointersOver(inner: CurrentInstanceStore): CurrentInstanceStore } {
  const instancesKey = (name: string) => `sw:{${name}}:instances`;
  const readModelOptions = { searchCursorSecret: opts.searchCursorSecret, viewerPseudonyms: opts.viewerPseudonyms, viewCounts: opts.viewCounts, logger: opts.logger };
  const keyValue = <K extends ReadModelName>(name: K & KeyValueReadModel) => replayableReadModel(name, {
    stores: (id) => onlyStores({
      async keyValue(kv, layout) {
        const storeName = redisStoreName(kv, id);
        await opts.redis.sadd(instancesKey(kv), id);
        const store = await openKeyValueStoreOfLayout({
          open: () => createRedisKeyValueStore({ client: opts.redis, name: storeName }),
          wipe: () => deleteRedisKeyValueStore(opts.redis, storeName),
          layout, where: `redis ${storeName}`, logger: opts.logger,
        });
        return opts.countErrors?.('redis-key-value-store', store) ?? store;
      },
    }),
    async destroy(id) {
      await deleteRedisKeyValueStore(opts.redis, redisStoreName(name, id));
      await opts.redis.srem(instancesKey(name), id);
    },
    instances: async () => (await opts.redis.smembers(instancesKey(name))).filter(isInstanceId),
  }, readModelOptions);
  const models = Object.fromEntries(READ_MODELS.map((name) => [name, isKeyValueReadModel(name) ? keyValue(name) : opts.fallback[name]])) as ReplayableReadModels;
  if (opts.clickhouse) models.analytics = clickhouseAnalytics(opts.clickhouse, opts);
  let pointersOver = (inner: CurrentInstanceStore) => inner;
  if (opts.typesense) {
    const search = typesenseSearchReadModel({ client: typesenseClient(opts.typesense), cursorSecret: opts.searchCursorSecret, viewCounts: opts.viewCounts, logger: opts.logger.child({ store: 'search' }) });
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
function clickhouseAnalytics(ch: NonNullable<ServersConfig['clickhouse']>, opts: Pick<ServerReadModelsOptions, 'searchCursorSecret' | 'viewerPseudonyms' | 'logger' | 'countErrors'>): ReplayableReadModels['analytics'] {
  const base = ch.database || ANALYTICS_DATABASE;
  const conn = { url: ch.url, username: ch.username, password: ch.password };
  return replayableReadModel('analytics', {
    stores: (id) => onlyStores({
      async analytics() {
        const store = await createClickHouseAnalyticsStore({ ...conn, database: instanceDatabase(base, id), dialect: ch.dialect, logger: opts.logger.child({ store: 'analytics', instance: id }) });
        return opts.countErrors?.('clickhouse-analytics-store', store) ?? store;
      },
    }),
    destroy: (id) => dropClickHouseDatabase(conn, instanceDatabase(base, id)),
    instances: async () => instancesOfDatabases(base, await listClickHouseDatabases(conn, base)),
  }, { searchCursorSecret: opts.searchCursorSecret, viewerPseudonyms: opts.viewerPseudonyms, analyticsFetchWaitMs: ch.insertWaitMs, logger: opts.logger });
}
