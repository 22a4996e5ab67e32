import type avro from 'avsc';
import type pino from 'pino';
import { CodecError } from '../event-codec.port.ts';
import { parseAvro } from '../registry/avro-schema.ts';
import { personalFieldsOf, type PersonalDataCipher, type PersonalField } from './personal-data.ts';
import { subjectFor, type RecordSchema } from './event-schemas.ts';
import type { SchemaRegistryApi } from './schema-registry-api.ts';

/** Confluent wire format: magic byte 0, then the schema id as a 4-byte big-endian int, then Avro binary. */
const MAGIC_BYTE = 0;
const WIRE_HEADER_BYTES = 5;

/** What `createAvroRecordCodec` needs. */
export interface AvroRecordCodecOptions<T extends string> {
  registry: SchemaRegistryApi;
  /** The current (reader) schema of each record type. */
  schemas: ReadonlyMap<T, RecordSchema<T>>;
  logger: pino.Logger;
  /** What the records are, for errors and logs: `event`, `command` or `outcome` (error code `UNKNOWN_<WHAT>_TYPE`); `task` for internal work items. */
  what: 'event' | 'command' | 'outcome' | 'task';
  /**
   * Encrypts the fields the schemas mark `personal-data` on encode and decrypts them on decode
   * (personal-data.ts, issue 13). Absent: marked fields are written and read as they are, which
   * only tools and benchmarks that never hold personal data may do.
   */
  personalData?: PersonalDataCipher;
}

/**
 * The Confluent wire format over the schema registry, for any family of Avro record types
 * (events, commands): registration once per subject (TopicRecordNameStrategy), writer schemas
 * fetched once per id, and Avro schema resolution from an older writer schema to the current
 * reader schema. Values are plain data (decoded records are copied into plain objects).
 */
export interface AvroRecordCodec<T extends string> {
  readonly schemas: ReadonlyMap<T, RecordSchema<T>>;
  /**
   * Registers the schema of every type under `<its topic>-<full name>`; type → schema id.
   * @throws the registry's error if a schema is incompatible with what is registered.
   */
  registerAll(): Promise<Map<T, number>>;
  /**
   * `value` (the Avro record of `type`) in the wire format, its schema registered under `topic`.
   * @throws CodecError `UNKNOWN_<WHAT>_TYPE` (no schema), `AVRO_ENCODE` (naming the fields that do not match).
   */
  encode(topic: string, type: string, value: unknown): Promise<Buffer>;
  /**
   * The record type (from the writer schema's full name) and the value in the current shape.
   * @throws CodecError `BAD_MAGIC_BYTE`, `UNKNOWN_SCHEMA_ID`, `UNKNOWN_<WHAT>_TYPE`, `AVRO_DECODE`.
   */
  decode(value: Buffer): Promise<{ type: T; value: unknown }>;
}

interface WriterEntry<T> { type: T; read: (payload: Buffer) => unknown }

/**
 * Avro decodes records as instances of avsc-generated classes; events and commands are plain data
 * (deep-equal to what was encoded, JSON-serializable), so copy them into plain objects.
 */
function toPlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(toPlain);
  // Object.keys, not Object.entries: no pair array per field (decoding runs once per record per
  // projection; issue 12).
  const out: Record<string, unknown> = {};
  const fields = v as Record<string, unknown>;
  for (const k of Object.keys(fields)) out[k] = toPlain(fields[k]);
  return out;
}

