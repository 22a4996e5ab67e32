import { mkdir } from 'node:fs/promises';
import { Session, drainPending } from 'chdb';
import pino from 'pino';
import pLimit from 'p-limit';
import type { AnalyticsStore } from './analytics-store.port.ts';
import { AnalyticsStoreError } from './analytics-store.port.ts';
import { ANALYTICS_DATABASE, BUFFER_FLUSH_AT, analyticsSql, isAnalyticsDatabaseName, type AnalyticsDialect } from './analytics.sql.ts';
import { createAnalyticsTables, gatheredInserts, sqlAnalyticsStore } from './sql-analytics-store.ts';
import type { ClickHouseParams } from './clickhouse-binding.ts';

export interface ChdbAnalyticsStoreOptions {
  /** chDB data directory (created if missing), e.g. `<dataDir>/analytics`. */
  path: string;
  /**
   * ClickHouse database holding the tables (created if missing); default `streamwave`. A replay
   * instance uses its own database in the SAME directory (`streamwave_replay_<ts>`), because
   * libchdb binds one data directory per process. Must match /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/.
   */
  database?: string;
  /**
   * SQL dialect (analytics.sql.ts), default `modern` (chDB is ClickHouse 26.x). `compat-18` runs
   * the ClickHouse 18.16 statements (Int64 ms timestamps, literal binding) on chDB: the tests use
   * it to show both dialects give the same numbers on one engine. A database keeps the dialect it
   * was created with.
   */
  dialect?: AnalyticsDialect;
  /**
   * How often the Buffer tables in front of the MergeTree tables are flushed into them while rows
   * arrive, ms (default ANALYTICS_BUFFER_FLUSH_MS). Rows not yet flushed are lost in a crash and
   * re-applied from the log (see CREATE_BUFFER_TABLE); tests set a long one to keep rows unflushed.
   */
  bufferFlushMs?: number;
  /**
   * The store flushes its buffers before an insert when the rows or JSON bytes inserted since the
   * last flush reach these; default BUFFER_FLUSH_AT (analytics.sql.ts: why). Tests set small ones.
   */
  bufferFlushAt?: { rows: number; bytes: number };
  logger?: pino.Logger;
}

/** Default `bufferFlushMs`: at most 5 s of heartbeats and playback events to re-apply after a crash, one part per table per 5 s. */
export const ANALYTICS_BUFFER_FLUSH_MS = 5_000;

/** The JSONEachRow rows of a SELECT on `session` (`queryParams` bound server-side when given). */
async function rowsOf<T>(session: Session, query: string, queryParams?: ClickHouseParams): Promise<T[]> {
  const r = queryParams
    ? await session.queryBindAsync(query, queryParams, { format: 'JSONEachRow' })
    : await session.queryAsync(query, { format: 'JSONEachRow' });
  const text = r.text().trim();
  return text ? text.split('\n').map((l) => JSON.parse(l) as T) : [];
}

/**
 * AnalyticsStore on chDB (ClickHouse in-process). Uses chDB's async API (queryBindAsync, insert),
 * which runs on the libuv pool instead of blocking the event loop; inserts are one
 * `INSERT … FORMAT JSONEachRow` per batch, or per the batches of several input partitions that
 * wait together (gatheredInserts); heartbeats and playback events into in-memory Buffer tables in
 * front of their MergeTree tables, the heartbeats' materialized views into buffers too
 * (analytics.sql.ts CREATE_BUFFER_TABLE: why, and why that is crash-safe), the running totals and
 * the engagement events straight.
 * The store flushes the buffers itself (`OPTIMIZE TABLE`, every `bufferFlushMs` while rows arrive,
 * before the rows since the last flush reach `bufferFlushAt`, and on close). It runs the writes,
 * the checkpoint and the running totals' reads one at a time on one session, and the creators'
 * reads one at a time on a second session beside it (libchdb runs two sessions' statements at
 * once), never during a flush: a flush running between a query's read of the table
 * and its read of the buffer would hide the flushed rows from that query (ClickHouse's
 * StorageBuffer snapshots the two at different moments), so the buffers' own thresholds are set
 * never to flush in the background.
 *
 * libchdb binds ONE data directory per process: open at most one store at a time; `close()`
 * waits (drainPending) until the directory is free for the next one.
 * @throws AnalyticsStoreError `ANALYTICS_BUSY` when another chDB session of a different path is open,
 *         `ANALYTICS_IO` when the database name is illegal or the tables cannot be created.
 */
