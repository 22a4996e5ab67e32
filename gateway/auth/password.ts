/**
 * Password hashing with scrypt (RFC 7914) in PHC string format
 * (https://github.com/P-H-C/phc-string-format/blob/master/phc-sf-spec.md):
 *
 *   `$scrypt$ln=14,r=8,p=1$<salt, B64 no padding>$<hash, B64 no padding>`
 *
 * ln = log2(N). Parameters N=2^14, r=8, p=1 are the OWASP Password Storage Cheat Sheet minimum
 * for scrypt; the salt is 16 random bytes, the derived key 32 bytes. Parameters live in the
 * string so they can be raised later while old hashes still verify.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Errors } from '../errors.ts';
import { createSemaphore, type Semaphore } from './semaphore.ts';

const LOG2_N = 14;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Upper bounds accepted when verifying, so a forged hash string cannot make us burn CPU/memory. */
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;

/**
 * scrypt runs on libuv's thread pool (4 threads by default), which the embedded log's fsyncs and
 * every other fs call share: a login flood with unbounded hashing would queue every fsync behind
 * it and stall all disk I/O (issue 8, finding 6). Hashing is therefore bounded per process: at
 * most `concurrency` hashes at once (default 2, leaving the other threads to file I/O), at most
 * `queue` waiting; beyond that 503 SERVER_BUSY with Retry-After. Per process, like the pool.
 */
let hashing: Semaphore = createHashingSemaphore(2, 32);

function createHashingSemaphore(concurrency: number, queue: number): Semaphore {
  return createSemaphore({ concurrency, queue, refused: () => new Errors.ServerBusy('too many logins at once, retry shortly') });
}

/**
 * Sets the hashing bounds (see above); tasks already admitted finish under the old ones.
 * @throws RangeError when `concurrency` < 1 or `queue` < 0.
 */
export function configurePasswordHashing(opts: { concurrency: number; queue: number }): void {
  hashing = createHashingSemaphore(opts.concurrency, opts.queue);
}

/** Hashes running and waiting now, the most ever run at once, and the refused ones (current bounds). */
export function passwordHashingStats(): ReturnType<Semaphore['stats']> {
  return hashing.stats();
}

/** @throws SERVER_BUSY (503) when the hashing queue is full. */
function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return hashing.run(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scryptCb(password.normalize('NFKC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
      }),
  );
}

/** Memory scrypt needs is 128·N·r bytes (RFC 7914 §6); give node twice that as a ceiling. */
function maxmem(n: number, r: number, p: number): number {
  return 256 * n * r * p + 1024 * 1024;
}

const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '');

/**
 * Hashes a password; resolves to a PHC string (~100 characters). @throws SERVER_BUSY (503) when the hashing queue is full. The password is NFKC-normalised
 * first (as recommended for password comparison by RFC 8265 §4.1), so visually identical inputs match.
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const n = 2 ** LOG2_N;
  const key = await scrypt(password, salt, KEY_BYTES, { N: n, r: BLOCK_SIZE, p: PARALLELISM, maxmem: maxmem(n, BLOCK_SIZE, PARALLELISM) });
  return `$scrypt$ln=${LOG2_N},r=${BLOCK_SIZE},p=${PARALLELISM}$${b64(salt)}$${b64(key)}`;
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const PHC_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Parses a PHC scrypt string; undefined when malformed or its parameters are out of bounds. */
export function parsePasswordHash(phc: string): ParsedHash | undefined {
  const m = PHC_RE.exec(phc);
  if (!m) return undefined;
  const ln = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  if (ln < 1 || ln > MAX_LOG2_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return undefined;
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return undefined;
  return { n: 2 ** ln, r, p, salt, hash };
}

/**
 * Verifies a password against a PHC scrypt string in constant time (crypto.timingSafeEqual).
 * Resolves false for a wrong password or a malformed/unsupported hash.
 * @throws SERVER_BUSY (503) when the hashing queue is full (see configurePasswordHashing).
 */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const parsed = parsePasswordHash(phc);
  if (!parsed) return false;
  const { n, r, p, salt, hash } = parsed;
  const key = await scrypt(password, salt, hash.length, { N: n, r, p, maxmem: maxmem(n, r, p) });
  return key.length === hash.length && timingSafeEqual(key, hash);
}

/**
 * A valid hash of a random password, verified against when the username does not exist so a
 * login for an unknown user costs the same scrypt work as one for a known user (no user
 * enumeration by timing).
 */
let decoyHash: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoyHash ??= hashPassword(randomBytes(16).toString('hex')).catch((err: unknown) => {
    decoyHash = undefined; // refused (busy): try again next time, do not cache the refusal
    throw err;
  });
  return decoyHash;
}
