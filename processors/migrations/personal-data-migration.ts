/**
 * The personal-data migration (issue 13): records written before crypto-shredding hold their
 * personal fields (username, email, password hash, comment bodies, video titles, …) in plaintext,
 * and an erasure cannot shred plaintext. This rewrites them into an encrypted successor of each
 * affected partition: every record copied in order to the same partition of a target log, at the
 * same offset, with the same key, headers and timestamp; a record holding plaintext is decoded and
 * encoded again, which encrypts it under its subject's data key (schemas/codec/personal-data.ts).
 * Every other record (already encrypted, a tombstone, undecodable bytes) is copied byte for byte,
 * so offsets, checkpoints and consumer-group offsets mean the same in the successor.
 *
 * Shadow, catch-up, switch: this module builds the shadow and brings it to the source's end; the
 * switch (making the successor the partition, then deleting the plaintext one) belongs to the log's
 * deployment (deploy/standalone/personal-data-upgrade.ts for the embedded log).
 *
 * Which topics: those carrying an event type with a field marked personal (the schemas say so),
 * and their processors' dead-letter topics (`<topic>.<processor>.dlq`, copies of their records).
 */
import type { DomainEvent, DomainEventType } from '../../domain/events.ts';
import type { EventLog, ProduceRecord } from '../../platform/log/event-log.port.ts';
import { DataKeyError } from '../../platform/keys/data-key-store.port.ts';
import { ERASED_PLACEHOLDER, holdsPlaintext, personalFieldsOf, type PersonalDataCipher, type PersonalField } from '../../schemas/codec/personal-data.ts';
import { CodecError, type EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPIC_OF } from '../../schemas/topics.ts';

/** Records read and written per step. */
const CHUNK = 1000;

/** One partition of a topic. */
export interface PartitionRef {
  topic: string;
  partition: number;
}

/** Progress of a copy: records copied so far of `total`, over every partition being copied. */
export interface MigrationProgress {
  copied: number;
  rewritten: number;
  total: number;
  topic: string;
  partition: number;
}

/**
 * The event topics holding personal fields, from the schemas' marks (`schemaTexts`: event type →
 * schema JSON text), and the dead-letter topics of those among `existing` topic names.
 */
export function topicsWithPersonalData(schemaTexts: ReadonlyMap<DomainEventType, string>, existing: readonly string[]): string[] {
  const topics = new Set<string>();
  for (const [type, text] of schemaTexts) {
    if (personalFieldsOf(JSON.parse(text) as Record<string, unknown>).length > 0) topics.add(TOPIC_OF[type]);
  }
  const dlqs = existing.filter((name) => name.endsWith('.dlq') && [...topics].some((t) => name.startsWith(`${t}.`)));
  return [...topics, ...dlqs].filter((t) => existing.includes(t)).sort();
}

/**
 * A cipher around the real one for the migration's codec: it notes whether the last record it
 * decrypted held plaintext personal data (call `take()` after each decode), and it writes the
 * plaintext of a user erased before the migration ran as {@link ERASED_PLACEHOLDER}, unencrypted
 * (there is no key to encrypt it with, and it must not survive).
 */
export function plaintextProbe(inner: PersonalDataCipher): { cipher: PersonalDataCipher; take(): boolean } {
  let seen = false;
  const erased = (fields: readonly PersonalField[], value: Record<string, unknown>) => {
    const out = { ...value };
    for (const f of fields) {
      const v = out[f.field];
      if (Array.isArray(v)) out[f.field] = v.map(() => ERASED_PLACEHOLDER);
      else if (typeof v === 'string') out[f.field] = ERASED_PLACEHOLDER;
    }
    return out;
  };
  return {
    cipher: {
      async encrypt(fields, value) {
        try {
          return await inner.encrypt(fields, value);
        } catch (err) {
          if (err instanceof DataKeyError && err.code === 'KEY_ERASED') return erased(fields, value);
          throw err;
        }
      },
      decrypt(fields, value) {
        if (fields.some((f) => holdsPlaintext(value[f.field]))) seen = true;
        return inner.decrypt(fields, value);
      },
    },
    take() {
      const s = seen;
      seen = false;
      return s;
    },
  };
}

