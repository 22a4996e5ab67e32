import { envSchema } from 'env-schema';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

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
  /** Access token lifetime, seconds. */
  tokenTtlSeconds: number;
  /** Largest declared upload size, bytes (default 4 GiB). */
  maxUploadBytes: number;
  /** Uploads per user per hour (default 5; seed 001 §3). */
  uploadsPerHour: number;
  /** HMAC key of playback session ids (STREAMWAVE_PLAYBACK_SECRET, ≥ 32 chars); unset: derived in deploy/shared/wiring.ts (issue 8). */
  playbackSecret?: string;
  /** Lifetime of a playback session, seconds (STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS, default 21600 = 6 h, at most 86400: below the 48 h session-state horizon of the video-detail projection; issue 8). */
  playbackSessionTtlSeconds: number;
  /** Renditions encoded at once (ffmpeg processes; default 1 on small machines). */
  transcodeConcurrency: number;
  logLevel: string;
  /**
   * Bearer token of the admin API (`/admin/*`: replays, topics). From STREAMWAVE_ADMIN_TOKEN, else
   * generated once into `<dataDir>/admin.token` (mode 0600), where the CLI finds it too.
   */
  adminToken: string;
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
}

const schema = {
  type: 'object',
  properties: {
    STREAMWAVE_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    STREAMWAVE_HOST: { type: 'string', default: '127.0.0.1' },
    STREAMWAVE_PUBLIC_URL: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_DATA_DIR: { type: 'string', minLength: 1, default: './data' },
    STREAMWAVE_JWT_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_TOKEN_TTL_SECONDS: { type: 'integer', minimum: 60, default: 3600 },
    STREAMWAVE_MAX_UPLOAD_BYTES: { type: 'integer', minimum: 1, default: 4 * 1024 ** 3 },
    STREAMWAVE_UPLOADS_PER_HOUR: { type: 'integer', minimum: 1, default: 5 },
    STREAMWAVE_PLAYBACK_SECRET: { type: 'string', minLength: 32 },
    STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS: { type: 'integer', minimum: 60, maximum: 24 * 3600, default: 6 * 3600 },
    STREAMWAVE_TRANSCODE_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 16, default: 1 },
    STREAMWAVE_ADMIN_TOKEN: { type: 'string', minLength: 16 },
    STREAMWAVE_KAFKA_BROKERS: { type: 'string', pattern: '^\\s*[^,\\s]+:[0-9]+\\s*(,\\s*[^,\\s]+:[0-9]+\\s*)*$' },
    STREAMWAVE_SCHEMA_REGISTRY_URL: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_KAFKA_REPLICATION_FACTOR: { type: 'integer', minimum: 1, maximum: 32, default: 1 },
    STREAMWAVE_TOPIC_PARTITIONS: { type: 'integer', minimum: 1, maximum: 10000, default: 6 },
    STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: { type: 'integer', minimum: 1000, maximum: 3600000, default: 45000 },
    STREAMWAVE_KAFKA_SSL: { type: 'boolean', default: false },
    STREAMWAVE_KAFKA_SASL_MECHANISM: { type: 'string', enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
    STREAMWAVE_KAFKA_SASL_USERNAME: { type: 'string' },
    STREAMWAVE_KAFKA_SASL_PASSWORD: { type: 'string' },
    STREAMWAVE_LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
  },
} as const;

interface Env {
  STREAMWAVE_PORT: number;
  STREAMWAVE_HOST: string;
  STREAMWAVE_PUBLIC_URL?: string;
  STREAMWAVE_DATA_DIR: string;
  STREAMWAVE_JWT_SECRET?: string;
  STREAMWAVE_TOKEN_TTL_SECONDS: number;
  STREAMWAVE_MAX_UPLOAD_BYTES: number;
  STREAMWAVE_UPLOADS_PER_HOUR: number;
  STREAMWAVE_PLAYBACK_SECRET?: string;
  STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS: number;
  STREAMWAVE_TRANSCODE_CONCURRENCY: number;
  STREAMWAVE_LOG_LEVEL: string;
  STREAMWAVE_ADMIN_TOKEN?: string;
  STREAMWAVE_KAFKA_BROKERS?: string;
  STREAMWAVE_SCHEMA_REGISTRY_URL?: string;
  STREAMWAVE_KAFKA_REPLICATION_FACTOR: number;
  STREAMWAVE_TOPIC_PARTITIONS: number;
  STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: number;
  STREAMWAVE_KAFKA_SSL: boolean;
  STREAMWAVE_KAFKA_SASL_MECHANISM?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  STREAMWAVE_KAFKA_SASL_USERNAME?: string;
  STREAMWAVE_KAFKA_SASL_PASSWORD?: string;
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
  const dataDir = resolve(e.STREAMWAVE_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const host = e.STREAMWAVE_HOST;
  const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port: e.STREAMWAVE_PORT,
    host,
    publicUrl: (e.STREAMWAVE_PUBLIC_URL ?? `http://${publicHost}:${e.STREAMWAVE_PORT}`).replace(/\/$/, ''),
    dataDir,
    jwtSecret: e.STREAMWAVE_JWT_SECRET ?? persistedSecret(dataDir),
    tokenTtlSeconds: e.STREAMWAVE_TOKEN_TTL_SECONDS,
    maxUploadBytes: e.STREAMWAVE_MAX_UPLOAD_BYTES,
    uploadsPerHour: e.STREAMWAVE_UPLOADS_PER_HOUR,
    playbackSecret: e.STREAMWAVE_PLAYBACK_SECRET,
    playbackSessionTtlSeconds: e.STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS,
    transcodeConcurrency: e.STREAMWAVE_TRANSCODE_CONCURRENCY,
    logLevel: e.STREAMWAVE_LOG_LEVEL,
    adminToken: e.STREAMWAVE_ADMIN_TOKEN ?? persistedSecret(dataDir, ADMIN_TOKEN_FILE),
    kafkaBrokers: (e.STREAMWAVE_KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean),
    schemaRegistryUrl: e.STREAMWAVE_SCHEMA_REGISTRY_URL?.replace(/\/$/, ''),
    kafkaReplicationFactor: e.STREAMWAVE_KAFKA_REPLICATION_FACTOR,
    topicPartitions: e.STREAMWAVE_TOPIC_PARTITIONS,
    kafkaSessionTimeoutMs: e.STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS,
    kafkaSsl: e.STREAMWAVE_KAFKA_SSL,
    kafkaSasl: e.STREAMWAVE_KAFKA_SASL_MECHANISM
      ? { mechanism: e.STREAMWAVE_KAFKA_SASL_MECHANISM, username: e.STREAMWAVE_KAFKA_SASL_USERNAME ?? '', password: e.STREAMWAVE_KAFKA_SASL_PASSWORD ?? '' }
      : undefined,
  };
}

/** File under the data dir holding the generated admin token (read by `streamwave replay|topics`). */
export const ADMIN_TOKEN_FILE = 'admin.token';

/** A random secret created on first start and kept in the data dir, so tokens survive restarts. */
function persistedSecret(dataDir: string, name = 'secret.key'): string {
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
