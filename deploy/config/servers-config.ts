/**
 * The servers of cluster mode (issue 9): Redis, ClickHouse, Typesense and S3, from
 * `STREAMWAVE_*` variables (part of loadConfig in config.ts, split out for size).
 */

/** The servers of cluster mode (issue 9). URLs without a trailing slash. */
export interface ServersConfig {
  /** Redis for the key-value read models, projection pointers and shared rate limits: `redis://[:password@]host:port[/db]` (STREAMWAVE_REDIS_URL). */
  redisUrl?: string;
  /** ClickHouse HTTP interface for analytics (STREAMWAVE_CLICKHOUSE_URL, e.g. `http://clickhouse:8123`). */
  clickhouse?: {
    url: string;
    username: string;
    password: string;
    database: string;
    /** `modern` (ClickHouse ≥ 23: server-side parameters, DateTime64), `compat-18` (client-side literal binding, DateTime), `auto` (from `SELECT version()`). */
    dialect: 'auto' | 'modern' | 'compat-18';
    /**
     * How long live heartbeats and playback events wait to form one analytics insert, ms
     * (STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS, default 200 as in standalone; the analytics
     * projection's fetch wait, analytics.projection.ts). Longer: fewer, larger inserts (ClickHouse's
     * own advice is about one a second); shorter: fresher creator analytics (issue 15: p99 ≤ 1 s)
     * where the server and the projectors have cores to spare for the extra inserts (README,
     * "Analytics freshness", has the measurement).
     */
    insertWaitMs: number;
  };
  /** Typesense for search (STREAMWAVE_TYPESENSE_URL + STREAMWAVE_TYPESENSE_API_KEY). */
  typesense?: { url: string; apiKey: string };
  /**
   * S3 for uploads, sources and renditions (STREAMWAVE_S3_ENDPOINT, _BUCKET, _REGION,
   * _ACCESS_KEY_ID, _SECRET_ACCESS_KEY). `publicEndpoint` (STREAMWAVE_S3_PUBLIC_ENDPOINT, default
   * the endpoint) is the address clients reach for presigned upload URLs.
   */
  s3?: { endpoint: string; publicEndpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: boolean };
}

/** env-schema properties of the server variables (merged into config.ts's schema). */
export const SERVERS_ENV_SCHEMA = {
    STREAMWAVE_REDIS_URL: { type: 'string', pattern: '^rediss?://' },
    STREAMWAVE_CLICKHOUSE_URL: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_CLICKHOUSE_USERNAME: { type: 'string', minLength: 1, default: 'default' },
    STREAMWAVE_CLICKHOUSE_PASSWORD: { type: 'string', default: '' },
    STREAMWAVE_CLICKHOUSE_DATABASE: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', default: 'streamwave' },
    STREAMWAVE_CLICKHOUSE_DIALECT: { type: 'string', enum: ['auto', 'modern', 'compat-18'], default: 'auto' },
    STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS: { type: 'integer', minimum: 0, maximum: 10000, default: 200 },
    STREAMWAVE_TYPESENSE_URL: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_TYPESENSE_API_KEY: { type: 'string', minLength: 1 },
    STREAMWAVE_S3_ENDPOINT: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_S3_PUBLIC_ENDPOINT: { type: 'string', pattern: '^https?://' },
    STREAMWAVE_S3_BUCKET: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', default: 'streamwave' },
    STREAMWAVE_S3_REGION: { type: 'string', minLength: 1, default: 'us-east-1' },
    STREAMWAVE_S3_ACCESS_KEY_ID: { type: 'string', minLength: 1 },
    STREAMWAVE_S3_SECRET_ACCESS_KEY: { type: 'string', minLength: 1 },
    STREAMWAVE_S3_FORCE_PATH_STYLE: { type: 'boolean', default: true },
} as const;

/** The server variables after validation (defaults applied). */
export interface ServersEnv {
  STREAMWAVE_REDIS_URL?: string;
  STREAMWAVE_CLICKHOUSE_URL?: string;
  STREAMWAVE_CLICKHOUSE_USERNAME: string;
  STREAMWAVE_CLICKHOUSE_PASSWORD: string;
  STREAMWAVE_CLICKHOUSE_DATABASE: string;
  STREAMWAVE_CLICKHOUSE_DIALECT: 'auto' | 'modern' | 'compat-18';
  STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS: number;
  STREAMWAVE_TYPESENSE_URL?: string;
  STREAMWAVE_TYPESENSE_API_KEY?: string;
  STREAMWAVE_S3_ENDPOINT?: string;
  STREAMWAVE_S3_PUBLIC_ENDPOINT?: string;
  STREAMWAVE_S3_BUCKET: string;
  STREAMWAVE_S3_REGION: string;
  STREAMWAVE_S3_ACCESS_KEY_ID?: string;
  STREAMWAVE_S3_SECRET_ACCESS_KEY?: string;
  STREAMWAVE_S3_FORCE_PATH_STYLE: boolean;
}

/**
 * Variables that only make sense together.
 * @throws Error `env/<VAR> is required when <OTHER> is set`
 */
export function checkServersEnv(e: ServersEnv): void {
  const needs: Array<[keyof ServersEnv, keyof ServersEnv]> = [
    ['STREAMWAVE_TYPESENSE_URL', 'STREAMWAVE_TYPESENSE_API_KEY'],
    ['STREAMWAVE_S3_ENDPOINT', 'STREAMWAVE_S3_ACCESS_KEY_ID'],
    ['STREAMWAVE_S3_ENDPOINT', 'STREAMWAVE_S3_SECRET_ACCESS_KEY'],
  ];
  for (const [set, needed] of needs) {
    if (e[set] && !e[needed]) throw new Error(`env/${needed} is required when ${set} is set`);
  }
}

/** The cluster-mode servers set in `e` (issue 9); absent keys for servers not configured. */
export function serversOf(e: ServersEnv): ServersConfig {
  const strip = (u: string) => u.replace(/\/+$/, '');
  return {
    ...(e.STREAMWAVE_REDIS_URL && { redisUrl: e.STREAMWAVE_REDIS_URL }),
    ...(e.STREAMWAVE_CLICKHOUSE_URL && {
      clickhouse: {
        url: strip(e.STREAMWAVE_CLICKHOUSE_URL),
        username: e.STREAMWAVE_CLICKHOUSE_USERNAME,
        password: e.STREAMWAVE_CLICKHOUSE_PASSWORD,
        database: e.STREAMWAVE_CLICKHOUSE_DATABASE,
        dialect: e.STREAMWAVE_CLICKHOUSE_DIALECT,
        insertWaitMs: e.STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS,
      },
    }),
    ...(e.STREAMWAVE_TYPESENSE_URL && { typesense: { url: strip(e.STREAMWAVE_TYPESENSE_URL), apiKey: e.STREAMWAVE_TYPESENSE_API_KEY! } }),
    ...(e.STREAMWAVE_S3_ENDPOINT && {
      s3: {
        endpoint: strip(e.STREAMWAVE_S3_ENDPOINT),
        publicEndpoint: strip(e.STREAMWAVE_S3_PUBLIC_ENDPOINT ?? e.STREAMWAVE_S3_ENDPOINT),
        bucket: e.STREAMWAVE_S3_BUCKET,
        region: e.STREAMWAVE_S3_REGION,
        accessKeyId: e.STREAMWAVE_S3_ACCESS_KEY_ID!,
        secretAccessKey: e.STREAMWAVE_S3_SECRET_ACCESS_KEY!,
        forcePathStyle: e.STREAMWAVE_S3_FORCE_PATH_STYLE,
      },
    }),
  };
}
