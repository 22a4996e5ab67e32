/**
 * Standalone mode: every role of StreamWave in one process on embedded adapters, data on disk
 * under STREAMWAVE_DATA_DIR — the embedded log, the built-in schema registry (served at /registry),
 * the command bus, the six read models, the transcoder, the object store with its S3-compatible
 * endpoint (/s3) and HLS delivery (/media), and the gateway. `main` only wires; every piece is the
 * same code cluster mode runs with other adapters behind the same ports.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { createRedactingLogger } from '../../platform/logging/log-redaction.ts';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { StreamWaveConfig } from '../config/config.ts';
import { gatewayConfigOf, mediaUrlSigningOf, objectStorePlugins, openEmbeddedObjectStore, readModelsOf, thumbnailEncoderOf, totalLag, viewCountsOf, WORK_DIR_NAME } from '../shared/wiring.ts';
import { shutdownInOrder } from '../shared/shutdown.ts';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { schemaRegistryRoutes } from '../../schemas/registry/schema-registry.routes.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createCommandBus } from '../../commands/command-handler.ts';
import { createUploadReaper } from '../../processors/upload-reaper/upload-reaper.ts';
import { createProjectionManager, type ProjectionManager } from '../../projections/replay/projection-manager.ts';
import type { ReadModelQueries } from '../../projections/read-model.port.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../shared/embedded-read-models.ts';
import { describeLog } from '../../platform/log/log-overview.ts';
import { adminRoutes } from '../../gateway/routes/admin/index.ts';
import { startTranscoderNodes } from '../shared/transcoder-wiring.ts';
import { buildMediaCollector } from '../../processors/media-collector/media-collector.processor.ts';
import { dataKeysOver, startUserErasure } from '../shared/data-keys.ts';
import { startLiveEvents } from '../shared/live-events-wiring.ts';
import { upgradePersonalData } from './personal-data-upgrade.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { runProcessor } from '../../processors/runtime/processor.runtime.ts';
import { buildGateway, type GatewayDeps } from '../../gateway/app.ts';
import { createInMemoryRateLimitStore } from '../../platform/rate-limit/in-memory/in-memory-rate-limit-store.adapter.ts';
import { countAdapterErrors } from '../../platform/metrics/adapter-errors.ts';
import { createRoleReadiness, registerLogReadiness, registerProjectionReadiness, registerTranscoderReadiness } from '../shared/readiness-wiring.ts';

export interface RunningStandalone {
  /** Base URL the gateway listens on. */
  url: string;
  /**
   * Graceful stop: HTTP first, then processors and projections, then the log.
   * @throws ShutdownTimeoutError past STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS (naming the component).
   */
  stop(): Promise<void>;
}

/**
 * Starts standalone mode and listens on `config.host:config.port`. `observe.onRoute` sees every
 * gateway route as it is registered (the fuzz suite enumerates routes with it).
 * @throws when the data dir is locked by another process (`LOG_LOCKED`) or the port is taken.
 */
