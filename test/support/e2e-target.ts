/**
 * The server an end-to-end suite talks to (issue 9, "the standalone end-to-end suite and the
 * security issue's attack tests pass against cluster:local"): the same test code runs against
 * either target, chosen by `STREAMWAVE_E2E_TARGET`:
 * - `standalone` (default): `streamwave start` in a child process (test/support/standalone-process.ts);
 * - `cluster`: `startLocalCluster` (deploy/local/local-cluster.ts, what `npm run cluster:local`
 *   runs): Kafka, Redis, ClickHouse, Typesense and SeaweedFS, then the registry, a projector, a
 *   transcoder and two gateways, each its own process; the suite's `STREAMWAVE_*` overrides go to
 *   every role. The suite talks to the first gateway (`url`); `urls` lists every gateway.
 *
 * `npm run test:cluster` runs the adapted suites in cluster mode.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLocalCluster, type LocalCluster } from '../../deploy/local/local-cluster.ts';
import { loadConfig } from '../../deploy/config/config.ts';
import type { DomainEvent } from '../../domain/events.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createPersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createRedisDataKeyStore } from '../../platform/keys/redis-data-key-store.adapter.ts';
import { Redis } from 'ioredis';
import { createConfluentSchemaRegistryApi, createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { freePort, startStandaloneProcess, type StandaloneProcess } from './standalone-process.ts';

export type E2eMode = 'standalone' | 'cluster';

/** The target chosen by `STREAMWAVE_E2E_TARGET` (`standalone` when unset). @throws on any other value. */
export const E2E_TARGET: E2eMode = (() => {
  const v = process.env.STREAMWAVE_E2E_TARGET || 'standalone';
  if (v !== 'standalone' && v !== 'cluster') throw new Error(`STREAMWAVE_E2E_TARGET must be standalone or cluster, not ${JSON.stringify(v)}`);
  return v;
})();

/** True when the suites run against cluster:local. */
export const IN_CLUSTER = E2E_TARGET === 'cluster';

/** How one process of the target ended (after `stop()`); `code` null while running or when killed by a signal. */
export interface E2eExit { label: string; code: number | null; signal: NodeJS.Signals | null }

/** What a suite gets back: the same fields as `StandaloneProcess` where they make sense in both modes. */
export interface E2eTarget {
  mode: E2eMode;
  /** Base URL of the public API (the first gateway in cluster mode). */
  url: string;
  /** TCP port of `url`. */
  port: number;
  /** Every gateway's base URL (one in standalone mode). */
  urls: string[];
  /** The standalone server's data dir (its embedded log, objects, read models); undefined in cluster mode. */
  dataDir?: string;
  /** The directory the target runs in (standalone: its data dir; cluster: the local cluster's dir, `<dataDir>/retry` after a port clash); start again on it to restart. */
  dir: string;
  /** The standalone process (standalone mode only). */
  standalone?: StandaloneProcess;
  /** The local cluster (cluster mode only): its roles, servers and the roles' environment. */
  cluster?: LocalCluster;
  /** What the process(es) printed so far (in cluster mode every role's log, prefixed with its label). */
  output(): string;
  /** SIGTERM everything and wait for it to exit (cluster mode: roles, then the servers). Idempotent. */
  stop(): Promise<void>;
  /** How each process ended: the standalone server, or every role of the cluster. */
  exits(): E2eExit[];
}

/**
 * Starts the target chosen by `STREAMWAVE_E2E_TARGET` and resolves once it serves the public API
 * (standalone: GET /health 200; cluster: every role live and each gateway's GET /health 200).
 * Starting again on the same `dataDir` is a restart (cluster mode: the servers keep their data and
 * the roles their secrets).
 * @param opts.dataDir a fresh directory for this target (created when missing)
 * @param opts.env `STREAMWAVE_*` overrides, given to the standalone process or to every role
 * @param opts.gateways gateways in cluster mode (default `instances`)
 * @param opts.instances cluster mode: instances of every scalable role, gateways included (default 2, issue 10)
 * @param opts.waitFor `live`: resolve once GET /health/live answers (every role's, in cluster mode),
 *   for a target expected to be unready; default `ready` (GET /health 200)
 * @throws when the target does not come up (standalone within `timeoutMs`, default 60 s; cluster:
 *   a server script or role fails, or a gateway is not healthy within `timeoutMs`, default 180 s)
 */
