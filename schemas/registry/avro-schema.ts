import avro from 'avsc';
import { RegistryError } from './registry-errors.ts';

/** An Avro schema as JSON text or as the parsed JSON value. */
export type AvroSchemaInput = string | object;

/**
 * Logical types of the Avro 1.11 spec. avsc drops unknown `logicalType` attributes when it
 * exports a schema, so the canonical form registers these as pass-through logical types: the
 * attribute survives in the canonical form (two schemas differing only in a logical type are not
 * "identical"), while values stay plain (a timestamp-millis decodes as a number, not a Date).
 */
const SPEC_LOGICAL_TYPES = [
  'decimal', 'uuid', 'date', 'time-millis', 'time-micros', 'timestamp-millis', 'timestamp-micros',
  'local-timestamp-millis', 'local-timestamp-micros', 'duration',
];
const STANDARD_ATTRS = new Set([
  'type', 'logicalType', 'name', 'namespace', 'aliases', 'doc', 'fields', 'symbols', 'items', 'values', 'size', 'default', 'order',
]);

class PassThroughLogicalType extends avro.types.LogicalType {
  private readonly extraAttrs: Record<string, unknown>;
  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    this.extraAttrs = Object.fromEntries(Object.entries(schema as object).filter(([k]) => !STANDARD_ATTRS.has(k)));
  }
  protected override _fromValue(val: unknown): unknown { return val; }
  protected override _toValue(val: unknown): unknown { return val; }
  protected override _resolve(type: avro.Type): unknown {
    // Only used for canonical forms, never to decode: accept whatever the underlying type accepts.
    const writer = avro.Type.isType(type, 'logical') ? (type as avro.types.LogicalType).underlyingType : type;
    try {
      this.underlyingType.createResolver(writer);
      return (v: unknown) => v;
    } catch {
      return undefined;
    }
  }
  protected override _export(schema: avro.Schema): void { Object.assign(schema as object, this.extraAttrs); }
}

/**
 * StreamWave's own logical types, kept in canonical forms the same way: `personal-data` marks a
 * crypto-shredded string field and names its subject (schemas/codec/personal-data.ts, issue 13).
 */
const STREAMWAVE_LOGICAL_TYPES = ['personal-data'];

const PASS_THROUGH = Object.fromEntries([...SPEC_LOGICAL_TYPES, ...STREAMWAVE_LOGICAL_TYPES].map((n) => [n, PassThroughLogicalType]));

/** Parses JSON text if needed. @throws RegistryError INVALID_SCHEMA (42201) on malformed JSON. */
function toSchemaJson(schema: AvroSchemaInput): unknown {
  if (typeof schema !== 'string') return schema;
  try {
    return JSON.parse(schema);
  } catch (e) {
    // Avro allows a bare primitive name (`string`) as schema text, which is not JSON.
    if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(schema.trim())) return schema.trim();
    throw new RegistryError('INVALID_SCHEMA', `Invalid schema: not JSON: ${(e as Error).message}`);
  }
}

/**
 * Parses an Avro schema into an avsc Type without logical type implementations, so every value is
 * plain JSON-ish data (timestamps are numbers). `registry` (copied, not mutated) pre-resolves named
 * types defined elsewhere.
 * @throws RegistryError INVALID_SCHEMA (42201) if the schema is not valid Avro.
 */
export function parseAvro(schema: AvroSchemaInput, registry?: Record<string, avro.Type>): avro.Type {
  const json = toSchemaJson(schema);
  try {
    return avro.Type.forSchema(json as avro.Schema, { registry: { ...registry } });
  } catch (e) {
    throw new RegistryError('INVALID_SCHEMA', `Invalid schema: ${(e as Error).message}`);
  }
}

/**
 * Self-contained, fully-qualified form of a schema: avsc's export with attributes (docs,
 * defaults, aliases, order, logical types). Named types taken from `registry` are inlined at
 * their first use, so the result can be registered on its own (no schema references).
 * `registry` is copied, never mutated.
 * @throws RegistryError INVALID_SCHEMA (42201).
 */
export function normalizeSchema(schema: AvroSchemaInput, registry?: Record<string, avro.Type>): object {
  const json = toSchemaJson(schema);
  try {
    const t = avro.Type.forSchema(json as avro.Schema, { logicalTypes: PASS_THROUGH, registry: { ...registry } });
    return t.schema({ exportAttrs: true }) as object;
  } catch (e) {
    throw new RegistryError('INVALID_SCHEMA', `Invalid schema: ${(e as Error).message}`);
  }
}

/**
 * Canonical text of a schema used to detect "identical" registrations: the JSON of
 * `normalizeSchema`, so formatting, key order and namespace spelling do not matter, but any
 * attribute change (doc, default, logical type) is a new schema version, as with Confluent,
 * which compares its own canonical `Schema.toString()`.
 * @throws RegistryError INVALID_SCHEMA (42201).
 */
export function canonicalSchema(schema: AvroSchemaInput, registry?: Record<string, avro.Type>): string {
  return JSON.stringify(normalizeSchema(schema, registry));
}

/**
 * Parses the named types of `schemas` (e.g. shared records) into a registry usable as
 * `registry` above; later schemas may reference earlier ones by full name.
 * @throws RegistryError INVALID_SCHEMA (42201).
 */
export function namedTypesRegistry(schemas: readonly AvroSchemaInput[]): Record<string, avro.Type> {
  const registry: Record<string, avro.Type> = {};
  for (const s of schemas) {
    try {
      avro.Type.forSchema(toSchemaJson(s) as avro.Schema, { logicalTypes: PASS_THROUGH, registry });
    } catch (e) {
      throw new RegistryError('INVALID_SCHEMA', `Invalid schema: ${(e as Error).message}`);
    }
  }
  return registry;
}
