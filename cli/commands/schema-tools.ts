/**
 * Schema tools behind `streamwave schemas …`: a plain-fetch client for ANY Confluent-compatible
 * schema registry (REST API v1), a readable field diff, and the offline compatibility check of
 * the working tree's schemas against a git ref (CI gate).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type DomainEventType } from '../../domain/events.ts';
import { COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC, TOPIC_OF, TRANSCODE_CHUNKS_TOPIC } from '../../schemas/topics.ts';
import { loadEventSchemas, subjectFor, SCHEMAS_DIR, type RecordSchema } from '../../schemas/codec/event-schemas.ts';
import { loadCommandOutcomeSchema, loadCommandSchemas, OUTCOME_RECORD } from '../../schemas/codec/command-schemas.ts';
import { CHUNK_TASK_RECORD, loadChunkTaskSchema } from '../../schemas/codec/task-schemas.ts';
import { namedTypesRegistry, normalizeSchema } from '../../schemas/registry/avro-schema.ts';
import { checkCompatibility, type CompatibilityLevel } from '../../schemas/registry/compatibility.ts';

/** Content type of the Confluent Schema Registry REST API v1. */
const SR_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** An error answer of a registry: HTTP status and Confluent `error_code`. */
export class RegistryHttpError extends Error {
  constructor(readonly status: number, readonly errorCode: number, message: string) {
    super(`registry answered ${status} (${errorCode}): ${message}`);
    this.name = 'RegistryHttpError';
  }
}

export interface RegisteredVersion {
  subject: string;
  version: number;
  id: number;
  schema: string;
}

/** Confluent Schema Registry REST client (GET /subjects, versions, register, compatibility). */
export interface RegistryHttpClient {
  subjects(): Promise<string[]>;
  /** Latest version of a subject; undefined when the subject does not exist (40401). */
  latest(subject: string): Promise<RegisteredVersion | undefined>;
  /** @throws RegistryHttpError 409/40901 when incompatible, 422/42201 when invalid. */
  register(subject: string, schema: string): Promise<number>;
  /**
   * `POST /compatibility/subjects/{s}/versions/latest?verbose=true`: checks against the versions
   * the subject's compatibility level requires. A subject without versions is compatible.
   */
  checkLatest(subject: string, schema: string): Promise<{ compatible: boolean; messages: string[] }>;
}

