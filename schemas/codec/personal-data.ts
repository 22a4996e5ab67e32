/**
 * Crypto-shredding of personal data (issue 13; GDPR art. 17): the fields a schema marks as
 * personal are encrypted with their subject's data key (AES-256-GCM) before the record reaches the
 * log, and decrypted when it is read. Erasing a subject deletes its key
 * (platform/keys/data-key-store.port.ts, docs/adr/0009): every copy of those fields — in the log,
 * its backups, and any read model rebuilt from it — becomes unreadable at once.
 *
 * ## How a schema marks a field
 * The field's type carries the logical type `personal-data` over `string`, with `subject` naming
 * the field that holds the subject's id (the user the data belongs to): a sibling field, or a
 * field of a sibling record as a dotted path (`envelope.actorId` in commands):
 * ```json
 * { "name": "email", "type": { "type": "string", "logicalType": "personal-data", "subject": "userId" } }
 * ```
 * Also allowed: an array of it (`{"type":"array","items":<that>}`), and either in a union with null.
 * Readers that do not know the logical type see a plain string (Avro 1.11 spec, "Logical Types":
 * unknown logical types are read as their underlying type), so the marking is compatible with
 * every earlier, unmarked version of the schema.
 *
 * ## The encrypted value
 * `pd1.` + base64url(IV (12 random bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes)), with the
 * subject id as additional authenticated data (a ciphertext moved to another subject's record does
 * not decrypt). A value without the prefix, or one that does not authenticate, is plaintext written
 * before issue 13 and is passed through as it is (the upgrade rewrites such records encrypted:
 * processors/migrations/personal-data-migration.ts, {@link holdsPlaintext}).
 *
 * ## When the key is gone
 * An encrypted value whose subject was erased decodes as {@link ERASED_PLACEHOLDER}.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DataKeyError, type DataKeyStore } from '../../platform/keys/data-key-store.port.ts';

/** The logical type that marks a personal `string` field. */
export const PERSONAL_DATA_LOGICAL_TYPE = 'personal-data';

/** What an encrypted field decodes as once its subject's key is erased: `[erased]`. */
export const ERASED_PLACEHOLDER = '[erased]';

/** Prefix of an encrypted value (version 1 of the format above). */
const PREFIX = 'pd1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One marked field of a record schema. */
export interface PersonalField {
  /** Field name. */
  field: string;
  /** Path of the field holding the subject id: a sibling's name, or `record.field` for a nested one. */
  subject: string;
  /** `string` or `array` (of strings), `nullable` when in a union with null. */
  shape: 'string' | 'array';
  nullable: boolean;
}

type Json = Record<string, unknown>;
const isMark = (t: unknown): t is Json =>
  typeof t === 'object' && t !== null && !Array.isArray(t) && (t as Json).logicalType === PERSONAL_DATA_LOGICAL_TYPE;

/**
 * The personal fields of a record schema (its JSON: `.avsc` or the registered text), top level only.
 * @throws Error when a mark is not over `string`, names no `subject`, or names a subject field the
 *   record lacks or that is itself personal.
 */
export function personalFieldsOf(schema: Json): PersonalField[] {
  const fields = (schema.fields as Json[] | undefined) ?? [];
  const out: PersonalField[] = [];
  for (const f of fields) {
    let t = f.type;
    const nullable = Array.isArray(t) && t.length === 2 && t[0] === 'null';
    if (nullable) t = (t as unknown[])[1];
    let mark: Json | undefined;
    let shape: PersonalField['shape'] = 'string';
    if (isMark(t)) mark = t;
    else if (typeof t === 'object' && t !== null && (t as Json).type === 'array' && isMark((t as Json).items)) { mark = (t as Json).items as Json; shape = 'array'; }
    if (!mark) continue;
    const where = `${String(schema.name)}.${String(f.name)}`;
    if (mark.type !== 'string') throw new Error(`${where}: ${PERSONAL_DATA_LOGICAL_TYPE} must annotate a string`);
    if (typeof mark.subject !== 'string' || !hasPath(schema, mark.subject)) throw new Error(`${where}: ${PERSONAL_DATA_LOGICAL_TYPE} needs "subject" naming a field of the record`);
    out.push({ field: f.name as string, subject: mark.subject, shape, nullable });
  }
  for (const p of out) {
    if (out.some((q) => q.field === p.subject)) throw new Error(`${String(schema.name)}.${p.field}: its subject field ${p.subject} is personal itself`);
  }
  return out;
}

/** True when the record schema has the (dotted) field path `path`, through nested records. */
function hasPath(schema: Json, path: string): boolean {
  let record: Json | undefined = schema;
  for (const name of path.split('.')) {
    const f: Json | undefined = ((record?.fields as Json[] | undefined) ?? []).find((x) => x.name === name);
    if (!f) return false;
    record = typeof f.type === 'object' && f.type !== null && !Array.isArray(f.type) ? (f.type as Json) : undefined;
  }
  return true;
}

