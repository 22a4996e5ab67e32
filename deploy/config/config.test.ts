/** loadConfig: every invalid STREAMWAVE_* value fails with a message naming the variable. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.ts';
import { ClusterRoleError, secretsFromDataDirOf, startRole } from '../cluster/roles.ts';
import { clusterSecretsEnv } from '../../test/support/cluster-secrets.ts';

let dataDir = '';
before(async () => { dataDir = await mkdtemp(join(tmpdir(), 'streamwave-config-')); });
after(async () => { await rm(dataDir, { recursive: true, force: true }); });

/** [variable, bad value, what is wrong]. */
const BAD: Array<[string, string, string]> = [
  ['STREAMWAVE_PORT', 'abc', 'non-numeric port'],
  ['STREAMWAVE_PORT', '70000', 'port above 65535'],
  ['STREAMWAVE_PORT', '-1', 'negative port'],
  ['STREAMWAVE_MAX_UPLOAD_BYTES', '-5', 'negative size'],
  ['STREAMWAVE_MAX_UPLOAD_BYTES', '1.5', 'fractional size'],
  ['STREAMWAVE_TOKEN_TTL_SECONDS', '10', 'TTL below 60 s'],
  ['STREAMWAVE_UPLOADS_PER_HOUR', '0', 'zero quota'],
  ['STREAMWAVE_USER_STORAGE_QUOTA_BYTES', '0', 'zero storage quota'],
  ['STREAMWAVE_USER_STORAGE_QUOTA_BYTES', '1.5', 'fractional storage quota'],
  ['STREAMWAVE_UPLOAD_EXPIRY_SECONDS', '59', 'upload expiry under a minute'],
  ['STREAMWAVE_UPLOAD_REAPER_INTERVAL_SECONDS', '0', 'zero reaper interval'],
  ['STREAMWAVE_TRANSCODE_CONCURRENCY', '17', 'concurrency above 16'],
  ['STREAMWAVE_CHUNK_SECONDS', '3', 'a chunk shorter than a segment'],
  ['STREAMWAVE_CHUNK_THRESHOLD_SECONDS', '-1', 'a negative chunking threshold'],
  ['STREAMWAVE_LOG_LEVEL', 'loud', 'unknown log level'],
  ['STREAMWAVE_PUBLIC_URL', 'ftp://x', 'non-http public URL'],
  ['STREAMWAVE_DATA_DIR', '', 'empty data dir'],
  ['STREAMWAVE_JWT_SECRET', 'short', 'secret under 32 chars'],
  ['STREAMWAVE_ADMIN_TOKEN', 'short', 'admin token under 16 chars'],
  ['STREAMWAVE_KAFKA_BROKERS', 'nohost', 'broker without port'],
  ['STREAMWAVE_KAFKA_BROKERS', 'a:1,,b:2', 'empty broker in the list'],
  ['STREAMWAVE_SCHEMA_REGISTRY_URL', 'registry:8081', 'registry URL without scheme'],
  ['STREAMWAVE_KAFKA_REPLICATION_FACTOR', '0', 'replication factor 0'],
  ['STREAMWAVE_TOPIC_PARTITIONS', 'six', 'non-numeric partitions'],
  ['STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS', '10', 'session timeout below 1 s'],
  ['STREAMWAVE_KAFKA_SSL', 'maybe', 'non-boolean SSL flag'],
  ['STREAMWAVE_KAFKA_SASL_MECHANISM', 'md5', 'unknown SASL mechanism'],
  ['STREAMWAVE_RATE_LIMITS', 'login=1/1m', 'unknown rate-limit rule'],
  ['STREAMWAVE_TRUST_PROXY', 'everyone', 'trust proxy neither boolean nor addresses'],
  ['STREAMWAVE_RATE_LIMITS', 'search.ip=lots/1m', 'non-numeric rate limit'],
  ['STREAMWAVE_BODY_TIMEOUT_SECONDS', '0', 'zero body timeout'],
  ['STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS', '-1', 'negative shutdown deadline'],
  ['STREAMWAVE_PASSWORD_HASH_CONCURRENCY', '0', 'no password hashing at all'],
  ['STREAMWAVE_MEDIA_MAX_SIDE_PX', 'big', 'non-numeric max side'],
  ['STREAMWAVE_MEDIA_MAX_ASPECT_RATIO', '0.5', 'aspect ratio limit below 1'],
  ['STREAMWAVE_MEDIA_MAX_DURATION_SECONDS', '0', 'zero max duration'],
  ['STREAMWAVE_TRANSCODE_TIMEOUT_MIN_SECONDS', '-1', 'negative time-limit floor'],
  ['STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES', '-1', 'negative memory cap'],
];

