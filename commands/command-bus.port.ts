import type { CommandMetadata } from '../domain/shared/event.ts';
import type { DomainEvent, RenditionInfo } from '../domain/events.ts';
import type { RecordMetadata } from '../processors/log/event-log.port.ts';

/**
 * Commands: intentions sent to an aggregate. Ids and time arrive on the command
 * (`metadata.now`, generated ids) so `decide` is pure and replay is deterministic.
 */
export type Command =
  | { type: 'RegisterUser'; data: { userId: string; username: string; email: string; passwordHash: string }; metadata: CommandMetadata }
  | {
      type: 'StartUpload';
      data: {
        videoId: string; ownerId: string; uploadId: string; objectKey: string; filename: string; sizeBytes: number;
        contentType: string; title: string; description: string; tags: string[]; partSizeBytes: number;
      };
      metadata: CommandMetadata;
    }
  | { type: 'CompleteUpload'; data: { videoId: string; uploadId: string; sizeBytes: number }; metadata: CommandMetadata }
  | { type: 'StartProcessing'; data: { videoId: string; ladder: RenditionInfo[]; durationSeconds: number }; metadata: CommandMetadata }
  | { type: 'ReportProcessingProgress'; data: { videoId: string; progress: number }; metadata: CommandMetadata }
  | { type: 'RecordRenditionEncoded'; data: { videoId: string; rendition: RenditionInfo }; metadata: CommandMetadata }
  | { type: 'PublishVideo'; data: { videoId: string; masterPlaylistKey: string; thumbnailKey: string; durationSeconds: number }; metadata: CommandMetadata }
  | { type: 'FailProcessing'; data: { videoId: string; reason: string; code: string }; metadata: CommandMetadata }
  | { type: 'UpdateVideoMetadata'; data: { videoId: string; title?: string; description?: string; tags?: string[] }; metadata: CommandMetadata }
  | { type: 'DeleteVideo'; data: { videoId: string }; metadata: CommandMetadata }
  | { type: 'PostComment'; data: { commentId: string; videoId: string; authorId: string; parentId?: string | null; body: string }; metadata: CommandMetadata }
  | {
      type: 'RecordView';
      data: { videoId: string; sessionId: string; viewerId?: string | null; watchedSeconds: number; positionSeconds: number };
      metadata: CommandMetadata;
    };

export type CommandType = Command['type'];

/** What a command produced: the events and where they landed on the log. */
export interface CommandResult {
  /** Appended events; `[]` for an idempotent retry. */
  events: DomainEvent[];
  /**
   * Log positions of the appended events, in order. The gateway hands them to a read model's
   * `waitFor(positions)` to give a client read-your-writes consistency.
   */
  positions: RecordMetadata[];
}

/**
 * CommandBus: decides a command against the current state of its aggregate and appends the
 * resulting events to the log. Resolves once they are acknowledged (durable).
 * @throws DomainError (from domain/shared/event.ts) when the command breaks an invariant.
 */
export interface CommandBus {
  send(command: Command): Promise<CommandResult>;
}
