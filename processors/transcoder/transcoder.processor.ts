/**
 * Transcoder processor: reacts to `UploadCompleted`, probes the source, plans the ladder, encodes
 * HLS (fMP4/CMAF) renditions with FFmpeg, uploads them, and drives the video aggregate through
 * StartProcessing → ReportProcessingProgress → RecordRenditionEncoded → PublishVideo (as soon as
 * the lowest rendition is ready) → RecordRenditionEncoded for the rest → CompleteProcessing (the
 * final ladder, with the rungs that failed for good); or FailProcessing. The job itself is in
 * transcode-job.ts, the object layout in hls-keys.ts.
 */
import pino from 'pino';
import type { Logger } from 'pino';
import type { Command, CommandBus } from '../../commands/command-bus.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { DomainError } from '../../domain/shared/event.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { ProcessorNode } from '../runtime/topology.port.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { MediaRejectedError } from './ffprobe.ts';
import { transcode, type SendCommand } from './transcode-job.ts';

/** Default target segment duration, seconds (segments must stay ≤ 6 s). */
export const DEFAULT_SEGMENT_SECONDS = 4;
/** Code of the failure sent by `onDeadLetter`. */
export const PROCESSING_FAILED_CODE = 'PROCESSING_FAILED';

/** What the transcoder node is built from; the composition roots (deploy/) pass their adapters. */
export interface TranscoderDeps {
  commandBus: CommandBus;
  codec: EventCodec;
  objectStore: ObjectStore;
  /** Local scratch directory; each job works in `<workDir>/<videoId>/` and deletes it at the end. */
  workDir: string;
  logger?: Logger;
  /** Target segment duration, seconds. Default 4. */
  segmentSeconds?: number;
  /** Wall clock for command metadata, ms since epoch. Default Date.now. */
  now?: () => number;
  /** FFmpeg binaries; default `resolveFfmpegBinaries()` (env, /usr/bin, PATH). */
  ffmpegPath?: string;
  ffprobePath?: string;
}

/**
 * Builds the transcoder processor node (consumer group `streamwave.transcoder`, topic
 * `streamwave.videos`; only `UploadCompleted` is handled). Guarantee: at-least-once with
 * idempotent outputs.
 *
 * Errors: input problems (unreadable, audio-only, undecodable…) → `FailProcessing` and a normal
 * return (no retry); object-store, spawn and other unexpected errors are thrown so the runtime
 * retries with backoff and finally dead-letters, where `onDeadLetter` sends `FailProcessing`.
 * Idempotent per (video, rendition): a rendition whose `index.m3u8` exists is not re-encoded.
 */
export function buildTranscoderProcessor(deps: TranscoderDeps): ProcessorNode {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const now = deps.now ?? Date.now;
  const binaries = resolveFfmpegBinaries();
  const send: SendCommand = async (type, data) => {
    await deps.commandBus.send({ type, data, metadata: { now: now() } } as Command);
  };
  const env = {
    objectStore: deps.objectStore,
    workDir: deps.workDir,
    segmentSeconds: deps.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS,
    ffmpegPath: deps.ffmpegPath ?? binaries.ffmpeg,
    ffprobePath: deps.ffprobePath ?? binaries.ffprobe,
    logger,
    send,
  };

  const decodeUploadCompleted = async (record: LogRecord): Promise<{ videoId: string; objectKey: string } | null> => {
    if (record.topic !== TOPICS.videos || record.value === null) return null;
    const event = await deps.codec.decode(record.value);
    if (event.type !== 'UploadCompleted') return null;
    return { videoId: event.data.videoId, objectKey: event.data.objectKey };
  };

  return {
    kind: 'processor',
    name: 'transcoder',
    inputs: [TOPICS.videos],
    guarantee: 'at-least-once',
    // Its events go through the command bus (deciders make repeats no-ops); the ladder to the object store.
    outputs: [TOPICS.videos, 'object store: hls/<videoId>/…'],
    async handle(record) {
      const job = await decodeUploadCompleted(record);
      if (!job) return;
      const log = logger.child({ videoId: job.videoId });
      try {
        await transcode(env, job.videoId, job.objectKey, log);
      } catch (err) {
        if (err instanceof MediaRejectedError) {
          log.warn({ code: err.code, reason: err.reason }, 'source rejected');
          try {
            await send('FailProcessing', { videoId: job.videoId, reason: err.reason, code: err.code });
          } catch (failErr) {
            if (failErr instanceof DomainError) {
              log.warn({ err: failErr }, 'FailProcessing refused by the aggregate');
              return;
            }
            throw failErr;
          }
          return;
        }
        if (err instanceof DomainError) {
          // The aggregate refused a command (e.g. the video was deleted meanwhile): retrying cannot help.
          log.warn({ err, code: err.code }, 'command refused; job dropped');
          return;
        }
        throw err;
      }
    },
    async onDeadLetter(record, error) {
      const job = await decodeUploadCompleted(record);
      if (!job) return;
      await send('FailProcessing', {
        videoId: job.videoId,
        reason: `processing failed after retries: ${error.message}`,
        code: PROCESSING_FAILED_CODE,
      });
    },
  };
}
