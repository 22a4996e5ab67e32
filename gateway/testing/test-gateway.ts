/**
 * The gateway on the real wiring, for `inject` tests: the real command bus over an in-memory log
 * with the Avro codec and an in-process schema registry, the real read models (key-value and search stores in memory, analytics on
 * chDB in a database of its own) run by the topology test driver, and the embedded object store
 * in a temporary directory. Read-your-writes runs the driver until the read models have applied
 * everything, so a test reads what a client would after the answer; after a command the gateway
 * does not wait on (a view heartbeat), call `world.settle()` before reading.
 * Nothing here is a fake: spies record what passes through real objects. Always `await ctx.close()`.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Command, CommandBus } from '../../commands/command-bus.port.ts';
import type { DomainEvent } from '../../domain/events.ts';
import type { RecordMetadata } from '../../platform/log/event-log.port.ts';
import type { EmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import type { TopologyTestDriver } from '../../processors/runtime/testing/topology-test-driver.ts';
import { createChdbAnalyticsStore } from '../../projections/analytics/chdb-analytics-store.adapter.ts';
import { createLiveEventsProjection } from '../../projections/live-events/live-events.projection.ts';
import type { LiveEvents } from '../../projections/live-events/live-events.port.ts';
import { READ_MODELS, type ReadModelQueries } from '../../projections/read-model.port.ts';
import { openReadModel } from '../../projections/read-models.ts';
import { inMemoryStores, TEST_SEARCH_SECRET } from '../../projections/testing/projection-test-kit.ts';
import { createTestObjectStore, createTopologyWorld } from '../../test/support/test-world.ts';
import { createInMemoryRateLimitStore } from '../../platform/rate-limit/in-memory/in-memory-rate-limit-store.adapter.ts';
import { buildGateway } from '../app.ts';
import { parseRateLimits } from '../rate-limit/rate-limit.rules.ts';
import type { GatewayConfig, GatewayDeps } from '../gateway.types.ts';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

/** Minimum part size the tests' object store accepts (the S3 rule is 5 MiB). */
const MIN_PART_BYTES = 5 * 1024 * 1024;

// libchdb binds one data directory per process: every test gateway of a test file (one process)
// shares this directory, each with an analytics database of its own, and removes it when the
// process exits (it was left behind in the temp folder: one per test file and run).
let chdbDir: Promise<string> | undefined;
let databases = 0;

/** Everything behind a test gateway. */
export interface TestWorld {
  readonly commandBus: CommandBus;
  /** Every command the gateway sent, refused ones included, in order. */
  readonly sent: Command[];
  readonly readModels: ReadModelQueries;
  /** The gateway's live-events feed, run by the driver with the read models. */
  readonly liveEvents: LiveEvents;
  readonly objectStore: EmbeddedObjectStore;
  /** Multipart uploads opened and aborted through the object store port. */
  readonly multipart: { created: number; aborted: number };
  readonly driver: TopologyTestDriver;
  /** Every event on the log, decoded, with its position (per topic in offset order). */
  events(): Promise<{ event: DomainEvent; position: RecordMetadata }[]>;
  /** Runs the read models until they have applied every record on the log. */
  settle(): Promise<void>;
  /** Stands in for a client's PUT to a presigned part URL (S3 UploadPart); returns the ETag. */
  uploadPart(uploadId: string, partNumber: number, body: Buffer): Promise<string>;
  /**
   * Drives an uploaded video to `ready` through the real command bus, as the transcoder does
   * (StartProcessing → RecordRenditionEncoded → PublishVideo). Duration in seconds.
   */
  publish(videoId: string, durationSeconds?: number): Promise<void>;
}