/** @param baseUrl e.g. `http://localhost:8081` or `http://127.0.0.1:8080/registry` */
export function createRegistryHttpClient(baseUrl: string, fetchImpl: typeof fetch = fetch, auth?: { username: string; password: string }): RegistryHttpClient {
  const base = baseUrl.replace(/\/$/, '');
  // HTTP Basic (RFC 7617), what the registry's write API requires (issue 8); harmless on reads.
  const authorization = auth && `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetchImpl(`${base}${path}`, {
      method,
      headers: {
        accept: `${SR_CONTENT_TYPE}, application/json`,
        ...(body !== undefined && { 'content-type': SR_CONTENT_TYPE }),
        ...(authorization && { authorization }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (!res.ok) {
      const j = (json ?? {}) as { error_code?: number; message?: string };
      throw new RegistryHttpError(res.status, j.error_code ?? res.status, j.message ?? text.slice(0, 200));
    }
    return json as T;
  };
  const enc = encodeURIComponent;
  return {
    subjects: () => call<string[]>('GET', '/subjects'),
    async latest(subject) {
      try {
        return await call<RegisteredVersion>('GET', `/subjects/${enc(subject)}/versions/latest`);
      } catch (e) {
        if (e instanceof RegistryHttpError && e.status === 404) return undefined;
        throw e;
      }
    },
    async register(subject, schema) {
      return (await call<{ id: number }>('POST', `/subjects/${enc(subject)}/versions`, { schema })).id;
    },
    async checkLatest(subject, schema) {
      try {
        const r = await call<{ is_compatible: boolean; messages?: string[] }>(
          'POST', `/compatibility/subjects/${enc(subject)}/versions/latest?verbose=true`, { schema });
        return { compatible: r.is_compatible, messages: r.messages ?? [] };
      } catch (e) {
        // Confluent: 40401 subject not found / 40402 version not found → nothing to be incompatible with.
        if (e instanceof RegistryHttpError && e.status === 404) return { compatible: true, messages: [] };
        throw e;
      }
    },
  };
}

/** A schema to compare: its registry subject and self-contained schema text. */
export interface SubjectSchema {
  subject: string;
  /** Avro record full name. */
  fullName: string;
  schemaText: string;
}

/** The event, command, command-outcome and task schemas of a `schemas/` folder (default: this package's), by subject. */
export function localSubjectSchemas(dir: string = SCHEMAS_DIR): SubjectSchema[] {
  return [...loadEventSchemas(dir).values(), ...loadCommandSchemas(dir).values(), loadCommandOutcomeSchema(dir), loadChunkTaskSchema(dir)]
    .map((s: RecordSchema) => ({ subject: s.subject, fullName: s.fullName, schemaText: s.schemaText }))
    .sort((a, b) => a.subject.localeCompare(b.subject));
}

/** One field-level difference between two record schemas. */
export type FieldChange =
  | { kind: 'added'; field: string; type: string; default?: string }
  | { kind: 'removed'; field: string; type: string }
  | { kind: 'changed'; field: string; what: 'type' | 'default'; from: string; to: string };

interface AvroField { name: string; type: unknown; default?: unknown }

const fieldsOf = (schemaText: string): AvroField[] => {
  const j = JSON.parse(schemaText) as { fields?: AvroField[] };
  return Array.isArray(j.fields) ? j.fields : [];
};

/** Compact type text: named types by name, unions as `a | b`, records/enums by name. */
function typeText(t: unknown): string {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.map(typeText).join(' | ');
  if (t && typeof t === 'object') {
    const o = t as { type: unknown; name?: string; items?: unknown; values?: unknown; logicalType?: string };
    if (o.name) return o.name;
    if (o.type === 'array') return `array<${typeText(o.items)}>`;
    if (o.type === 'map') return `map<${typeText(o.values)}>`;
    if (o.logicalType) return `${typeText(o.type)}(${o.logicalType})`;
    return typeText(o.type);
  }
  return JSON.stringify(t);
}

/**
 * Field-level diff of two record schemas (`from` = registry/baseline, `to` = local): added,
 * removed, and changed fields (type or default). Nested records are compared by their full JSON.
 */
export function diffRecordSchemas(from: string, to: string): FieldChange[] {
  const a = new Map(fieldsOf(from).map((f) => [f.name, f]));
  const b = new Map(fieldsOf(to).map((f) => [f.name, f]));
  const out: FieldChange[] = [];
  for (const [name, f] of b) {
    const old = a.get(name);
    if (!old) {
      out.push({ kind: 'added', field: name, type: typeText(f.type), ...('default' in f && { default: JSON.stringify(f.default) }) });
      continue;
    }
    if (JSON.stringify(old.type) !== JSON.stringify(f.type)) {
      const from = typeText(old.type);
      const to = typeText(f.type);
      out.push({ kind: 'changed', field: name, what: 'type', from: from === to ? JSON.stringify(old.type) : from, to: from === to ? JSON.stringify(f.type) : to });
    }
    const da = 'default' in old ? JSON.stringify(old.default) : '(none)';
    const db = 'default' in f ? JSON.stringify(f.default) : '(none)';
    if (da !== db) out.push({ kind: 'changed', field: name, what: 'default', from: da, to: db });
  }
  for (const [name, f] of a) if (!b.has(name)) out.push({ kind: 'removed', field: name, type: typeText(f.type) });
  return out;
}

/** One line per change, e.g. `+ title: string (default "")`. */
export function formatFieldChange(c: FieldChange): string {
  switch (c.kind) {
    case 'added': return `+ ${c.field}: ${c.type}${c.default !== undefined ? ` (default ${c.default})` : ' (no default)'}`;
    case 'removed': return `- ${c.field}: ${c.type}`;
    case 'changed': return `~ ${c.field}: ${c.what} ${c.from} → ${c.to}`;
    default: {
      const never: never = c;
      throw new Error(`unknown change ${JSON.stringify(never)}`);
    }
  }
}

/** A text file of a git tree. */
export interface RefFile { path: string; text: string }

/**
 * The `.avsc` files under `schemas/` at git `ref` (`git ls-tree` + `git show <ref>:<path>`).
 * @throws Error when `ref` is not a commit of the repository at `cwd`.
 */
export function readGitSchemaFiles(ref: string, cwd: string): RefFile[] {
  const git = (args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    git(['rev-parse', '-q', '--verify', `${ref}^{commit}`]);
  } catch {
    throw new Error(`git ref ${ref} not found in ${cwd}`);
  }
  const paths = git(['ls-tree', '-r', '--name-only', ref, '--', 'schemas/']).split('\n').filter((p) => p.endsWith('.avsc'));
  return paths.map((path) => ({ path, text: git(['show', `${ref}:${path}`]) }));
}

/**
 * The `.avsc` files of a working tree's `schemas/` folder, at any depth (`schemas/<aggregate>/`,
 * `schemas/commands/`, `schemas/commands/<aggregate>/`), paths relative to `repo` like
 * `readGitSchemaFiles` returns them.
 */
export function readDirSchemaFiles(repo: string): RefFile[] {
  const out: RefFile[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory() && e.name !== 'node_modules') walk(join(dir, e.name));
      else if (e.isFile() && e.name.endsWith('.avsc')) out.push({ path: relative(repo, join(dir, e.name)), text: readFileSync(join(dir, e.name), 'utf8') });
    }
  };
  walk(join(repo, 'schemas'));
  return out;
}

/** `schemas/commands/…`: the command schemas and their envelope (schemas/codec/command-schemas.ts). */
const isCommandFile = (path: string): boolean => /(^|[\\/])schemas[\\/]commands[\\/]/.test(path);

/**
 * Event and command schemas of a set of `.avsc` files (another commit's `schemas/`).
 * - Events: records whose name is an event type become subjects (topic from the CURRENT
 *   schemas/topics.ts); the other files outside `schemas/commands/` are shared named types.
 * - Commands: the records of `schemas/commands/<aggregate>/` become `streamwave.commands-…`
 *   subjects; the files directly in `schemas/commands/` (the envelope) and the events' shared
 *   types are inlined into them. `schemas/commands/CommandOutcome.avsc` is the replies topic's subject.
 * - Tasks: `schemas/tasks/TranscodeChunkTask.avsc` is the chunk topic's subject.
 * Lenient: types the files do not have are simply absent.
 */
export function subjectSchemasOfFiles(files: readonly RefFile[]): SubjectSchema[] {
  const parsed = files.map((f) => ({ path: f.path, json: JSON.parse(f.text) as { name?: string; namespace?: string } }));
  const isEvent = (n: string | undefined): n is DomainEventType => n !== undefined && Object.prototype.hasOwnProperty.call(TOPIC_OF, n);
  const isTaskFile = (path: string): boolean => /(^|[\\/])schemas[\\/]tasks[\\/]/.test(path);
  const eventFiles = parsed.filter((p) => !isCommandFile(p.path) && !isTaskFile(p.path));
  const shared = namedTypesRegistry(eventFiles.filter((p) => !isEvent(p.json.name)).map((p) => p.json));
  const commandFiles = parsed.filter((p) => isCommandFile(p.path));
  const isCommandRecord = (path: string) => /[\\/]commands[\\/][^\\/]+[\\/][^\\/]+\.avsc$/.test(path);
  const commandShared = { ...shared, ...namedTypesRegistry(commandFiles.filter((p) => !isCommandRecord(p.path)).map((p) => p.json)) };
  const out: SubjectSchema[] = [];
  const add = (topic: string, json: { name?: string; namespace?: string }, registry: typeof shared) => {
    const fullName = `${json.namespace}.${json.name}`;
    out.push({ subject: subjectFor(topic, fullName), fullName, schemaText: JSON.stringify(normalizeSchema(json, registry)) });
  };
  for (const { json } of eventFiles) if (isEvent(json.name)) add(TOPIC_OF[json.name], json, shared);
  for (const { path, json } of commandFiles) {
    if (isCommandRecord(path)) add(COMMANDS_TOPIC, json, commandShared);
    else if (json.name === OUTCOME_RECORD) add(COMMAND_REPLIES_TOPIC, json, shared);
  }
  for (const { path, json } of parsed) if (isTaskFile(path) && json.name === CHUNK_TASK_RECORD) add(TRANSCODE_CHUNKS_TOPIC, json, shared);
  return out.sort((a, b) => a.subject.localeCompare(b.subject));
}

/** Verdict for one subject of a compatibility check. */
export interface SubjectCheck {
  subject: string;
  status: 'compatible' | 'incompatible' | 'new' | 'removed' | 'unchanged';
  messages: string[];
  changes: FieldChange[];
}

/**
 * Checks `local` against `baseline` under `level` (default BACKWARD_TRANSITIVE: events are
 * replayed from the start of the log, so the new reader must read every old writer). `baseline`
 * may hold several versions of one subject, oldest first (`readGitSchemaHistory`): the local
 * schema is checked against all of them, and field changes are listed against the newest.
 * A subject that disappeared is `removed` and counts as incompatible: records of that type on the
 * log could no longer be decoded.
 */
export function checkAgainstBaseline(local: readonly SubjectSchema[], baseline: readonly SubjectSchema[], level: CompatibilityLevel = 'BACKWARD_TRANSITIVE'): SubjectCheck[] {
  const base = new Map<string, string[]>();
  for (const s of baseline) {
    const versions = base.get(s.subject) ?? [];
    if (!versions.includes(s.schemaText)) versions.push(s.schemaText);
    base.set(s.subject, versions);
  }
  const out: SubjectCheck[] = [];
  for (const s of local) {
    const versions = base.get(s.subject);
    if (!versions) { out.push({ subject: s.subject, status: 'new', messages: [], changes: [] }); continue; }
    const changes = diffRecordSchemas(versions[versions.length - 1], s.schemaText);
    const r = checkCompatibility(s.schemaText, versions, level);
    out.push({ subject: s.subject, status: r.compatible ? (changes.length ? 'compatible' : 'unchanged') : 'incompatible', messages: r.messages, changes });
  }
  const localSubjects = new Set(local.map((s) => s.subject));
  for (const subject of base.keys()) {
    if (!localSubjects.has(subject)) {
      out.push({ subject, status: 'removed', messages: ['schema removed: records of this type already on the log could no longer be decoded'], changes: [] });
    }
  }
  return out;
}

/** Every released version of the event schemas: see `readGitSchemaHistory`. */
export interface SchemaHistory {
  /** Commits that changed a schema, oldest first (abbreviated hashes). */
  commits: string[];
  /** Each commit's event schemas, oldest commit first (the same schema repeats across commits). */
  schemas: SubjectSchema[];
}

/**
 * The event schemas at every commit of the repository at `cwd` that changed a `.avsc` file under
 * `schemas/` (`git log -- 'schemas/*.avsc'`), oldest first: the baseline of a gate that must hold
 * against every version ever released, not only the previous commit (compatibility with the
 * previous commit alone is not transitive).
 * @throws Error when `cwd` is a shallow clone (the history, and so the baseline, is incomplete),
 *   or when no commit has schemas (nothing to compare with: a gate without a baseline is no gate).
 */
export function readGitSchemaHistory(cwd: string): SchemaHistory {
  const git = (args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  if (git(['rev-parse', '--is-shallow-repository']) === 'true') {
    throw new Error(`${cwd} is a shallow clone: the schema history is incomplete (git fetch --unshallow, or clone with full history)`);
  }
  const commits = git(['log', '--reverse', '--format=%h', '--', 'schemas/*.avsc', 'schemas/**/*.avsc']).split('\n').filter(Boolean);
  if (commits.length === 0) throw new Error(`no commit of ${cwd} has event schemas under schemas/: no baseline to check against`);
  return { commits, schemas: commits.flatMap((c) => subjectSchemasOfFiles(readGitSchemaFiles(c, cwd))) };
}

/** True when any verdict fails the check. */
export const hasIncompatible = (checks: readonly SubjectCheck[]): boolean => checks.some((c) => c.status === 'incompatible' || c.status === 'removed');
