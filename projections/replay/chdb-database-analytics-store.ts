/**
 * AnalyticsStore on chDB in a NAMED database, so a shadow analytics read model can live next to
 * the live one: libchdb binds one data directory per process (see chdb-analytics-store.adapter.ts),
 * so the shadow cannot get a directory of its own while the live store is open; it gets its own
 * database (`streamwave_replay_<ts>`) in the same directory through a second session instead.
 *
 * It runs exactly the statements of analytics.sql.ts with the table name rewritten.
 * TODO(owner of chdb-analytics-store.adapter.ts): a `database` option there would replace this file.
 */
import { mkdir } from 'node:fs/promises';
import { Session, drainPending } from 'chdb';
import pino from 'pino';
import type { OffsetMap } from '../../processors/log/event-log.port.ts';
import { tpKey } from '../../processors/log/event-log.port.ts';
import type { VideoAnalytics } from '../read-model.ports.ts';
import { minuteIso } from '../view-rule.ts';
import type { AnalyticsStore, HeartbeatRow } from '../analytics/analytics-store.port.ts';
import { AnalyticsStoreError } from '../analytics/analytics-store.port.ts';
import {
  ANALYTICS_DATABASE, CREATE_HEARTBEATS_TABLE, HEARTBEATS_TABLE, SELECT_CHECKPOINT, SELECT_VIDEO_TOTALS, SELECT_VIEWS_PER_MINUTE, VIEW_RULE_PARAMS,
} from '../analytics/analytics.sql.ts';

const DATABASE_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

const checkDatabase = (database: string) => {
  if (!DATABASE_NAME.test(database)) throw new AnalyticsStoreError('ANALYTICS_IO', `illegal chDB database name "${database}"`);
};

/** Statement of analytics.sql.ts retargeted at `<database>.view_heartbeats`. */
const retarget = (sql: string, database: string) => sql.replaceAll(HEARTBEATS_TABLE, `${database}.view_heartbeats`);

/**
 * Opens (creating when missing) the analytics tables in `database` of the chDB directory `path`.
 * @throws AnalyticsStoreError `ANALYTICS_BUSY` if another chDB directory is open in this process,
 *         `ANALYTICS_IO` when the tables cannot be created or the name is illegal.
 */
export async function createChdbDatabaseAnalyticsStore(opts: { path: string; database: string; logger?: pino.Logger }): Promise<AnalyticsStore> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  checkDatabase(opts.database);
  await mkdir(opts.path, { recursive: true });
  let session: Session;
  try {
    session = new Session(opts.path);
  } catch (e) {
    throw new AnalyticsStoreError('ANALYTICS_BUSY', `cannot open chDB at ${opts.path}: ${(e as Error).message}`, e);
  }
  const sql = {
    create: retarget(CREATE_HEARTBEATS_TABLE, opts.database),
    checkpoint: retarget(SELECT_CHECKPOINT, opts.database),
    totals: retarget(SELECT_VIDEO_TOTALS, opts.database),
    perMinute: retarget(SELECT_VIEWS_PER_MINUTE, opts.database),
    table: `${opts.database}.view_heartbeats`,
  };
  let closed = false;
  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new AnalyticsStoreError('ANALYTICS_CLOSED', 'analytics store is closed');
    try {
      return await fn();
    } catch (e) {
      if (e instanceof AnalyticsStoreError) throw e;
      throw new AnalyticsStoreError('ANALYTICS_IO', `chDB ${what} failed: ${(e as Error).message}`, e);
    }
  };
  const rows = async <T>(q: string, params: Record<string, unknown>): Promise<T[]> => {
    const r = await session.queryBindAsync(q, params, { format: 'JSONEachRow' });
    const text = r.text().trim();
    return text ? text.split('\n').map((l) => JSON.parse(l) as T) : [];
  };
  try {
    await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${opts.database}`);
    await session.queryAsync(sql.create);
  } catch (e) {
    session.close();
    throw new AnalyticsStoreError('ANALYTICS_IO', `cannot create analytics tables in ${opts.database}: ${(e as Error).message}`, e);
  }
  logger.debug({ path: opts.path, database: opts.database }, 'chdb analytics store open');
  return {
    insertHeartbeats(batch: HeartbeatRow[]) {
      return guard('insert', async () => {
        if (!batch.length) return;
        const payload = batch.map((r) => JSON.stringify(toJsonRow(r))).join('\n') + '\n';
        await session.insert({ table: sql.table, values: Buffer.from(payload, 'utf8'), format: 'JSONEachRow' });
      });
    },
    checkpoint() {
      return guard('checkpoint', async () => {
        const out: OffsetMap = new Map();
        for (const r of await rows<{ topic: string; partition: number | string; next_offset: number | string }>(sql.checkpoint, {})) {
          out.set(tpKey(r.topic, Number(r.partition)), Number(r.next_offset));
        }
        return out;
      });
    },
    videoAnalytics(videoId: string) {
      return guard('query', async () => {
        const params = { ...VIEW_RULE_PARAMS, video_id: videoId };
        const [totals] = await rows<{ views: number | string; unique_viewers: number | string; watch_time_seconds: number | string }>(sql.totals, params);
        const perMinute = await rows<{ minute_s: number | string; views: number | string }>(sql.perMinute, params);
        const result: VideoAnalytics = {
          views: Number(totals?.views ?? 0),
          unique_viewers: Number(totals?.unique_viewers ?? 0),
          watch_time_seconds: Number(totals?.watch_time_seconds ?? 0),
          views_per_minute: perMinute.map((m) => ({ minute: minuteIso(Number(m.minute_s) * 1000), views: Number(m.views) })),
        };
        return result;
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      session.close();
    },
  };
}

/**
 * Drops `database` (and its tables) from the chDB directory `path`; a missing one is fine.
 * @throws AnalyticsStoreError `ANALYTICS_BUSY` when another chDB directory is open in this process.
 */
export async function dropChdbDatabase(path: string, database: string): Promise<void> {
  checkDatabase(database);
  const session = openSession(path);
  try {
    await session.queryAsync(`DROP DATABASE IF EXISTS ${database} SYNC`);
  } finally {
    session.close();
  }
}

/** Databases of the chDB directory `path` whose name starts with `prefix`. */
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

/** Waits until chDB has no pending async work (before the process may open another directory). */
export const drainChdb = (): Promise<void> => drainPending();

export { ANALYTICS_DATABASE };

function openSession(path: string): Session {
  try {
    return new Session(path);
  } catch (e) {
    throw new AnalyticsStoreError('ANALYTICS_BUSY', `cannot open chDB at ${path}: ${(e as Error).message}`, e);
  }
}

/** Row as ClickHouse JSONEachRow input; DateTime64 as 'YYYY-MM-DD hh:mm:ss.sss' in UTC (the column's zone). */
function toJsonRow(r: HeartbeatRow): Record<string, string | number> {
  const finite = (n: number) => (Number.isFinite(n) ? n : 0);
  return {
    video_id: r.video_id,
    session_id: r.session_id,
    viewer_id: r.viewer_id,
    watched_seconds: finite(r.watched_seconds),
    video_duration_seconds: finite(r.video_duration_seconds),
    viewed_at: new Date(Number.isFinite(r.viewed_at) ? r.viewed_at : 0).toISOString().replace('T', ' ').replace('Z', ''),
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
  };
}
