import type { DomainEvent } from '../domain/events.ts';

/**
 * EventCodec: domain event ⇄ record value in the Confluent wire format
 * (magic byte 0, 4-byte big-endian schema id, Avro binary payload).
 * The schema id comes from the schema registry (subject `<topic>-<record full name>`,
 * TopicRecordNameStrategy).
 */
export interface EventCodec {
  /** @throws if the event does not match its schema. */
  encode(topic: string, event: DomainEvent): Promise<Buffer>;
  /**
   * @throws CodecError (`BAD_MAGIC_BYTE`, `UNKNOWN_SCHEMA_ID`, `UNKNOWN_EVENT_TYPE`, `AVRO_DECODE`)
   *   when the record itself cannot be decoded: readers skip it. Anything else (e.g. a DataKeyError
   *   when the data-key store is unreachable, issue 13) is an outage, and readers retry.
   */
  decode(value: Buffer): Promise<DomainEvent>;
}

export class CodecError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'CodecError';
  }
}
