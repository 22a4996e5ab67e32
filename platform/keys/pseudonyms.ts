/**
 * Pseudonyms: stable stand-ins for a subject (a user id) in read models that must tell people
 * apart without holding who they are — analytics counts unique viewers (issue 13: "analytics
 * viewer ids pseudonymised"; GDPR art. 4(5)).
 *
 * The keyed pseudonym of a subject is an HMAC under a key derived (HKDF) from the subject's own
 * data key (the key crypto-shredding deletes, data-key-store.port.ts). While the user exists it is
 * stable, so unique viewer counts are exact; once the user is erased the key is gone, and the
 * analytics tables alone no longer tell which rows were that user's (nobody can recompute the
 * pseudonym from the id). The rows stay (views and watch time remain true) and nothing in them is
 * rewritten. What still links them: each row's log position points at a `VideoViewed` record,
 * which carries the user id in the clear, as the views topic always has; after an erasure that id
 * links to nothing personal (README, "Erasure and export").
 *
 * A subject without a key for good (erased, or an id the key store refuses) gets the hashed
 * pseudonym instead: SHA-256 of the purpose and the id, stable so counts stay the same across a
 * replay, and computable by anyone who knows the id. Heartbeats an erasure overtakes (applied
 * after it, written before) are stored under it while the user's earlier rows keep the keyed one,
 * so that user counts twice among unique viewers until the next rebuild.
 */
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { DataKeyError, type DataKeyStore } from './data-key-store.port.ts';

/** Bytes kept of a pseudonym's digest: 128 bits, far from any collision at platform scale. */
const PSEUDONYM_BYTES = 16;

/** Maps subjects to pseudonyms for one purpose (a read model's column). */
export interface Pseudonyms {
  /**
   * The pseudonym of `subject`: `k1.<22 base64url chars>` (keyed, HMAC-SHA256 under the subject's
   * data key, created if missing) or `h1.<22 base64url chars>` (hashed: the subject is erased or
   * not a valid key-store subject). Deterministic for a subject while its key lives.
   * @throws DataKeyError `KEY_STORE_IO` when the key store is unreachable (retry; never guess).
   */
  of(subject: string): Promise<string>;
}

const digest = (d: Buffer) => d.subarray(0, PSEUDONYM_BYTES).toString('base64url');

/** The hashed pseudonym of `subject` for `purpose` (`h1.` format, see {@link Pseudonyms.of}). */
export function hashedPseudonym(purpose: string, subject: string): string {
  return `h1.${digest(createHash('sha256').update(`${purpose}\0${subject}`).digest())}`;
}

/**
 * Pseudonyms keyed by each subject's data key in `keys`, for `purpose` (e.g. `analytics.viewer`:
 * two purposes give unrelated pseudonyms of one subject).
 */
export function keyedPseudonyms(keys: DataKeyStore, purpose: string): Pseudonyms {
  return {
    async of(subject) {
      let key: Buffer;
      try {
        key = await keys.getOrCreate(subject);
      } catch (err) {
        if (err instanceof DataKeyError && (err.code === 'KEY_ERASED' || err.code === 'INVALID_SUBJECT')) return hashedPseudonym(purpose, subject);
        throw err;
      }
      // A key of its own for pseudonyms (HKDF, RFC 5869), not the AES key itself.
      const macKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'streamwave pseudonyms', 32));
      return `k1.${digest(createHmac('sha256', macKey).update(purpose).digest())}`;
    },
  };
}

/**
 * Hashed pseudonyms only, for deployments without a key store (tests and tools that build read
 * models from plaintext logs): never the raw id, but not shredded by an erasure.
 */
export function hashedPseudonyms(purpose: string): Pseudonyms {
  return { of: async (subject) => hashedPseudonym(purpose, subject) };
}
