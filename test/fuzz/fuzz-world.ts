/**
 * The fuzz suite's target: standalone mode started in this process exactly as `npm start` wires it
 * (embedded log, registry at /registry, S3 endpoint at /s3, media at /media, admin API, gateway),
 * listening on a free loopback port, with every route recorded as Fastify registers it. Requests
 * go over real HTTP (node:http, raw headers allowed), so header parsing and body limits are real.
 * Seeded with a user, an admin token and a started upload so path parameters can hit real ids.
 *
 * With STREAMWAVE_E2E_TARGET=cluster (issue 9, `npm run test:cluster`) the routes are still the
 * ones standalone registers (enumerated by starting standalone in this process, then stopped), but
 * the requests go to cluster:local (test/support/e2e-target.ts): the public API and /media to the
 * first gateway role, `/registry/*` to the registry role (which serves the same routes at its root).
 * The `/s3/*` routes are left out in cluster mode: there the S3 endpoint is the SeaweedFS server,
 * not StreamWave's code.
 */
import { request as httpRequest, Agent } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteOptions } from 'fastify';
import { loadConfig } from '../../deploy/config/config.ts';
import { startStandalone } from '../../deploy/standalone/standalone.ts';
import type { JsonSchema } from './schema-arbitrary.ts';
import { IN_CLUSTER, startE2eTarget } from '../support/e2e-target.ts';

/** One route as registered: method, URL pattern (`/api/v1/videos/:id`), and its schemas. */
export interface FuzzRoute {
  method: string;
  url: string;
  schema: { body?: JsonSchema; querystring?: JsonSchema; params?: JsonSchema; headers?: JsonSchema };
}

/** A request the fuzzer sends; `body` is sent as-is (a Buffer/string) or JSON-encoded (anything else). */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

export interface FuzzWorld {
  /** Base URL of the listening server. */
  url: string;
  routes: FuzzRoute[];
  /** Real ids and credentials to splice into requests. */
  seeds: { userToken: string; adminToken: string; username: string; videoId: string; uploadId: string; presignedPartPath: string };
  /** Sends a request; resolves with the status, or 0 when the server closed the socket (counted, never a 5xx). */
  send(req: FuzzRequest): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const ADMIN_TOKEN = 'fuzz-admin-token-0123456789';

/** Starts the world (see the file comment). Always `await world.close()`. */
export async function startFuzzWorld(): Promise<FuzzWorld> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sw-fuzz-'));
  const routes: FuzzRoute[] = [];
  const config = loadConfig({
    STREAMWAVE_DATA_DIR: dataDir,
    STREAMWAVE_PORT: '0',
    STREAMWAVE_HOST: '127.0.0.1',
    STREAMWAVE_LOG_LEVEL: 'silent',
    STREAMWAVE_ADMIN_TOKEN: ADMIN_TOKEN,
    STREAMWAVE_UPLOADS_PER_HOUR: '1000000',
    // The fuzzer is one client sending thousands of requests: rate limits would answer 429 to most of them.
    STREAMWAVE_RATE_LIMITS: 'off',
  });
  const running = await startStandalone(config, {
    onRoute: (r: RouteOptions) => {
      for (const method of [r.method].flat()) {
        routes.push({ method: String(method), url: r.url, schema: (r.schema ?? {}) as FuzzRoute['schema'] });
      }
    },
  });
  // Cluster mode: the routes were all that standalone was needed for; the requests go to the cluster.
  let target: Awaited<ReturnType<typeof startE2eTarget>> | undefined;
  if (IN_CLUSTER) {
    await running.stop();
    target = await startE2eTarget({ dataDir: join(dataDir, 'cluster'), gateways: 1, env: { STREAMWAVE_UPLOADS_PER_HOUR: '1000000', STREAMWAVE_RATE_LIMITS: 'off', STREAMWAVE_LOG_LEVEL: 'silent' } });
  }
  const gatewayBase = new URL(target?.url ?? running.url);
  const registryBase = target && new URL(target.cluster!.roles.find((r) => r.role === 'registry')!.url);
  const adminToken = target?.cluster!.roleEnv.STREAMWAVE_ADMIN_TOKEN ?? ADMIN_TOKEN;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });

  const send = (req: FuzzRequest) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const toRegistry = registryBase !== undefined && /^\/registry(\/|\?|$)/.test(req.path);
    const base = toRegistry ? registryBase : gatewayBase;
    const path = toRegistry ? req.path.slice('/registry'.length).replace(/^(?!\/)/, '/') : req.path;
    const payload = req.body === undefined ? undefined
      : Buffer.isBuffer(req.body) || typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    // An explicit Content-Length: node sends GET/HEAD/DELETE bodies neither chunked nor sized otherwise.
    const headers = payload === undefined ? req.headers : { ...req.headers, 'content-length': String(Buffer.byteLength(payload)) };
    const r = httpRequest({ host: base.hostname, port: base.port, method: req.method, path, headers, agent }, (res) => {
      // An event stream (GET /videos/{id}/events) never ends by itself: its status is the answer.
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, body: '' });
        r.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 2000) }));
      res.on('error', reject);
    });
    // A request the server refuses to read ends the socket (reset), and an error answer to a HEAD
    // whose headers could not be parsed carries a body node's client does not expect (the server
    // cannot know the method): both are status 0 here, never a 5xx.
    r.on('error', (err: NodeJS.ErrnoException) => {
      const refused = err.code === 'ECONNRESET' || err.code === 'EPIPE' || (req.method === 'HEAD' && err.code?.startsWith('HPE_'));
      if (refused) resolve({ status: 0, body: err.code ?? '' }); else reject(err);
    });
    if (payload !== undefined) r.end(payload); else r.end();
  });

  const json = async (req: FuzzRequest) => {
    const res = await send({ ...req, headers: { 'content-type': 'application/json', ...req.headers } });
    if (res.status >= 300) throw new Error(`fuzz world seeding: ${req.method} ${req.path} → ${res.status} ${res.body}`);
    return JSON.parse(res.body) as Record<string, unknown>;
  };
  const username = 'fuzzer';
  const password = 'correct horse battery staple';
  await json({ method: 'POST', path: '/api/v1/users', headers: {}, body: { username, email: 'fuzzer@example.com', password } });
  const login = await json({ method: 'POST', path: '/api/v1/auth/token', headers: {}, body: { username, password } });
  const userToken = String(login.access_token);
  const upload = await json({
    method: 'POST', path: '/api/v1/uploads', headers: { authorization: `Bearer ${userToken}` },
    body: { filename: 'clip.mp4', size_bytes: 1000, content_type: 'video/mp4', title: 'Fuzz target' },
  });

  return {
    url: gatewayBase.origin,
    routes: IN_CLUSTER ? routes.filter((r) => !r.url.startsWith('/s3')) : routes,
    seeds: {
      userToken, adminToken, username, videoId: String(upload.video_id), uploadId: String(upload.upload_id),
      // A real presigned UploadPart URL (path + query): its signature gets S3 requests past SigV4 into the handlers.
      presignedPartPath: (() => { const u = new URL((upload.parts as { url: string }[])[0].url); return u.pathname + u.search; })(),
    },
    send,
    async close() {
      agent.destroy();
      await target?.stop();
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
