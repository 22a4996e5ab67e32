import { envSchema } from 'env-schema';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadOrCreateSecret, parseJwtKeys, persistedSecret } from '../shared/secrets.ts';
import { SERVERS_ENV_SCHEMA, checkServersEnv, serversOf, type ServersConfig, type ServersEnv } from './servers-config.ts';

export type { ServersConfig } from './servers-config.ts';
import { parseRateLimits, type RateLimitsConfig } from '../../gateway/rate-limit/rate-limit.rules.ts';
import { chunkingOf, MEDIA_ENV_SCHEMA, mediaOf, type ChunkingSettings, type MediaEnv, type MediaSettings } from './media-config.ts';

/**
 * StreamWave configuration: environment variables with the `STREAMWAVE_` prefix, validated at
 * start (env-schema/Ajv); a bad value stops the process with a message naming the variable.
 */
export interface StreamWaveConfig {
  /** HTTP port of the gateway (default 8080). */
  port: number;
  /** Interface to listen on (default 127.0.0.1). */
  host: string;
  /** Base URL clients reach the gateway at; presigned upload URLs and manifest URLs use it. */
  publicUrl: string;
  /** Absolute data directory (default ./data). */
  dataDir: string;
  /** HS256 secret for access tokens; generated once and kept in the data dir when unset. */
  jwtSecret: string;
  /**
   * JWT keys (issue 8): `[{kid, secret}]`, the first signs, all verify (rotation: add the new key
   * first, remove the old one after the token lifetime). From STREAMWAVE_JWT_KEYS
   * (`kid:secret,kid:secret`), else one key `default` with `jwtSecret`.
   */
  jwtKeys: { kid: string; secret: string }[];
  /** `iss` of access tokens, checked on verify (STREAMWAVE_JWT_ISSUER, default `streamwave`). */
  jwtIssuer: string;
  /** `aud` of access tokens, checked on verify (STREAMWAVE_JWT_AUDIENCE, default `streamwave-api`). */
  jwtAudience: string;
  /** Key of presigned upload URLs (SigV4) (STREAMWAVE_PRESIGN_SECRET, else `<dataDir>/presign.key`). */
  presignSecret: string;
  /** HMAC key of opaque cursors (STREAMWAVE_CURSOR_SECRET, else `<dataDir>/cursor.key`). */
  cursorSecret: string;
  /** HMAC key of signed media URLs of private videos (STREAMWAVE_MEDIA_URL_SECRET, else `<dataDir>/media-url.key`). */
  mediaUrlSecret: string;
  /**
   * HTTP Basic credentials of the schema registry's write API (issue 8), used by the registry and
   * by every role that registers schemas. STREAMWAVE_SCHEMA_REGISTRY_USERNAME (default
   * `streamwave`) / _PASSWORD (else generated into `<dataDir>/schema-registry.password`, 0600).
   */
  schemaRegistryAuth: { username: string; password: string };
  /** Access token lifetime, seconds. */
  tokenTtlSeconds: number;
  /** Largest declared upload size, bytes (default 4 GiB). */
  maxUploadBytes: number;
  /** Per-user storage quota, bytes: declared sizes of the user's live, non-failed videos (default 50 GiB; issue 8). */
  userStorageQuotaBytes: number;
  /** A multipart upload still open this long after it started is abandoned by the reaper, seconds (default 86 400; issue 8). */
  uploadExpirySeconds: number;
  /** Period of the upload reaper, seconds (default 3600; issue 8). */
  uploadReaperIntervalSeconds: number;
  /** Uploads per user per hour (default 5; seed 001 §3). */
  uploadsPerHour: number;
  /** Lifetime of a signed media URL (private and not-yet-ready videos), seconds (default 14400: a long film plus pauses; issue 8). */
  mediaUrlTtlSeconds: number;
  /** CDN purge hook: POSTed `{ video_id, prefix, paths }` after a video is deleted (issue 8); unset: no CDN, nothing to purge. */
  cdnPurgeUrl?: string;
  /** HMAC key of playback session ids (STREAMWAVE_PLAYBACK_SECRET, ≥ 32 chars); else `<dataDir>/playback.key` (issue 8). */
  playbackSecret: string;
  /** HMAC key of username reservations on the commands topic (STREAMWAVE_USERNAME_KEY_SECRET, ≥ 32 chars; ADR 0006); else `<dataDir>/username.key`. */
  usernameKeySecret: string;
  /** Lifetime of a playback session, seconds (STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS, default 21600 = 6 h, at most 86400: below the 48 h session-state horizon of the video-detail projection; issue 8). */
  playbackSessionTtlSeconds: number;
  /** Renditions encoded at once (ffmpeg processes; default 1 on small machines). */
  transcodeConcurrency: number;
  /** Segment-parallel encoding of long sources over the chunk topic (docs/adr/0008; media-config.ts). */
  chunking: ChunkingSettings;
  logLevel: string;
  /**
   * Readiness (`GET /health/ready`, issue 8 finding 7): free-space floors of the data directory's
   * file system (bytes, default 512 MiB; percent, default 0 = off) under which ready answers 503
   * DISK_SPACE_LOW, and the consecutive failures of one projection batch after which it answers
   * 503 PROJECTION_FAILING (default 3).
   */
  health: { minFreeDiskBytes: number; minFreeDiskPercent: number; projectionFailingAfter: number };
  /**
   * Bearer token of the admin API (`/admin/*`: replays, topics). From STREAMWAVE_ADMIN_TOKEN, else
   * generated once into `<dataDir>/admin.token` (mode 0600), where the CLI finds it too.
   */
  adminToken: string;
  /**
   * Media limits of the transcoder (issue 8, finding 3): source limits checked after ffprobe,
   * FFmpeg/ffprobe time limits, and the address-space cap per FFmpeg process (bytes; 0: none).
   */
  media: MediaSettings;
  /** Cluster mode: Kafka bootstrap servers `host:port`, from the comma list STREAMWAVE_KAFKA_BROKERS; empty in standalone mode. */
  kafkaBrokers: string[];
  /** Cluster mode: base URL of the Confluent-compatible schema registry (the `registry` role), e.g. `http://registry:8081`. */
  schemaRegistryUrl?: string;
  /** Cluster mode: replication factor of topics the roles create (default 1: a single-broker dev cluster; 3 in production). */
  kafkaReplicationFactor: number;
  /** Cluster mode: partitions of each StreamWave topic created by the roles (default 6, seed doc). */
  topicPartitions: number;
  /**
   * Cluster mode: consumer group session timeout, ms (default 45 000, the Java client's). A member
   * that dies (kill -9) keeps its partitions this long; tests and fast-failover deployments lower it
   * (the broker's `group.min.session.timeout.ms` bounds it from below).
   */
  kafkaSessionTimeoutMs: number;
  /** TLS to the brokers (STREAMWAVE_KAFKA_SSL=true). */
  kafkaSsl: boolean;
  /** SASL credentials (STREAMWAVE_KAFKA_SASL_MECHANISM / _USERNAME / _PASSWORD), for managed clusters. */
  kafkaSasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /**
   * Proxies whose X-Forwarded-For is believed (STREAMWAVE_TRUST_PROXY: `true`, or a comma list of
   * addresses/CIDRs); default none. Behind a load balancer, without it every client shares the
   * balancer's address and so one per-address rate-limit budget.
   */
  trustProxy: boolean | string[];
  /** STREAMWAVE_RATE_LIMITS: `on` (default), `off`, or `<rule>=<max>/<window>` overrides (gateway/rate-limit/rate-limit.rules.ts). */
  rateLimits: RateLimitsConfig;
  /** Request body timeout on the API and registry, seconds (STREAMWAVE_BODY_TIMEOUT_SECONDS, default 30). */
  bodyTimeoutSeconds: number;
  /** Whole-request timeout on every route, S3 part uploads included, seconds (STREAMWAVE_REQUEST_TIMEOUT_SECONDS, default 900). */
  requestTimeoutSeconds: number;
  /** Request headers timeout, seconds (STREAMWAVE_HEADERS_TIMEOUT_SECONDS, default 15). */
  headersTimeoutSeconds: number;
  /** Idle socket timeout, seconds (STREAMWAVE_CONNECTION_TIMEOUT_SECONDS, default 60). */
  connectionTimeoutSeconds: number;
  /** Idle keep-alive timeout, seconds (STREAMWAVE_KEEP_ALIVE_TIMEOUT_SECONDS, default 5). */
  keepAliveTimeoutSeconds: number;
  /** Password hashes computed at once (STREAMWAVE_PASSWORD_HASH_CONCURRENCY, default 2). */
  passwordHashConcurrency: number;
  /** Graceful-stop deadline, seconds (STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS, default 30): past it the process exits 1 naming what hung. */
  shutdownTimeoutSeconds: number;
  /**
   * Cluster mode (issue 9): the servers the read models and objects live on. Each unset server
   * leaves its read models on the embedded adapter under the role's data dir, which only the `all`
   * role (one process) accepts; the split roles refuse to start without them (deploy/cluster/roles.ts).
   */
  servers: ServersConfig;
  /**
   * Secret variables that were NOT set and so were read from, or generated into, the data dir
   * (e.g. `STREAMWAVE_PRESIGN_SECRET`). Empty when every secret came from configuration. Split
   * cluster roles refuse to start unless it is empty: two machines never share a data dir.
   */
  secretsFromDataDir: string[];
}