/** The value at the dotted `path` of a record value. */
function valueAt(value: Json, path: string): unknown {
  let v: unknown = value;
  for (const name of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Json)[name] : undefined;
  return v;
}

/**
 * True when `v`, the value of a marked field, holds personal data in plaintext: a non-empty string
 * (or an array with one) neither in the encrypted format nor the erased placeholder — written
 * before issue 13. (A plaintext value that merely starts like ciphertext is caught after
 * decryption: it does not authenticate and stays as it was.)
 */
export function holdsPlaintext(v: unknown): boolean {
  const plain = (s: unknown) => typeof s === 'string' && s !== '' && s !== ERASED_PLACEHOLDER && !isEncrypted(s);
  return Array.isArray(v) ? v.some(plain) : plain(v);
}

/** True when `value` is in the encrypted format (it may still fail to authenticate). */
export const isEncrypted = (value: string): boolean => value.startsWith(PREFIX);

/** `plaintext` encrypted under `key` for `subject` (the format in the file comment). */
export function encryptValue(key: Buffer, subject: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(subject, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The plaintext of an encrypted value, or undefined when it does not authenticate under `key`/`subject`. */
export function decryptValue(key: Buffer, subject: string, value: string): string | undefined {
  const raw = Buffer.from(value.slice(PREFIX.length), 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(subject, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** Encrypts and decrypts the personal fields of records (plain objects, as the codecs handle them). */
export interface PersonalDataCipher {
  /**
   * A copy of `value` with each field of `fields` encrypted under its subject's key (created on
   * first use). Every value is encrypted, even one that looks encrypted (a comment may start with
   * `pd1.`). `value` is not mutated.
   * @throws DataKeyError `KEY_ERASED` when a subject was erased (nothing personal is ever written
   *   for an erased user again), `KEY_STORE_IO` when the key store is unreachable,
   *   `INVALID_SUBJECT` when a personal field has a value but its subject field none.
   */
  encrypt(fields: readonly PersonalField[], value: Json): Promise<Json>;
  /**
   * Decrypts each field of `fields` in place; an erased subject's fields become
   * {@link ERASED_PLACEHOLDER}; plaintext from before issue 13 is left as it is.
   * @throws DataKeyError `KEY_STORE_IO` when the key store is unreachable, or holds neither the
   *   subject's key nor its erasure (the record was encrypted under another key store).
   */
  decrypt(fields: readonly PersonalField[], value: Json): Promise<void>;
}

/** The cipher over a data-key store. */
export function createPersonalDataCipher(keys: DataKeyStore): PersonalDataCipher {
  const mapField = (v: unknown, shape: PersonalField['shape'], f: (s: string) => string): unknown => {
    if (shape === 'array') return Array.isArray(v) ? v.map((s) => (typeof s === 'string' ? f(s) : s)) : v;
    return typeof v === 'string' ? f(v) : v;
  };
  const hasEncrypted = (v: unknown): boolean =>
    typeof v === 'string' ? isEncrypted(v) : Array.isArray(v) && v.some((s) => typeof s === 'string' && isEncrypted(s));
  return {
    async encrypt(fields, value) {
      if (fields.length === 0) return value;
      const out: Json = { ...value };
      for (const p of fields) {
        const subject = valueAt(value, p.subject);
        const v = value[p.field];
        if (v === null || v === undefined) continue;
        // Fail closed: personal data without a subject would reach the log in plaintext.
        if (typeof subject !== 'string') throw new DataKeyError('INVALID_SUBJECT', `${p.field} is personal data but its subject ${p.subject} is missing`);
        const key = await keys.getOrCreate(subject);
        out[p.field] = mapField(v, p.shape, (s) => encryptValue(key, subject, s));
      }
      return out;
    },
    async decrypt(fields, value) {
      for (const p of fields) {
        const subject = valueAt(value, p.subject);
        const v = value[p.field];
        if (typeof subject !== 'string' || !hasEncrypted(v)) continue;
        const key = await keys.get(subject);
        // No key and no erasure: this store never held the key that encrypted the record (a role
        // or tool pointed at another key store). Fail loudly rather than show `[erased]`.
        if (!key && !(await keys.isErased(subject))) {
          throw new DataKeyError('KEY_STORE_IO', `no data key for ${subject} and no erasure of it: this key store is not the one the record was encrypted with`);
        }
        value[p.field] = mapField(v, p.shape, (s) => {
          if (!isEncrypted(s)) return s;
          if (!key) return ERASED_PLACEHOLDER;
          return decryptValue(key, subject, s) ?? s;
        });
      }
    },
  };
}
