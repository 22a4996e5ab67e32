import pino from 'pino';
import type { EventLog, LogRecord } from '../../platform/log/event-log.port.ts';
import { ensureSchemasTopic, SCHEMAS_TOPIC } from '../topics.ts';
import { canonicalSchema, normalizeSchema } from './avro-schema.ts';
import {
  checkCompatibility, DEFAULT_COMPATIBILITY, isCompatibilityLevel, type CompatibilityLevel, type CompatibilityResult,
} from './compatibility.ts';
import { RegistryError } from './registry-errors.ts';
import pLimit from 'p-limit';

/** One registered version of a subject, as returned by `GET /subjects/{s}/versions/{v}`. */
export interface SchemaVersion {
  subject: string;
  /** Global schema id (the 4-byte id of the Confluent wire format). */
  id: number;
  /** Version within the subject, 1-based, dense. */
  version: number;
  /** Schema JSON text as registered (whitespace-compacted). */
  schema: string;
}

/** `'latest'`, `-1` (Confluent's alias for latest) or a version number 1..2^31-1, as number or path string. */
export type VersionSpec = number | string;

/**
 * The schema registry core (no HTTP): Confluent Schema Registry semantics for Avro schemas.
 * State lives in the compacted, single-partition `_schemas` topic of an EventLog, like
 * Confluent's `kafkastore.topic`, so it survives restarts and can be rebuilt by any instance.
 *
 * Single writer: like Confluent (which elects one leader), run ONE registry instance that accepts
 * writes per log; other instances may read (they catch up from the topic on a cache miss).
 */
export interface SchemaRegistry {
  /** Creates the topic if needed and rebuilds the state from it. Call once before use. */
  start(): Promise<void>;
  /** Reads records appended since the last read (by another instance). */
  refresh(): Promise<void>;
  /**
   * Registers `schema` under `subject`. An identical schema (same canonical form) already under
   * the subject returns its id and version; a schema already registered under another subject
   * reuses its global id.
   * @throws RegistryError INVALID_SCHEMA (42201), INCOMPATIBLE_SCHEMA (40901), STORE_ERROR.
   */
  register(subject: string, schema: string, schemaType?: string): Promise<{ id: number; version: number }>;
  /**
   * Finds `schema` under `subject` (`POST /subjects/{s}`).
   * @throws RegistryError SUBJECT_NOT_FOUND (40401), SCHEMA_NOT_FOUND (40403), INVALID_SCHEMA (42201).
   */
  lookup(subject: string, schema: string, schemaType?: string): Promise<SchemaVersion>;
  /** Subjects with at least one version, sorted. */
  subjects(): Promise<string[]>;
  /** @throws RegistryError SUBJECT_NOT_FOUND (40401). */
  versions(subject: string): Promise<number[]>;
  /** @throws RegistryError SUBJECT_NOT_FOUND (40401), VERSION_NOT_FOUND (40402), INVALID_VERSION (42202). */
  getVersion(subject: string, version: VersionSpec): Promise<SchemaVersion>;
  /** Schema text of a global id. @throws RegistryError SCHEMA_NOT_FOUND (40403). */
  getSchemaById(id: number): Promise<string>;
  /** Global compatibility level (default BACKWARD_TRANSITIVE). */
  getGlobalCompatibility(): Promise<CompatibilityLevel>;
  /** @throws RegistryError INVALID_COMPATIBILITY_LEVEL (42203). */
  setGlobalCompatibility(level: string): Promise<CompatibilityLevel>;
  /** Subject-level level, or undefined if the subject has none (then the global one applies). */
  getSubjectCompatibility(subject: string): Promise<CompatibilityLevel | undefined>;
  /** @throws RegistryError INVALID_COMPATIBILITY_LEVEL (42203). */
  setSubjectCompatibility(subject: string, level: string): Promise<CompatibilityLevel>;
  /**
   * Removes the subject-level level (tombstone), returning the removed one.
   * @throws RegistryError SUBJECT_COMPATIBILITY_NOT_CONFIGURED (40408).
   */
  deleteSubjectCompatibility(subject: string): Promise<CompatibilityLevel>;
  /**
   * Tests `schema` against the subject (`POST /compatibility/subjects/{s}/versions/{v}`): for
   * `latest` or no version, against the versions the effective level requires (all of them for
   * a `*_TRANSITIVE` level); for a given version, against that version only.
   * @throws RegistryError SUBJECT_NOT_FOUND, VERSION_NOT_FOUND, INVALID_VERSION, INVALID_SCHEMA.
   */
  testCompatibility(subject: string, schema: string, version?: VersionSpec, schemaType?: string): Promise<CompatibilityResult>;
  /** Stops reading; the log is not closed (the caller owns it). */
  stop(): Promise<void>;
}

