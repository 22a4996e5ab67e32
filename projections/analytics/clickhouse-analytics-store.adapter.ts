import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import pino from 'pino';
import type { AnalyticsStore } from './analytics-store.port.ts';
import { AnalyticsStoreError } from './analytics-store.port.ts';
import { ANALYTICS_DATABASE, ANALYTICS_DIALECTS, analyticsSql, isAnalyticsDatabaseName, type AnalyticsDialect, type AnalyticsSql } from './analytics.sql.ts';
import { analyticsIoError as ioError, createAnalyticsTables, gatheredInserts, sqlAnalyticsStore } from './sql-analytics-store.ts';
import type { ClickHouseParams } from './clickhouse-binding.ts';

/** Connection and dialect of a ClickHouse analytics store. */
export interface ClickHouseAnalyticsStoreOptions {
  /** HTTP interface of the server, e.g. `http://127.0.0.1:8123`. */
  url: string;
  /** Default `default`. */
  username?: string;
  /** Default ''. */
  password?: string;
  /**
   * Database holding the tables (created if missing); default `streamwave`. A replay instance
   * uses `streamwave_replay_<ts>` on the same server. Must match /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/.
   */
  database?: string;
  /**
   * SQL dialect (analytics.sql.ts): `modern` (ClickHouse ≥ 23: server-side `query_params`,
   * DateTime64), `compat-18` (ClickHouse 18.16: escaped literals, Int64 ms timestamps), or `auto`
   * (default): `SELECT version()` picks `modern` from 23 on, `compat-18` below. A database keeps
   * the dialect it was created with: do not switch dialects on an existing database (the column
   * types differ); rebuild it with a replay instead.
   */
  dialect?: AnalyticsDialect | 'auto';
  /**
   * Milliseconds one HTTP request (query or insert) may take before it is abandoned and the call
   * rejects with ANALYTICS_IO (@clickhouse/client `request_timeout`); default 10 000. Bounds how
   * long an unreachable or stuck server can hold a caller (an insert: this, plus the insert
   * gathered before it that is in flight, plus INSERT_GROUP_LINGER_MS, sql-analytics-store.ts).
   */
  requestTimeoutMs?: number;
  /**
   * Whether inserts into the same table made within INSERT_GROUP_LINGER_MS of the first one
   * waiting (or while one is in flight) go as one INSERT; default true. False sends one INSERT per call (the
   * baseline of `npm run bench:analytics-inserts`).
   */
  gatherInserts?: boolean;
  logger?: pino.Logger;
}

/** An AnalyticsStore on a ClickHouse server, with what it found out about the server. */
export interface ClickHouseAnalyticsStore extends AnalyticsStore {
  /** The dialect in use (the option, or what `auto` detected). */
  readonly dialect: AnalyticsDialect;
  /** `SELECT version()` of the server, e.g. `18.16.1`. */
  readonly serverVersion: string;
}

/**
 * ClickHouse error codes of a server that refuses an insert for its own state, not for the rows:
 * TIMEOUT_EXCEEDED (159), MEMORY_LIMIT_EXCEEDED (241), TOO_MANY_SIMULTANEOUS_QUERIES (202),
 * TOO_MANY_PARTS (252). Sending each batch again alone would only add load and hold the callers.
 */
const SERVER_STATE_CODES: ReadonlySet<string> = new Set(['159', '202', '241', '252']);

/**
 * Whether a failed gathered insert is worth sending again batch by batch: the server answered and
 * refused it (a ClickHouseError: one batch's rows may be what it refused), not a timeout, a
 * refused connection or an overloaded server, which every batch would meet again (each re-send
 * could take another `requestTimeoutMs`).
 */
const refusedData = (err: unknown): boolean => err instanceof ClickHouseError && !SERVER_STATE_CODES.has(err.code);

/** First ClickHouse major version the `modern` dialect is used for under `dialect: 'auto'`. */
export const MODERN_MIN_MAJOR = 23;

/**
 * AnalyticsStore on a ClickHouse server through @clickhouse/client (HTTP interface), running the
 * statements of analytics.sql.ts in the server's dialect. `insertHeartbeats` puts a batch in ONE
 * `INSERT … FORMAT JSONEachRow` request, with the batches of other partitions that come within
 * INSERT_GROUP_LINGER_MS (ClickHouse wants few large inserts; an insert is one block, so a batch
 * lands whole or not at all); rows are keyed by their log position in a
 * ReplacingMergeTree and every query is duplicate-insensitive, so a redelivered batch changes
 * nothing (effectively once). The checkpoint is read back from the same table.
 *
 * On open it asks the server its version (and picks the dialect when `auto`), then creates the
 * database and table if missing (and, in `modern`, adds `session_started_at` to a table of the
 * release before view rule v2).
 * @throws AnalyticsStoreError `ANALYTICS_IO` when the options are invalid, the server cannot be
 *         reached within `requestTimeoutMs`, or a statement fails (the message carries the
 *         server's own, e.g. `Code: 50 … Unknown data type family: DateTime64`).
 */