const schema = {
  type: 'object',
  properties: {
    STREAMWAVE_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    STREAMWAVE_HOST: { type: 'string', default: '127.0.0.1' },
    STREAMWAVE_PUBLIC_URL: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_DATA_DIR: { type: 'string', minLength: 1, default: './data' },
    STREAMWAVE_JWT_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_JWT_KEYS: { type: 'string', pattern: '^\\s*[A-Za-z0-9._-]+:[^,\\s]{32,}\\s*(,\\s*[A-Za-z0-9._-]+:[^,\\s]{32,}\\s*)*$' },
    STREAMWAVE_JWT_ISSUER: { type: 'string', minLength: 1, default: 'streamwave' },
    STREAMWAVE_JWT_AUDIENCE: { type: 'string', minLength: 1, default: 'streamwave-api' },
    STREAMWAVE_PRESIGN_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_CURSOR_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_MEDIA_URL_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_SCHEMA_REGISTRY_USERNAME: { type: 'string', minLength: 1, pattern: '^[^:]+$', default: 'streamwave' },
    STREAMWAVE_SCHEMA_REGISTRY_PASSWORD: { type: 'string', minLength: 1 },
    STREAMWAVE_TOKEN_TTL_SECONDS: { type: 'integer', minimum: 60, default: 3600 },
    STREAMWAVE_MAX_UPLOAD_BYTES: { type: 'integer', minimum: 1, default: 4 * 1024 ** 3 },
    STREAMWAVE_UPLOADS_PER_HOUR: { type: 'integer', minimum: 1, default: 5 },
    STREAMWAVE_USER_STORAGE_QUOTA_BYTES: { type: 'integer', minimum: 1, default: 50 * 1024 ** 3 },
    STREAMWAVE_UPLOAD_EXPIRY_SECONDS: { type: 'integer', minimum: 60, default: 86_400 },
    STREAMWAVE_UPLOAD_REAPER_INTERVAL_SECONDS: { type: 'integer', minimum: 1, default: 3600 },
    STREAMWAVE_MEDIA_URL_TTL_SECONDS: { type: 'integer', minimum: 60, maximum: 7 * 24 * 3600, default: 14400 },
    STREAMWAVE_CDN_PURGE_URL: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_PLAYBACK_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_USERNAME_KEY_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS: { type: 'integer', minimum: 60, maximum: 24 * 3600, default: 6 * 3600 },
    STREAMWAVE_TRANSCODE_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 16, default: 1 },
    STREAMWAVE_ADMIN_TOKEN: { type: 'string', minLength: 16 },
    STREAMWAVE_MIN_FREE_DISK_BYTES: { type: 'integer', minimum: 0, default: 512 * 1024 ** 2 },
    STREAMWAVE_MIN_FREE_DISK_PERCENT: { type: 'number', minimum: 0, maximum: 100, default: 0 },
    STREAMWAVE_PROJECTION_FAILING_AFTER: { type: 'integer', minimum: 1, maximum: 1000, default: 3 },
    ...MEDIA_ENV_SCHEMA,
    STREAMWAVE_KAFKA_BROKERS: { type: 'string', pattern: '^\\s*[^,\\s]+:[0-9]+\\s*(,\\s*[^,\\s]+:[0-9]+\\s*)*$' },
    STREAMWAVE_SCHEMA_REGISTRY_URL: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_KAFKA_REPLICATION_FACTOR: { type: 'integer', minimum: 1, maximum: 32, default: 1 },
    STREAMWAVE_TOPIC_PARTITIONS: { type: 'integer', minimum: 1, maximum: 10000, default: 6 },
    STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: { type: 'integer', minimum: 1000, maximum: 3600000, default: 45000 },
    STREAMWAVE_KAFKA_SSL: { type: 'boolean', default: false },
    STREAMWAVE_KAFKA_SASL_MECHANISM: { type: 'string', enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
    STREAMWAVE_KAFKA_SASL_USERNAME: { type: 'string' },
    STREAMWAVE_KAFKA_SASL_PASSWORD: { type: 'string' },
    STREAMWAVE_RATE_LIMITS: { type: 'string', default: 'on' },
    STREAMWAVE_TRUST_PROXY: { type: 'string', pattern: '^(true|false|[0-9a-fA-F.:/]+(\\s*,\\s*[0-9a-fA-F.:/]+)*)?$', default: 'false' },
    STREAMWAVE_BODY_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
    STREAMWAVE_REQUEST_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, maximum: 86400, default: 900 },
    STREAMWAVE_HEADERS_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, maximum: 3600, default: 15 },
    STREAMWAVE_CONNECTION_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, maximum: 86400, default: 60 },
    STREAMWAVE_KEEP_ALIVE_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, maximum: 3600, default: 5 },
    STREAMWAVE_PASSWORD_HASH_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
    STREAMWAVE_LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    ...SERVERS_ENV_SCHEMA,
  },
} as const;

