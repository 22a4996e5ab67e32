/**
 * Idempotent commands (issue 10, ADR 0006): a command id the client chose, through the HTTP
 * `Idempotency-Key` header, is decided at most once within {@link IDEMPOTENCY_WINDOW_MS}; a command
 * that repeats it gets the first decision's outcome (its events and their log positions) without
 * being decided again.
 *
 * - Ids: `idem_<26 base32 chars>`, a SHA-256 of the caller (user id, or `anonymous`), the route and
 *   the key (gateway/idempotency.ts). The ids of what the command creates (video, upload, user,
 *   comment) are derived from it too, so a repeat lands on the same aggregate, hence on the same
 *   partition of the commands topic and in the same command processor as the first.
 * - Memory: every event a command writes carries its id in the `streamwave-command-id` header.
 *   Whoever decides (the standalone handler, a command processor) indexes the events of `idem_`
 *   ids as it reads them back from the log, at start (restore) and while following it, and keeps
 *   them {@link IDEMPOTENCY_WINDOW_MS} after the command's time (`metadata.now`). Generated ids
 *   (ULIDs) never repeat and are not indexed.
 * - A refused command writes nothing and is not remembered: a repeat is decided again (and is
 *   normally refused again). A command that decided to do nothing (an idempotent retry of the
 *   domain, `events: []`) is likewise decided again, to the same nothing.
 * - Scope: one aggregate. A repeat whose aggregate differs from the first's (the same key on the
 *   same route with other ids, which derived ids rule out) is refused with `IDEMPOTENCY_KEY_REUSED`.
 */
import type { DomainEvent } from '../domain/events.ts';
import { DomainError } from '../domain/shared/event.ts';
import type { LogRecord, RecordMetadata } from '../platform/log/event-log.port.ts';
import { IDEMPOTENT_ID_PREFIX } from './command-bus.port.ts';

/** Record header carrying the id of the command that wrote an event. */
export const COMMAND_ID_HEADER = 'streamwave-command-id';

/** How long a client-chosen command id is remembered after the command's time: 24 h, ms (as Stripe's idempotency keys). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export { IDEMPOTENT_ID_PREFIX };

/** True for an id a client may send again (derived from an `Idempotency-Key`). */
export const isIdempotentId = (commandId: string | undefined): commandId is string =>
  commandId !== undefined && commandId.startsWith(IDEMPOTENT_ID_PREFIX);

/** The first decision of a remembered command: what it wrote, in order. */
export interface RememberedCommand {
  /** The aggregate (stream id, the events' key) it was decided on. */
  streamId: string;
  /** The command's time, ms since the epoch; remembered until `at + IDEMPOTENCY_WINDOW_MS`. */
  at: number;
  events: DomainEvent[];
  /** The events' encoded values, as on the log (for a reply). */
  values: Buffer[];
  positions: RecordMetadata[];
}

/** An event's record: where it is on the log, its key (the stream id), value and timestamp (the command's time, ms). */
export type RememberedRecord = RecordMetadata & { key: string | null; value: Buffer | null; timestamp: number };

/** Remembered command ids of one deciding process; see the file comment. */
export interface CommandIdIndex {
  /** Remembers an event read back from the log (or just acknowledged by it), if its command id is an idempotent one. */
  remember(commandId: string | undefined, event: DomainEvent, record: RememberedRecord): void;
  /**
   * The first decision of `commandId` if it is remembered and `now` is within its window.
   * @throws DomainError IDEMPOTENCY_KEY_REUSED (conflict) when it was decided on another aggregate than `streamId`.
   */
  lookup(commandId: string | undefined, streamId: string, now: number): RememberedCommand | undefined;
}

/** The refusal of a command id used again on another aggregate within the window. */
export const idempotencyKeyReused = (): DomainError =>
  new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for another request in the last 24 h', 'conflict');

/** The command id a record's header carries, if any. */
export const commandIdOf = (r: Pick<LogRecord, 'headers'>): string | undefined => r.headers?.[COMMAND_ID_HEADER];

/** An empty index. Entries older than the window are dropped as new ones arrive (oldest first). */
export function createCommandIdIndex(): CommandIdIndex {
  const entries = new Map<string, RememberedCommand>();
  let newest = 0;
  function prune(): void {
    // Map iteration is insertion order, which follows command time closely enough: stop at the first fresh one.
    for (const [id, e] of entries) {
      if (e.at + IDEMPOTENCY_WINDOW_MS >= newest) break;
      entries.delete(id);
    }
  }
  return {
    remember(commandId, event, record) {
      if (!isIdempotentId(commandId)) return;
      let e = entries.get(commandId);
      if (!e) {
        e = { streamId: record.key ?? '', at: record.timestamp, events: [], values: [], positions: [] };
        entries.set(commandId, e);
      }
      // A record read twice (a follower re-reading after a reload) is not an event twice.
      if (e.positions.some((p) => p.topic === record.topic && p.partition === record.partition && p.offset === record.offset)) return;
      e.events.push(event);
      e.values.push(record.value ?? Buffer.alloc(0));
      e.positions.push({ topic: record.topic, partition: record.partition, offset: record.offset });
      if (record.timestamp > newest) { newest = record.timestamp; prune(); }
    },
    lookup(commandId, streamId, now) {
      if (!isIdempotentId(commandId)) return undefined;
      const e = entries.get(commandId);
      if (!e || e.at + IDEMPOTENCY_WINDOW_MS < now) return undefined;
      if (e.streamId !== streamId) throw idempotencyKeyReused();
      return e;
    },
  };
}
