/**
 * One decode per record for all the projections of a process (issue 12). Every read model runs its
 * own consumer over the same topics, so in standalone mode a heartbeat on the views topic was
 * decoded by each of the six nodes that read it (video detail, analytics, recommendations, watch
 * history, search, the gateway's live events): about 3.5 µs of Avro each, on the thread that also
 * serves the gateway. Consumers that keep up read the same records within milliseconds of each
 * other, so the first decode of a record is kept for the others.
 *
 * Keyed by topic, partition and offset, and checked against the record's bytes (a process may hold
 * several logs, e.g. tests); one cache per codec (the same bytes mean another event under another
 * registry). The decoded event is frozen, deeply: every node receives the same object, and a node
 * that wrote into an event would change what the others see (strict mode turns such a write into
 * a TypeError instead). A failed decode is not kept, so a retry (an outage of the data-key store,
 * issue 13) decodes again.
 *
 * Only the views topic is shared: the hot path, and its one event (VideoViewed) carries no
 * personal-data field (shared-decode.test.ts checks its schema). A decoded event with personal
 * data holds it decrypted: kept here, it would outlive the erasure of its user's data key for a
 * consumer that reads the record after the erasure (crypto-shredding, issue 13), so events of the
 * other topics are decoded by each consumer as before.
 */
import { deepFreeze } from '../../domain/shared/deep-freeze.ts';
import type { DomainEvent } from '../../domain/events.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPICS } from '../../schemas/topics.ts';

/** The one topic whose decodes are shared (see the file comment). */
export const SHARED_TOPIC = TOPICS.views;

/** Decoded records kept per codec (oldest first out): a few MB, more than the consumers' spread in standalone. */
export const SHARED_DECODES = 4_096;

interface Entry { value: Buffer; event: Promise<DomainEvent> }
const caches = new WeakMap<EventCodec, Map<string, Entry>>();


/**
 * The event of `record` (its `value` not null) decoded by `codec`, shared with the other
 * consumers of the same codec that decode the same record (see the file comment). Frozen.
 * @throws what `codec.decode` throws (CodecError for a bad record).
 */
export function decodeShared(codec: EventCodec, record: Pick<LogRecord, 'topic' | 'partition' | 'offset'> & { value: Buffer }): Promise<DomainEvent> {
  if (record.topic !== SHARED_TOPIC) return codec.decode(record.value);
  let cache = caches.get(codec);
  if (!cache) caches.set(codec, (cache = new Map()));
  const key = `${record.topic}\u0000${record.partition}\u0000${record.offset}`;
  const hit = cache.get(key);
  if (hit && hit.value.equals(record.value)) return hit.event;
  const event = codec.decode(record.value).then(deepFreeze);
  const entry = { value: record.value, event };
  cache.set(key, entry);
  if (cache.size > SHARED_DECODES) cache.delete(cache.keys().next().value!);
  event.catch(() => { if (cache.get(key) === entry) cache.delete(key); });
  return event;
}
