import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type avro from 'avsc';
import { parseAvro, type AvroSchemaInput } from './avro-schema.ts';
import { RegistryError } from './registry-errors.ts';
import { loadSharedTypes } from '../codec/event-schemas.ts';

/** Compatibility levels of the Confluent Schema Registry. */
export const COMPATIBILITY_LEVELS = [
  'NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

/**
 * StreamWave's default level: BACKWARD_TRANSITIVE, because events are replayed from the start of
 * the log forever, so the newest reader schema must read data written with EVERY older version.
 */
export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD_TRANSITIVE';

export function isCompatibilityLevel(x: unknown): x is CompatibilityLevel {
  return typeof x === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(x);
}

/** Result of a compatibility check; `messages` explains each failure (empty when compatible). */
export interface CompatibilityResult {
  compatible: boolean;
  messages: string[];
}

/** Whether `reader` can read data written with `writer` (Avro spec "Schema Resolution"); the resolver error otherwise. */
function canRead(reader: avro.Type, writer: avro.Type): string | null {
  try {
    reader.createResolver(writer);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Checks `newSchema` against the registered versions `oldSchemas` (oldest first) under `level`,
 * with the rules of Confluent's Avro compatibility checker, decided by avsc resolvers:
 * - BACKWARD: the new schema can read data written with the old one (`new.createResolver(old)`);
 * - FORWARD: the old schema can read data written with the new one (`old.createResolver(new)`);
 * - FULL: both; NONE: always compatible;
 * - `*_TRANSITIVE` checks against every previous version, the others against the latest only.
 *
 * Schemas may reference named types given in `registry` (e.g. shared records).
 * @throws RegistryError INVALID_SCHEMA (42201) if a schema does not parse,
 *         INVALID_COMPATIBILITY_LEVEL (42203) for an unknown level.
 */
export function checkCompatibility(
  newSchema: AvroSchemaInput,
  oldSchemas: readonly AvroSchemaInput[],
  level: CompatibilityLevel,
  registry?: Record<string, avro.Type>,
): CompatibilityResult {
  if (!isCompatibilityLevel(level)) throw new RegistryError('INVALID_COMPATIBILITY_LEVEL', `Invalid compatibility level: ${String(level)}`);
  const next = parseAvro(newSchema, registry);
  if (level === 'NONE' || oldSchemas.length === 0) return { compatible: true, messages: [] };
  const transitive = level.endsWith('_TRANSITIVE');
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const firstChecked = transitive ? 0 : oldSchemas.length - 1;
  const messages: string[] = [];
  for (let i = oldSchemas.length - 1; i >= firstChecked; i--) {
    const old = parseAvro(oldSchemas[i], registry);
    const label = `version index ${i}`;
    if (backward) {
      const err = canRead(next, old);
      if (err) messages.push(`BACKWARD: new schema cannot read data written with ${label}: ${err}`);
    }
    if (forward) {
      const err = canRead(old, next);
      if (err) messages.push(`FORWARD: ${label} cannot read data written with the new schema: ${err}`);
    }
  }
  return { compatible: messages.length === 0, messages };
}

/**
 * CLI: `tsx schemas/registry/compatibility.ts <level> <new.avsc> <old1.avsc> [old2.avsc ...]`
 * (old files oldest first). Files may reference StreamWave's shared named types
 * (e.g. `io.streamwave.video.RenditionInfo`) by name. Prints the result as JSON; exit code 0 if compatible, 1 if not, 2 on bad input.
 */
async function main(argv: string[]): Promise<number> {
  const [level, newFile, ...oldFiles] = argv;
  if (!isCompatibilityLevel(level) || !newFile) {
    process.stderr.write(`usage: compatibility.ts <${COMPATIBILITY_LEVELS.join('|')}> <new.avsc> [old.avsc ...]\n`);
    return 2;
  }
  try {
    const read = (f: string) => readFileSync(f, 'utf8');
    const result = checkCompatibility(read(newFile), oldFiles.map(read), level, loadSharedTypes());
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return result.compatible ? 0 : 1;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
