/**
 * The user-erasure processor (issue 13; GDPR art. 17): reacts to UserErased by
 * 1. deleting the user's data key (platform/keys) first, after which every field the schemas mark
 *    `personal-data` written for the user — in every topic, every backup of the log, and every read
 *    model rebuilt from it — reads as `[erased]` (schemas/codec/personal-data.ts), and no command
 *    carrying their personal data can be written any more (refused USER_ERASED);
 * 2. deleting each of the user's videos through the command bus (DeleteVideo as the owner;
 *    DeleteVideo carries nothing personal), which the media collector follows by removing their
 *    media, search by dropping them, and video detail by keeping a tombstone without their text.
 *
 * Between the two it waits (bounded) until the video-detail read model has read the videos topic
 * up to its end at that moment: once the key is gone no upload of the user can be accepted any
 * more, so every video they ever started is then listed, also one accepted an instant before.
 *
 * The read models forget the user on their own (they consume UserErased too). At-least-once:
 * both steps are idempotent (a video already deleted is refused and skipped, erasing an erased key
 * is a no-op), so a crash or a failure runs the record again.
 */
import pino from 'pino';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import { DomainError } from '../../domain/shared/event.ts';
import type { LogRecord, RecordMetadata } from '../../platform/log/event-log.port.ts';
import type { DataKeyStore } from '../../platform/keys/data-key-store.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { ProcessorNode } from '../runtime/topology.port.ts';

export interface UserErasureDeps {
  codec: EventCodec;
  keys: DataKeyStore;
  commandBus: CommandBus;
  /** Ids of the user's videos not yet deleted (video-detail `listUserVideos`). */
  videosOf(userId: string): Promise<string[]>;
  /** End offsets of a topic (the log's `endOffsets`). */
  endOffsets(topic: string): Promise<number[]>;
  /** Waits (bounded, never throws) until video detail has read these records (the gateway's read-your-writes). */
  videoDetailCovers(positions: RecordMetadata[]): Promise<void>;
  /** ms since the epoch (the DeleteVideo commands' `metadata.now`). Default Date.now. */
  now?: () => number;
  logger?: pino.Logger;
}

/** The processor as a topology node (consumer group `streamwave.user-erasure`). */
export function buildUserErasure(deps: UserErasureDeps): ProcessorNode {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const now = deps.now ?? Date.now;
  return {
    kind: 'processor',
    name: 'user-erasure',
    inputs: [TOPICS.users],
    guarantee: 'at-least-once',
    outputs: ['data-key store: deletes the user\'s key', 'DeleteVideo commands for the erased user\'s videos'],
    async handle(record: LogRecord) {
      if (record.topic !== TOPICS.users || record.value === null) return;
      const event = await deps.codec.decode(record.value);
      if (event.type !== 'UserErased') return;
      const { userId } = event.data;
      await deps.keys.erase(userId);
      const ends = await deps.endOffsets(TOPICS.videos);
      await deps.videoDetailCovers(ends.flatMap((end, partition) => (end > 0 ? [{ topic: TOPICS.videos, partition, offset: end - 1 }] : [])));
      let deleted = 0;
      for (const videoId of await deps.videosOf(userId)) {
        try {
          await deps.commandBus.send({
            type: 'DeleteVideo',
            data: { videoId },
            metadata: { now: now(), actorId: userId, commandId: `erase:${userId}:${videoId}` },
          });
          deleted++;
        } catch (err) {
          // Deleted meanwhile (or never fully created): nothing left to delete.
          if (!(err instanceof DomainError)) throw err;
          logger.info({ userId, videoId, code: err.code }, 'user erasure: video not deleted');
        }
      }
      logger.info({ userId, deletedVideos: deleted }, 'user erasure: data key shredded and videos deleted');
    },
  };
}
