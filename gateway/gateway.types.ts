/**
 * What the gateway needs from the outside world. Everything is a port, so the same gateway runs
 * in standalone mode (embedded adapters) and cluster mode (Kafka, Redis, ClickHouse, Typesense, S3).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CommandBus } from '../commands/command-bus.port.ts';
import type { RecordMetadata } from '../platform/log/event-log.port.ts';
import type { ObjectStore } from '../platform/object-store/object-store.port.ts';
import type { AnalyticsQueries, SearchQueries, VideoQueries } from '../projections/read-model.port.ts';

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
   * Secret for signing opaque cursors. The read models own cursor encoding (they raise
   * InvalidCursorError); the gateway keeps it so the wiring can share one secret. Optional.
   */
  cursorSecret?: string;
  /**
   * Largest JSON request body, bytes. Default 1 MiB: the API never takes media in JSON, but a
   * complete-upload body lists up to 10,000 parts (~60 bytes each).
   */
  bodyLimitBytes?: number;
  /** Fastify `trustProxy` (true, or addresses/CIDRs of trusted proxies). Default false. */
  trustProxy?: boolean | string | string[];
}

export type ResolvedGatewayConfig = Required<Omit<GatewayConfig, 'cursorSecret' | 'trustProxy'>> & {
  cursorSecret?: string;
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

/** Id generator: `newId('vid')` → `vid_01J…` (ULID: sortable by creation time). */
export interface IdGenerator {
  newId(prefix: 'vid' | 'usr' | 'upl' | 'cmt' | string): string;
}

export interface GatewayDeps {
  config: GatewayConfig;
  commandBus: CommandBus;
  videoQueries: VideoQueries;
  analytics: AnalyticsQueries;
  search: SearchQueries;
  /**
   * Waits until the read models have applied the given log positions (read-your-writes).
   * Called after commands whose result the client reads next. Default: resolves immediately.
   */
  readYourWrites?: (positions: RecordMetadata[]) => Promise<void>;
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
  plugins?: Array<{ plugin: FastifyPluginAsync<any>; prefix?: string; options?: Record<string, unknown> }>;
}

/** What route plugins read through `fastify.gateway` (deps with defaults applied). */
export interface GatewayContext {
  config: ResolvedGatewayConfig;
  commandBus: CommandBus;
  videoQueries: VideoQueries;
  analytics: AnalyticsQueries;
  search: SearchQueries;
  readYourWrites: (positions: RecordMetadata[]) => Promise<void>;
  objectStore: ObjectStore;
  ids: IdGenerator;
  now: () => number;
}