export async function startE2eTarget(opts: { dataDir: string; env?: Record<string, string>; gateways?: number; instances?: number; timeoutMs?: number; waitFor?: 'live' | 'ready' }): Promise<E2eTarget> {
  if (E2E_TARGET === 'standalone') {
    const sw = await startStandaloneProcess({ dataDir: opts.dataDir, env: opts.env, waitFor: opts.waitFor, ...(opts.timeoutMs && { timeoutMs: opts.timeoutMs }) });
    return {
      mode: 'standalone', url: sw.url, port: sw.port, urls: [sw.url], dataDir: sw.dataDir, dir: sw.dataDir, standalone: sw,
      output: sw.output, stop: () => sw.stop(),
      exits: () => [{ label: 'standalone', code: sw.child.exitCode, signal: sw.child.signalCode }],
    };
  }
  // A port handed out by freePort (or picked by a server script) can be taken by another process
  // before the server binds it (other test runs share the machine): one more try in a fresh dir.
  let cluster: LocalCluster;
  let dir = resolve(opts.dataDir);
  try {
    cluster = await startCluster(dir, opts);
  } catch (err) {
    if (!/Address already in use|EADDRINUSE/.test(String((err as Error).message))) throw err;
    dir = resolve(opts.dataDir, 'retry');
    cluster = await startCluster(dir, opts);
  }
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
    for (const g of opts.waitFor === 'live' ? [] : cluster.gatewayUrls) {
      for (;;) {
        const ok = await fetch(`${g}/health`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`gateway ${g} did not become healthy`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const url = cluster.gatewayUrls[0]!;
  return {
    mode: 'cluster', url, port: Number(new URL(url).port), urls: cluster.gatewayUrls, dir, cluster,
    output: () => cluster.roles.map((r) => (existsSync(r.logFile) ? readFileSync(r.logFile, 'utf8').split('\n').filter(Boolean).map((l) => `[${r.label}] ${l}`).join('\n') : '')).join('\n'),
    stop: () => cluster.stop(),
    exits: () => cluster.roles.map((r) => ({ label: r.label, code: r.process.exitCode, signal: r.process.signalCode })),
  };
}

/** `startLocalCluster` under `dataDir` with the suite's environment given to every role. */
async function startCluster(dataDir: string, opts: { env?: Record<string, string>; gateways?: number; instances?: number }): Promise<LocalCluster> {
  await mkdir(dataDir, { recursive: true });
  // Issue 10: two instances of every scalable role by default (the registry is single-writer).
  const instances = opts.instances ?? 2;
  return startLocalCluster({
    dataDir,
    gatewayPort: await freePort(),
    port: freePort,
    gateways: opts.gateways ?? instances,
    commandProcessors: instances,
    projectors: instances,
    transcoders: instances,
    env: {
      STREAMWAVE_LOG_LEVEL: process.env.STREAMWAVE_TEST_LOG_LEVEL ?? 'warn',
      // Quick rebalances when a test stops a role (the default waits for the broker's 45 s).
      STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...opts.env,
    },
    logger: pino({ level: 'warn' }),
  });
}

/** The roles' configuration as `loadConfig` reads it (cluster mode): server addresses, bucket, registry credentials. */
function clusterConfig(t: E2eTarget) {
  if (!t.cluster) throw new Error('cluster mode only');
  return loadConfig({ ...t.cluster.roleEnv, STREAMWAVE_DATA_DIR: join(t.cluster.roles[0]!.logFile, '..') });
}

/** Decodes every record of `topic` whose key is `key` (every record when undefined), in log order per partition, from `log` with `decode`. */
async function keyedEvents(log: EventLog, decode: (v: Buffer) => Promise<unknown>, topic: string, key: string | undefined): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  const ends = await log.endOffsets(topic);
  for (let partition = 0; partition < ends.length; partition++) {
    for (let from = 0; from < ends[partition]!;) {
      const batch = await log.read(topic, partition, from, 500);
      if (!batch.length) break;
      for (const r of batch) {
        if ((key !== undefined && r.key?.toString() !== key) || r.value === null) continue;
        out.push((await decode(r.value)) as DomainEvent);
      }
      from = batch[batch.length - 1]!.offset + 1;
    }
  }
  return out;
}

/**
 * The events keyed `key` on `topic` (e.g. one video's events on `TOPICS.videos`; every event when
 * `key` is undefined), decoded, in log order per partition.
 * Standalone: read from the embedded log on disk, so the server must be STOPPED first (the log is
 * locked while it runs). Cluster: read from Kafka (committed records) with the schemas from the
 * registry role, while the cluster runs.
 */
export async function topicEvents(t: E2eTarget, topic: string, key?: string): Promise<DomainEvent[]> {
  if (t.mode === 'standalone') {
    const log = await createEmbeddedEventLog({ dataDir: t.dataDir! });
    // The server's data keys (issue 13), so personal fields decode as the server shows them.
    const keys = await createEmbeddedDataKeyStore({ dir: join(t.dataDir!, 'keys') });
    try {
      const registry = createSchemaRegistry({ log });
      await registry.start();
      const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), personalData: createPersonalDataCipher(keys) });
      try {
        return await keyedEvents(log, (v) => codec.decode(v), topic, key);
      } finally {
        await registry.stop();
      }
    } finally {
      await log.close();
      await keys.close();
    }
  }
  const config = clusterConfig(t);
  const log = await createKafkaEventLog({ brokers: config.kafkaBrokers, clientId: 'e2e-reader' });
  const redis = new Redis(config.servers.redisUrl!);
  const keys = await createRedisDataKeyStore({ client: redis });
  try {
    const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host: config.schemaRegistryUrl!, auth: config.schemaRegistryAuth }), personalData: createPersonalDataCipher(keys) });
    return await keyedEvents(log, (v) => codec.decode(v), topic, key);
  } finally {
    await keys.close();
    redis.disconnect();
    await log.close();
  }
}

