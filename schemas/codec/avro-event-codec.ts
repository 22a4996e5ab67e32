import pino from 'pino';
import type { DomainEvent, DomainEventType } from '../../domain/events.ts';
import type { EventCodec } from '../event-codec.port.ts';
import { loadEventSchemas, SCHEMAS_DIR, type EventSchema } from './event-schemas.ts';
import type { SchemaRegistryApi } from './schema-registry-api.ts';
import { createAvroRecordCodec } from './avro-record-codec.ts';
import type { PersonalDataCipher } from './personal-data.ts';

export interface AvroEventCodecOptions {
  registry: SchemaRegistryApi;
  /** Folder of `.avsc` files; default this package's `schemas/`. */
  schemaDir?: string;
  logger?: pino.Logger;
  /** Crypto-shredding of the fields marked `personal-data` (personal-data.ts); see AvroRecordCodecOptions. */
  personalData?: PersonalDataCipher;
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
 * The wire format itself is avro-record-codec.ts, shared with the command codec.
 */
export function createAvroEventCodec(opts: AvroEventCodecOptions): AvroEventCodec {
  const records = createAvroRecordCodec({
    registry: opts.registry,
    schemas: loadEventSchemas(opts.schemaDir ?? SCHEMAS_DIR),
    logger: opts.logger ?? pino({ level: 'silent' }),
    what: 'event',
    personalData: opts.personalData,
  });
  return {
    schemas: records.schemas,
    registerAll: () => records.registerAll(),
    encode: (topic, event) => records.encode(topic, event.type, event.data),
    async decode(value) {
      const { type, value: data } = await records.decode(value);
      return { type, data } as DomainEvent;
    },
  };
}
