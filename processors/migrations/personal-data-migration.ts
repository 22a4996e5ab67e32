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
import type { DomainEventType } from '../../domain/events.ts';
import type { EventLog, LogRecord, ProduceRecord } from '../../platform/log/event-log.port.ts';
import { DataKeyError } from '../../platform/keys/data-key-store.port.ts';
import { ERASED_PLACEHOLDER, holdsPlaintext, isEncrypted, personalFieldsOf, type PersonalDataCipher, type PersonalField } from '../../schemas/codec/personal-data.ts';
import { CodecError } from '../../schemas/event-codec.port.ts';
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
      async decrypt(fields, value) {
        if (fields.some((f) => holdsPlaintext(value[f.field]))) seen = true;
        await inner.decrypt(fields, value);
        // Still in the encrypted format after decryption: it did not authenticate under the
        // subject's key, so it is plaintext that happens to start like ciphertext (a comment "pd1.…").
        const stillEncrypted = (v: unknown) => (Array.isArray(v) ? v : [v]).some((x) => typeof x === 'string' && isEncrypted(x));
        if (fields.some((f) => stillEncrypted(value[f.field]))) seen = true;
      },
    },
    take() {
      const s = seen;
      seen = false;
      return s;
    },
  };
}

/**
 * A codec of one kind of record (events: EventCodec; commands: an adapter over CommandCodec), as
 * the migration uses it: decode a record, encode it again for `topic`.
 */
export interface MigrationCodec {
  /** @throws CodecError when the bytes cannot be decoded (the record is then copied as it is). */
  decode(value: Buffer): Promise<unknown>;
  encode(topic: string, decoded: never): Promise<Buffer>;
}

export interface MigrationDeps {
  /** Decodes and encodes with the probe's cipher (plaintextProbe). */
  codec: MigrationCodec;
  probe: { take(): boolean };
}

/**
 * The decoded record when `value` holds plaintext personal data, else null (undecodable records
 * included: CodecError; they are copied as they are).
 * @throws anything but CodecError from decoding (e.g. DataKeyError `KEY_STORE_IO`).
 */
async function plaintextRecord(deps: MigrationDeps, value: Buffer): Promise<unknown> {
  deps.probe.take();
  let decoded: unknown;
  try {
    decoded = await deps.codec.decode(value);
  } catch (err) {
    if (err instanceof CodecError) return null;
    throw err;
  }
  return deps.probe.take() ? decoded : null;
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
          if (r.value && (await plaintextRecord(deps, r.value)) !== null) {
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

/** A record to write at `offset`, its offset in the source partition. */
export type OffsetRecord = ProduceRecord & { offset: number };

/**
 * Where the copy of one partition goes, each record at its source offset: `denseSink` on a log
 * without gaps (the embedded log), the Kafka adapter's offset-preserving writer on Kafka
 * (platform/log/kafka/kafka-offset-preserving-writer.ts).
 */
export interface PartitionSink {
  /** Writes `records` (offset order, continuing the previous call's). @throws Error when an offset cannot be kept. */
  write(records: readonly OffsetRecord[]): Promise<void>;
  /** The source partition ends at `end`. */
  finish(end: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A sink appending to partition `partition` of `topic` on a log whose offsets are dense (the
 * embedded and in-memory logs): each record must land at its source offset.
 * @throws Error (from write/finish) when one does not: a non-empty target or a source with gaps.
 */
export function denseSink(log: EventLog, topic: string, partition: number): PartitionSink {
  return {
    async write(records) {
      const written = await log.append(topic, records.map(({ offset: _offset, ...r }) => ({ ...r, partition })));
      written.forEach((m, i) => {
        if (m.offset !== records[i].offset) throw new Error(`${topic}/${partition}: the copy of offset ${records[i].offset} landed at ${m.offset}; the target partition must be empty and the source dense`);
      });
    },
    async finish(end) {
      const now = (await log.endOffsets(topic))[partition];
      if (now !== end) throw new Error(`${topic}/${partition}: the copy ends at ${now}, the source at ${end}; the source has gaps this log cannot reproduce`);
    },
    close: async () => {},
  };
}

/**
 * Copies each of `partitions` from `source` (read to its end offset at the start, READ_COMMITTED)
 * into the sink `sinkFor` opens for it: same offsets, keys, headers and timestamps; `transform`
 * gives a record's new value (null: keep it). Calls `onProgress` after each chunk.
 * @throws the sink's errors (an offset it cannot keep) and `transform`'s.
 */
export async function copyPartitions(o: {
  source: EventLog;
  partitions: readonly PartitionRef[];
  sinkFor: (topic: string, partition: number) => Promise<PartitionSink>;
  transform?: (topic: string, record: LogRecord) => Promise<Buffer | null>;
  onProgress?: (p: MigrationProgress) => void;
}): Promise<{ copied: number; rewritten: number }> {
  const ends = new Map<string, number[]>();
  for (const { topic } of o.partitions) if (!ends.has(topic)) ends.set(topic, await o.source.endOffsets(topic));
  const total = o.partitions.reduce((n, p) => n + ends.get(p.topic)![p.partition], 0);
  let copied = 0;
  let rewritten = 0;
  for (const { topic, partition } of o.partitions) {
    const end = ends.get(topic)![partition];
    const sink = await o.sinkFor(topic, partition);
    try {
      let offset = 0;
      while (offset < end) {
        const recs = await o.source.read(topic, partition, offset, CHUNK);
        if (recs.length === 0) break; // only markers or aborted records up to the end
        const out: OffsetRecord[] = [];
        for (const r of recs) {
          if (r.offset >= end) break;
          const fresh = o.transform ? await o.transform(topic, r) : null;
          if (fresh) rewritten++;
          out.push({ key: r.key, value: fresh ?? r.value, headers: r.headers, timestamp: r.timestamp, offset: r.offset });
        }
        await sink.write(out);
        copied += out.length;
        offset = recs[recs.length - 1].offset + 1;
        o.onProgress?.({ copied, rewritten, total, topic, partition });
      }
      await sink.finish(end);
    } finally {
      await sink.close();
    }
  }
  return { copied, rewritten };
}

/**
 * {@link copyPartitions} with records holding plaintext personal data encoded again, which
 * encrypts them (see the file comment); every other record byte for byte.
 * @throws the errors of decoding (plaintextRecord above) and of encoding (DataKeyError
 *   `INVALID_SUBJECT` for a personal field without its subject), and the sink's.
 */
export function copyEncrypted(o: MigrationDeps & Omit<Parameters<typeof copyPartitions>[0], 'transform'>): Promise<{ copied: number; rewritten: number }> {
  return copyPartitions({
    ...o,
    async transform(topic, r) {
      const decoded = r.value ? await plaintextRecord(o, r.value) : null;
      // A dead-letter record keeps the schema subject of the topic it came from (x-dlq-topic).
      return decoded !== null ? o.codec.encode(r.headers['x-dlq-topic'] ?? topic, decoded as never) : null;
    },
  });
}
