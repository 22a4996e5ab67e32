import type { DomainEvent } from '../../domain/events.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { CodecError } from '../../schemas/event-codec.port.ts';

/** A JSON EventCodec for unit tests of processors and projections (no registry needed). */
export function createJsonEventCodec(): EventCodec {
  return {
    async encode(_topic, event) {
      return Buffer.from(JSON.stringify(event));
    },
    async decode(value) {
      try {
        return JSON.parse(value.toString('utf8')) as DomainEvent;
      } catch (e) {
        throw new CodecError('AVRO_DECODE', `not a JSON event: ${(e as Error).message}`);
      }
    },
  };
}
