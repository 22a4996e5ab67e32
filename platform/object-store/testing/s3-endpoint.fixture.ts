import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createEmbeddedObjectStore,
  type EmbeddedObjectStore,
  type EmbeddedS3Config,
} from '../embedded/embedded-object-store.adapter.ts';
import { mediaPlugin } from '../http/media.plugin.ts';
import { s3EndpointPlugin, type S3EndpointPluginOptions } from '../http/s3-endpoint.plugin.ts';

/** Test credentials of the fixture endpoint (not secrets: local tests only). */
export const FIXTURE_S3: EmbeddedS3Config = {
  endpointPath: '/s3',
  bucket: 'streamwave',
  region: 'us-east-1',
  accessKeyId: 'test-access-key',
  secretAccessKey: 'test-secret-key-0123456789',
};

export interface EmbeddedS3Endpoint {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  dir: string;
  /** Store whose presigned URLs point at this server. */
  store: EmbeddedObjectStore;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Test fixture: a Fastify server on 127.0.0.1:0 with the S3 endpoint (`/s3`) and the media plugin
 * (`/media`) over an embedded store in a fresh temp folder. The port is only known after listen,
 * so the returned `store` is a second instance over the same folder built with the real base URL
 * (the adapter serialises commits per path across instances).
 */
export async function startEmbeddedS3Endpoint(
  opts: { minPartSizeBytes?: number } & Omit<S3EndpointPluginOptions, 'store'> = {},
): Promise<EmbeddedS3Endpoint> {
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-s3-'));
  const { minPartSizeBytes, ...pluginOpts } = opts;
  const serverStore = createEmbeddedObjectStore({ dir, publicBaseUrl: 'http://127.0.0.1', s3: FIXTURE_S3, minPartSizeBytes });
  const app = Fastify({ logger: false });
  await app.register(s3EndpointPlugin, { prefix: '/s3', store: serverStore, ...pluginOpts });
  await app.register(mediaPlugin, { prefix: '/media', store: serverStore });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const baseUrl = `http://127.0.0.1:${port}`;
  const store = createEmbeddedObjectStore({ dir, publicBaseUrl: baseUrl, s3: FIXTURE_S3, minPartSizeBytes });
  return {
    baseUrl,
    dir,
    store,
    app,
    async close() {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
