import type { Command, CommandBus, CommandResult } from '../../../commands/command-bus.port.ts';

/** A CommandBus that records commands, with the aggregate's idempotency on the transcoder's commands. */
export interface RecordingCommandBus extends CommandBus {
  /** Every command received, in order. */
  readonly commands: Command[];
  /**
   * Commands that would have produced an event: duplicates of StartProcessing, PublishVideo,
   * CompleteProcessing and RecordRenditionEncoded (same video, same rendition) are dropped, as the
   * video aggregate does.
   */
  readonly effective: Command[];
}

export function createRecordingCommandBus(opts: { failOn?: (c: Command) => Error | undefined } = {}): RecordingCommandBus {
  const commands: Command[] = [];
  const effective: Command[] = [];
  const seen = new Set<string>();
  const idempotencyKey = (c: Command): string | null => {
    switch (c.type) {
      case 'StartProcessing':
      case 'PublishVideo':
      case 'CompleteProcessing':
        return `${c.type}:${c.data.videoId}`;
      case 'RecordRenditionEncoded':
        return `${c.type}:${c.data.videoId}:${c.data.rendition.name}`;
      default:
        return null;
    }
  };
  return {
    commands,
    effective,
    async send(command): Promise<CommandResult> {
      commands.push(command);
      const err = opts.failOn?.(command);
      if (err) throw err;
      const key = idempotencyKey(command);
      if (key !== null) {
        if (seen.has(key)) return { events: [], positions: [] };
        seen.add(key);
      }
      effective.push(command);
      return { events: [], positions: [] };
    },
  };
}