/**
 * Every file under `dir`, walked one directory at a time so that a directory the media
 * collector removes mid-walk (ENOENT) is skipped rather than failing the walk, as
 * `readdir(..., { recursive: true })` does. None when `dir` does not exist.
 */
export async function filesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await filesUnder(path)));
    else if (e.isFile()) files.push(path);
  }
  return files;
}

/**
 * `<what> in <file relative to dir>` for each needle (`what` → text) whose bytes occur in a file
 * under `dir`, and how many files were read: the byte scans of the erasure and upgrade proofs.
 */
export async function needleHits(dir: string, needles: Record<string, string>): Promise<{ hits: string[]; files: number }> {
  const files = await filesUnder(dir);
  const hits: string[] = [];
  for (const f of files) {
    const bytes = await readFile(f).catch(() => Buffer.alloc(0));
    for (const [what, needle] of Object.entries(needles)) if (bytes.includes(Buffer.from(needle))) hits.push(`${what} in ${f.slice(dir.length + 1)}`);
  }
  return { hits, files: files.length };
}

/**
 * Where the target keeps objects, as one list of names containing `part` (e.g. `uploads/<id>/`):
 * standalone, the files under its data dir (the embedded object store keeps keys as paths);
 * cluster, the object keys in the S3 server's bucket.
 */
export async function storedObjectsWith(t: E2eTarget, part: string): Promise<string[]> {
  if (t.mode === 'standalone') {
    return (await filesUnder(t.dataDir!)).filter((p) => p.includes(part));
  }
  const s3 = clusterConfig(t).servers.s3!;
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: s3.forcePathStyle, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.filter((k) => k.includes(part));
  } finally {
    client.destroy();
  }
}
