/**
 * Wiring shared by standalone mode (deploy/standalone) and the cluster roles (deploy/cluster):
 * the pieces both build the same way, so the two modes cannot drift apart.
 */
import type { pino } from 'pino';
import type { StreamWaveConfig } from '../config/config.ts';
import type { GatewayConfig, GatewayDeps } from '../../gateway/app.ts';
import { READ_MODELS, type ReadModelName, type ReadModelQueries } from '../../projections/read-model.port.ts';
import type { ProjectionManager } from '../../projections/replay/projection-manager.ts';
import { createEmbeddedObjectStore, type EmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { s3EndpointPlugin } from '../../platform/object-store/http/s3-endpoint.plugin.ts';
import { mediaPlugin } from '../../platform/object-store/http/media.plugin.ts';
import { createMediaUrlSigning, type MediaUrlSigning } from '../../platform/object-store/http/media-url-signing.ts';
import { videoMediaAccess } from '../../projections/video-detail/video-media-access.ts';
import pRetry from 'p-retry';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { createS3ObjectStore, type S3ObjectStore } from '../../platform/object-store/s3/s3-object-store.adapter.ts';
import type { VideoDetailQueries } from '../../projections/video-detail/video-detail.port.ts';
import type { ViewCountSource } from '../../projections/search/search.port.ts';
import { VIDEO_DETAIL } from '../../projections/video-detail/video-detail.projection.ts';
import { createFfmpegThumbnailEncoder } from '../../processors/thumbnails/ffmpeg-thumbnail-encoder.ts';
import type { ThumbnailEncoder } from '../../processors/thumbnails/thumbnail-encoder.port.ts';
import { resolveFfmpegBinaries } from '../../processors/transcoder/ffmpeg-binaries.ts';

/**
 * Name of a role's scratch folder under its data dir (`<data dir>/work`): the transcoder's and the
 * chunk encoder's jobs and the gateway's thumbnail encodes work there, and the role's upload reaper
 * sweeps its direct entries, so whatever a crash leaves in it is removed.
 */
export const WORK_DIR_NAME = 'work';

/** How long a command's answer waits for the read models to show it (read-your-writes), ms. */
export const READ_YOUR_WRITES_TIMEOUT_MS = 5_000;

/** Total lag of a consumer (records behind the end offsets, summed over its partitions). */
export async function totalLag(h: { lag(): Promise<Map<string, number>> }): Promise<number> {
  return [...(await h.lag()).values()].reduce((a, b) => a + b, 0);
}

/** The gateway's settings from the StreamWave configuration. */
export function gatewayConfigOf(config: StreamWaveConfig): GatewayConfig {
  return {
    jwtSecret: config.jwtSecret,
    jwtKeys: config.jwtKeys,
    jwtIssuer: config.jwtIssuer,
    jwtAudience: config.jwtAudience,
    tokenTtlSeconds: config.tokenTtlSeconds,
    maxUploadBytes: config.maxUploadBytes,
    uploadsPerHour: config.uploadsPerHour,
    rateLimits: config.rateLimits,
    trustProxy: config.trustProxy,
    bodyTimeoutSeconds: config.bodyTimeoutSeconds,
    uploadRequestTimeoutSeconds: config.requestTimeoutSeconds,
    headersTimeoutSeconds: config.headersTimeoutSeconds,
    connectionTimeoutSeconds: config.connectionTimeoutSeconds,
    keepAliveTimeoutSeconds: config.keepAliveTimeoutSeconds,
    passwordHashConcurrency: config.passwordHashConcurrency,
    playbackSecret: config.playbackSecret,
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
 * Video detail's view counts for the search read model's sort=views (ReadModelOptions.viewCounts):
 * read from the video-detail instance `manager()` serves at the time of the call. Bound late,
 * because the manager opens the search read model before it serves anything.
 * @throws Error while there is no manager yet (the feed retries on its next run).
 */
export function viewCountsOf(manager: () => ProjectionManager<ReadModelQueries> | undefined): ViewCountSource {
  return async (videoIds) => {
    const m = manager();
    if (!m) throw new Error('video detail is not open yet');
    const detail = m.get(VIDEO_DETAIL).queries;
    const out = new Map<string, number>();
    for (const id of videoIds) {
      const v = await detail.getVideo(id);
      if (v) out.set(id, v.views);
    }
    return out;
  };
}

/**
 * The embedded object store under `dir`, with its S3-compatible endpoint at `/s3` (bucket
 * `streamwave`, SigV4 key = the presign secret, independent of the token keys) and HLS delivery at `/media`.
 */
export function openEmbeddedObjectStore(config: StreamWaveConfig, dir: string, accessKeyId: string, logger: pino.Logger): EmbeddedObjectStore {
  return createEmbeddedObjectStore({
    dir,
    publicBaseUrl: config.publicUrl,
    s3: { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId, secretAccessKey: config.presignSecret },
    mediaPathPrefix: '/media',
    logger,
  });
}

/**
 * The S3 object store of cluster mode (issue 9) on STREAMWAVE_S3_*: uploads, sources and
 * renditions on the S3 server; HLS is delivered by the gateway at `<public URL>/media/<key>`
 * (`publicUrl(key)`), so the deletion and visibility rules keep governing every object. The bucket
 * is created with its CORS rule when missing; the S3 server may still be starting, so that is
 * retried for about a minute.
 * @throws the SDK's error when the bucket cannot be created or reached after the retries.
 */
export async function openS3ObjectStore(config: StreamWaveConfig, logger: pino.Logger): Promise<S3ObjectStore> {
  const s3 = config.servers.s3!;
  const store = createS3ObjectStore({
    endpoint: s3.endpoint,
    presignEndpoint: s3.publicEndpoint,
    region: s3.region,
    bucket: s3.bucket,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: s3.forcePathStyle,
    publicBaseUrl: `${config.publicUrl}/media`,
    logger,
  });
  await pRetry(() => store.ensureBucket(), {
    retries: 8, minTimeout: 250, maxTimeout: 10_000,
    onFailedAttempt: ({ error, attemptNumber }) => logger.warn({ err: error, attemptNumber, endpoint: s3.endpoint }, 'S3 bucket not reachable yet; retrying'),
  });
  return store;
}

/**
 * HLS delivery at `/media` from any object store (the S3 one in cluster mode); with `media`, under
 * the video-detail access rules (deleted → 404 at once, private → signed URLs only; issue 8).
 */
export function mediaPlugins(store: ObjectStore, media?: { videoDetail: Pick<VideoDetailQueries, 'getVideo'>; signing: MediaUrlSigning }): NonNullable<GatewayDeps['plugins']> {
  return [{ plugin: mediaPlugin, prefix: '/media', options: { store, ...(media && { access: videoMediaAccess(media.videoDetail), signing: media.signing }) } }];
}

/**
 * Signed media URLs (private and not-yet-ready videos; issue 8), valid STREAMWAVE_MEDIA_URL_TTL_SECONDS.
 * TODO(issue 8, merge): take the key from the registry helper's `loadOrCreateSecret` (an independent
 * secret in the data dir) instead of deriving it from the JWT secret.
 */
export function mediaUrlSigningOf(config: Pick<StreamWaveConfig, 'mediaUrlSecret' | 'mediaUrlTtlSeconds'>): MediaUrlSigning {
  return createMediaUrlSigning({ secret: config.mediaUrlSecret, ttlSeconds: config.mediaUrlTtlSeconds });
}

/**
 * The gateway's custom thumbnail encoder (issue 15, `PUT /api/v1/videos/{id}/thumbnail`) on the
 * transcoder's settings, so one configuration bounds every FFmpeg run of a role: FFmpeg found as the
 * transcoder finds it (STREAMWAVE_FFMPEG_PATH, /usr/bin/ffmpeg, PATH), the transcoder's address-space
 * cap per run (`config.media.memoryLimitBytes`, STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES, bytes; 0:
 * none), two encodes at once per gateway.
 * `workDir` must be the role's scratch folder that its upload reaper sweeps (WORK_DIR_NAME, the
 * transcoder's too): each encode's `thumbnail-XXXXXX/` folder is a direct entry of it, so one left
 * by a crash is removed once untouched for STREAMWAVE_UPLOAD_EXPIRY_SECONDS
 * (processors/upload-reaper/upload-reaper.ts).
 */
export function thumbnailEncoderOf(config: Pick<StreamWaveConfig, 'media'>, workDir: string): ThumbnailEncoder {
  return createFfmpegThumbnailEncoder({ ffmpegPath: resolveFfmpegBinaries().ffmpeg, workDir, memoryLimitBytes: config.media.memoryLimitBytes });
}

/**
 * Gateway plugins serving the embedded object store: the S3 endpoint (`/s3`) and HLS delivery
 * (`/media`). With `media`, delivery checks each video's access level in the video-detail read
 * model (deleted → 404 at once, private → signed URLs only; issue 8).
 */
export function objectStorePlugins(
  store: EmbeddedObjectStore,
  media?: { videoDetail: Pick<VideoDetailQueries, 'getVideo'>; signing: MediaUrlSigning },
): NonNullable<GatewayDeps['plugins']> {
  return [{ plugin: s3EndpointPlugin, prefix: '/s3', options: { store } }, ...mediaPlugins(store, media)];
}
