/**
 * Independent secrets, one per purpose (issue 8, finding 11): access tokens, presigned URLs,
 * cursors, the registry password, signed media URLs… Each comes from its own variable or, when
 * unset, from its own file in the data dir, generated on first start. Rotating one (new value
 * or deleted file) leaves the others, and what they signed, valid.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The secret in `<dataDir>/<file>`; created with 48 random bytes (base64url, 64 characters) and
 * mode 0600 when the file is absent. An existing file is read as is (trimmed).
 * @param dataDir absolute data directory (must exist)
 * @param file file name, e.g. `presign.key`, `cursor.key`, `media-url.key`, `schema-registry.password`
 * @throws Error from node:fs when the directory cannot be read or written, or the file is empty.
 */
export function loadOrCreateSecret(dataDir: string, file: string): string {
  const path = join(dataDir, file);
  if (existsSync(path)) {
    const s = readFileSync(path, 'utf8').trim();
    if (!s) throw new Error(`secret file ${path} is empty: delete it to generate a new secret`);
    return s;
  }
  const secret = randomBytes(48).toString('base64url');
  // 'wx': two processes starting at once never overwrite each other's secret.
  try {
    writeFileSync(path, secret, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim();
    throw e;
  }
  chmodSync(path, 0o600);
  return secret;
}

/**
 * STREAMWAVE_JWT_KEYS `kid:secret[,kid:secret…]` → keys, first signs.
 * @throws Error naming the variable on a duplicate kid (the pattern already checked the shape).
 */
export function parseJwtKeys(raw: string): { kid: string; secret: string }[] {
  const keys = raw.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const i = p.indexOf(':');
    return { kid: p.slice(0, i), secret: p.slice(i + 1) };
  });
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new Error('env/STREAMWAVE_JWT_KEYS has a duplicate kid');
  return keys;
}

/** A random secret created on first start and kept in the data dir, so tokens survive restarts. */
export function persistedSecret(dataDir: string, name = 'secret.key'): string {
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
