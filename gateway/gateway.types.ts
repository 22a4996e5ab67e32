/**
 * What the gateway needs from the outside world. Everything is a port, so the same gateway runs
 * in standalone mode (embedded adapters) and cluster mode (Kafka, Redis, ClickHouse, Typesense, S3).
 */
import type { FastifyPluginAsync, RouteOptions } from 'fastify';
import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CommandBus } from '../commands/command-bus.port.ts';
import type { RecordMetadata } from '../platform/log/event-log.port.ts';
import type { ObjectStore } from '../platform/object-store/object-store.port.ts';
import type { ReadModelName, ReadModelQueries } from '../projections/read-model.port.ts';

const MiB = 1024 * 1024;

export interface GatewayConfig {
  /** HS256 secret for access tokens (≥ 32 bytes recommended, RFC 7518 §3.2). */
  jwtSecret: string;
  /** Access token lifetime, seconds. Default 3600. */
  tokenTtlSeconds?: number;
  /** Largest declared upload, bytes. Default 4 GiB. */
  maxUploadBytes?: number;
  /** Smallest part size, bytes. Default 5 MiB (the S3 minimum for all parts but the last). */
  minPartSizeBytes?: number;
  /** Largest part size, bytes. Default 64 MiB. */
  maxPartSizeBytes?: number;
  /** Upload starts allowed per user per hour. Default 5. */
  uploadsPerHour?: number;
  /** Lifetime of presigned part URLs, seconds. Default 3600. */
  uploadUrlTtlSeconds?: number;
  /**
   * Largest JSON request body, bytes. Default 1 MiB: the API never takes media in JSON, but a
   * complete-upload body lists up to 10,000 parts (~60 bytes each).
   */
  bodyLimitBytes?: number;
  /** Fastify `trustProxy` (true, or addresses/CIDRs of trusted proxies). Default false. */
  trustProxy?: boolean | string | string[];
}

export type ResolvedGatewayConfig = Required<Omit<GatewayConfig, 'trustProxy'>> & {
  trustProxy: boolean | string | string[];
};

export const DEFAULT_GATEWAY_CONFIG = {
  tokenTtlSeconds: 3600,
  maxUploadBytes: 4 * 1024 * MiB,
  minPartSizeBytes: 5 * MiB,
  maxPartSizeBytes: 64 * MiB,
  uploadsPerHour: 5,
  uploadUrlTtlSeconds: 3600,
  bodyLimitBytes: 1024 * 1024,
  trustProxy: false,
} as const;

/** See GatewayDeps.readYourWrites. Never throws; a timeout answers anyway (the write is durable, the read model lags). */
export type ReadYourWrites = (readModel: ReadModelName, positions: RecordMetadata[]) => Promise<void>;

/** Id generator: `newId('vid')` → `vid_01J…` (ULID: sortable by creation time). */
export interface IdGenerator {
  newId(prefix: 'vid' | 'usr' | 'upl' | 'cmt' | string): string;
}

export interface GatewayDeps {
  config: GatewayConfig;
  commandBus: CommandBus;
  /** The query port of every read model, by name (projections/read-model.port.ts). */
  readModels: ReadModelQueries;
  /**
   * Read-your-writes: waits (bounded) until `readModel` — the one that answers the client's next
   * read — has applied the given log positions. Called after commands whose result the client
   * reads next. Default: resolves immediately.
   */
  readYourWrites?: ReadYourWrites;
  objectStore: ObjectStore;
  logger: Logger;
  metricsRegistry: Registry;
  /** Extra fields for GET /health (e.g. consumer lag); throwing makes /health answer 503. */
  health?: () => Promise<Record<string, unknown>>;
  ids?: IdGenerator;
  /**
   * Cluster mode: share the upload rate-limit counters between gateway replicas through Redis
   * (@fastify/rate-limit's Redis store). Standalone: omitted, counters live in process memory.
   */
  rateLimitRedis?: RateLimitPluginOptions['redis'];
  /** Wall clock, ms since epoch. Default Date.now. */
  now?: () => number;
  /** Mounted as-is after the gateway's own routes (schema registry at /registry, S3 at /s3, media). */
  /**
   * Observer of every route as it is registered (Fastify's `onRoute` hook), mounted plugins
   * included; the fuzz suite (test/fuzz) enumerates the routes through it. Must not throw.
   */
  onRoute?: (route: RouteOptions) => void;
  plugins?: Array<{ plugin: FastifyPluginAsync<any>; prefix?: string; options?: Record<string, unknown> }>;
}

/** What route plugins read through `fastify.gateway` (deps with defaults applied). */
export interface GatewayContext {
  config: ResolvedGatewayConfig;
  commandBus: CommandBus;
  readModels: ReadModelQueries;
  readYourWrites: ReadYourWrites;
  objectStore: ObjectStore;
  ids: IdGenerator;
  now: () => number;
}
