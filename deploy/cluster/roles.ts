/**
 * Cluster mode: each StreamWave role as its own process on Apache Kafka (`STREAMWAVE_KAFKA_BROKERS`),
 * started by `streamwave run <role>`. The roles run the same topology nodes as standalone mode
 * (each node states its guarantee; see processors/runtime/topology.port.ts):
 *
 * - `registry`: the Confluent-compatible schema registry REST API over the compacted topic
 *   `_schemas`. Single writer: run ONE instance (like Confluent's elected leader); every other role
 *   reaches it by URL (`STREAMWAVE_SCHEMA_REGISTRY_URL`).
 * - `projector`: the read models (projections/read-models.ts) behind the projection manager,
 *   consumer groups `streamwave.projection.<name>`, effectively-once. The role the data team
 *   scales and replays.
 * - `transcoder`: the transcoder processor, group `streamwave.transcoder`, at-least-once with
 *   idempotent outputs (its commands go to the commands topic); its dead-letter record and the source offset are one Kafka transaction.
 *   The media collector (group `streamwave.media-collector`, issue 8) runs beside it.
 * - `commands`: the command processor (ADR 0006; group `streamwave.command-processor` on
 *   `streamwave.commands`): the owner of a commands partition is the single writer of its
 *   aggregates and decides each command in one Kafka transaction with its events and outcome.
 *   Also the upload reaper. Scale it out: the group spreads the partitions (write-side.ts).
 * - `gateway`: the HTTP API; commands go to the commands topic and outcomes come back on the
 *   replies topic (heartbeats are decided here against a follower of the videos topic and
 *   appended directly). With the servers configured it reads the read models the projector
 *   writes; without, it keeps its own copy in consumer groups of its own
 *   (`streamwave.gateway.<instance>.projection.<name>`, one per replica so replicas never split
 *   partitions).
 * - `all`: every role in one process (the registry at `/registry` of the gateway) — for trying
 *   cluster mode on one machine.
 *
 * Read models live on Redis, ClickHouse and Typesense and objects on S3 when those are configured
 * (issue 9); otherwise on the embedded adapters under the role's data dir, and the `transcoder`,
 * `commands` and `gateway` roles then share `<STREAMWAVE_DATA_DIR>/objects` (one host or a shared volume).
 *
 * Every role logs with pino, serves `GET /health/live`, `GET /health/ready` (alias `GET /health`:
 * lag per consumer, 503 with reasons when not ready; deploy/shared/readiness-wiring.ts) and `GET /metrics`
 * (Prometheus) — the gateway through its own routes, the others on a small Fastify server on
 * `STREAMWAVE_PORT` — and stops gracefully on SIGTERM (`RunningRole.stop`). The roles hosting read
 * models serve the admin API (`/admin/replays`, `/admin/topics`; bearer STREAMWAVE_ADMIN_TOKEN or
 * `<STREAMWAVE_DATA_DIR>/admin.token`), so `streamwave replay <read model> --server <role URL>`
 * rebuilds that role's own copy into a shadow and swaps it in.
 */