export async function startStandalone(config: StreamWaveConfig, observe: Pick<GatewayDeps, 'onRoute'> = {}): Promise<RunningStandalone> {
  const logger = createRedactingLogger({ name: 'streamwave', level: config.logLevel });
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
  const dir = (name: string) => {
    const d = join(config.dataDir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };

  // Issue 13: plaintext personal fields of a data dir written before crypto-shredding are rewritten encrypted, once.
  await upgradePersonalData(config.dataDir, logger.child({ role: 'personal-data-upgrade' }));
  const log = await createEmbeddedEventLog({ dataDir: config.dataDir, logger: logger.child({ role: 'log' }) });
  // Issue 13: per-user data keys outside the log (docs/adr/0009); erasing a user deletes theirs.
  const dataKeys = await createEmbeddedDataKeyStore({ dir: dir('keys'), logger: logger.child({ role: 'data-keys' }) });
  const { personalData, viewerPseudonyms } = dataKeysOver(dataKeys);
  const registry = createSchemaRegistry({ log, logger: logger.child({ role: 'schema-registry' }) });
  await registry.start();
  const registryApi = createInProcessSchemaRegistryApi(registry);
  const codec = createAvroEventCodec({ registry: registryApi, personalData, logger: logger.child({ role: 'codec' }) });
  await codec.registerAll();

  const commandBus = createCommandBus({
    log, codec, logger: logger.child({ role: 'commands' }), userStorageQuotaBytes: config.userStorageQuotaBytes,
  });
  await commandBus.start();

  // The read models run behind the projection manager, which opens the current instance of each
  // (see deploy/shared/embedded-read-models.ts for the layout) and lets `streamwave replay` swap them.
  const projectionManager: ProjectionManager<ReadModelQueries> = createProjectionManager({
    log,
    codec,
    projections: embeddedReadModels({
      dataDir: config.dataDir, searchCursorSecret: config.cursorSecret, viewerPseudonyms, logger: logger.child({ role: 'projections' }),
      // sort=views: search reads video detail's counts (the manager's serving instance) in batches.
      viewCounts: viewCountsOf((): ProjectionManager<ReadModelQueries> => projectionManager),
    }),
    pointers: createFileCurrentInstanceStore(config.dataDir),
    logger: logger.child({ role: 'projection-manager' }),
    registry: metricsRegistry,
  });
  await projectionManager.start();
  const readModels = readModelsOf(projectionManager);

  const objectStore = countAdapterErrors(metricsRegistry, 'object-store', openEmbeddedObjectStore(config, dir('objects'), 'streamwave-standalone', logger.child({ role: 'object-store' })));

  // One scratch folder for every FFmpeg run (transcoder, chunk encoder, thumbnail encoder), swept by the reaper below.
  const workDir = dir(WORK_DIR_NAME);
  // The transcoder and the chunk encoder (docs/adr/0008); the node kept for its readiness()
  // (issue 8: /health/ready reports TRANSCODE_TIMED_OUT from it).
  const { node: transcoderNode, transcoder, chunkEncoder, captionWriter } = await startTranscoderNodes({
    config, log, codec, registryApi, commandBus, objectStore, workDir, topics: {},
    logger: logger.child({ role: 'transcoder' }), registry: metricsRegistry,
  });

  // Readiness (GET /health/ready, /health): disk floor, log partitions refusing writes, projections
  // failing in a loop, the transcoder's own report (issue 8).
  const readiness = createRoleReadiness(config, logger.child({ role: 'readiness' }));
  registerLogReadiness(readiness, log);
  registerProjectionReadiness(readiness, projectionManager, config.health.projectionFailingAfter);
  registerTranscoderReadiness(readiness, transcoderNode);
  // Issue 8: abandoned uploads and orphaned temp files (transcoder scratch, partial objects).
  const reaper = createUploadReaper({
    commandBus, pendingUploads: (before) => commandBus.pendingUploads(before), objectStore,
    tempDirs: [workDir, ...objectStore.scratchDirs], expirySeconds: config.uploadExpirySeconds,
    logger: logger.child({ role: 'upload-reaper' }),
  });
  reaper.start(config.uploadReaperIntervalSeconds);

  // Issue 8: removes a deleted video's objects and purges the CDN (the tombstone already hides them).
  const mediaCollector = await runProcessor(
    log,
    buildMediaCollector({ codec, objects: objectStore, cdnPurgeUrl: config.cdnPurgeUrl, logger: logger.child({ role: 'media-collector' }) }),
    { logger: logger.child({ role: 'runtime' }), registry: metricsRegistry },
  );
  // Issue 13: deletes an erased user's videos and shreds their data key.
  const stopUserErasure = await startUserErasure({
    log, codec, keys: dataKeys, commandBus, videoDetail: readModels.readModels['video-detail'], readYourWrites: readModels.readYourWrites,
    logger, registry: metricsRegistry,
  });

  // Issue 14: the gateway's live-events feed behind GET /videos/{id}/events (Server-Sent Events).
  const liveEvents = await startLiveEvents({ log, codec, logger, registry: metricsRegistry });

  const mediaUrls = mediaUrlSigningOf(config);
  const app = await buildGateway({
    config: gatewayConfigOf(config),
    mediaUrls,
    thumbnailEncoder: thumbnailEncoderOf(config, workDir),
    commandBus,
    readModels: readModels.readModels,
    readYourWrites: readModels.readYourWrites,
    liveEvents: liveEvents.live,
    objectStore,
    logger,
    metricsRegistry,
    rateLimitStore: countAdapterErrors(metricsRegistry, 'rate-limit-store', createInMemoryRateLimitStore()),
    readiness,
    health: async () => ({
      mode: 'standalone',
      lag: { ...(await readModels.lag()), transcoder: await totalLag(transcoder) },
    }),
    ...observe,
    plugins: [
      { plugin: schemaRegistryRoutes, prefix: '/registry', options: { registry, auth: config.schemaRegistryAuth } },
      ...objectStorePlugins(objectStore, { videoDetail: readModels.readModels['video-detail'], signing: mediaUrls }),
      // Admin API (bearer admin token): replays and the topics overview.
      { plugin: adminRoutes, prefix: '/admin', options: { token: config.adminToken, replays: projectionManager, topics: () => describeLog(log), reaper } },
    ],
  });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info({ address, dataDir: config.dataDir, publicUrl: config.publicUrl }, 'StreamWave standalone is up');

  let stopping: Promise<void> | undefined;
  return {
    url: address,
    stop() {
      // Bounded by STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS (deploy/shared/shutdown.ts): rejects naming the component that hung.
      stopping ??= (async () => {
        await shutdownInOrder(
          [
            { name: 'http', close: () => app.close() },
            { name: 'upload-reaper', close: () => reaper.stop() },
            { name: 'transcoder', close: () => transcoder.stop() },
            { name: 'chunk-encoder', close: () => chunkEncoder.stop() },
            { name: 'caption-writer', close: () => captionWriter.stop() },
            { name: 'media-collector', close: () => mediaCollector.stop() },
            { name: 'user-erasure', close: stopUserErasure },
            { name: 'live-events', close: () => liveEvents.stop() },
            { name: 'projections', close: () => projectionManager.close() },
            { name: 'log', close: () => log.close() },
            { name: 'data-keys', close: () => dataKeys.close() },
          ],
          { timeoutSeconds: config.shutdownTimeoutSeconds, logger },
        );
        logger.info('StreamWave standalone stopped');
      })();
      return stopping;
    },
  };
}