test('issue 8 storage settings: documented defaults, and values are read', () => {
  const d = loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_JWT_SECRET: 'x'.repeat(32), STREAMWAVE_ADMIN_TOKEN: 'a'.repeat(16) });
  assert.equal(d.userStorageQuotaBytes, 50 * 1024 ** 3);
  assert.equal(d.uploadExpirySeconds, 86_400);
  assert.equal(d.uploadReaperIntervalSeconds, 3600);
  const c = loadConfig({
    STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_JWT_SECRET: 'x'.repeat(32), STREAMWAVE_ADMIN_TOKEN: 'a'.repeat(16),
    STREAMWAVE_USER_STORAGE_QUOTA_BYTES: '1048576', STREAMWAVE_UPLOAD_EXPIRY_SECONDS: '600', STREAMWAVE_UPLOAD_REAPER_INTERVAL_SECONDS: '30',
  });
  assert.deepEqual([c.userStorageQuotaBytes, c.uploadExpirySeconds, c.uploadReaperIntervalSeconds], [1_048_576, 600, 30]);
});

test('media limits: PeerTube-like defaults, each configurable (issue 8)', () => {
  const d = loadConfig({ STREAMWAVE_DATA_DIR: dataDir }).media;
  assert.deepEqual(d.sourceLimits, { maxSidePx: 8192, maxPixels: 8192 * 4320, maxAspectRatio: 4, maxDurationSeconds: 21600, maxFps: 240 });
  assert.deepEqual(d.timeLimits, { probeSeconds: 30, encodeFactor: 10, floorSeconds: 120, ceilingSeconds: 43200, stallSeconds: 600, killGraceSeconds: 5 });
  assert.equal(d.memoryLimitBytes, 4 * 1024 ** 3);
  const c = loadConfig({
    STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_MEDIA_MAX_SIDE_PX: '4096', STREAMWAVE_MEDIA_MAX_DURATION_SECONDS: '3600',
    STREAMWAVE_TRANSCODE_STALL_SECONDS: '60', STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES: '0',
  }).media;
  assert.deepEqual([c.sourceLimits.maxSidePx, c.sourceLimits.maxDurationSeconds, c.timeLimits.stallSeconds, c.memoryLimitBytes], [4096, 3600, 60, 0]);
});

test('chunked encoding (ADR 0008): never in standalone, above 600 s in cluster mode, each configurable', () => {
  assert.deepEqual(loadConfig({ STREAMWAVE_DATA_DIR: dataDir }).chunking, { thresholdSeconds: Infinity, chunkSeconds: 20, firstChunkSeconds: 4 });
  assert.equal(loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_KAFKA_BROKERS: 'kafka:9092' }).chunking.thresholdSeconds, 600);
  const c = loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_CHUNK_THRESHOLD_SECONDS: '90', STREAMWAVE_CHUNK_SECONDS: '12', STREAMWAVE_FIRST_CHUNK_SECONDS: '8' });
  assert.deepEqual(c.chunking, { thresholdSeconds: 90, chunkSeconds: 12, firstChunkSeconds: 8 });
});