import { systemRoutes } from '../../gateway/routes/system/index.ts';
import type { Readiness } from '../../platform/health/readiness.port.ts';
import { createRoleReadiness, registerLogReadiness, registerProjectionReadiness, registerTranscoderReadiness } from '../shared/readiness-wiring.ts';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import type { pino } from 'pino';
import { createRedactingLogger } from '../../platform/logging/log-redaction.ts';
import pRetry from 'p-retry';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { StreamWaveConfig } from '../config/config.ts';
import type { ViewCountSource } from '../../projections/search/search.port.ts';
import { gatewayConfigOf, mediaPlugins, mediaUrlSigningOf, objectStorePlugins, openEmbeddedObjectStore, openS3ObjectStore, readModelsOf, thumbnailEncoderOf, totalLag, viewCountsOf, WORK_DIR_NAME } from '../shared/wiring.ts';
import type { ObjectDeletion, ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { countAdapterErrors } from '../../platform/metrics/adapter-errors.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../shared/embedded-read-models.ts';
import { applyServerTimeouts } from '../shared/server-timeouts.ts';
import { ensureEventTopics } from '../../schemas/topics.ts';
import { createKafkaEventLog, type KafkaEventLog, type KafkaEventLogOptions } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { buildSchemaRegistryServer, schemaRegistryRoutes } from '../../schemas/registry/schema-registry.routes.ts';
import { createConfluentSchemaRegistryApi, createInProcessSchemaRegistryApi, type SchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec, type AvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import { createProjectionManager, type ProjectionManager } from '../../projections/replay/projection-manager.ts';
import type { ReadModelQueries } from '../../projections/read-model.port.ts';
import { describeLog } from '../../platform/log/log-overview.ts';
import { adminRoutes } from '../../gateway/routes/admin/index.ts';
import type { UploadReaper } from '../../processors/upload-reaper/upload-reaper.ts';
import { openWriteSide } from './write-side.ts';
import type { EmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { startTranscoderNodes } from '../shared/transcoder-wiring.ts';
import { buildMediaCollector } from '../../processors/media-collector/media-collector.processor.ts';
import { runProcessor, type ProcessorHandle } from '../../processors/runtime/processor.runtime.ts';
import { buildGateway } from '../../gateway/app.ts';
import { startLiveEvents } from '../shared/live-events-wiring.ts';
import { createInMemoryRateLimitStore } from '../../platform/rate-limit/in-memory/in-memory-rate-limit-store.adapter.ts';
import { createRedisRateLimitStore } from '../../platform/rate-limit/redis/redis-rate-limit-store.adapter.ts';
import { createRedisClient, redisReady } from '../../platform/redis/redis-client.ts';
import type { Redis } from 'ioredis';
import { createRedisCurrentInstanceStore } from '../../projections/replay/redis-current-instance-store.adapter.ts';
import { redisReadModels } from './server-read-models.ts';
import { openDataKeys, startUserErasure } from '../shared/data-keys.ts';
import type { PersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import { CLUSTER_ROLES, isClusterRole, kafkaConnectionOf, missingReadModelServers, replaysElsewhere, secretsFromDataDirOf, type ClusterRole } from './role-support.ts';
import { openReadModelReader } from './read-model-reader.ts';

export { CLUSTER_ROLES, isClusterRole, ROLE_SECRETS, secretsFromDataDirOf, type ClusterRole } from './role-support.ts';

/** Raised when a role cannot start for a configuration reason. Stable codes. */
export class ClusterRoleError extends Error {
  constructor(readonly code: 'NO_BROKERS' | 'NO_SCHEMA_REGISTRY_URL' | 'UNKNOWN_ROLE' | 'SECRETS_NOT_CONFIGURED' | 'SERVERS_INCOMPLETE', message: string) {
    super(message);
    this.name = 'ClusterRoleError';
  }
}

export interface RunningRole {
  role: ClusterRole;
  /** Base URL of the role's HTTP server (`/health`, `/metrics`; the gateway's API; the registry's REST API). */
  url: string;
  /** Graceful stop: HTTP first, then consumers (in-flight batch finished or left uncommitted), stores, the log. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRoleOptions {
  logger?: pino.Logger;
  /** Extra Kafka adapter options (tests: `maxWaitTimeMs`, `rebalanceTimeoutMs`, …). */
  kafka?: Partial<KafkaEventLogOptions>;
}

/** The consumer-group heartbeat interval for a session timeout: a third, as the Java client recommends. */
const heartbeatFor = (sessionMs: number) => Math.max(300, Math.floor(sessionMs / 3));

/**
 * Starts one role (see the file comment) and listens on `config.host:config.port`.
 * @throws ClusterRoleError `NO_BROKERS` (STREAMWAVE_KAFKA_BROKERS unset), `NO_SCHEMA_REGISTRY_URL`
 *   (a role other than `registry`/`all` without STREAMWAVE_SCHEMA_REGISTRY_URL); the kafkajs
 *   connection error when no broker answers; EventLogError `TOPIC_CONFLICT` when a StreamWave topic
 *   exists with another partition count than STREAMWAVE_TOPIC_PARTITIONS.
 */
export async function startRole(role: ClusterRole, config: StreamWaveConfig, opts: StartRoleOptions = {}): Promise<RunningRole> {
  if (!isClusterRole(role)) throw new ClusterRoleError('UNKNOWN_ROLE', `unknown role ${String(role)}; one of ${CLUSTER_ROLES.join(', ')}`);
  if (config.kafkaBrokers.length === 0) throw new ClusterRoleError('NO_BROKERS', 'cluster mode needs STREAMWAVE_KAFKA_BROKERS (comma list of host:port)');
  if (role !== 'registry' && role !== 'all' && !config.schemaRegistryUrl) {
    throw new ClusterRoleError('NO_SCHEMA_REGISTRY_URL', `role ${role} needs STREAMWAVE_SCHEMA_REGISTRY_URL (the registry role's URL)`);
  }
  const missingServers = missingReadModelServers(role, config);
  if (missingServers.length > 0) {
    throw new ClusterRoleError('SERVERS_INCOMPLETE', `role ${role}: the read models live on Redis, ClickHouse and Typesense together or on none of them (a gateway reads what the projector writes); also set ${missingServers.join(', ')}`);
  }
  const fromDisk = secretsFromDataDirOf(role, config);
  if (fromDisk.length > 0) {
    throw new ClusterRoleError('SECRETS_NOT_CONFIGURED', `role ${role} shares no disk with the other roles, so its secrets come from configuration: set ${fromDisk.join(', ')} (the same values on every role; \`openssl rand -base64 48\` makes one)`);
  }
  const logger = (opts.logger ?? createRedactingLogger({ name: 'streamwave', level: config.logLevel })).child({ role });
  const metricsRegistry = new Registry();
  metricsRegistry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: metricsRegistry });
  const dir = (...parts: string[]) => {
    const d = join(config.dataDir, ...parts);
    mkdirSync(d, { recursive: true });
    return d;
  };

  // Everything started so far, stopped in reverse order on failure or stop().
  const cleanup: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const f of cleanup.splice(0).reverse()) {
      await f().catch((err: unknown) => logger.warn({ err }, 'error while stopping'));
    }
  };

  try {
    const log: KafkaEventLog = await createKafkaEventLog({
      ...kafkaConnectionOf(config),
      clientId: `streamwave-${role}`,
      defaultPartitions: config.topicPartitions,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      heartbeatIntervalMs: heartbeatFor(config.kafkaSessionTimeoutMs),
      logger: logger.child({ component: 'kafka' }),
      ...opts.kafka,
    });
    cleanup.push(() => log.close());

    // --- Redis (issue 9): key-value read models, their current-instance pointers, shared rate limits.
    let redis: Redis | undefined;
    if (config.servers.redisUrl && role !== 'registry') {
      const r = createRedisClient(config.servers.redisUrl, { connectionName: `streamwave-${role}`, logger: logger.child({ component: 'redis' }) });
      cleanup.push(() => r.quit().then(() => undefined, () => r.disconnect()));
      await redisReady(r, 30_000);
      redis = r;
    }
    // The gateway serves the read models the projector writes on the servers, consuming nothing itself.
    const gatewayReadsServers = role === 'gateway' && redis !== undefined;

    // --- schema registry: served by `registry`/`all`, reached by URL by the others.
    let registryApi: SchemaRegistryApi | undefined;
    let registryCore: ReturnType<typeof createSchemaRegistry> | undefined;
    if (role === 'registry' || role === 'all') {
      registryCore = createSchemaRegistry({ log, logger: logger.child({ component: 'schema-registry' }) });
      await registryCore.start();
      cleanup.push(() => registryCore!.stop());
      registryApi = createInProcessSchemaRegistryApi(registryCore);
    }
    if (role === 'registry') {
      const app = buildSchemaRegistryServer({ registry: registryCore!, auth: config.schemaRegistryAuth, logger: logger.child({ component: 'http' }) });
      await addOpsRoutes(app, metricsRegistry, async () => ({ mode: 'cluster', role }), createRoleReadiness(config, logger.child({ component: 'readiness' })));
      applyServerTimeouts(app.server, config);
      const url = await app.listen({ port: config.port, host: config.host });
      cleanup.push(() => app.close());
      logger.info({ url, brokers: config.kafkaBrokers }, 'schema registry role is up');
      return running(role, url, stopAll);
    }
    registryApi ??= createConfluentSchemaRegistryApi({ host: config.schemaRegistryUrl!, auth: config.schemaRegistryAuth });
    const dataKeys = await openDataKeys({ redis, dataDir: config.dataDir, logger });
    cleanup.push(() => dataKeys.keys.close());
    const codec = await openCodec(registryApi, logger, dataKeys.personalData);

    // Topics exist before any consumer subscribes (the broker does not auto-create them).
    await ensureEventTopics(log, { partitions: config.topicPartitions, replicationFactor: config.kafkaReplicationFactor });

    // Readiness (GET /health/ready, /health; issue 8): disk floor in every role, plus the checks below.
    const readiness = createRoleReadiness(config, logger.child({ component: 'readiness' }));
    registerLogReadiness(readiness, log);
    const lags: Record<string, () => Promise<number | Record<string, number>>> = {};
    const health = async () => {
      let lag: Record<string, number> = {};
      for (const [name, f] of Object.entries(lags)) {
        const v = await f();
        lag = typeof v === 'number' ? { ...lag, [name]: v } : { ...lag, ...v };
      }
      return { mode: 'cluster', role, lag };
    };

    // --- projections: the projector's (shared group) or the gateway's own (group per replica),
    // behind the projection manager so `streamwave replay` can rebuild them into a shadow and swap
    // (same as standalone; instances and `current.json` pointers under the role's projection dir).
    let projectionManager: ProjectionManager<ReadModelQueries> | undefined;
    let readModels: ReturnType<typeof readModelsOf> | undefined;
    let reader: Awaited<ReturnType<typeof openReadModelReader>> | undefined;
    // Issue 9: with the servers configured, the read models live on Redis, ClickHouse and Typesense
    // and their current-instance pointers in Redis; otherwise on the embedded adapters under `projectionDir`.
    // sort=views: a projecting role's search reads video detail's counts from the serving instance,
    // in batches; a gateway that only reads the servers runs no projection and feeds nothing.
    const storesOf = (projectionDir: string, viewCounts?: ViewCountSource) => {
      const embedded = embeddedReadModels({ dataDir: projectionDir, searchCursorSecret: config.cursorSecret, viewerPseudonyms: dataKeys.viewerPseudonyms, viewCounts, logger: logger.child({ component: 'projections' }) });
      if (!redis) return { projections: embedded, pointers: createFileCurrentInstanceStore(projectionDir) };
      const { models: projections, pointersOver } = redisReadModels({ redis, countErrors: (adapter, port) => countAdapterErrors(metricsRegistry, adapter, port), fallback: embedded, clickhouse: config.servers.clickhouse, typesense: config.servers.typesense, searchCursorSecret: config.cursorSecret, viewerPseudonyms: dataKeys.viewerPseudonyms, viewCounts, logger: logger.child({ component: 'projections' }) });
      return { projections, pointers: pointersOver(createRedisCurrentInstanceStore(redis)) };
    };
    if (gatewayReadsServers) {
      const r = await openReadModelReader({
        ...storesOf(dir('gateway')),
        logger: logger.child({ component: 'read-models' }),
      });
      cleanup.push(() => r.close());
      reader = r;
    } else if (role === 'projector' || role === 'gateway' || role === 'all') {
      const own = role === 'gateway';
      const projectionDir = dir(own ? 'gateway' : 'projector');
      const instance = `${hostname()}-${config.port}`.replace(/[^a-zA-Z0-9._-]/g, '_');
      const stores = storesOf(projectionDir, viewCountsOf(() => projectionManager));
      const m = createProjectionManager<ReadModelQueries>({
        log,
        codec,
        projections: stores.projections,
        // The gateway's read models consume in groups of their own, one per replica (see the file
        // comment); a replay shadow then gets `<that group>.replay-<ts>`.
        ...(own && { groupIdOf: (name: string) => `streamwave.gateway.${instance}.projection.${name}` }),
        pointers: stores.pointers,
        // Gateways reading the servers poll the pointer every 5 s: keep a swapped-out store 15 s.
        ...(redis && { retireGraceMs: 15_000 }),
        logger: logger.child({ component: 'projection-manager' }),
        registry: metricsRegistry,
      });
      await m.start();
      registerProjectionReadiness(readiness, m, config.health.projectionFailingAfter);
      projectionManager = m;
      cleanup.push(() => m.close());
      const r = readModelsOf(m);
      readModels = r;
      lags.readModels = r.lag;
    }
    const admin = () => ({
      plugin: adminRoutes,
      prefix: '/admin',
      options: { token: config.adminToken, replays: projectionManager ?? replaysElsewhere, topics: () => describeLog(log), reaper },
    });

    // --- object store + write side (ADR 0006: commands are decided by the `commands` role only).
    // Issue 9: objects on the S3 server when STREAMWAVE_S3_ENDPOINT is set (roles then share no disk);
    // else the embedded store under the role's data dir (transcoder and gateway must share it).
    let objectStore: (ObjectStore & ObjectDeletion) | undefined;
    let embeddedObjects: EmbeddedObjectStore | undefined;
    let commandBus: CommandBus | undefined;
    let reaper: UploadReaper | undefined;
    if (role === 'transcoder' || role === 'gateway' || role === 'commands' || role === 'all') {
      if (!config.servers.s3) embeddedObjects = openEmbeddedObjectStore(config, dir('objects'), 'streamwave-cluster', logger.child({ component: 'object-store' }));
      const objects = countAdapterErrors(metricsRegistry, 'object-store', embeddedObjects ?? await openS3ObjectStore(config, logger.child({ component: 'object-store' })));
      objectStore = objects;
      const writeSide = await openWriteSide({
        role, config, log, codec, personalData: dataKeys.personalData, registryApi, objectStore: objects, tempDirs: [dir(WORK_DIR_NAME), ...(embeddedObjects?.scratchDirs ?? [])],
        logger, cleanup, lags, metricsRegistry,
      });
      commandBus = writeSide.commandBus;
      reaper = writeSide.reaper;
    }

    let transcoder: ProcessorHandle | undefined;
    if (role === 'transcoder' || role === 'all') {
      // The transcoder and the chunk encoder (docs/adr/0008); the node kept for its readiness()
      // (issue 8: /health/ready reports TRANSCODE_TIMED_OUT from it).
      const nodes = await startTranscoderNodes({
        config, log, codec, registryApi, commandBus: commandBus!, objectStore: objectStore!, workDir: dir(WORK_DIR_NAME),
        topics: { partitions: config.topicPartitions, replicationFactor: config.kafkaReplicationFactor },
        logger, registry: metricsRegistry,
      });
      registerTranscoderReadiness(readiness, nodes.node);
      transcoder = nodes.transcoder;
      const t = transcoder;
      cleanup.push(() => t.stop(), () => nodes.chunkEncoder.stop(), () => nodes.captionWriter.stop());
      lags.transcoder = () => totalLag(t);
      // Issue 8: the media collector runs with the transcoder (same object store), group streamwave.media-collector.
      const collector = await runProcessor(
        log,
        buildMediaCollector({ codec, objects: objectStore!, cdnPurgeUrl: config.cdnPurgeUrl, logger: logger.child({ component: 'media-collector' }) }),
        { logger: logger.child({ component: 'runtime' }), registry: metricsRegistry },
      );
      cleanup.push(() => collector.stop());
    }

    if (role === 'projector' || role === 'transcoder' || role === 'commands') {
      const app = Fastify({ loggerInstance: logger.child({ component: 'http' }) }) as unknown as FastifyInstance;
      await addOpsRoutes(app, metricsRegistry, health, readiness);
      applyServerTimeouts(app.server, config);
      if (projectionManager) {
        const a = admin();
        await app.register(a.plugin, { prefix: a.prefix, ...a.options });
      }
      const url = await app.listen({ port: config.port, host: config.host });
      // HTTP closes first on stop (pushed last, popped first).
      cleanup.push(() => app.close());
      logger.info({ url, brokers: config.kafkaBrokers }, `${role} role is up`);
      return running(role, url, stopAll);
    }

    // --- gateway / all
    const mediaUrls = mediaUrlSigningOf(config);
    const queries = reader?.readModels ?? readModels!.readModels;
    const media = { videoDetail: queries['video-detail'], signing: mediaUrls };
    // Issue 13: deletes an erased user's videos and shreds their data key.
    cleanup.push(await startUserErasure({ log, codec, keys: dataKeys.keys, commandBus: commandBus!, videoDetail: queries['video-detail'], readYourWrites: reader?.readYourWrites ?? readModels!.readYourWrites, logger, registry: metricsRegistry }));
    // Issue 14: this gateway's live-events feed (its own consumer group) behind GET /videos/{id}/events.
    const liveEvents = await startLiveEvents({ log, codec, logger, registry: metricsRegistry });
    cleanup.push(() => liveEvents.stop());
    const app = await buildGateway({
      config: gatewayConfigOf(config),
      liveEvents: liveEvents.live,
      mediaUrls, thumbnailEncoder: thumbnailEncoderOf(config, dir(WORK_DIR_NAME)), // the folder the write side's reaper sweeps
      commandBus: commandBus!,
      readModels: queries,
      readYourWrites: reader?.readYourWrites ?? readModels!.readYourWrites,
      objectStore: objectStore!,
      logger,
      metricsRegistry,
      // Shared by every gateway through Redis (issue 9); per process without it.
      rateLimitStore: countAdapterErrors(metricsRegistry, 'rate-limit-store', redis ? createRedisRateLimitStore({ client: redis }) : createInMemoryRateLimitStore()),
      health,
      readiness,
      plugins: [
        ...(registryCore ? [{ plugin: schemaRegistryRoutes, prefix: '/registry', options: { registry: registryCore, auth: config.schemaRegistryAuth } }] : []),
        ...(embeddedObjects ? objectStorePlugins(embeddedObjects, media) : mediaPlugins(objectStore!, media)),
        admin(),
      ],
    });
    const url = await app.listen({ port: config.port, host: config.host });
    cleanup.push(() => app.close());
    logger.info({ url, brokers: config.kafkaBrokers }, `${role} role is up`);
    return running(role, url, stopAll);
  } catch (e) {
    await stopAll();
    throw e;
  }
}