export interface MigrationDeps {
  /** Decodes and encodes with the probe's cipher (plaintextProbe). */
  codec: EventCodec;
  probe: { take(): boolean };
}

/**
 * The decoded event when the record `value` holds plaintext personal data, else null (undecodable
 * records included: CodecError; they are copied as they are).
 * @throws anything but CodecError from decoding (e.g. DataKeyError `KEY_STORE_IO`).
 */
async function plaintextEvent(deps: MigrationDeps, value: Buffer): Promise<DomainEvent | null> {
  deps.probe.take();
  let event: DomainEvent;
  try {
    event = await deps.codec.decode(value);
  } catch (err) {
    if (err instanceof CodecError) return null;
    throw err;
  }
  return deps.probe.take() ? event : null;
}

/**
 * The partitions of `topics` in `log` holding at least one record with plaintext personal data
 * (reads every record once).
 */
export async function partitionsWithPlaintext(log: EventLog, deps: MigrationDeps, topics: readonly string[]): Promise<PartitionRef[]> {
  const out: PartitionRef[] = [];
  for (const topic of topics) {
    const ends = await log.endOffsets(topic);
    for (let partition = 0; partition < ends.length; partition++) {
      let offset = 0;
      scan: while (offset < ends[partition]) {
        const recs = await log.read(topic, partition, offset, CHUNK);
        if (recs.length === 0) break;
        for (const r of recs) {
          if (r.value && (await plaintextEvent(deps, r.value))) {
            out.push({ topic, partition });
            break scan;
          }
        }
        offset = recs[recs.length - 1].offset + 1;
      }
    }
  }
  return out;
}

/**
 * Copies each of `partitions` from `source` (read to its end offset at the start) to the same
 * topic and partition of `target`, whose partitions must be empty: same offsets, keys, headers and
 * timestamps, records with plaintext encrypted (see the file comment). Calls `onProgress` after
 * each chunk.
 * @throws Error when the target's offsets do not follow the source's (a non-empty target
 *   partition, or a log with gaps: Kafka topics written in transactions), the errors of decoding
 *   (plaintextEvent above) and of encoding (DataKeyError `INVALID_SUBJECT` for a personal field
 *   without its subject).
 */
export async function copyEncrypted(o: MigrationDeps & {
  source: EventLog;
  target: EventLog;
  partitions: readonly PartitionRef[];
  onProgress?: (p: MigrationProgress) => void;
}): Promise<{ copied: number; rewritten: number }> {
  const ends = new Map<string, number[]>();
  for (const { topic } of o.partitions) if (!ends.has(topic)) ends.set(topic, await o.source.endOffsets(topic));
  const total = o.partitions.reduce((n, p) => n + ends.get(p.topic)![p.partition], 0);
  let copied = 0;
  let rewritten = 0;
  for (const { topic, partition } of o.partitions) {
    const end = ends.get(topic)![partition];
    let offset = 0;
    while (offset < end) {
      const recs = await o.source.read(topic, partition, offset, Math.min(CHUNK, end - offset));
      if (recs.length === 0) break;
      const out: ProduceRecord[] = [];
      for (const r of recs) {
        const event = r.value ? await plaintextEvent(o, r.value) : null;
        // A dead-letter record keeps the schema subject of the topic it came from (x-dlq-topic).
        const fresh = event ? await o.codec.encode(r.headers['x-dlq-topic'] ?? topic, event) : null;
        if (fresh) rewritten++;
        out.push({ key: r.key, value: fresh ?? r.value, headers: r.headers, timestamp: r.timestamp, partition });
      }
      const written = await o.target.append(topic, out);
      written.forEach((m, i) => {
        if (m.offset !== recs[i].offset) throw new Error(`${topic}/${partition}: the copy of offset ${recs[i].offset} landed at ${m.offset}; the target partition must be empty and the source dense`);
      });
      copied += recs.length;
      offset = recs[recs.length - 1].offset + 1;
      o.onProgress?.({ copied, rewritten, total, topic, partition });
    }
  }
  return { copied, rewritten };
}
