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
  /** Renditions encoded at once (ffmpeg processes; default 1 on small machines). */
  transcodeConcurrency: number;
  logLevel: string;
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
    STREAMWAVE_TRANSCODE_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 16, default: 1 },
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
  STREAMWAVE_TRANSCODE_CONCURRENCY: number;
  STREAMWAVE_LOG_LEVEL: string;
}

/**
 * Reads and validates the configuration.
 * @param env variables to read (default process.env); only `STREAMWAVE_*` keys are looked at.
 * @throws Error naming the offending variable when a value is invalid.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): StreamWaveConfig {
  const data = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('STREAMWAVE_')));
  const e = envSchema<Env>({ schema, data, dotenv: false });
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
    transcodeConcurrency: e.STREAMWAVE_TRANSCODE_CONCURRENCY,
    logLevel: e.STREAMWAVE_LOG_LEVEL,
  };
}

/** A random secret created on first start and kept in the data dir, so tokens survive restarts. */
function persistedSecret(dataDir: string): string {
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