function running(role: ClusterRole, url: string, stopAll: () => Promise<void>): RunningRole {
  let stopping: Promise<void> | undefined;
  return { role, url, stop: () => (stopping ??= stopAll()) };
}

/**
 * The ops routes of a role's own HTTP server: `GET /health/live`, `GET /health/ready` and its alias
 * `GET /health` (200 `{status:'ok', …}`, 503 `{status:'unavailable', reasons}`), `GET /metrics` —
 * the gateway's system routes, so every role answers the same.
 */
async function addOpsRoutes(app: FastifyInstance, metrics: Registry, probe: () => Promise<Record<string, unknown>>, readiness: Readiness): Promise<void> {
  await app.register(systemRoutes, { health: probe, readiness, registry: metrics });
}

/**
 * Codec over the registry; registers every event schema first (so an incompatible local schema
 * stops the role at start instead of at its first write). The registry role may still be starting:
 * retried with backoff for about a minute.
 */
async function openCodec(api: SchemaRegistryApi, logger: pino.Logger, personalData: PersonalDataCipher): Promise<AvroEventCodec> {
  const codec = createAvroEventCodec({ registry: api, personalData, logger: logger.child({ component: 'codec' }) });
  await pRetry(() => codec.registerAll(), {
    retries: 8,
    minTimeout: 250,
    maxTimeout: 10_000,
    // 409 (incompatible) / 422 (invalid) will not heal by waiting.
    shouldRetry: ({ error }) => !/\b(409|422|40901|42201)\b/.test(String((error as Error).message) + String((error as { status?: number }).status ?? '')),
    onFailedAttempt: ({ error, attemptNumber }) => logger.warn({ err: error, attemptNumber }, 'schema registry not ready; retrying'),
  });
  return codec;
}
