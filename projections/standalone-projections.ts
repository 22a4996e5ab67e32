import { join } from 'node:path';
import pino from 'pino';
import type { EventCodec } from '../schemas/event-codec.port.ts';
import type { AnalyticsQueries, SearchQueries, VideoQueries } from './read-model.port.ts';
import type { Projection } from './projection.port.ts';
import { createEmbeddedKeyValueStore } from './stores/embedded-key-value-store.adapter.ts';
import { createVideoDetailProjection } from './video-detail/video-detail.projection.ts';
import { createChdbAnalyticsStore } from './analytics/chdb-analytics-store.adapter.ts';
import { createVideoAnalyticsProjection } from './analytics/video-analytics.projection.ts';
import { createFileSnapshotStore } from './search/search-snapshot-store.ts';
import { createVideoSearchProjection } from './search/video-search.projection.ts';

export interface StandaloneProjections {
  videoDetail: Projection<VideoQueries>;
  analytics: Projection<AnalyticsQueries>;
  search: Projection<SearchQueries>;
  /** Closes all three (stops running consumers first). */
  close(): Promise<void>;
}

/**
 * Opens the three read models with their embedded stores under `dataDir`:
 * `<dataDir>/projections/video-detail` (journal + snapshot), `<dataDir>/projections/analytics`
 * (chDB data directory; one per process), `<dataDir>/projections/search/video-search.json`.
 * Start each with `projection.start(log)`.
 */
export async function openStandaloneProjections(opts: {
  dataDir: string;
  codec: EventCodec;
  /** HMAC key for search cursors. */
  searchCursorSecret: string | Buffer;
  logger?: pino.Logger;
}): Promise<StandaloneProjections> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const base = join(opts.dataDir, 'projections');
  const kv = await createEmbeddedKeyValueStore({ dir: join(base, 'video-detail'), logger: logger.child({ store: 'video-detail' }) });
  const chdb = await createChdbAnalyticsStore({ path: join(base, 'analytics'), logger: logger.child({ store: 'analytics' }) }).catch(async (e) => {
    await kv.close();
    throw e;
  });
  const videoDetail = createVideoDetailProjection({ store: kv, codec: opts.codec, logger: logger.child({ projection: 'video-detail' }) });
  const analytics = createVideoAnalyticsProjection({ store: chdb, codec: opts.codec, logger: logger.child({ projection: 'video-analytics' }) });
  const search = createVideoSearchProjection({
    snapshots: createFileSnapshotStore({ path: join(base, 'search', 'video-search.json') }),
    codec: opts.codec, cursorSecret: opts.searchCursorSecret, logger: logger.child({ projection: 'video-search' }),
  });
  return {
    videoDetail, analytics, search,
    async close() {
      await Promise.allSettled([videoDetail.close(), search.close()]);
      await analytics.close();
    },
  };
}
