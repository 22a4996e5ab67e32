/**
 * Data keys and the user-erasure processor, for both modes (issue 13, docs/adr/0009).
 * `openDataKeys` is cluster mode's key store: every role that encodes or decodes events or
 * commands opens the same one, so personal fields encrypted by one role decrypt in another.
 * - With Redis (STREAMWAVE_REDIS_URL): the Redis data-key store, shared by every process; an
 *   erasure evicts the key from every process's cache at once (pub/sub).
 * - Without Redis: the embedded store under `<dataDir>/keys`, which roles share only when they
 *   share the data dir (one machine); another process's cached key then survives an erasure until
 *   it restarts. Use Redis for anything but a single-machine trial.
 * `startUserErasure` runs the user-erasure processor where a command bus and the video-detail read
 * model meet: standalone, and the cluster's gateway and all roles.
 */
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type pino from 'pino';
import type { Registry } from 'prom-client';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import type { DataKeyStore } from '../../platform/keys/data-key-store.port.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createRedisDataKeyStore } from '../../platform/keys/redis-data-key-store.adapter.ts';
import { keyedPseudonyms, type Pseudonyms } from '../../platform/keys/pseudonyms.ts';
import { ANALYTICS_VIEWER_PURPOSE } from '../../projections/analytics/analytics.projection.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { runProcessor } from '../../processors/runtime/processor.runtime.ts';
import { buildUserErasure } from '../../processors/user-erasure/user-erasure.processor.ts';
import type { VideoDetailQueries } from '../../projections/video-detail/video-detail.port.ts';
import { createPersonalDataCipher, type PersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import type { ReadYourWrites } from '../../gateway/gateway.types.ts';

/** A role's key store, the cipher its codecs use and the pseudonyms its analytics stores. */
export interface DataKeys {
  keys: DataKeyStore;
  personalData: PersonalDataCipher;
  /** Analytics viewer pseudonyms keyed by each viewer's data key (platform/keys/pseudonyms.ts). */
  viewerPseudonyms: Pseudonyms;
}

/** Opens the key store (see the file comment). Close `keys` on stop, before the Redis client. */
export async function openDataKeys(o: { redis: Redis | undefined; dataDir: string; logger: pino.Logger }): Promise<DataKeys> {
  const logger = o.logger.child({ component: 'data-keys' });
  const keys = o.redis
    ? await createRedisDataKeyStore({ client: o.redis, logger })
    : await createEmbeddedDataKeyStore({ dir: join(o.dataDir, 'keys'), logger });
  if (!o.redis) logger.warn('data keys in the data dir (no STREAMWAVE_REDIS_URL): roles must share it, and an erasure reaches other processes\' key caches only when they restart');
  return dataKeysOver(keys);
}

/** The cipher and the viewer pseudonyms over `keys` (standalone opens its embedded store itself). */
export function dataKeysOver(keys: DataKeyStore): DataKeys {
  return { keys, personalData: createPersonalDataCipher(keys), viewerPseudonyms: keyedPseudonyms(keys, ANALYTICS_VIEWER_PURPOSE) };
}

/** Runs the user-erasure processor (consumer group `streamwave.user-erasure`) over the given read model; returns its stop. */
export async function startUserErasure(o: {
  log: EventLog; codec: EventCodec; keys: DataKeyStore; commandBus: CommandBus; videoDetail: VideoDetailQueries;
  readYourWrites: ReadYourWrites | undefined; logger: pino.Logger; registry: Registry;
}): Promise<() => Promise<void>> {
  const handle = await runProcessor(
    o.log,
    buildUserErasure({
      codec: o.codec, keys: o.keys, commandBus: o.commandBus, logger: o.logger.child({ component: 'user-erasure' }),
      videosOf: async (userId) => (await o.videoDetail.listUserVideos(userId)).map((v) => v.videoId),
      endOffsets: (topic) => o.log.endOffsets(topic),
      videoDetailCovers: async (positions) => { await o.readYourWrites?.('video-detail', positions); },
    }),
    { logger: o.logger.child({ component: 'runtime' }), registry: o.registry },
  );
  return () => handle.stop();
}
