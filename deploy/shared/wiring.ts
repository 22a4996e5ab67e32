/**
 * Wiring shared by standalone mode (deploy/standalone) and the cluster roles (deploy/cluster):
 * the pieces both build the same way, so the two modes cannot drift apart.
 */
import { createHash } from 'node:crypto';
import type { pino } from 'pino';
import type { StreamWaveConfig } from '../config/config.ts';
import type { GatewayConfig, GatewayDeps } from '../../gateway/app.ts';
import { READ_MODELS, type ReadModelName, type ReadModelQueries } from '../../projections/read-model.port.ts';
import type { ProjectionManager } from '../../projections/replay/projection-manager.ts';
import { createEmbeddedObjectStore, type EmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { s3EndpointPlugin } from '../../platform/object-store/http/s3-endpoint.plugin.ts';
import { mediaPlugin } from '../../platform/object-store/http/media.plugin.ts';

/** How long a command's answer waits for the read models to show it (read-your-writes), ms. */
export const READ_YOUR_WRITES_TIMEOUT_MS = 5_000;

/**
 * A secret for one purpose (S3 signing key, cursor HMAC, …) derived from the one configured
 * secret: SHA-256 of `<purpose>:<jwtSecret>`, base64url. Rotating STREAMWAVE_JWT_SECRET rotates them all.
 */
export function derivedSecret(config: Pick<StreamWaveConfig, 'jwtSecret'>, purpose: string): string {
  return createHash('sha256').update(`${purpose}:${config.jwtSecret}`).digest('base64url');
}

/** Total lag of a consumer (records behind the end offsets, summed over its partitions). */
export async function totalLag(h: { lag(): Promise<Map<string, number>> }): Promise<number> {
  return [...(await h.lag()).values()].reduce((a, b) => a + b, 0);
}

/** The gateway's settings from the StreamWave configuration. */
export function gatewayConfigOf(config: StreamWaveConfig): GatewayConfig {
  return {
    jwtSecret: config.jwtSecret,
    tokenTtlSeconds: config.tokenTtlSeconds,
    maxUploadBytes: config.maxUploadBytes,
    uploadsPerHour: config.uploadsPerHour,
    // TODO(issue 8, merge): use the registry helper's loadOrCreateSecret for an independent
    // playback secret; until then derived from the one configured secret.
    playbackSecret: config.playbackSecret ?? derivedSecret(config, 'playback-session'),
    playbackSessionTtlSeconds: config.playbackSessionTtlSeconds,
  };
}

/**
 * The gateway's read models from the projection manager: the query port of every read model
 * (stable across replay swaps), read-your-writes through the read model that answers the next
 * read (waits at most READ_YOUR_WRITES_TIMEOUT_MS; a timeout answers anyway: the write is
 * durable, the read model just lags), and the lag of each for `/health`.
 */
export function readModelsOf(manager: ProjectionManager<ReadModelQueries>): Pick<GatewayDeps, 'readModels' | 'readYourWrites'> & { lag(): Promise<Record<ReadModelName, number>> } {
  const readModels = Object.fromEntries(READ_MODELS.map((name) => [name, manager.get(name).queries])) as unknown as ReadModelQueries;
  return {
    readModels,
    async readYourWrites(name, positions) {
      await manager.get(name).handle.waitFor(positions, READ_YOUR_WRITES_TIMEOUT_MS);
    },
    async lag() {
      const out = {} as Record<ReadModelName, number>;
      for (const name of READ_MODELS) out[name] = await totalLag(manager.get(name).handle);
      return out;
    },
  };
}

/**
 * The embedded object store under `dir`, with its S3-compatible endpoint at `/s3` (bucket
 * `streamwave`, SigV4 key derived from the configured secret) and HLS delivery at `/media`.
 */
export function openEmbeddedObjectStore(config: StreamWaveConfig, dir: string, accessKeyId: string, logger: pino.Logger): EmbeddedObjectStore {
  return createEmbeddedObjectStore({
    dir,
    publicBaseUrl: config.publicUrl,
    s3: { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId, secretAccessKey: derivedSecret(config, 's3') },
    mediaPathPrefix: '/media',
    logger,
  });
}

/** Gateway plugins serving the embedded object store: the S3 endpoint (`/s3`) and HLS delivery (`/media`). */
export function objectStorePlugins(store: EmbeddedObjectStore): NonNullable<GatewayDeps['plugins']> {
  return [
    { plugin: s3EndpointPlugin, prefix: '/s3', options: { store } },
    { plugin: mediaPlugin, prefix: '/media', options: { store } },
  ];
}
