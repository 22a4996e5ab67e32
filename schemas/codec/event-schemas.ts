import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type avro from 'avsc';
import { type DomainEventType } from '../../domain/events.ts';
import { TOPIC_OF } from '../topics.ts';
import { namedTypesRegistry, normalizeSchema, parseAvro } from '../registry/avro-schema.ts';

/** Folder holding `<aggregate>/<RecordName>.avsc` (this package's `schemas/`). */
export const SCHEMAS_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Namespace prefix of every StreamWave record: `io.streamwave.<aggregate>`. */
const NAMESPACE_PREFIX = 'io.streamwave.';

/** The schema of one record type (an event or a command), ready to register. */
export interface RecordSchema<T extends string = string> {
  /** Event or command type = Avro record name. */
  type: T;
  /** `io.streamwave.<aggregate>` (events), `io.streamwave.command.<aggregate>` (commands). */
  namespace: string;
  /** `<namespace>.<type>`. */
  fullName: string;
  /** Topic the record is written to (events: TOPIC_OF in schemas/topics.ts; commands: COMMANDS_TOPIC). */
  topic: string;
  /** Registry subject, TopicRecordNameStrategy: `<topic>-<fullName>`. */
  subject: string;
  /** Self-contained schema JSON text (shared named types inlined), as registered. */
  schemaText: string;
  /** Plain avsc type of `schemaText` (no logical type implementations: timestamps stay numbers). */
  avroType: avro.Type;
  /** Source `.avsc` file. */
  file: string;
}

/** The schema of one event type, ready to register. */
export type EventSchema = RecordSchema<DomainEventType>;

/** Registry subject of a record under TopicRecordNameStrategy (`<topic>-<record full name>`). */
export function subjectFor(topic: string, fullName: string): string {
  return `${topic}-${fullName}`;
}

/** One `.avsc` file, parsed. */
export interface AvscFile { file: string; json: { name?: string; namespace?: string } }

/**
 * Folders of `schemas/` that hold no event schemas (`commands/` holds the command schemas,
 * command-schemas.ts; `tasks/` the work items of internal topics, task-schemas.ts).
 */
const NOT_EVENT_FOLDERS = new Set(['registry', 'codec', 'commands', 'tasks', 'node_modules']);

/** The `.avsc` files of every `dir/<aggregate>/` folder not in `skip`, each folder's files in name order. */
export function readAvscFiles(dir: string, skip: ReadonlySet<string> = NOT_EVENT_FOLDERS): AvscFile[] {
  const out: AvscFile[] = [];
  for (const agg of readdirSync(dir, { withFileTypes: true })) {
    if (!agg.isDirectory() || skip.has(agg.name)) continue;
    for (const f of readdirSync(join(dir, agg.name)).sort()) {
      if (!f.endsWith('.avsc')) continue;
      const file = join(dir, agg.name, f);
      out.push({ file, json: JSON.parse(readFileSync(file, 'utf8')) });
    }
  }
  return out;
}

const isEventType = (name: string | undefined): name is DomainEventType =>
  name !== undefined && Object.prototype.hasOwnProperty.call(TOPIC_OF, name);

/**
 * Named types that are not events (e.g. `io.streamwave.video.RenditionInfo`), defined once in
 * their own `.avsc` file and referenced by full name from event schemas.
 */
export function loadSharedTypes(dir: string = SCHEMAS_DIR): Record<string, avro.Type> {
  return namedTypesRegistry(readAvscFiles(dir).filter((f) => !isEventType(f.json.name)).map((f) => f.json));
}

/**
 * Loads every event schema of `dir` (default: this package's `schemas/`), inlining shared named
 * types so each schema registers on its own.
 * @throws Error if an event type of domain/events.ts has no schema, or a schema's record name,
 *         namespace or file location disagree; RegistryError INVALID_SCHEMA for invalid Avro.
 */
export function loadEventSchemas(dir: string = SCHEMAS_DIR): Map<DomainEventType, EventSchema> {
  const files = readAvscFiles(dir);
  const shared = loadSharedTypes(dir);
  const out = new Map<DomainEventType, EventSchema>();
  for (const { file, json } of files) {
    if (!isEventType(json.name)) continue;
    const aggregate = file.split(/[\\/]/).at(-2)!;
    const namespace = `${NAMESPACE_PREFIX}${aggregate}`;
    if (json.namespace !== namespace) throw new Error(`${file}: namespace ${json.namespace} should be ${namespace}`);
    const schemaText = JSON.stringify(normalizeSchema(json, shared));
    const fullName = `${namespace}.${json.name}`;
    const topic = TOPIC_OF[json.name];
    out.set(json.name, {
      type: json.name, namespace, fullName, topic, subject: subjectFor(topic, fullName),
      schemaText, avroType: parseAvro(schemaText), file,
    });
  }
  const missing = Object.keys(TOPIC_OF).filter((t) => !out.has(t as DomainEventType));
  if (missing.length) throw new Error(`no Avro schema for event types: ${missing.join(', ')}`);
  return out;
}
