import type { DomainCommand } from '../domain/commands.ts';
import type { RecordView } from '../domain/view/view.commands.ts';
import type { RecordPlaybackEvents } from '../domain/playback/playback.commands.ts';
import type { RecordMetadata } from '../platform/log/event-log.port.ts';

/**
 * The commands that travel on the commands topic (ADR 0006): every command but heartbeats and
 * playback reports. `RecordView` and `RecordPlaybackEvents` change no aggregate state; they are
 * checked at the gateway and appended directly (issue 10: heartbeat throughput must not pay a
 * round trip through the commands topic).
 */
export type TopicCommand = Exclude<DomainCommand, RecordView | RecordPlaybackEvents>;

/** The command types of the commands topic. */
export type TopicCommandType = TopicCommand['type'];

/** One record of the commands topic: the command and its envelope (schemas/commands/CommandEnvelope.avsc). */
export interface CommandRecord {
  command: TopicCommand;
  /**
   * Id of the command: the client's `Idempotency-Key` scoped to its actor, or a generated ULID. A
   * command processor decides a command id at most once (it keeps the ids of the last 24 h).
   */
  commandId: string;
  /** The gateway instance waiting for the outcome; null when nobody waits (transcoder, reaper). */
  replyTo: string | null;
}

/**
 * What the command processor decided for one command (schemas/commands/CommandOutcome.avsc), sent
 * to the replies topic in the transaction that wrote the events.
 */
export interface CommandOutcome {
  commandId: string;
  /** True when accepted (`events` may be empty: an idempotent retry); false when refused. */
  accepted: boolean;
  /** The events as written to their topics (Confluent wire format), in order. */
  events: Buffer[];
  /** Where `events` landed, in the same order (read-your-writes). */
  positions: RecordMetadata[];
  /** The decider's DomainError when refused, else null. `kind` picks the HTTP status. */
  refusal: { code: string; message: string; kind: 'not_found' | 'forbidden' | 'conflict' | 'invalid' } | null;
  /** When it was decided, ms since the epoch. */
  decidedAt: number;
}

/**
 * CommandCodec: command record ⇄ record value in the Confluent wire format (magic byte 0, 4-byte
 * big-endian schema id, Avro binary), subjects `streamwave.commands-<record full name>`
 * (TopicRecordNameStrategy), like EventCodec. `metadata.now` travels as `envelope.issuedAt`,
 * `metadata.actorId` as `envelope.actorId`. An optional data field that is absent (`undefined`)
 * encodes as null and decodes as absent, so a decider sees the command it would have seen
 * in-process.
 */
export interface CommandCodec {
  /** @throws CodecError `UNKNOWN_COMMAND_TYPE` (e.g. RecordView), `AVRO_ENCODE` (naming the fields). */
  encode(record: CommandRecord): Promise<Buffer>;
  /** @throws CodecError `BAD_MAGIC_BYTE`, `UNKNOWN_SCHEMA_ID`, `UNKNOWN_COMMAND_TYPE`, `AVRO_DECODE`. */
  decode(value: Buffer): Promise<CommandRecord>;
  /** An outcome for the replies topic. @throws CodecError `AVRO_ENCODE`. */
  encodeOutcome(outcome: CommandOutcome): Promise<Buffer>;
  /** @throws CodecError `BAD_MAGIC_BYTE`, `UNKNOWN_SCHEMA_ID`, `UNKNOWN_OUTCOME_TYPE`, `AVRO_DECODE`. */
  decodeOutcome(value: Buffer): Promise<CommandOutcome>;
}
