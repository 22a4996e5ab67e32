/**
 * What the gateway needs from the outside world. Everything is a port, so the same gateway runs
 * in standalone mode (embedded adapters) and cluster mode (Kafka, Redis, ClickHouse, Typesense, S3).
 */
import type { Readiness } from '../platform/health/readiness.port.ts';
import type { FastifyPluginAsync, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CommandBus } from '../commands/command-bus.port.ts';
import type { RecordMetadata } from '../platform/log/event-log.port.ts';
import type { ObjectStore } from '../platform/object-store/object-store.port.ts';
import type { ThumbnailEncoder } from '../processors/thumbnails/thumbnail-encoder.port.ts';
import type { RateLimitStore } from '../platform/rate-limit/rate-limit-store.port.ts';
import type { LiveEvents } from '../projections/live-events/live-events.port.ts';
import type { ReadModelName, ReadModelQueries } from '../projections/read-model.port.ts';
import type { RateLimitsConfig } from './rate-limit/rate-limit.rules.ts';

const MiB = 1024 * 1024;

export interface GatewayConfig {
  /** HS256 secret for access tokens (≥ 32 bytes recommended, RFC 7518 §3.2). */
  jwtSecret: string;
  /** JWT keys, first signs, all verify (rotation; issue 8). Default: one key `default` = jwtSecret. */
  jwtKeys?: { kid: string; secret: string }[];
  /** `iss` of access tokens. Default `streamwave`. */
  jwtIssuer?: string;
  /** `aud` of access tokens. Default `streamwave-api`. */
  jwtAudience?: string;
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
  /**
   * Rate limits (gateway/rate-limit/rate-limit.rules.ts): `'off'`, or per-rule overrides of the
   * defaults. Default: every rule at its default (STREAMWAVE_RATE_LIMITS).
   */
  rateLimits?: RateLimitsConfig;
  /**
   * Time to receive a whole request body on the API and registry routes, seconds (a trickled body
   * is cut with 408 REQUEST_TIMEOUT). Default 30. S3 part uploads are bounded by `uploadRequestTimeoutSeconds`.
   */
  bodyTimeoutSeconds?: number;
  /** Time to receive a whole request on any route (node's `server.requestTimeout`), seconds. Default 900 (a 64 MiB part at ~600 kbit/s). */
  uploadRequestTimeoutSeconds?: number;
  /** Time to receive the request headers (node's `server.headersTimeout`; Slowloris), seconds. Default 15. */
  headersTimeoutSeconds?: number;
  /** A socket idle this long is closed (Fastify `connectionTimeout`), seconds. Default 60. */
  connectionTimeoutSeconds?: number;
  /** An idle keep-alive connection is closed after this long (Fastify `keepAliveTimeout`), seconds. Default 5; above the load balancer's idle timeout behind one. */
  keepAliveTimeoutSeconds?: number;
  /** Password hashes (scrypt) computed at once (gateway/auth/password.ts). Default 2 of libuv's 4 threads. */
  passwordHashConcurrency?: number;
  /** Logins/registrations waiting for a hashing slot before 503 SERVER_BUSY. Default 32. */
  passwordHashQueue?: number;
  /**
   * HMAC key of playback session ids (STREAMWAVE_PLAYBACK_SECRET, else `<dataDir>/playback.key`;
   * gateway/playback, issue 8). Default (tests): derived from jwtSecret.
   */
  playbackSecret?: string;
  /** Lifetime of a playback session issued by `GET /videos/{id}/stream`, seconds. Default 21600 (6 h). */
  playbackSessionTtlSeconds?: number;
  /** Server-Sent Event streams (`GET /videos/{id}/events`) open at once per client address, per gateway. Default 10; one more is 429 TOO_MANY_STREAMS. */
  eventStreamsPerIp?: number;
  /** Keep-alive comment on an idle event stream every this many seconds (below proxies' idle timeouts and `connectionTimeoutSeconds`). Default 15. */
  eventStreamKeepAliveSeconds?: number;
}

export type ResolvedGatewayConfig = Required<Omit<GatewayConfig, 'trustProxy' | 'jwtKeys' | 'rateLimits' | 'playbackSecret'>> & {
  trustProxy: boolean | string | string[];
  playbackSecret?: string;
  jwtKeys?: { kid: string; secret: string }[];
  rateLimits: RateLimitsConfig;
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
  jwtIssuer: 'streamwave',
  jwtAudience: 'streamwave-api',
  rateLimits: {},
  bodyTimeoutSeconds: 30,
  uploadRequestTimeoutSeconds: 900,
  headersTimeoutSeconds: 15,
  connectionTimeoutSeconds: 60,
  keepAliveTimeoutSeconds: 5,
  passwordHashConcurrency: 2,
  passwordHashQueue: 32,
  playbackSessionTtlSeconds: 6 * 3600,
  eventStreamsPerIp: 10,
  eventStreamKeepAliveSeconds: 15,
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
  /** Readiness checks of GET /health/ready (and /health): 503 with reasons when one fails (issue 8). */
  readiness?: Readiness;
  ids?: IdGenerator;
  /**
   * Where rate-limit counters live (platform/rate-limit: the in-memory adapter in standalone mode,
   * the Redis one shared by every gateway in cluster mode). Without it, @fastify/rate-limit keeps
   * them in its own process memory.
   */
  rateLimitStore?: RateLimitStore;
  /** Wall clock, ms since epoch. Default Date.now. */
  now?: () => number;
  /**
   * Signed media URLs for media only the owner may fetch (private or not-yet-ready videos; issue 8):
   * `signedKeyPath(videoId, key)` → `signed/<expiresAt>.<hmac>/<key>`, resolved through `objectStore.publicUrl`
   * (platform/object-store/http/media-url-signing.ts). Absent: plain public URLs (media delivery
   * then answers 404 for those videos).
   */
  mediaUrls?: { signedKeyPath(videoId: string, key: string): string };
  /**
   * This gateway's live-events feed (projections/live-events, its own consumer group), behind
   * `GET /api/v1/videos/{id}/events` (Server-Sent Events, issue 14). Absent: that route is 404.
   */
  liveEvents?: LiveEvents;
  /**
   * Re-encodes custom thumbnails behind `PUT /api/v1/videos/{id}/thumbnail` (issue 15;
   * processors/thumbnails/thumbnail-encoder.port.ts). Absent: that route answers 503 SERVICE_UNAVAILABLE.
   */
  thumbnailEncoder?: ThumbnailEncoder;
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
  /** URL of a media object of a video the caller may see: plain when its media is public, signed otherwise (GatewayDeps.mediaUrls). */
  mediaUrl: (videoId: string, key: string, signed: boolean) => string;
  /** GatewayDeps.thumbnailEncoder; null when absent. */
  thumbnailEncoder: ThumbnailEncoder | null;
}
