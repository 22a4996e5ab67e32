/**
 * Builds a gateway over the fakes for `inject` tests, plus helpers to register users and upload
 * videos through the public API. Always `await ctx.close()` (closes the Fastify instance).
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { buildGateway } from '../app.ts';
import type { GatewayConfig, GatewayDeps } from '../gateway.types.ts';
import { createFakeWorld, type FakeWorld } from './fakes.ts';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export interface TestGateway {
  app: FastifyInstance;
  world: FakeWorld;
  registry: Registry;
  /** Registers a user and logs in; returns its id and a Bearer access token. */
  signUp(username: string, password?: string): Promise<{ id: string; token: string }>;
  /** Starts an upload of `sizeBytes` (auth as `token`); returns the 201 body. */
  startUpload(token: string, sizeBytes?: number, extra?: Record<string, unknown>): Promise<StartUploadBody>;
  /** Start → upload parts (fake PUT) → complete: returns the video id. `publish` also drives it to ready. */
  uploadVideo(token: string, opts?: { publish?: boolean; title?: string; tags?: string[] }): Promise<string>;
  inject(opts: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface StartUploadBody {
  video_id: string;
  upload_id: string;
  part_size_bytes: number;
  parts: { part_number: number; url: string }[];
  expires_at: string;
}

export async function createTestGateway(
  config: Partial<GatewayConfig> = {},
  overrides: Partial<GatewayDeps> = {},
): Promise<TestGateway> {
  const world = createFakeWorld();
  const registry = new Registry();
  const app = await buildGateway({
    // A generous upload quota unless a test is about the rate limit.
    config: { jwtSecret: TEST_JWT_SECRET, uploadsPerHour: 1000, ...config },
    commandBus: world.commandBus,
    videoQueries: world.readModels,
    analytics: world.readModels,
    search: world.readModels,
    objectStore: world.objectStore,
    logger: pino({ level: 'silent' }),
    metricsRegistry: registry,
    ...overrides,
  });

  const inject = (opts: InjectOptions & { token?: string }) => {
    const { token, ...rest } = opts;
    return app.inject({ ...rest, headers: { ...(rest.headers ?? {}), ...(token && { authorization: `Bearer ${token}` }) } });
  };

  const expectStatus = (res: LightMyRequestResponse, status: number, what: string) => {
    if (res.statusCode !== status) throw new Error(`${what}: expected ${status}, got ${res.statusCode} ${res.body}`);
  };

  const ctx: TestGateway = {
    app,
    world,
    registry,
    inject,
    async signUp(username, password = 'correct horse battery') {
      const reg = await inject({ method: 'POST', url: '/api/v1/users', payload: { username, email: `${username}@example.com`, password } });
      expectStatus(reg, 201, 'register');
      const login = await inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username, password } });
      expectStatus(login, 200, 'login');
      return { id: reg.json<{ id: string }>().id, token: login.json<{ access_token: string }>().access_token };
    },
    async startUpload(token, sizeBytes = 1000, extra = {}) {
      const res = await inject({
        method: 'POST',
        url: '/api/v1/uploads',
        token,
        payload: { filename: 'clip.mp4', size_bytes: sizeBytes, content_type: 'video/mp4', title: 'A clip', ...extra },
      });
      expectStatus(res, 201, 'start upload');
      return res.json<StartUploadBody>();
    },
    async uploadVideo(token, opts = {}) {
      const size = 1000;
      const started = await ctx.startUpload(token, size, { ...(opts.title && { title: opts.title }), ...(opts.tags && { tags: opts.tags }) });
      const etag = world.objectStore.uploadPart(started.upload_id, 1, Buffer.alloc(size, 7));
      const done = await inject({
        method: 'POST',
        url: `/api/v1/uploads/${started.upload_id}/complete`,
        token,
        payload: { parts: [{ part_number: 1, etag }] },
      });
      expectStatus(done, 202, 'complete upload');
      if (opts.publish) await world.publish(started.video_id);
      return started.video_id;
    },
    close: () => app.close(),
  };
  return ctx;
}
