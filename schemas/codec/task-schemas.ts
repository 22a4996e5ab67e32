/**
 * The work items of StreamWave's internal topics (`schemas/tasks/`), as Avro records in the
 * Confluent wire format over the schema registry, like events and commands (subjects
 * `<topic>-<full name>`, TopicRecordNameStrategy). Today: the transcoders' chunk tasks
 * (TRANSCODE_CHUNKS_TOPIC, docs/adr/0008).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pino from 'pino';
import { normalizeSchema, parseAvro } from '../registry/avro-schema.ts';
import { TRANSCODE_CHUNKS_TOPIC } from '../topics.ts';
import { CodecError } from '../event-codec.port.ts';
import { createAvroRecordCodec } from './avro-record-codec.ts';
import { loadSharedTypes, SCHEMAS_DIR, subjectFor, type RecordSchema } from './event-schemas.ts';
import type { SchemaRegistryApi } from './schema-registry-api.ts';

/** Record name of a chunk task (`schemas/tasks/TranscodeChunkTask.avsc`). */
export const CHUNK_TASK_RECORD = 'TranscodeChunkTask';

/** One chunk of a chunked transcode (field docs in `schemas/tasks/TranscodeChunkTask.avsc`). */
export interface TranscodeChunkTask {
  videoId: string;
  objectKey: string;
  chunkIndex: number;
  chunkCount: number;
  /** Seconds on the output timeline. */
  startSeconds: number;
  /** Seconds, exclusive. */
  endSeconds: number;
  last: boolean;
  firstSegmentIndex: number;
  /** Seconds. */
  segmentSeconds: number;
  renditions: string[];
  /** ms since the epoch. */
  requestedAt: number;
}

/**
 * The chunk task's schema, subject `streamwave.transcode-chunks-io.streamwave.tasks.TranscodeChunkTask`.
 * @throws Error when the file is missing or not valid Avro.
 */
export function loadChunkTaskSchema(dir: string = SCHEMAS_DIR): RecordSchema<typeof CHUNK_TASK_RECORD> {
  const file = join(dir, 'tasks', `${CHUNK_TASK_RECORD}.avsc`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as { namespace: string };
  const schemaText = JSON.stringify(normalizeSchema(json, loadSharedTypes(dir)));
  const fullName = `${json.namespace}.${CHUNK_TASK_RECORD}`;
  return {
    type: CHUNK_TASK_RECORD, namespace: json.namespace, fullName, topic: TRANSCODE_CHUNKS_TOPIC,
    subject: subjectFor(TRANSCODE_CHUNKS_TOPIC, fullName), schemaText, avroType: parseAvro(schemaText), file,
  };
}

/** Encodes and decodes chunk tasks (see `createChunkTaskCodec`). */
export interface ChunkTaskCodec {
  /** Registers the schema (idempotent). @throws the registry's error when incompatible. */
  register(): Promise<void>;
  /** The task in the wire format. @throws CodecError AVRO_ENCODE when it does not match the schema. */
  encode(task: TranscodeChunkTask): Promise<Buffer>;
  /** @throws CodecError BAD_MAGIC_BYTE, UNKNOWN_SCHEMA_ID, UNKNOWN_TASK_TYPE, AVRO_DECODE. */
  decode(value: Buffer): Promise<TranscodeChunkTask>;
}

/** The chunk-task codec over `registry` (the same registry as the events'). */
export function createChunkTaskCodec(registry: SchemaRegistryApi, logger: pino.Logger, dir: string = SCHEMAS_DIR): ChunkTaskCodec {
  const schema = loadChunkTaskSchema(dir);
  const records = createAvroRecordCodec({ registry, schemas: new Map([[CHUNK_TASK_RECORD as typeof CHUNK_TASK_RECORD, schema]]), logger, what: 'task' });
  return {
    async register() {
      await records.registerAll();
    },
    encode: (task) => records.encode(TRANSCODE_CHUNKS_TOPIC, CHUNK_TASK_RECORD, task),
    async decode(value) {
      const { type, value: task } = await records.decode(value);
      if (type !== CHUNK_TASK_RECORD) throw new CodecError('UNKNOWN_TASK_TYPE', `not a chunk task: ${type}`);
      return task as TranscodeChunkTask;
    },
  };
}