export async function createClickHouseAnalyticsStore(opts: ClickHouseAnalyticsStoreOptions): Promise<ClickHouseAnalyticsStore> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const database = opts.database ?? ANALYTICS_DATABASE;
  if (!isAnalyticsDatabaseName(database)) throw new AnalyticsStoreError('ANALYTICS_IO', `illegal ClickHouse database name "${database}"`);
  const wanted = opts.dialect ?? 'auto';
  if (wanted !== 'auto' && !ANALYTICS_DIALECTS.includes(wanted)) throw new AnalyticsStoreError('ANALYTICS_IO', `unknown analytics SQL dialect "${String(wanted)}"`);
  const client = openClient(opts);

  /** The JSONEachRow rows of a SELECT (`queryParams` sent as query_params when given). */
  const rows = async <T>(query: string, queryParams?: ClickHouseParams): Promise<T[]> =>
    (await client.query({ query, ...(queryParams && { query_params: queryParams }), format: 'JSONEachRow' })).json<T>();
  let sql: AnalyticsSql;
  let serverVersion: string;
  try {
    serverVersion = await serverVersionOf(client);
    const dialect = wanted === 'auto' ? dialectFor(serverVersion) : wanted;
    sql = analyticsSql(database, dialect);
    await createAnalyticsTables(sql, (query) => client.command({ query }), (query) => rows(query),
      (table) => logger.info({ database, table }, 'clickhouse analytics store: filling a table from the stored events (once per database and table)'));
  } catch (e) {
    await client.close().catch(() => {});
    throw ioError(`opening the analytics tables in ${database} at ${opts.url}`, e);
  }
  logger.debug({ url: opts.url, database, dialect: sql.dialect, serverVersion }, 'clickhouse analytics store open');

  /** One INSERT request of `values` into `table`. */
  const insertNow = async (table: string, values: unknown[]): Promise<void> => { await client.insert({ table, values, format: 'JSONEachRow' }); };
  const store = sqlAnalyticsStore(sql, {
    name: 'ClickHouse',
    rows,
    insert: opts.gatherInserts === false ? insertNow : gatheredInserts(insertNow, refusedData),
    close: () => client.close(),
  });
  return Object.assign(store, { dialect: sql.dialect, serverVersion });
}

/**
 * Drops `database` (and its tables) on the server; a missing one is fine. For replay instances.
 * @throws AnalyticsStoreError `ANALYTICS_IO` when the name is illegal or the server refuses.
 */
export async function dropClickHouseDatabase(opts: Pick<ClickHouseAnalyticsStoreOptions, 'url' | 'username' | 'password' | 'requestTimeoutMs'>, database: string): Promise<void> {
  if (!isAnalyticsDatabaseName(database)) throw new AnalyticsStoreError('ANALYTICS_IO', `illegal ClickHouse database name "${database}"`);
  const client = openClient(opts);
  try {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  } catch (e) {
    throw ioError(`DROP DATABASE ${database}`, e);
  } finally {
    await client.close().catch(() => {});
  }
}

/**
 * Names of the server's databases that start with `prefix` (for finding replay instances).
 * @throws AnalyticsStoreError `ANALYTICS_IO` when the server cannot be asked.
 */
export async function listClickHouseDatabases(opts: Pick<ClickHouseAnalyticsStoreOptions, 'url' | 'username' | 'password' | 'requestTimeoutMs'>, prefix: string): Promise<string[]> {
  const client = openClient(opts);
  try {
    const r = await client.query({ query: 'SELECT name FROM system.databases', format: 'JSONEachRow' });
    return (await r.json<{ name: string }>()).map((d) => d.name).filter((n) => n.startsWith(prefix));
  } catch (e) {
    throw ioError("listing databases", e);
  } finally {
    await client.close().catch(() => {});
  }
}

/**
 * The dialect for a server version string (`18.16.1`, `24.8.4.13`): `modern` from
 * MODERN_MIN_MAJOR on, `compat-18` below (and for a version it cannot parse, the safe choice:
 * compat statements also run on modern servers).
 */
export function dialectFor(version: string): AnalyticsDialect {
  const major = Number(/^(\d+)\./.exec(version)?.[1]);
  return Number.isFinite(major) && major >= MODERN_MIN_MAJOR ? 'modern' : 'compat-18';
}

function openClient(opts: Pick<ClickHouseAnalyticsStoreOptions, 'url' | 'username' | 'password' | 'requestTimeoutMs'>): ClickHouseClient {
  const timeout = opts.requestTimeoutMs ?? 10_000;
  if (!Number.isFinite(timeout) || timeout <= 0) throw new AnalyticsStoreError('ANALYTICS_IO', `requestTimeoutMs must be a positive number, got ${timeout}`);
  try {
    return createClient({
      url: opts.url,
      username: opts.username ?? 'default',
      password: opts.password ?? '',
      request_timeout: timeout,
      application: 'streamwave-analytics',
      // Buffer the whole result on the server before answering: an error in the middle of a result
      // is then a 500 with the server's message, not a 200 with partial rows and the exception text
      // appended (checked on 18.16). Analytics results are a few rows, so the buffering is free.
      clickhouse_settings: { wait_end_of_query: 1 },
      // Errors reach the caller as AnalyticsStoreError (and its logs); the client's own console logging would only repeat them.
      log: { level: ClickHouseLogLevel.OFF },
    });
  } catch (e) {
    throw ioError(`creating a ClickHouse client for ${opts.url}`, e);
  }
}

async function serverVersionOf(client: ClickHouseClient): Promise<string> {
  const r = await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' });
  const [row] = await r.json<{ version: string }>();
  if (!row?.version) throw new Error('SELECT version() returned no row');
  return row.version;
}
