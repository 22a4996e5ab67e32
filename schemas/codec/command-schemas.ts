import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type avro from 'avsc';
import { namedTypesRegistry, normalizeSchema, parseAvro } from '../registry/avro-schema.ts';
import { COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC } from '../topics.ts';
import type { TopicCommandType } from '../command-codec.port.ts';
import { loadSharedTypes, readAvscFiles, SCHEMAS_DIR, subjectFor, type RecordSchema } from './event-schemas.ts';

/** The record of the replies topic (`commands/CommandOutcome.avsc`). */
export const OUTCOME_RECORD = 'CommandOutcome';

/** The `.avsc` files directly in `dir/commands/` (the envelope, the outcome), parsed, in name order. */
function commandTopLevelFiles(dir: string): { file: string; json: { name?: string; namespace?: string } }[] {
  const commandsDir = join(dir, 'commands');
  return readdirSync(commandsDir).filter((f) => f.endsWith('.avsc')).sort()
    .map((f) => ({ file: join(commandsDir, f), json: JSON.parse(readFileSync(join(commandsDir, f), 'utf8')) }));
}

/** The named types command schemas may reference: the events' shared types and the files directly in `commands/`. */
function commandSharedTypes(dir: string): Record<string, avro.Type> {
  return { ...loadSharedTypes(dir), ...namedTypesRegistry(commandTopLevelFiles(dir).map((f) => f.json)) };
}

/**
 * The schema of the replies topic's record (`dir/commands/CommandOutcome.avsc`), subject
 * `streamwave.command-replies-io.streamwave.command.CommandOutcome`.
 * @throws Error when the file is missing.
 */
export function loadCommandOutcomeSchema(dir: string = SCHEMAS_DIR): RecordSchema<typeof OUTCOME_RECORD> {
  const found = commandTopLevelFiles(dir).find((f) => f.json.name === OUTCOME_RECORD);
  if (!found) throw new Error(`no Avro schema for ${OUTCOME_RECORD} in ${join(dir, 'commands')}`);
  const schemaText = JSON.stringify(normalizeSchema(found.json, loadSharedTypes(dir)));
  const fullName = `${COMMAND_NAMESPACE}.${OUTCOME_RECORD}`;
  return {
    type: OUTCOME_RECORD, namespace: COMMAND_NAMESPACE, fullName, topic: COMMAND_REPLIES_TOPIC,
    subject: subjectFor(COMMAND_REPLIES_TOPIC, fullName), schemaText, avroType: parseAvro(schemaText), file: found.file,
  };
}

/** Namespace of the command envelope; commands are in `io.streamwave.command.<aggregate>`. */
const COMMAND_NAMESPACE = 'io.streamwave.command';

/** The schema of one command type, ready to register (topic COMMANDS_TOPIC). */
export type CommandSchema = RecordSchema<TopicCommandType>;

/**
 * Every command type of the commands topic, so that a missing schema fails at load (a compile-time
 * check keeps the list equal to TopicCommandType).
 */
const COMMAND_TYPES = {
  RegisterUser: true, EraseUser: true, StartUpload: true, CompleteUpload: true, FailUpload: true, StartProcessing: true,
  ReportProcessingProgress: true, RecordRenditionEncoded: true, PublishVideo: true, FailProcessing: true,
  CompleteProcessing: true, RecordStoryboard: true, UpdateVideoMetadata: true, DeleteVideo: true, PublishCaptions: true, RemoveCaptions: true, SetCustomThumbnail: true, PostComment: true, DeleteComment: true, LikeVideo: true, UnlikeVideo: true,
  SubscribeToChannel: true, UnsubscribeFromChannel: true,
} as const satisfies Record<TopicCommandType, true>;

const isCommandType = (name: string | undefined): name is TopicCommandType =>
  name !== undefined && Object.prototype.hasOwnProperty.call(COMMAND_TYPES, name);

/**
 * The command schemas of `dir/commands/<aggregate>/<Type>.avsc` (default: this package's
 * `schemas/`), with the shared types inlined: the events' (e.g. `io.streamwave.video.RenditionInfo`)
 * and `dir/commands/CommandEnvelope.avsc`.
 * @throws Error if a command type of TopicCommandType has no schema, or a file's record name or
 *         namespace disagrees with its place; RegistryError INVALID_SCHEMA for invalid Avro.
 */
export function loadCommandSchemas(dir: string = SCHEMAS_DIR): Map<TopicCommandType, CommandSchema> {
  const commandsDir = join(dir, 'commands');
  const shared = commandSharedTypes(dir);
  const out = new Map<TopicCommandType, CommandSchema>();
  for (const { file, json } of readAvscFiles(commandsDir, new Set())) {
    if (!isCommandType(json.name)) throw new Error(`${file}: ${json.name} is not a command of the commands topic`);
    const namespace = `${COMMAND_NAMESPACE}.${file.split(/[\\/]/).at(-2)}`;
    if (json.namespace !== namespace) throw new Error(`${file}: namespace ${json.namespace} should be ${namespace}`);
    const schemaText = JSON.stringify(normalizeSchema(json, shared));
    const fullName = `${namespace}.${json.name}`;
    out.set(json.name, {
      type: json.name, namespace, fullName, topic: COMMANDS_TOPIC, subject: subjectFor(COMMANDS_TOPIC, fullName),
      schemaText, avroType: parseAvro(schemaText), file,
    });
  }
  const missing = Object.keys(COMMAND_TYPES).filter((t) => !out.has(t as TopicCommandType));
  if (missing.length) throw new Error(`no Avro schema for command types: ${missing.join(', ')}`);
  return out;
}