export interface SchemaRegistryOptions {
  log: EventLog;
  logger?: pino.Logger;
}

/*
 * `_schemas` record format (Confluent-compatible JSON, keys serialized with a fixed field order
 * so the compacted topic keeps exactly one record per key):
 *   SCHEMA key {"keytype":"SCHEMA","subject":s,"version":v,"magic":1}
 *          value {"subject","version","id","schema","schemaType"?,"deleted":false}
 *   CONFIG key {"keytype":"CONFIG","subject":s|null,"magic":0} value {"compatibilityLevel":L} or null (tombstone)
 */
interface SchemaKey { keytype: 'SCHEMA'; subject: string; version: number; magic: 1 }
interface ConfigKey { keytype: 'CONFIG'; subject: string | null; magic: 0 }
interface SchemaValue { subject: string; version: number; id: number; schema: string; schemaType?: string; deleted: boolean }
interface ConfigValue { compatibilityLevel: string }

const schemaKey = (subject: string, version: number): string =>
  JSON.stringify({ keytype: 'SCHEMA', subject, version, magic: 1 } satisfies SchemaKey);
const configKey = (subject: string | null): string =>
  JSON.stringify({ keytype: 'CONFIG', subject, magic: 0 } satisfies ConfigKey);

const MAX_VERSION = 2 ** 31 - 1;

function assertAvro(schemaType: string | undefined): void {
  if (schemaType !== undefined && schemaType !== null && schemaType.toUpperCase() !== 'AVRO') {
    throw new RegistryError('INVALID_SCHEMA', `Unsupported schema type ${schemaType}: this registry stores AVRO schemas only`);
  }
}

/**
 * Creates the registry core over an EventLog. State is rebuilt by `start()`.
 * @example
 *   const registry = createSchemaRegistry({ log });
 *   await registry.start();
 *   const { id } = await registry.register('streamwave.videos-io.streamwave.video.VideoDeleted', schemaText);
 */
