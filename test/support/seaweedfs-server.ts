/**
 * A real SeaweedFS server (`weed server`: master, volume, filer and S3 gateway in one process) for
 * tests, driven through `deploy/local/seaweedfs.sh`, which builds `weed` from the Go module proxy on
 * first use (~8 min on 2 cores) and caches it outside the clone.
 *
 *   const skip = await seaweedfsRequirement();   // once per file, at module level
 *   describe('…', { skip }, () => {
 *     let s3: SeaweedfsServer;
 *     before(async () => { s3 = await startSeaweedfsServer(); });
 *     after(async () => { await s3?.stop(); });
 *     test('…', async () => {
 *       const bucket = await s3.createBucket();
 *       … new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
 *                        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } }) …
 *
 * Each server listens on free 127.0.0.1 ports and keeps its data in `dir` (a fresh temp dir by
 * default, removed by `stop()`). If the test process exits without `stop()`, an exit hook SIGKILLs
 * the server's pid so no server outlives the test run.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { missingCheck, scriptPath, scriptRunner, startLocalServer } from './local-server.ts';
import { requirement, succeeds } from './requirements.ts';

export const SEAWEEDFS_SCRIPT = scriptPath('seaweedfs');
const run = scriptRunner('seaweedfs', 16 << 20);

export interface SeaweedfsServer {
  /** S3 endpoint, `http://127.0.0.1:<port>` (path-style addressing: set `forcePathStyle: true`). */
  endpoint: string;
  /** Credentials of the server's only identity (Admin, Read, Write, List, Tagging). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Region to sign with (SeaweedFS accepts any; `us-east-1`). */
  region: string;
  /** Pid of the `weed server` process (changes on `restart`). */
  pid: number;
  /** Data directory (data/, identities.json, ports.env, logs/weed.log). */
  dir: string;
  /**
   * Creates a bucket (default: a fresh random name, `streamwave-test-<hex>`) and returns its name.
   * @throws the SDK's error (e.g. BucketAlreadyExists) when the server refuses.
   */
  createBucket(name?: string): Promise<string>;
  /** An S3 client for this server (path style, checksums only when required, one attempt). */
  client(): S3Client;
  /** Stops the server (SIGTERM, SIGKILL after 30 s) and removes `dir` when it was a temp dir. */
  stop(): Promise<void>;
  /**
   * Stops and starts the same server: same ports, same data and credentials (outage tests).
   * `signal` 'SIGKILL' kills the process outright (a crash) instead of a clean SIGTERM.
   */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

/**
 * Why a SeaweedFS server cannot run here (`STREAMWAVE_SKIP_SEAWEEDFS=1`; curl missing; `weed` not
 * built and neither Go nor curl+unzip to build it), or undefined when it can. Cached per process.
 */
export const seaweedfsMissing: () => Promise<string | undefined> = missingCheck('STREAMWAVE_SKIP_SEAWEEDFS', async () => {
  if (!(await succeeds('curl', ['--version']))) return 'curl does not run (apt-get install curl)';
  const weed = (await run(['path'], 10_000)).trim();
  if (await succeeds(weed, ['version'])) return undefined;
  if (await succeeds('go', ['version']) || await succeeds('/usr/local/go/bin/go', ['version'])) return undefined;
  if (await succeeds('unzip', ['-v'])) return undefined;
  return 'weed is not built, and there is no Go nor unzip to build it (bash deploy/local/seaweedfs.sh fetch)';
});

/**
 * The `skip` option for a test or suite that needs a SeaweedFS server: see
 * test/support/requirements.ts (skips locally with the reason; under CI registers a failing test).
 * Call once per test file.
 */
export async function seaweedfsRequirement(): Promise<string | false> {
  return requirement('a SeaweedFS S3 server (deploy/local/seaweedfs.sh)', await seaweedfsMissing());
}

/**
 * Starts a server (building `weed` first if needed: the first build takes minutes). Credentials
 * are random per data directory.
 * @throws Error with the script's stderr (and the server's log tail) when it cannot start.
 */
export async function startSeaweedfsServer(opts: { dir?: string } = {}): Promise<SeaweedfsServer> {
  let client: S3Client | undefined;
  const base = await startLocalServer({
    name: 'seaweedfs', run, keys: ['url', 'access_key_id', 'secret_access_key', 'region'], dir: opts.dir,
    fetchTimeoutMs: 45 * 60_000, startTimeoutMs: 180_000,
    beforeStop: () => { client?.destroy(); client = undefined; },
  });
  const server: SeaweedfsServer = Object.assign(base, {
    endpoint: base.fields.url,
    accessKeyId: base.fields.access_key_id,
    secretAccessKey: base.fields.secret_access_key,
    region: base.fields.region,
    client() {
      client ??= new S3Client({
        endpoint: server.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 1,
      });
      return client;
    },
    async createBucket(name = `streamwave-test-${randomBytes(6).toString('hex')}`) {
      await server.client().send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
  });
  return server;
}
