import { mkdir } from 'node:fs/promises';
import { Session, drainPending } from 'chdb';
import pino from 'pino';
import type { OffsetMap } from '../../processors/log/event-log.port.ts';
import { tpKey } from '../../processors/log/event-log.port.ts';
import type { VideoAnalytics } from '../read-model.ports.ts';
import { minuteIso } from '../view-rule.ts';
import type { AnalyticsStore, HeartbeatRow } from './analytics-store.port.ts';
import { AnalyticsStoreError } from './analytics-store.port.ts';
import {
  CREATE_DATABASE, CREATE_HEARTBEATS_TABLE, HEARTBEATS_TABLE, SELECT_CHECKPOINT, SELECT_VIDEO_TOTALS, SELECT_VIEWS_PER_MINUTE, VIEW_RULE_PARAMS,
} from './analytics.sql.ts';

export interface ChdbAnalyticsStoreOptions {
  /** chDB data directory (created if missing), e.g. `<dataDir>/analytics`. */
  path: string;
  logger?: pino.Logger;
}

/**
 * AnalyticsStore on chDB (ClickHouse in-process). Uses chDB's async API (queryBindAsync, insert),
 * which runs on the libuv pool instead of blocking the event loop; inserts are one
 * `INSERT … FORMAT JSONEachRow` per batch.
 *
 * libchdb binds ONE data directory per process: open at most one store at a time; `close()`
 * waits (drainPending) until the directory is free for the next one.
 * @throws AnalyticsStoreError `ANALYTICS_BUSY` when another chDB session of a different path is open.
 */
export async function createChdbAnalyticsStore(opts: ChdbAnalyticsStoreOptions): Promise<AnalyticsStore> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  await mkdir(opts.path, { recursive: true });
  let session: Session;
  try {
    session = new Session(opts.path);
  } catch (e) {
    throw new AnalyticsStoreError('ANALYTICS_BUSY', `cannot open chDB at ${opts.path}: ${(e as Error).message}`, e);
  }
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
  const rows = async <T>(sql: string, params: Record<string, unknown>): Promise<T[]> => {
    const r = await session.queryBindAsync(sql, params, { format: 'JSONEachRow' });
    const text = r.text().trim();
    return text ? text.split('\n').map((l) => JSON.parse(l) as T) : [];
  };

  try {
    await session.queryAsync(CREATE_DATABASE);
    await session.queryAsync(CREATE_HEARTBEATS_TABLE);
  } catch (e) {
    session.close();
    await drainPending();
    throw new AnalyticsStoreError('ANALYTICS_IO', `cannot create analytics tables: ${(e as Error).message}`, e);
  }
  logger.debug({ path: opts.path }, 'chdb analytics store open');

  return {
    insertHeartbeats(batch: HeartbeatRow[]) {
      return guard('insert', async () => {
        if (!batch.length) return;
        const payload = batch.map((r) => JSON.stringify(toJsonRow(r))).join('\n') + '\n';
        await session.insert({ table: HEARTBEATS_TABLE, values: Buffer.from(payload, 'utf8'), format: 'JSONEachRow' });
      });
    },
    checkpoint() {
      return guard('checkpoint', async () => {
        const out: OffsetMap = new Map();
        for (const r of await rows<{ topic: string; partition: number | string; next_offset: number | string }>(SELECT_CHECKPOINT, {})) {
          out.set(tpKey(r.topic, Number(r.partition)), Number(r.next_offset));
        }
        return out;
      });
    },
    videoAnalytics(videoId: string) {
      return guard('query', async () => {
        const params = { ...VIEW_RULE_PARAMS, video_id: videoId };
        const [totals] = await rows<{ views: number | string; unique_viewers: number | string; watch_time_seconds: number | string }>(SELECT_VIDEO_TOTALS, params);
        const perMinute = await rows<{ minute_s: number | string; views: number | string }>(SELECT_VIEWS_PER_MINUTE, params);
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
      await drainPending();
    },
  };
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