export async function createChdbAnalyticsStore(opts: ChdbAnalyticsStoreOptions): Promise<AnalyticsStore> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const sql = analyticsSqlOrThrow(opts.database ?? ANALYTICS_DATABASE, opts.dialect);
  await mkdir(opts.path, { recursive: true });
  const session = openSession(opts.path);
  let readSession: Session;
  try {
    await createAnalyticsTables(sql, (statement) => session.queryAsync(statement), (statement) => rowsOf(session, statement),
      (table) => logger.info({ database: sql.database, table }, 'chdb analytics store: filling a table from the stored events (once per database and table)'));
    // The creators' reads run on a session of their own, beside the writes (libchdb runs two
    // sessions' statements at once, on the same tables and buffers): on the one session they took
    // about 40 % of its time in the freshness benchmark, while the projection's inserts waited.
    readSession = openSession(opts.path);
  } catch (e) {
    session.close();
    await drainPending();
    if (e instanceof AnalyticsStoreError) throw e;
    throw new AnalyticsStoreError('ANALYTICS_IO', `cannot create analytics tables in ${sql.database}: ${(e as Error).message}`, e);
  }
  logger.debug({ path: opts.path, database: sql.database }, 'chdb analytics store open');

  const serial = pLimit(1);
  const readSerial = pLimit(1);
  const flushMs = opts.bufferFlushMs ?? ANALYTICS_BUFFER_FLUSH_MS;
  const flushAt = opts.bufferFlushAt ?? BUFFER_FLUSH_AT;
  let unflushedSince: number | undefined;
  /** Rows and JSON bytes inserted into the buffers since the last flush, all together (BUFFER_FLUSH_AT). */
  const unflushed = { rows: 0, bytes: 0 };
  /**
   * Flushes the buffers in order, the views' tables' first (inside `serial`); a failure stops
   * there and keeps the rest buffered for the next try. It holds the read session's queue too: it
   * waits for the read in flight and new reads wait for it (a flush between a read's look at a
   * table and at its Buffer would hide the flushed rows from it: StorageBuffer snapshots the two
   * at different moments). Inserts need no such care: they change a Buffer, never the table under it.
   */
  const flush = async (): Promise<void> => {
    const statements = sql.buffer?.flush;
    if (!statements || unflushedSince === undefined) return;
    try {
      await readSerial(async () => {
        for (const statement of statements) await session.queryAsync(statement);
      });
      unflushedSince = undefined;
      unflushed.rows = unflushed.bytes = 0;
    } catch (e) {
      // Nothing is lost: the checkpoint goes back with the unflushed rows (see CREATE_BUFFER_TABLE).
      logger.warn({ err: e, database: sql.database }, 'chdb analytics store: buffer flush failed; retried later, and its rows are re-applied from the log after a crash');
    }
  };
  // Rows that stop arriving are flushed too (a timer that does not keep the process alive).
  const timer = setInterval(() => {
    if (unflushedSince !== undefined && Date.now() - unflushedSince >= flushMs) void serial(flush);
  }, Math.min(flushMs, 1_000));
  timer.unref();

  return sqlAnalyticsStore(sql, {
    name: 'chDB',
    rows<T>(query: string, queryParams?: ClickHouseParams) {
      return serial(() => rowsOf<T>(session, query, queryParams));
    },
    reads<T>(query: string, queryParams?: ClickHouseParams) {
      return readSerial(() => rowsOf<T>(readSession, query, queryParams));
    },
    // Gathered across input partitions (sql-analytics-store.ts gatheredInserts): what waits while
    // the one session runs another statement goes in one INSERT. Any failed gathered insert is sent
    // again batch by batch (in-process, there is no timeout or lost connection to wait out again).
    insert: gatheredInserts((table, rows) => {
      const payload = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
      const values = Buffer.from(payload, 'utf8');
      return serial(async () => {
        const buffered = sql.buffer?.inserts.includes(table) ?? false; // the running totals and the engagement events have none
        // No buffer may reach its own thresholds and flush itself, out of order (CREATE_BUFFER_TABLE).
        if (buffered && (unflushed.rows >= flushAt.rows || unflushed.bytes >= flushAt.bytes)) {
          await flush();
          if (unflushedSince !== undefined) throw new Error('the analytics buffers are full and cannot be flushed');
        }
        if (buffered) {
          // Counted before the insert: one that fails part-way may have left rows in a buffer.
          unflushed.rows += rows.length;
          unflushed.bytes += values.length;
          unflushedSince ??= Date.now();
        }
        await session.insert({ table, values, format: 'JSONEachRow' });
        if (buffered && Date.now() - unflushedSince! >= flushMs) await flush();
      });
    }, () => true),
    async close() {
      clearInterval(timer);
      await serial(flush);
      await readSerial(() => undefined);
      readSession.close();
      session.close();
      await drainPending();
    },
  });
}

/**
 * Drops `database` (and its tables) from the chDB directory `path`; a missing one is fine.
 * @throws AnalyticsStoreError `ANALYTICS_BUSY` when another chDB directory is open in this process,
 *         `ANALYTICS_IO` when the name is illegal.
 */
export async function dropChdbDatabase(path: string, database: string): Promise<void> {
  const sql = analyticsSqlOrThrow(database);
  const session = openSession(path);
  try {
    await session.queryAsync(`DROP DATABASE IF EXISTS ${sql.database} SYNC`);
  } finally {
    session.close();
  }
}

/**
 * Names of the databases of the chDB directory `path` that start with `prefix`.
 * @throws AnalyticsStoreError `ANALYTICS_BUSY` when another chDB directory is open in this process.
 */
export async function listChdbDatabases(path: string, prefix: string): Promise<string[]> {
  const session = openSession(path);
  try {
    const r = await session.queryAsync('SELECT name FROM system.databases', { format: 'JSONEachRow' });
    const text = r.text().trim();
    return (text ? text.split('\n').map((l) => (JSON.parse(l) as { name: string }).name) : []).filter((n) => n.startsWith(prefix));
  } finally {
    session.close();
  }
}

function analyticsSqlOrThrow(database: string, dialect?: AnalyticsDialect) {
  if (!isAnalyticsDatabaseName(database)) throw new AnalyticsStoreError('ANALYTICS_IO', `illegal chDB database name "${database}"`);
  try {
    return analyticsSql(database, dialect, { buffered: true });
  } catch (e) {
    throw new AnalyticsStoreError('ANALYTICS_IO', (e as Error).message, e);
  }
}

function openSession(path: string): Session {
  try {
    return new Session(path);
  } catch (e) {
    throw new AnalyticsStoreError('ANALYTICS_BUSY', `cannot open chDB at ${path}: ${(e as Error).message}`, e);
  }
}