/** See AvroRecordCodec. */
export function createAvroRecordCodec<T extends string>(opts: AvroRecordCodecOptions<T>): AvroRecordCodec<T> {
  const { schemas, logger, registry } = opts;
  const unknownType = `UNKNOWN_${opts.what.toUpperCase()}_TYPE`;
  const byFullName = new Map([...schemas.values()].map((s) => [s.fullName, s]));
  const idBySubject = new Map<string, Promise<number>>();
  const writers = new Map<number, Promise<WriterEntry<T>>>();
  const cipher = opts.personalData;
  /** The marked fields of each type's current schema (empty for most). */
  const personal = new Map<T, PersonalField[]>(
    [...schemas.values()].map((s) => [s.type, personalFieldsOf(JSON.parse(s.schemaText) as Record<string, unknown>)]),
  );

  const schemaOf = (type: string): RecordSchema<T> => {
    const s = schemas.get(type as T);
    if (!s) throw new CodecError(unknownType, `no Avro schema for ${opts.what} type ${type}`);
    return s;
  };

  const idFor = (topic: string, s: RecordSchema<T>): Promise<number> => {
    const subject = subjectFor(topic, s.fullName);
    let id = idBySubject.get(subject);
    if (!id) {
      id = registry.register(subject, s.schemaText);
      idBySubject.set(subject, id);
      // A failed registration is retried by the next encode.
      id.catch(() => idBySubject.delete(subject));
    }
    return id;
  };

  /** Writers already resolved: decoding with one takes no await (issue 12: decoding runs once per record per projection). */
  const readyWriters = new Map<number, WriterEntry<T>>();
  const writerFor = (id: number): Promise<WriterEntry<T>> => {
    let w = writers.get(id);
    if (!w) {
      w = (async () => {
        let text: string;
        try {
          text = await registry.getSchema(id);
        } catch (e) {
          throw new CodecError('UNKNOWN_SCHEMA_ID', `schema id ${id} not found in the registry: ${(e as Error).message}`);
        }
        let writer: avro.Type;
        try {
          writer = parseAvro(text);
        } catch (e) {
          throw new CodecError('AVRO_DECODE', `writer schema ${id} does not parse: ${(e as Error).message}`);
        }
        const fullName = writer.name ?? '';
        const local = byFullName.get(fullName) ?? schemas.get(fullName.split('.').at(-1) as T);
        if (!local) throw new CodecError(unknownType, `schema id ${id} is record ${fullName || '(unnamed)'}, not a known ${opts.what} type`);
        const reader = local.avroType;
        if (reader.equals(writer)) return { type: local.type, read: (p: Buffer) => reader.fromBuffer(p) };
        let resolver: avro.Resolver;
        try {
          resolver = reader.createResolver(writer);
        } catch (e) {
          throw new CodecError('AVRO_DECODE', `current schema of ${local.type} cannot read writer schema ${id}: ${(e as Error).message}`);
        }
        logger.debug({ id, type: local.type }, 'decoding with schema resolution from an older writer schema');
        return { type: local.type, read: (p: Buffer) => reader.fromBuffer(p, resolver) };
      })();
      writers.set(id, w);
      w.then((entry) => readyWriters.set(id, entry), () => undefined);
      // Unknown ids may appear later (registered by another process): do not cache failures.
      w.catch(() => writers.delete(id));
    }
    return w;
  };

  return {
    schemas,

    async registerAll() {
      const out = new Map<T, number>();
      for (const s of schemas.values()) out.set(s.type, await idFor(s.topic, s));
      logger.info({ count: out.size, what: opts.what }, 'schemas registered');
      return out;
    },

    async encode(topic, type, plain) {
      const s = schemaOf(type);
      const marked = personal.get(s.type)!;
      const value = cipher && marked.length ? await cipher.encrypt(marked, plain as Record<string, unknown>) : plain;
      let payload: Buffer;
      try {
        payload = s.avroType.toBuffer(value);
      } catch (e) {
        const paths: string[] = [];
        s.avroType.isValid(value, { errorHook: (path) => paths.push(path.join('.')) });
        throw new CodecError('AVRO_ENCODE', `${type} does not match its schema (fields: ${paths.join(', ') || '?'}): ${(e as Error).message}`);
      }
      const id = await idFor(topic, s);
      const framed = Buffer.allocUnsafe(WIRE_HEADER_BYTES + payload.length);
      framed.writeUInt8(MAGIC_BYTE, 0);
      framed.writeUInt32BE(id, 1);
      payload.copy(framed, WIRE_HEADER_BYTES);
      return framed;
    },

    async decode(value) {
      if (value.length < WIRE_HEADER_BYTES || value[0] !== MAGIC_BYTE) {
        throw new CodecError('BAD_MAGIC_BYTE', `not in the Confluent wire format (magic byte ${value.length ? value[0] : 'missing'}, length ${value.length})`);
      }
      const id = value.readUInt32BE(1);
      const writer = readyWriters.get(id) ?? await writerFor(id);
      let data: unknown;
      try {
        data = writer.read(value.subarray(WIRE_HEADER_BYTES));
      } catch (e) {
        throw new CodecError('AVRO_DECODE', `cannot decode ${writer.type} with schema ${id}: ${(e as Error).message}`);
      }
      const plain = toPlain(data);
      const marked = personal.get(writer.type)!;
      if (cipher && marked.length) await cipher.decrypt(marked, plain as Record<string, unknown>);
      return { type: writer.type, value: plain };
    },
  };
}
