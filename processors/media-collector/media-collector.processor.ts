/**
 * The media collector (issue 8, finding 5 "Visibility and deletion"): reacts to VideoDeleted by
 * removing the video's objects from the object store — the HLS renditions and master playlist,
 * the thumbnail (all under `videos/<videoId>/`) and the raw upload (`uploads/<videoId>/`) — then,
 * when a CDN is configured, asks it to purge the video's media (`STREAMWAVE_CDN_PURGE_URL`).
 *
 * Media delivery does not wait for it: the tombstone in the video-detail read model already makes
 * the media 404 (media.plugin.ts `access`). The collector frees the storage and empties CDN
 * caches that hold segments served `immutable` for a year. At-least-once: every step is
 * idempotent (deleting what is gone is a no-op, a purge can be repeated), so a crash or a failed
 * purge just runs it again (retries, then the dead-letter topic).
 *
 * CDN purge hook: `POST <cdnPurgeUrl>` with `Content-Type: application/json` and body
 * `{ "video_id": "<id>", "prefix": "/media/videos/<id>/", "paths": ["/media/videos/<id>/hls/master.m3u8", …] }`
 * (the prefix covers every rendition and segment; `paths` lists the well-known entry points for
 * CDNs that purge by URL only). Any 2xx is success; anything else is retried.
 */
import pino from 'pino';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import type { ObjectDeletion } from '../../platform/object-store/object-store.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { ProcessorNode } from '../runtime/topology.port.ts';

export interface MediaCollectorDeps {
  codec: EventCodec;
  objects: ObjectDeletion;
  /** CDN purge endpoint (STREAMWAVE_CDN_PURGE_URL); absent: no CDN, no purge. */
  cdnPurgeUrl?: string;
  /** Path media delivery serves keys under (`/media`, as the embedded store's mediaPathPrefix). */
  mediaPathPrefix?: string;
  /** HTTP client for the purge (tests). Default global fetch. */
  fetch?: typeof fetch;
  logger?: pino.Logger;
}

/**
 * Key prefixes the collector removes for a deleted video, `transcode/` first: a chunk encoder
 * drops its chunk once the job object there is gone (docs/adr/0008), before it uploads.
 */
export const collectedPrefixes = (videoId: string): string[] => [`transcode/${videoId}/`, `videos/${videoId}/`, `uploads/${videoId}/`];

/** The collector as a topology node (consumer group `streamwave.media-collector`). */
export function buildMediaCollector(deps: MediaCollectorDeps): ProcessorNode {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const http = deps.fetch ?? fetch;
  const mediaPrefix = deps.mediaPathPrefix ?? '/media';

  async function purge(videoId: string): Promise<void> {
    if (!deps.cdnPurgeUrl) return;
    const prefix = `${mediaPrefix}/videos/${encodeURIComponent(videoId)}/`;
    const body = { video_id: videoId, prefix, paths: [`${prefix}hls/master.m3u8`, `${prefix}thumbnail.jpg`] };
    const res = await http(deps.cdnPurgeUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`CDN purge answered ${res.status}`);
  }

  return {
    kind: 'processor',
    name: 'media-collector',
    inputs: [TOPICS.videos],
    guarantee: 'at-least-once',
    outputs: ['object store: removes videos/<videoId>/… and uploads/<videoId>/…', 'CDN purge hook (STREAMWAVE_CDN_PURGE_URL)'],
    async handle(record: LogRecord) {
      if (record.topic !== TOPICS.videos || record.value === null) return;
      const event = await deps.codec.decode(record.value);
      if (event.type !== 'VideoDeleted') return;
      const { videoId } = event.data;
      let removed = 0;
      for (const prefix of collectedPrefixes(videoId)) removed += await deps.objects.deletePrefix(prefix);
      await purge(videoId);
      logger.info({ videoId, removedObjects: removed, purged: !!deps.cdnPurgeUrl }, 'media collector: deleted video collected');
    },
  };
}
