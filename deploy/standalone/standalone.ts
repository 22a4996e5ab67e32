/**
 * Standalone mode: every role of StreamWave in one process on embedded adapters, data on disk
 * under STREAMWAVE_DATA_DIR — the embedded log, the built-in schema registry (served at /registry),
 * the command bus, the six read models, the transcoder, the object store with its S3-compatible
 * endpoint (/s3) and HLS delivery (/media), and the gateway. `main` only wires; every piece is the
 * same code cluster mode runs with other adapters behind the same ports.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { StreamWaveConfig } from '../config/config.ts';
import { derivedSecret, gatewayConfigOf, objectStorePlugins, openEmbeddedObjectStore, readModelsOf, totalLag } from '../shared/wiring.ts';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { schemaRegistryRoutes } from '../../schemas/registry/schema-registry.routes.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createCommandBus } from '../../commands/command-handler.ts';
import { createProjectionManager } from '../../projections/replay/projection-manager.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../shared/embedded-read-models.ts';
import { describeLog } from '../../platform/log/log-overview.ts';
import { adminRoutes } from '../../gateway/routes/admin/index.ts';
import { buildTranscoderProcessor } from '../../processors/transcoder/transcoder.processor.ts';
import { runProcessor } from '../../processors/runtime/processor.runtime.ts';
import { buildGateway, type GatewayDeps } from '../../gateway/app.ts';

export interface RunningStandalone {
  /** Base URL the gateway listens on. */
  url: string;
  /** Graceful stop: HTTP first, then processors and projections, then the log. */
  stop(): Promise<void>;
}

/**
 * Starts standalone mode and listens on `config.host:config.port`. `observe.onRoute` sees every
 * gateway route as it is registered (the fuzz suite enumerates routes with it).
 * @throws when the data dir is locked by another process (`LOG_LOCKED`) or the port is taken.
 */
export async function startStandalone(config: StreamWaveConfig, observe: Pick<GatewayDeps, 'onRoute'> = {}): Promise<RunningStandalone> {
  const logger = pino({ name: 'streamwave', level: config.logLevel });
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
  const dir = (name: string) => {
    const d = join(config.dataDir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };

  const log = await createEmbeddedEventLog({ dataDir: config.dataDir, logger: logger.child({ role: 'log' }) });
  const registry = createSchemaRegistry({ log, logger: logger.child({ role: 'schema-registry' }) });
  await registry.start();
  const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), logger: logger.child({ role: 'codec' }) });
  await codec.registerAll();

  const commandBus = createCommandBus({ log, codec, logger: logger.child({ role: 'commands' }) });
  await commandBus.start();

  // The read models run behind the projection manager, which opens the current instance of each
  // (see deploy/shared/embedded-read-models.ts for the layout) and lets `streamwave replay` swap them.
  const projectionManager = createProjectionManager({
    log,
    codec,
    projections: embeddedReadModels({ dataDir: config.dataDir, searchCursorSecret: derivedSecret(config, 'search-cursor'), logger: logger.child({ role: 'projections' }) }),
    pointers: createFileCurrentInstanceStore(config.dataDir),
    logger: logger.child({ role: 'projection-manager' }),
  });
  await projectionManager.start();
  const readModels = readModelsOf(projectionManager);

  const objectStore = openEmbeddedObjectStore(config, dir('objects'), 'streamwave-standalone', logger.child({ role: 'object-store' }));

  const transcoder = await runProcessor(
    log,
    {
      ...buildTranscoderProcessor({ commandBus, codec, objectStore, workDir: dir('work'), logger: logger.child({ role: 'transcoder' }) }),
      concurrency: config.transcodeConcurrency,
    },
    { logger: logger.child({ role: 'runtime' }), registry: metricsRegistry },
  );

  const app = await buildGateway({
    config: gatewayConfigOf(config),
    commandBus,
    readModels: readModels.readModels,
    readYourWrites: readModels.readYourWrites,
    objectStore,
    logger,
    metricsRegistry,
    health: async () => ({
      mode: 'standalone',
      lag: { ...(await readModels.lag()), transcoder: await totalLag(transcoder) },
    }),
    ...observe,
    plugins: [
      { plugin: schemaRegistryRoutes, prefix: '/registry', options: { registry } },
      ...objectStorePlugins(objectStore),
      // Admin API (bearer admin token): replays and the topics overview.
      { plugin: adminRoutes, prefix: '/admin', options: { token: config.adminToken, replays: projectionManager, topics: () => describeLog(log) } },
    ],
  });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info({ address, dataDir: config.dataDir, publicUrl: config.publicUrl }, 'StreamWave standalone is up');

  let stopping: Promise<void> | undefined;
  return {
    url: address,
    stop() {
      stopping ??= (async () => {
        await app.close();
        await transcoder.stop();
        await projectionManager.close();
        await log.close();
        logger.info('StreamWave standalone stopped');
      })();
      return stopping;
    },
  };
}
