import type avro from 'avsc';
import pino from 'pino';
import type { DomainEvent, DomainEventType } from '../../domain/events.ts';
import { CodecError, type EventCodec } from '../event-codec.port.ts';
import { parseAvro } from '../registry/avro-schema.ts';
import { loadEventSchemas, SCHEMAS_DIR, subjectFor, type EventSchema } from './event-schemas.ts';
import type { SchemaRegistryApi } from './schema-registry-api.ts';

/** Confluent wire format: magic byte 0, then the schema id as a 4-byte big-endian int, then Avro binary. */
const MAGIC_BYTE = 0;
const WIRE_HEADER_BYTES = 5;

export interface AvroEventCodecOptions {
  registry: SchemaRegistryApi;
  /** Folder of `.avsc` files; default this package's `schemas/`. */
  schemaDir?: string;
  logger?: pino.Logger;
}

export interface AvroEventCodec extends EventCodec {
  /**
   * Registers the schema of every event type under `<TOPIC_OF[type]>-<namespace.RecordName>`
   * (TopicRecordNameStrategy). Returns event type → schema id.
   * @throws the registry's error if a schema is incompatible with what is registered.
   */
  registerAll(): Promise<Map<DomainEventType, number>>;
  /** The loaded schemas, by event type. */
  readonly schemas: ReadonlyMap<DomainEventType, EventSchema>;
}

interface WriterEntry { type: DomainEventType; read: (payload: Buffer) => unknown }

/**
 * Avro objects decode as instances of avsc-generated record classes; events are plain data
 * (deep-equal to what was encoded, JSON-serializable), so copy them into plain objects.
 */
function toPlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toPlain(x);
    return out;
  }
  return v;
}

/**
 * Avro EventCodec (implements schemas/event-codec.port.ts): domain event ⇄ Confluent wire format.
 *
 * - encode(topic, event): serializes `event.data` with the event's current schema, registered
 *   lazily (once per subject) under `<topic>-<io.streamwave.<aggregate>.<type>>`.
 * - decode(value): reads the schema id, fetches the writer schema (cached per id), and takes the
 *   event type from the writer's record name. If the writer schema differs from the current one
 *   (an older version), the data is resolved into the current reader schema (Avro schema
 *   resolution), so consumers always see the current shape.
 *
 * Optional fields (`x?: T | null`) decode as `null` when absent: an event encoded without the
 * field comes back with `x: null`, which every consumer treats like `undefined`.
 * Timestamps (`timestamp-millis`) decode as plain numbers (no logical type implementation).
 */
export function createAvroEventCodec(opts: AvroEventCodecOptions): AvroEventCodec {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const schemas = loadEventSchemas(opts.schemaDir ?? SCHEMAS_DIR);
  const byFullName = new Map([...schemas.values()].map((s) => [s.fullName, s]));
  const idBySubject = new Map<string, Promise<number>>();
  const writers = new Map<number, Promise<WriterEntry>>();

  const schemaOf = (type: string): EventSchema => {
    const s = schemas.get(type as DomainEventType);
    if (!s) throw new CodecError('UNKNOWN_EVENT_TYPE', `no Avro schema for event type ${type}`);
    return s;
  };

  const idFor = (topic: string, s: EventSchema): Promise<number> => {
    const subject = subjectFor(topic, s.fullName);
    let id = idBySubject.get(subject);
    if (!id) {
      id = opts.registry.register(subject, s.schemaText);
      idBySubject.set(subject, id);
      // A failed registration is retried by the next encode.
      id.catch(() => idBySubject.delete(subject));
    }
    return id;
  };

  const writerFor = (id: number): Promise<WriterEntry> => {
    let w = writers.get(id);
    if (!w) {
      w = (async () => {
        let text: string;
        try {
          text = await opts.registry.getSchema(id);
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
        const local = byFullName.get(fullName) ?? schemas.get(fullName.split('.').at(-1) as DomainEventType);
        if (!local) throw new CodecError('UNKNOWN_EVENT_TYPE', `schema id ${id} is record ${fullName || '(unnamed)'}, not a known event type`);
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
      // Unknown ids may appear later (registered by another process): do not cache failures.
      w.catch(() => writers.delete(id));
    }
    return w;
  };

  return {
    schemas,

    async registerAll() {
      const out = new Map<DomainEventType, number>();
      for (const s of schemas.values()) out.set(s.type, await idFor(s.topic, s));
      logger.info({ count: out.size }, 'event schemas registered');
      return out;
    },

    async encode(topic, event) {
      const s = schemaOf(event.type);
      let payload: Buffer;
      try {
        payload = s.avroType.toBuffer(event.data);
      } catch (e) {
        const paths: string[] = [];
        s.avroType.isValid(event.data, { errorHook: (path) => paths.push(path.join('.')) });
        throw new CodecError('AVRO_ENCODE', `${event.type} does not match its schema (fields: ${paths.join(', ') || '?'}): ${(e as Error).message}`);
      }
      const id = await idFor(topic, s);
      const header = Buffer.alloc(WIRE_HEADER_BYTES);
      header.writeUInt8(MAGIC_BYTE, 0);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, payload]);
    },

    async decode(value) {
      if (value.length < WIRE_HEADER_BYTES || value[0] !== MAGIC_BYTE) {
        throw new CodecError('BAD_MAGIC_BYTE', `not in the Confluent wire format (magic byte ${value.length ? value[0] : 'missing'}, length ${value.length})`);
      }
      const id = value.readUInt32BE(1);
      const writer = await writerFor(id);
      let data: unknown;
      try {
        data = writer.read(value.subarray(WIRE_HEADER_BYTES));
      } catch (e) {
        throw new CodecError('AVRO_DECODE', `cannot decode ${writer.type} with schema ${id}: ${(e as Error).message}`);
      }
      return { type: writer.type, data: toPlain(data) } as DomainEvent;
    },
  };
}
