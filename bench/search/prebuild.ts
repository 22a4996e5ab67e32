/**
 * Builds the search read model of a prefilled standalone data dir (bench/search/prefill.ts) before
 * the server starts: the real search projection (projections/search/search.projection.ts) run by
 * the real projection runtime over the data dir's embedded log, decoding with the production Avro
 * codec and schema registry, persisted by the real file snapshot store at the path standalone
 * mode opens for the primary instance (`<dataDir>/projections/search/video-search.json`). The
 * server then loads that snapshot (index + checkpoint at the end of the log), as after a restart.
 *
 * The one setting that differs from the server's: the snapshot is written once at the end instead
 * of at most once a second. Each snapshot serialises the whole index on the event loop, so at
 * 100 000 videos a from-scratch catch-up in the server slows down as the index grows (measured
 * ~400 records/s after ~30 000 videos); the index itself is the same (same code, same events).
 */
import { join } from 'node:path';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import { createSearchProjection } from '../../projections/search/search.projection.ts';
import { createFileSnapshotStore } from '../../projections/search/search-snapshot-store.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';

/** Where standalone mode keeps the primary search instance (deploy/shared/embedded-read-models.ts). */
export const searchSnapshotPath = (dataDir: string): string => join(dataDir, 'projections', 'search', 'video-search.json');

/** Snapshot interval while building, ms: one day, i.e. only the snapshot written when the build stops. */
const BUILD_FLUSH_INTERVAL_MS = 24 * 3600 * 1000;

/**
 * Runs the search projection over `<dataDir>`'s log until it has caught up, then writes its
 * snapshot. `onProgress(recordsBehind)` every 5 s. Returns the build time (log opened → caught
 * up, ms) and the time to write the snapshot (ms).
 */
export async function prebuildSearchReadModel(opts: { dataDir: string; onProgress?: (recordsBehind: number) => void }): Promise<{ buildMs: number; snapshotMs: number }> {
  const t0 = performance.now();
  const log = await createEmbeddedEventLog({ dataDir: opts.dataDir, fsync: false });
  try {
    const registry = createSchemaRegistry({ log });
    await registry.start();
    const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry) });
    const node = createSearchProjection({
      snapshots: createFileSnapshotStore({ path: searchSnapshotPath(opts.dataDir) }),
      // Only signs query cursors; the server uses its own (STREAMWAVE_CURSOR_SECRET / <dataDir>/cursor.key).
      cursorSecret: 'search-bench-build-only-not-for-queries',
      flushIntervalMs: BUILD_FLUSH_INTERVAL_MS,
    });
    const handle = await runProjection(node, { log, codec });
    const timer = setInterval(() => {
      void handle.lag().then((lag) => opts.onProgress?.([...lag.values()].reduce((a, b) => a + b, 0)));
    }, 5000);
    try {
      await handle.caughtUp();
    } finally {
      clearInterval(timer);
    }
    const buildMs = performance.now() - t0;
    const t1 = performance.now();
    await handle.stop(); // waits for the batch in flight, then flushes the snapshot
    await node.close();
    await registry.stop();
    return { buildMs, snapshotMs: performance.now() - t1 };
  } finally {
    await log.close();
  }
}