describe('loadConfig names the bad variable', () => {
  test('valid defaults load', () => {
    const c = loadConfig({ STREAMWAVE_DATA_DIR: dataDir });
    assert.equal(c.port, 8080);
    assert.deepEqual(c.kafkaBrokers, []);
  });

  test('rate limits and timeouts: defaults, off, overrides (issue 8)', () => {
    const c = loadConfig({ STREAMWAVE_DATA_DIR: dataDir });
    assert.deepEqual(c.rateLimits, {});
    assert.deepEqual(
      [c.bodyTimeoutSeconds, c.requestTimeoutSeconds, c.headersTimeoutSeconds, c.connectionTimeoutSeconds, c.keepAliveTimeoutSeconds, c.shutdownTimeoutSeconds, c.passwordHashConcurrency],
      [30, 900, 15, 60, 5, 30, 2],
    );
    assert.equal(loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_RATE_LIMITS: 'off' }).rateLimits, 'off');
    assert.equal(c.trustProxy, false);
    assert.equal(loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_TRUST_PROXY: 'true' }).trustProxy, true);
    assert.deepEqual(loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_TRUST_PROXY: '10.0.0.0/8, 192.168.1.1' }).trustProxy, ['10.0.0.0/8', '192.168.1.1']);
    assert.deepEqual(loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_RATE_LIMITS: 'register.ip=3/1h' }).rateLimits, { 'register.ip': { max: 3, windowSeconds: 3600 } });
  });

  for (const [name, value, what] of BAD) {
    test(`${what}: ${name}=${JSON.stringify(value)}`, () => {
      assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dataDir, [name]: value }), (err: Error) => {
        assert.match(err.message, new RegExp(`\\b${name}\\b`), `message "${err.message}" names ${name}`);
        return true;
      });
    });
  }

  for (const missing of ['STREAMWAVE_KAFKA_SASL_USERNAME', 'STREAMWAVE_KAFKA_SASL_PASSWORD']) {
    test(`SASL mechanism without ${missing}`, () => {
      const env: Record<string, string> = {
        STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_KAFKA_SASL_MECHANISM: 'plain',
        STREAMWAVE_KAFKA_SASL_USERNAME: 'u', STREAMWAVE_KAFKA_SASL_PASSWORD: 'p',
      };
      delete env[missing];
      assert.throws(() => loadConfig(env), (err: Error) => err.message.includes(missing));
    });
  }

  test('cluster mode without brokers names STREAMWAVE_KAFKA_BROKERS (before any connection)', async () => {
    const config = loadConfig({ STREAMWAVE_DATA_DIR: dataDir });
    await assert.rejects(startRole('projector', config), (err: unknown) =>
      err instanceof ClusterRoleError && err.code === 'NO_BROKERS' && err.message.includes('STREAMWAVE_KAFKA_BROKERS'));
  });

  test('a non-registry role without a registry URL names STREAMWAVE_SCHEMA_REGISTRY_URL', async () => {
    const config = loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_KAFKA_BROKERS: '127.0.0.1:1' });
    await assert.rejects(startRole('projector', config), (err: unknown) =>
      err instanceof ClusterRoleError && err.code === 'NO_SCHEMA_REGISTRY_URL' && err.message.includes('STREAMWAVE_SCHEMA_REGISTRY_URL'));
  });
  test('a split cluster role with secrets from its data dir refuses to start, naming the variables (issue 9: roles share no disk)', async () => {
    const config = loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_KAFKA_BROKERS: '127.0.0.1:1', STREAMWAVE_SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
    await assert.rejects(startRole('gateway', config), (err: unknown) =>
      err instanceof ClusterRoleError && err.code === 'SECRETS_NOT_CONFIGURED'
      && ['STREAMWAVE_PRESIGN_SECRET', 'STREAMWAVE_JWT_SECRET', 'STREAMWAVE_ADMIN_TOKEN', 'STREAMWAVE_PLAYBACK_SECRET'].every((v) => (err as Error).message.includes(v)));
    // Configured: nothing comes from the data dir, so nothing is refused.
    const configured = loadConfig({ STREAMWAVE_DATA_DIR: dataDir, ...clusterSecretsEnv() });
    assert.deepEqual(configured.secretsFromDataDir, []);
    for (const role of ['registry', 'commands', 'projector', 'transcoder', 'gateway', 'all'] as const) assert.deepEqual(secretsFromDataDirOf(role, configured), []);
    // One process (`all`) keeps standalone's generated secrets.
    assert.deepEqual(secretsFromDataDirOf('all', config), []);
    assert.deepEqual(secretsFromDataDirOf('registry', config), ['STREAMWAVE_SCHEMA_REGISTRY_PASSWORD']);
  });

  test('servers: each one configured only when its variable is set; a half-configured server names the missing variable', () => {
    assert.deepEqual(loadConfig({ STREAMWAVE_DATA_DIR: dataDir }).servers, {});
    const c = loadConfig({
      STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_REDIS_URL: 'redis://127.0.0.1:6379/0', STREAMWAVE_CLICKHOUSE_URL: 'http://127.0.0.1:8123/',
      STREAMWAVE_TYPESENSE_URL: 'http://127.0.0.1:8108', STREAMWAVE_TYPESENSE_API_KEY: 'k',
      STREAMWAVE_S3_ENDPOINT: 'http://127.0.0.1:8333', STREAMWAVE_S3_ACCESS_KEY_ID: 'a', STREAMWAVE_S3_SECRET_ACCESS_KEY: 's',
    }).servers;
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379/0');
    assert.deepEqual(c.clickhouse, { url: 'http://127.0.0.1:8123', username: 'default', password: '', database: 'streamwave', dialect: 'auto', insertWaitMs: 200 });
    assert.deepEqual(c.typesense, { url: 'http://127.0.0.1:8108', apiKey: 'k' });
    assert.equal(c.s3?.publicEndpoint, 'http://127.0.0.1:8333');
    assert.equal(c.s3?.bucket, 'streamwave');
    assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_TYPESENSE_URL: 'http://x:1' }), /STREAMWAVE_TYPESENSE_API_KEY/);
    assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_S3_ENDPOINT: 'http://x:1', STREAMWAVE_S3_ACCESS_KEY_ID: 'a' }), /STREAMWAVE_S3_SECRET_ACCESS_KEY/);
    assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_CLICKHOUSE_DIALECT: 'ancient' }), /STREAMWAVE_CLICKHOUSE_DIALECT/);
    assert.equal(loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_CLICKHOUSE_URL: 'http://x:1', STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS: '1000' }).servers.clickhouse?.insertWaitMs, 1000);
    assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS: '-1' }), /STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS/);
    assert.throws(() => loadConfig({ STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_REDIS_URL: 'http://x' }), /STREAMWAVE_REDIS_URL/);
  });
});