export interface TestGateway {
  app: FastifyInstance;
  world: TestWorld;
  registry: Registry;
  /** Registers a user and logs in; returns its id and a Bearer access token. */
  signUp(username: string, password?: string): Promise<{ id: string; token: string }>;
  /** Starts an upload of `sizeBytes` (auth as `token`); returns the 201 body. */
  startUpload(token: string, sizeBytes?: number, extra?: Record<string, unknown>): Promise<StartUploadBody>;
  /** Start → upload the part → complete: returns the video id. `publish` also drives it to ready. */
  uploadVideo(token: string, opts?: { publish?: boolean; title?: string; tags?: string[] }): Promise<string>;
  inject(opts: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
  /** `GET /videos/{id}/stream` (expects 200): the signed playback session id heartbeats must carry (issue 8). */
  startPlayback(videoId: string): Promise<string>;
  close(): Promise<void>;
}

export interface StartUploadBody {
  video_id: string;
  upload_id: string;
  part_size_bytes: number;
  parts: { part_number: number; url: string }[];
  expires_at: string;
}

/** Options of the world behind a test gateway (the command side's settings). */
export interface TestWorldOptions {
  /** Per-user storage quota of the command bus, bytes (default 50 GiB). */
  userStorageQuotaBytes?: number;
}

async function createTestWorld(dir: string, opts: TestWorldOptions = {}): Promise<TestWorld & { close(): Promise<void> }> {
  chdbDir ??= mkdtemp(join(tmpdir(), 'sw-gw-chdb-')).then((path) => {
    process.once('exit', () => { try { rmSync(path, { recursive: true, force: true, maxRetries: 3 }); } catch { /* a folder left behind must not fail the tests */ } });
    return path;
  });
  const chdbPath = await chdbDir;
  const database = `gw_${process.pid}_${++databases}`;
  const stores = { ...inMemoryStores(), analytics: () => createChdbAnalyticsStore({ path: chdbPath, database }) };
  const nodes = await Promise.all(READ_MODELS.map((name) => openReadModel(name, stores, { searchCursorSecret: TEST_SEARCH_SECRET })));
  const { driver, commandBus, sent, events, close } = await createTopologyWorld({ nodes, userStorageQuotaBytes: opts.userStorageQuotaBytes });
  // The gateway's own live-events feed (Server-Sent Events), from the start of the log.
  const live = createLiveEventsProjection();
  await driver.add(live);
  const multipart = { created: 0, aborted: 0 };
  let settling: Promise<void> = Promise.resolve();
  const store = createTestObjectStore(dir, { minPartSizeBytes: MIN_PART_BYTES });
  const objectStore: EmbeddedObjectStore = Object.assign(Object.create(store) as EmbeddedObjectStore, {
    async createMultipartUpload(key: string, contentType: string) { multipart.created++; return store.createMultipartUpload(key, contentType); },
    async abortMultipartUpload(key: string, uploadId: string) { multipart.aborted++; return store.abortMultipartUpload(key, uploadId); },
  });
  const readModels = Object.fromEntries(nodes.map((n) => [n.name, n.queries])) as unknown as ReadModelQueries;
  return {
    commandBus, sent, readModels, liveEvents: live.queries, objectStore, multipart, driver, events,
    // Serialised: an event stream's sender settles while the driver may be delivering (to the feed).
    settle: () => (settling = settling.catch(() => undefined).then(() => driver.process())),
    uploadPart: (uploadId, partNumber, body) => store.writePart(uploadId, partNumber, body, body.length),
    async publish(videoId, durationSeconds = 10) {
      const rendition = { name: '360p', width: 640, height: 360, bandwidth: 1_000_000, codecs: 'avc1.64001e,mp4a.40.2', playlist: '360p/index.m3u8' };
      const metadata = { now: Date.now() };
      await commandBus.send({ type: 'StartProcessing', data: { videoId, ladder: [rendition], durationSeconds }, metadata });
      await commandBus.send({ type: 'RecordRenditionEncoded', data: { videoId, rendition }, metadata });
      await commandBus.send({
        type: 'PublishVideo',
        data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `hls/${videoId}/thumb.jpg`, durationSeconds },
        metadata,
      });
      await driver.process();
    },
    close,
  };
}

/**
 * A gateway on the real wiring (see the file comment). `overrides` replace gateway dependencies.
 * Rate limits are on at their defaults, like production, unless `config.rateLimits` says otherwise
 * or the test process runs with STREAMWAVE_RATE_LIMITS (e.g. `off` for floods and fuzzing).
 */
export async function createTestGateway(
  config: Partial<GatewayConfig> = {},
  overrides: Partial<GatewayDeps> = {},
  worldOpts: TestWorldOptions = {},
): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'sw-gw-'));
  const world = await createTestWorld(dir, worldOpts);
  const registry = new Registry();
  const app = await buildGateway({
    // A generous upload quota unless a test is about the rate limit.
    config: {
      jwtSecret: TEST_JWT_SECRET, uploadsPerHour: 1000, minPartSizeBytes: MIN_PART_BYTES,
      rateLimits: parseRateLimits(process.env.STREAMWAVE_RATE_LIMITS), ...config,
    },
    commandBus: world.commandBus,
    readModels: world.readModels,
    liveEvents: world.liveEvents,
    readYourWrites: () => world.settle(),
    objectStore: world.objectStore,
    logger: pino({ level: 'silent' }),
    metricsRegistry: registry,
    rateLimitStore: createInMemoryRateLimitStore(),
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
    async startPlayback(videoId) {
      const res = await inject({ method: 'GET', url: `/api/v1/videos/${videoId}/stream` });
      expectStatus(res, 200, 'stream');
      return res.json<{ session_id: string }>().session_id;
    },
    async uploadVideo(token, opts = {}) {
      const size = 1000;
      const started = await ctx.startUpload(token, size, { ...(opts.title && { title: opts.title }), ...(opts.tags && { tags: opts.tags }) });
      const etag = await world.uploadPart(started.upload_id, 1, Buffer.alloc(size, 7));
      const done = await inject({ method: 'POST', url: `/api/v1/uploads/${started.upload_id}/complete`, token, payload: { parts: [{ part_number: 1, etag }] } });
      expectStatus(done, 202, 'complete upload');
      if (opts.publish) await world.publish(started.video_id);
      return started.video_id;
    },
    async close() {
      await app.close();
      await world.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return ctx;
}