export function createSchemaRegistry(opts: SchemaRegistryOptions): SchemaRegistry {
  const { log } = opts;
  const topic = SCHEMAS_TOPIC;
  const logger = opts.logger ?? pino({ level: 'silent' });

  // subject → version → value (non-deleted)
  const subjects = new Map<string, Map<number, SchemaValue>>();
  const schemasById = new Map<number, string>();
  const idByCanonical = new Map<string, number>();
  const subjectConfig = new Map<string, CompatibilityLevel>();
  let globalConfig: CompatibilityLevel | undefined;
  let maxId = 0;
  let position = 0;
  let started = false;
  // Serializes writes (and refreshes) of this instance: a register is read-check-append.
  // One at a time, in call order; a failure does not stop the next.
  const serial = pLimit(1);

  const apply = (rec: LogRecord): void => {
    if (rec.key === null) return;
    let key: SchemaKey | ConfigKey | { keytype: string };
    try {
      key = JSON.parse(rec.key);
    } catch {
      logger.warn({ offset: rec.offset }, 'skipping _schemas record with a non-JSON key');
      return;
    }
    if (key.keytype === 'SCHEMA') {
      const k = key as SchemaKey;
      const versions = subjects.get(k.subject) ?? new Map<number, SchemaValue>();
      const v: SchemaValue | null = rec.value ? JSON.parse(rec.value.toString('utf8')) : null;
      if (!v || v.deleted) {
        versions.delete(k.version);
      } else {
        versions.set(k.version, v);
        schemasById.set(v.id, v.schema);
        try {
          const canonical = canonicalSchema(v.schema);
          if (!idByCanonical.has(canonical)) idByCanonical.set(canonical, v.id);
        } catch (e) {
          logger.warn({ offset: rec.offset, err: e }, 'stored schema no longer parses');
        }
        maxId = Math.max(maxId, v.id);
      }
      if (versions.size) subjects.set(k.subject, versions);
      else subjects.delete(k.subject);
    } else if (key.keytype === 'CONFIG') {
      const k = key as ConfigKey;
      const v: ConfigValue | null = rec.value ? JSON.parse(rec.value.toString('utf8')) : null;
      const level = v && isCompatibilityLevel(v.compatibilityLevel) ? v.compatibilityLevel : undefined;
      if (k.subject === null) globalConfig = level;
      else if (level) subjectConfig.set(k.subject, level);
      else subjectConfig.delete(k.subject);
    }
    // Other key types (NOOP, MODE, DELETE_SUBJECT...) carry nothing this registry uses.
  };

  const catchUp = async (): Promise<void> => {
    const [end] = await log.endOffsets(topic);
    // Compaction may have removed the head of the topic since we last read it.
    const [begin] = await log.beginningOffsets(topic);
    if (position < begin) position = begin;
    while (position < end) {
      const recs = await log.read(topic, 0, position, 500);
      if (!recs.length) break;
      for (const r of recs) apply(r);
      position = recs[recs.length - 1].offset + 1;
    }
  };

  const append = async (key: string, value: object | null): Promise<void> => {
    try {
      await log.append(topic, [{ key, value: value === null ? null : Buffer.from(JSON.stringify(value)), partition: 0 }]);
    } catch (e) {
      throw new RegistryError('STORE_ERROR', `Error while writing to the ${topic} topic: ${(e as Error).message}`);
    }
    // Read our own write back from the log, as Confluent's KafkaStore does.
    await catchUp();
  };

  const ensureStarted = () => {
    if (!started) throw new RegistryError('STORE_ERROR', 'schema registry not started: call start() first');
  };

  const versionsOf = (subject: string): Map<number, SchemaValue> => {
    const v = subjects.get(subject);
    if (!v || v.size === 0) throw new RegistryError('SUBJECT_NOT_FOUND', `Subject '${subject}' not found.`);
    return v;
  };

  const parseVersion = (version: VersionSpec): number | 'latest' => {
    if (version === 'latest' || version === -1 || version === '-1') return 'latest';
    const n = typeof version === 'number' ? version : /^\d+$/.test(version) ? Number(version) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_VERSION) {
      throw new RegistryError('INVALID_VERSION', `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`);
    }
    return n;
  };

  const resolveVersion = (subject: string, version: VersionSpec): SchemaValue => {
    const parsed = parseVersion(version);
    const versions = versionsOf(subject);
    const v = parsed === 'latest' ? versions.get(Math.max(...versions.keys())) : versions.get(parsed);
    if (!v) throw new RegistryError('VERSION_NOT_FOUND', `Version ${version} not found.`);
    return v;
  };

  const effectiveLevel = (subject: string): CompatibilityLevel =>
    subjectConfig.get(subject) ?? globalConfig ?? DEFAULT_COMPATIBILITY;

  const sortedVersions = (subject: string): SchemaValue[] =>
    [...(subjects.get(subject)?.values() ?? [])].sort((a, b) => a.version - b.version);

  // Identical schemas always share one global id, so "is it under this subject" is an id match.
  const findInSubject = (subject: string, canonical: string): SchemaValue | undefined => {
    const id = idByCanonical.get(canonical);
    return id === undefined ? undefined : sortedVersions(subject).find((v) => v.id === id);
  };

  /** Runs a read; on a not-found miss, catches up with the topic (writes of another instance) and retries once. */
  const readThrough = async <T>(fn: () => T): Promise<T> => {
    ensureStarted();
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof RegistryError) || !['SUBJECT_NOT_FOUND', 'VERSION_NOT_FOUND', 'SCHEMA_NOT_FOUND'].includes(e.code)) throw e;
      await serial(catchUp);
      return fn();
    }
  };

  const toVersion = (v: SchemaValue): SchemaVersion => ({ subject: v.subject, id: v.id, version: v.version, schema: v.schema });

  const levelOrThrow = (level: string): CompatibilityLevel => {
    const upper = typeof level === 'string' ? level.toUpperCase() : level;
    if (!isCompatibilityLevel(upper)) {
      throw new RegistryError('INVALID_COMPATIBILITY_LEVEL', `Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`);
    }
    return upper;
  };

  return {
    async start() {
      await ensureSchemasTopic(log);
      position = 0;
      await catchUp();
      started = true;
      logger.info({ topic, subjects: subjects.size, maxId }, 'schema registry state rebuilt');
    },

    refresh: () => serial(catchUp),

    async register(subject, schema, schemaType) {
      ensureStarted();
      assertAvro(schemaType);
      const canonical = canonicalSchema(schema); // throws INVALID_SCHEMA before taking the lock
      return serial(async () => {
        await catchUp();
        const existing = findInSubject(subject, canonical);
        if (existing) return { id: existing.id, version: existing.version };
        const previous = sortedVersions(subject).map((v) => v.schema);
        const level = effectiveLevel(subject);
        const result = checkCompatibility(schema, previous, level);
        if (!result.compatible) {
          throw new RegistryError('INCOMPATIBLE_SCHEMA',
            `Schema being registered is incompatible with an earlier schema for subject "${subject}" (${level}): ${result.messages.join('; ')}`);
        }
        const id = idByCanonical.get(canonical) ?? maxId + 1;
        const versions = subjects.get(subject);
        const version = versions && versions.size ? Math.max(...versions.keys()) + 1 : 1;
        const stored = JSON.stringify(normalizeSchemaText(schema));
        const value: SchemaValue = { subject, version, id, schema: stored, deleted: false };
        await append(schemaKey(subject, version), value);
        logger.info({ subject, id, version }, 'schema registered');
        return { id, version };
      });
    },

    async lookup(subject, schema, schemaType) {
      ensureStarted();
      assertAvro(schemaType);
      const canonical = canonicalSchema(schema);
      return readThrough(() => {
        versionsOf(subject);
        const found = findInSubject(subject, canonical);
        if (!found) throw new RegistryError('SCHEMA_NOT_FOUND', 'Schema not found');
        return toVersion(found);
      });
    },

    async subjects() {
      ensureStarted();
      return [...subjects.keys()].sort();
    },

    versions: (subject) => readThrough(() => [...versionsOf(subject).keys()].sort((a, b) => a - b)),

    getVersion: (subject, version) => readThrough(() => toVersion(resolveVersion(subject, version))),

    getSchemaById: (id) => readThrough(() => {
      const s = schemasById.get(id);
      if (s === undefined) throw new RegistryError('SCHEMA_NOT_FOUND', `Schema ${id} not found`);
      return s;
    }),

    async getGlobalCompatibility() {
      ensureStarted();
      return globalConfig ?? DEFAULT_COMPATIBILITY;
    },

    async setGlobalCompatibility(level) {
      ensureStarted();
      const l = levelOrThrow(level);
      return serial(async () => {
        await append(configKey(null), { compatibilityLevel: l } satisfies ConfigValue);
        return l;
      });
    },

    async getSubjectCompatibility(subject) {
      ensureStarted();
      return subjectConfig.get(subject);
    },

    async setSubjectCompatibility(subject, level) {
      ensureStarted();
      const l = levelOrThrow(level);
      return serial(async () => {
        await append(configKey(subject), { compatibilityLevel: l } satisfies ConfigValue);
        return l;
      });
    },

    async deleteSubjectCompatibility(subject) {
      ensureStarted();
      return serial(async () => {
        const current = subjectConfig.get(subject);
        if (!current) {
          throw new RegistryError('SUBJECT_COMPATIBILITY_NOT_CONFIGURED', `Subject '${subject}' does not have subject-level compatibility configured`);
        }
        await append(configKey(subject), null);
        return current;
      });
    },

    async testCompatibility(subject, schema, version, schemaType) {
      ensureStarted();
      assertAvro(schemaType);
      canonicalSchema(schema); // INVALID_SCHEMA first
      const level = effectiveLevel(subject);
      if (version === undefined || parseVersion(version) === 'latest') {
        if (version !== undefined) versionsOf(subject);
        return checkCompatibility(schema, sortedVersions(subject).map((v) => v.schema), level);
      }
      const target = resolveVersion(subject, version);
      // A single given version: the level's direction(s), without the transitive part.
      const direct = level.replace('_TRANSITIVE', '') as CompatibilityLevel;
      return checkCompatibility(schema, [target.schema], direct);
    },

    async stop() {
      started = false;
      // Queued behind every write still pending: resolves once they have settled.
      await serial(async () => undefined);
    },
  };
}

/** Whitespace-compacted JSON of the schema as given (docs and key order kept, as Confluent returns it). */
function normalizeSchemaText(schema: string): unknown {
  try {
    return JSON.parse(schema);
  } catch {
    // A bare primitive name; normalizeSchema gives its JSON form.
    return normalizeSchema(schema);
  }
}
