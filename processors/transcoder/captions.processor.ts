/**
 * The caption writer (issue "Creators: a studio…"): reacts to CaptionsPublished by writing the
 * language's subtitle media playlist next to its WebVTT file, and to CaptionsPublished and
 * CaptionsRemoved by rewriting the video's master playlist with its subtitles group (RFC 8216
 * §4.3.4.1, captions-playlist.ts).
 *
 * Why the master is rewritten in the object store, not rendered by the gateway when served: media
 * is delivered from the object store (platform/object-store/http/media.plugin.ts in standalone
 * mode, S3 or a CDN in front of it in cluster mode), not by a gateway route, and the master is a
 * file the transcoder already writes there (hls-output.ts uploadMaster), cached 2 s like every
 * playlist. Writing it keeps one delivery path with its visibility and cache rules, signed URLs
 * included (the subtitle URIs are relative, so they resolve under a signed prefix too).
 *
 * Who writes the master when: the transcoder until VideoProcessingCompleted, this writer after —
 * the decider accepts captions only once processing completed (domain/video/captions.decider.ts),
 * so the two never race. It reads the master it finds and keeps its variants (parseMasterPlaylist),
 * so it needs no state of its own; records of one video are handled in log order (one partition).
 *
 * Guarantee: at-least-once with idempotent writes (the same event writes the same bytes). A master
 * that is gone (the video was deleted and collected) means there is nothing to caption: skipped.
 */
import pino from 'pino';
import { captionKeys } from '../../domain/video/captions.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import { readObject, type ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { ProcessorNode } from '../runtime/topology.port.ts';
import { parseSubtitleRenditions, withSubtitles, writeSubtitlePlaylist } from './captions-playlist.ts';
import { contentTypeOf, hlsKeys } from './hls-keys.ts';
import { parseMasterPlaylist, writeMasterPlaylist } from './master-playlist.ts';

export interface CaptionWriterDeps {
  codec: EventCodec;
  objectStore: Pick<ObjectStore, 'getObject' | 'putObject'>;
  logger?: pino.Logger;
}

/** URI of a language's subtitle playlist relative to the master (`videos/<id>/hls/`). */
const subtitleUri = (language: string): string => `captions/${language}.m3u8`;

/** The caption writer as a topology node (consumer group `streamwave.caption-writer`). */
export function buildCaptionWriter(deps: CaptionWriterDeps): ProcessorNode {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const { objectStore } = deps;
  const m3u8 = contentTypeOf('.m3u8');

  return {
    kind: 'processor',
    name: 'caption-writer',
    inputs: [TOPICS.videos],
    guarantee: 'at-least-once',
    outputs: ['object store: videos/<videoId>/hls/captions/<language>.m3u8 and videos/<videoId>/hls/master.m3u8'],
    async handle(record: LogRecord) {
      if (record.topic !== TOPICS.videos || record.value === null) return;
      const event = await deps.codec.decode(record.value);
      if (event.type !== 'CaptionsPublished' && event.type !== 'CaptionsRemoved') return;
      const { videoId, language } = event.data;
      const masterKey = hlsKeys.master(videoId);
      const master = await readObject(objectStore, masterKey);
      if (master === undefined) {
        logger.warn({ videoId, language }, 'caption writer: no master playlist (video deleted?); skipped');
        return;
      }
      const text = master.toString('utf8');
      let uri: string | null = null;
      if (event.type === 'CaptionsPublished') {
        // Written before the master names it: a player never sees a subtitle URI that is not there.
        const file = event.data.key.slice(captionKeys.prefix(videoId).length);
        await objectStore.putObject(captionKeys.playlist(videoId, language), Buffer.from(writeSubtitlePlaylist(file, event.data.durationSeconds)), m3u8);
        uri = subtitleUri(language);
      }
      const subtitles = withSubtitles(parseSubtitleRenditions(text), language, uri);
      await objectStore.putObject(masterKey, Buffer.from(writeMasterPlaylist(parseMasterPlaylist(text), subtitles)), m3u8);
      logger.info({ videoId, language, event: event.type, tracks: subtitles.length }, 'caption writer: master playlist rewritten');
    },
  };
}
