import pino from 'pino';
import type { CommandCodec, CommandOutcome, TopicCommand, TopicCommandType } from '../command-codec.port.ts';
import { COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC } from '../topics.ts';
import { SCHEMAS_DIR } from './event-schemas.ts';
import { loadCommandOutcomeSchema, loadCommandSchemas, OUTCOME_RECORD, type CommandSchema } from './command-schemas.ts';
import { createAvroRecordCodec } from './avro-record-codec.ts';
import type { SchemaRegistryApi } from './schema-registry-api.ts';
import type { PersonalDataCipher } from './personal-data.ts';

/** What `createAvroCommandCodec` needs (like AvroEventCodecOptions). */
export interface AvroCommandCodecOptions {
  registry: SchemaRegistryApi;
  /** Folder holding `commands/`; default this package's `schemas/`. */
  schemaDir?: string;
  logger?: pino.Logger;
  /** Crypto-shredding of the fields marked `personal-data` (personal-data.ts); see AvroRecordCodecOptions. */
  personalData?: PersonalDataCipher;
}

/** The command codec plus registration of every command schema. */
export interface AvroCommandCodec extends CommandCodec {
  /**
   * Registers every command schema under `streamwave.commands-<full name>` and the outcome's under
   * `streamwave.command-replies-<full name>`; type → schema id.
   * @throws the registry's error if a schema is incompatible with what is registered.
   */
  registerAll(): Promise<Map<TopicCommandType | typeof OUTCOME_RECORD, number>>;
  readonly schemas: ReadonlyMap<TopicCommandType, CommandSchema>;
}

/** The Avro record of a command: `envelope` then the command's data fields (schemas/commands/<aggregate>/<Type>.avsc). */
interface CommandAvroRecord {
  envelope: { commandId: string; issuedAt: number; actorId: string | null; replyTo: string | null };
  [field: string]: unknown;
}

/**
 * Avro CommandCodec (schemas/command-codec.port.ts) on the shared wire format (avro-record-codec.ts).
 * Absent optional data fields are written as null and null fields are read back as absent, so
 * `decode(encode(r))` gives the command a decider would have been handed in-process.
 */
export function createAvroCommandCodec(opts: AvroCommandCodecOptions): AvroCommandCodec {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const dir = opts.schemaDir ?? SCHEMAS_DIR;
  const records = createAvroRecordCodec({ registry: opts.registry, schemas: loadCommandSchemas(dir), logger, what: 'command', personalData: opts.personalData });
  const outcomeSchema = loadCommandOutcomeSchema(dir);
  const outcomes = createAvroRecordCodec({ registry: opts.registry, schemas: new Map([[OUTCOME_RECORD as typeof OUTCOME_RECORD, outcomeSchema]]), logger, what: 'outcome' });
  return {
    schemas: records.schemas,
    async registerAll() {
      return new Map<TopicCommandType | typeof OUTCOME_RECORD, number>([...await records.registerAll(), ...await outcomes.registerAll()]);
    },

    encodeOutcome: (outcome) => outcomes.encode(COMMAND_REPLIES_TOPIC, OUTCOME_RECORD, outcome),

    async decodeOutcome(buffer) {
      const { value } = await outcomes.decode(buffer);
      return value as CommandOutcome;
    },

    encode({ command, commandId, replyTo }) {
      const data: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(command.data)) data[k] = v === undefined ? null : v;
      const value: CommandAvroRecord = {
        envelope: { commandId, issuedAt: command.metadata.now, actorId: command.metadata.actorId ?? null, replyTo },
        ...data,
      };
      return records.encode(COMMANDS_TOPIC, command.type, value);
    },

    async decode(buffer) {
      const { type, value } = await records.decode(buffer);
      const { envelope, ...fields } = value as CommandAvroRecord;
      const data: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields)) if (v !== null) data[k] = v;
      const metadata = envelope.actorId === null ? { now: envelope.issuedAt } : { now: envelope.issuedAt, actorId: envelope.actorId };
      return { command: { type, data, metadata } as TopicCommand, commandId: envelope.commandId, replyTo: envelope.replyTo };
    },
  };
}