/** Every variable loadConfig reads: the deploy files' tests (deploy/compose, deploy/k8s) check they set no other. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.properties);

interface Env extends ServersEnv, MediaEnv {
  STREAMWAVE_PORT: number;
  STREAMWAVE_HOST: string;
  STREAMWAVE_PUBLIC_URL?: string;
  STREAMWAVE_DATA_DIR: string;
  STREAMWAVE_JWT_SECRET?: string;
  STREAMWAVE_JWT_KEYS?: string;
  STREAMWAVE_JWT_ISSUER: string;
  STREAMWAVE_JWT_AUDIENCE: string;
  STREAMWAVE_PRESIGN_SECRET?: string;
  STREAMWAVE_CURSOR_SECRET?: string;
  STREAMWAVE_MEDIA_URL_SECRET?: string;
  STREAMWAVE_SCHEMA_REGISTRY_USERNAME: string;
  STREAMWAVE_SCHEMA_REGISTRY_PASSWORD?: string;
  STREAMWAVE_TOKEN_TTL_SECONDS: number;
  STREAMWAVE_MAX_UPLOAD_BYTES: number;
  STREAMWAVE_UPLOADS_PER_HOUR: number;
  STREAMWAVE_USER_STORAGE_QUOTA_BYTES: number;
  STREAMWAVE_UPLOAD_EXPIRY_SECONDS: number;
  STREAMWAVE_UPLOAD_REAPER_INTERVAL_SECONDS: number;
  STREAMWAVE_PLAYBACK_SECRET?: string;
  STREAMWAVE_USERNAME_KEY_SECRET?: string;
  STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS: number;
  STREAMWAVE_TRANSCODE_CONCURRENCY: number;
  STREAMWAVE_MEDIA_URL_TTL_SECONDS: number;
  STREAMWAVE_CDN_PURGE_URL?: string;
  STREAMWAVE_LOG_LEVEL: string;
  STREAMWAVE_ADMIN_TOKEN?: string;
  STREAMWAVE_MIN_FREE_DISK_BYTES: number;
  STREAMWAVE_MIN_FREE_DISK_PERCENT: number;
  STREAMWAVE_PROJECTION_FAILING_AFTER: number;
  STREAMWAVE_KAFKA_BROKERS?: string;
  STREAMWAVE_SCHEMA_REGISTRY_URL?: string;
  STREAMWAVE_KAFKA_REPLICATION_FACTOR: number;
  STREAMWAVE_TOPIC_PARTITIONS: number;
  STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: number;
  STREAMWAVE_KAFKA_SSL: boolean;
  STREAMWAVE_KAFKA_SASL_MECHANISM?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  STREAMWAVE_KAFKA_SASL_USERNAME?: string;
  STREAMWAVE_KAFKA_SASL_PASSWORD?: string;
  STREAMWAVE_RATE_LIMITS: string;
  STREAMWAVE_TRUST_PROXY: string;
  STREAMWAVE_BODY_TIMEOUT_SECONDS: number;
  STREAMWAVE_REQUEST_TIMEOUT_SECONDS: number;
  STREAMWAVE_HEADERS_TIMEOUT_SECONDS: number;
  STREAMWAVE_CONNECTION_TIMEOUT_SECONDS: number;
  STREAMWAVE_KEEP_ALIVE_TIMEOUT_SECONDS: number;
  STREAMWAVE_PASSWORD_HASH_CONCURRENCY: number;
  STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS: number;
}

/**
 * Reads and validates the configuration.
 * @param env variables to read (default process.env); only `STREAMWAVE_*` keys are looked at.
 * @throws Error naming the offending variable when a value is invalid.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): StreamWaveConfig {
  const data = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('STREAMWAVE_')));
  const e = envSchema<Env>({ schema, data, dotenv: false });
  if (e.STREAMWAVE_KAFKA_SASL_MECHANISM) {
    // An empty SASL user or password only fails later, at the broker, with a message naming neither.
    for (const k of ['STREAMWAVE_KAFKA_SASL_USERNAME', 'STREAMWAVE_KAFKA_SASL_PASSWORD'] as const) {
      if (!e[k]) throw new Error(`env/${k} is required when STREAMWAVE_KAFKA_SASL_MECHANISM is set`);
    }
  }
  checkServersEnv(e);
  let rateLimits: RateLimitsConfig;
  try {
    rateLimits = parseRateLimits(e.STREAMWAVE_RATE_LIMITS);
  } catch (err) {
    throw new Error(`env/STREAMWAVE_RATE_LIMITS: ${(err as Error).message}`);
  }
  const dataDir = resolve(e.STREAMWAVE_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const secretsFromDataDir: string[] = [];
  /** The secret from its variable, else from the data dir (and noted: split cluster roles refuse that). */
  const secret = (name: keyof Env, fromFile: () => string): string => {
    const v = e[name];
    if (typeof v === 'string' && v) return v;
    secretsFromDataDir.push(name);
    return fromFile();
  };
  // With STREAMWAVE_JWT_KEYS the keys sign and verify; jwtSecret then only feeds derived defaults.
  const jwtSecret = e.STREAMWAVE_JWT_KEYS
    ? (e.STREAMWAVE_JWT_SECRET ?? parseJwtKeys(e.STREAMWAVE_JWT_KEYS)[0]!.secret)
    : secret('STREAMWAVE_JWT_SECRET', () => persistedSecret(dataDir));
  const host = e.STREAMWAVE_HOST;
  const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port: e.STREAMWAVE_PORT,
    host,
    publicUrl: (e.STREAMWAVE_PUBLIC_URL ?? `http://${publicHost}:${e.STREAMWAVE_PORT}`).replace(/\/$/, ''),
    dataDir,
    jwtSecret,
    jwtKeys: e.STREAMWAVE_JWT_KEYS ? parseJwtKeys(e.STREAMWAVE_JWT_KEYS) : [{ kid: 'default', secret: jwtSecret }],
    jwtIssuer: e.STREAMWAVE_JWT_ISSUER,
    jwtAudience: e.STREAMWAVE_JWT_AUDIENCE,
    presignSecret: secret('STREAMWAVE_PRESIGN_SECRET', () => loadOrCreateSecret(dataDir, PRESIGN_SECRET_FILE)),
    cursorSecret: secret('STREAMWAVE_CURSOR_SECRET', () => loadOrCreateSecret(dataDir, CURSOR_SECRET_FILE)),
    mediaUrlSecret: secret('STREAMWAVE_MEDIA_URL_SECRET', () => loadOrCreateSecret(dataDir, MEDIA_URL_SECRET_FILE)),
    schemaRegistryAuth: {
      username: e.STREAMWAVE_SCHEMA_REGISTRY_USERNAME,
      password: secret('STREAMWAVE_SCHEMA_REGISTRY_PASSWORD', () => loadOrCreateSecret(dataDir, SCHEMA_REGISTRY_PASSWORD_FILE)),
    },
    tokenTtlSeconds: e.STREAMWAVE_TOKEN_TTL_SECONDS,
    maxUploadBytes: e.STREAMWAVE_MAX_UPLOAD_BYTES,
    uploadsPerHour: e.STREAMWAVE_UPLOADS_PER_HOUR,
    userStorageQuotaBytes: e.STREAMWAVE_USER_STORAGE_QUOTA_BYTES,
    uploadExpirySeconds: e.STREAMWAVE_UPLOAD_EXPIRY_SECONDS,
    uploadReaperIntervalSeconds: e.STREAMWAVE_UPLOAD_REAPER_INTERVAL_SECONDS,
    playbackSecret: secret('STREAMWAVE_PLAYBACK_SECRET', () => loadOrCreateSecret(dataDir, PLAYBACK_SECRET_FILE)),
    usernameKeySecret: secret('STREAMWAVE_USERNAME_KEY_SECRET', () => loadOrCreateSecret(dataDir, 'username.key')),
    playbackSessionTtlSeconds: e.STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS,
    transcodeConcurrency: e.STREAMWAVE_TRANSCODE_CONCURRENCY,
    chunking: chunkingOf(e),
    mediaUrlTtlSeconds: e.STREAMWAVE_MEDIA_URL_TTL_SECONDS,
    ...(e.STREAMWAVE_CDN_PURGE_URL && { cdnPurgeUrl: e.STREAMWAVE_CDN_PURGE_URL }),
    logLevel: e.STREAMWAVE_LOG_LEVEL,
    health: {
      minFreeDiskBytes: e.STREAMWAVE_MIN_FREE_DISK_BYTES,
      minFreeDiskPercent: e.STREAMWAVE_MIN_FREE_DISK_PERCENT,
      projectionFailingAfter: e.STREAMWAVE_PROJECTION_FAILING_AFTER,
    },
    adminToken: secret('STREAMWAVE_ADMIN_TOKEN', () => persistedSecret(dataDir, ADMIN_TOKEN_FILE)),
    media: mediaOf(e),
    kafkaBrokers: (e.STREAMWAVE_KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean),
    schemaRegistryUrl: e.STREAMWAVE_SCHEMA_REGISTRY_URL?.replace(/\/$/, ''),
    kafkaReplicationFactor: e.STREAMWAVE_KAFKA_REPLICATION_FACTOR,
    topicPartitions: e.STREAMWAVE_TOPIC_PARTITIONS,
    kafkaSessionTimeoutMs: e.STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS,
    kafkaSsl: e.STREAMWAVE_KAFKA_SSL,
    kafkaSasl: e.STREAMWAVE_KAFKA_SASL_MECHANISM
      ? { mechanism: e.STREAMWAVE_KAFKA_SASL_MECHANISM, username: e.STREAMWAVE_KAFKA_SASL_USERNAME ?? '', password: e.STREAMWAVE_KAFKA_SASL_PASSWORD ?? '' }
      : undefined,
    rateLimits,
    trustProxy: ['', 'false'].includes(e.STREAMWAVE_TRUST_PROXY) ? false : e.STREAMWAVE_TRUST_PROXY === 'true' ? true : e.STREAMWAVE_TRUST_PROXY.split(',').map((a) => a.trim()),
    bodyTimeoutSeconds: e.STREAMWAVE_BODY_TIMEOUT_SECONDS,
    requestTimeoutSeconds: e.STREAMWAVE_REQUEST_TIMEOUT_SECONDS,
    headersTimeoutSeconds: e.STREAMWAVE_HEADERS_TIMEOUT_SECONDS,
    connectionTimeoutSeconds: e.STREAMWAVE_CONNECTION_TIMEOUT_SECONDS,
    keepAliveTimeoutSeconds: e.STREAMWAVE_KEEP_ALIVE_TIMEOUT_SECONDS,
    passwordHashConcurrency: e.STREAMWAVE_PASSWORD_HASH_CONCURRENCY,
    shutdownTimeoutSeconds: e.STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS,
    servers: serversOf(e),
    secretsFromDataDir,
  };
}

/** File under the data dir holding the generated admin token (read by `streamwave replay|topics`). */
export const ADMIN_TOKEN_FILE = 'admin.token';

/** Files under the data dir holding generated secrets when their variable is unset (issue 8). */
export const PRESIGN_SECRET_FILE = 'presign.key';
export const CURSOR_SECRET_FILE = 'cursor.key';
export const MEDIA_URL_SECRET_FILE = 'media-url.key';
export const PLAYBACK_SECRET_FILE = 'playback.key';
/** Generated registry password (read by `streamwave schemas register` when no password is given). */
export const SCHEMA_REGISTRY_PASSWORD_FILE = 'schema-registry.password';
