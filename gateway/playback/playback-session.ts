/**
 * Signed playback sessions (issue 8, finding 2: "views that cannot be forged").
 *
 * `GET /videos/{id}/stream` issues a session id the server signed and bound to the video; a
 * heartbeat (`POST /videos/{id}/views`) is only recorded when its `session_id` verifies for that
 * video and has not expired. Verification is stateless (HMAC over the id's own fields), so a flood
 * of forged ids costs CPU per request but no memory; ids that verified are remembered (bounded).
 *
 * Format: `ps1.<issuedAtMs>.<expiresAtMs>.<nonce>.<mac>` where `nonce` is 16 random bytes and `mac`
 * = HMAC-SHA256(secret, `<videoId>|<issuedAtMs>|<expiresAtMs>|<nonce>`), both base64url (RFC 4648 §5).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** A session as issued: the id to hand to the player, and its times in ms since the epoch. */
export interface PlaybackSession {
  sessionId: string;
  issuedAt: number;
  expiresAt: number;
}

/** Why a session id was refused (also the `reason` label of the rejected-heartbeat metric). */
export type PlaybackSessionRejection = 'malformed' | 'bad_signature' | 'expired' | 'not_yet_valid';

/** Result of verification: the session's times when valid, else the reason. */
export type PlaybackSessionCheck =
  | { ok: true; issuedAt: number; expiresAt: number }
  | { ok: false; reason: PlaybackSessionRejection };

export interface PlaybackSessionOptions {
  /** HMAC key (STREAMWAVE_PLAYBACK_SECRET); ≥ 32 bytes recommended (RFC 2104 §3). */
  secret: string;
  /** Session lifetime, seconds (STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS). */
  ttlSeconds: number;
  /** Wall clock, ms since the epoch. */
  now: () => number;
}

/** Issuer and verifier of playback session ids. */
export interface PlaybackSessions {
  /** Issues a session for `videoId` valid from now for `ttlSeconds`. */
  issue(videoId: string): PlaybackSession;
  /** Checks that `sessionId` was issued for `videoId` by this server (same secret) and is not expired. Never throws. */
  verify(videoId: string, sessionId: string): PlaybackSessionCheck;
}

const PREFIX = 'ps1';
const NONCE = /^[A-Za-z0-9_-]{22}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;
const MS = /^[0-9]{1,15}$/;
/** Clock skew tolerated between gateway replicas for `issuedAt` in the future, ms. */
const MAX_SKEW_MS = 60_000;
/**
 * Sessions whose signature verified, remembered so that a player's every heartbeat (one session,
 * one request every few seconds) costs one HMAC per session rather than per request. Only ids that
 * verified are kept (forged ones still cost CPU, never memory); the least recently used go first past this many.
 */
const VERIFIED_CACHE_SIZE = 16_384;

/** Builds the issuer/verifier. @throws Error when the secret is empty or the TTL is not a positive number. */
export function createPlaybackSessions(options: PlaybackSessionOptions): PlaybackSessions {
  const { secret, ttlSeconds, now } = options;
  if (!secret) throw new Error('playback sessions: secret is required');
  if (!(Number.isFinite(ttlSeconds) && ttlSeconds > 0)) throw new Error('playback sessions: ttlSeconds must be a positive number');
  const mac = (videoId: string, issuedAt: string, expiresAt: string, nonce: string): Buffer =>
    createHmac('sha256', secret).update(`${videoId}|${issuedAt}|${expiresAt}|${nonce}`).digest();
  const verified = new LRUCache<string, { issuedAt: number; expiresAt: number }>({ max: VERIFIED_CACHE_SIZE });
  const checkTimes = (issuedAt: number, expiresAt: number): PlaybackSessionCheck => {
    const t = now();
    if (t >= expiresAt) return { ok: false, reason: 'expired' };
    if (issuedAt > t + MAX_SKEW_MS) return { ok: false, reason: 'not_yet_valid' };
    return { ok: true, issuedAt, expiresAt };
  };
  return {
    issue(videoId) {
      const issuedAt = Math.floor(now());
      const expiresAt = issuedAt + Math.round(ttlSeconds * 1000);
      const nonce = randomBytes(16).toString('base64url');
      const m = mac(videoId, String(issuedAt), String(expiresAt), nonce).toString('base64url');
      return { sessionId: `${PREFIX}.${issuedAt}.${expiresAt}.${nonce}.${m}`, issuedAt, expiresAt };
    },
    verify(videoId, sessionId) {
      const key = `${videoId}|${sessionId}`;
      const known = verified.get(key);
      if (known) return checkTimes(known.issuedAt, known.expiresAt);
      const parts = sessionId.split('.');
      if (parts.length !== 5 || parts[0] !== PREFIX) return { ok: false, reason: 'malformed' };
      const [, iat, exp, nonce, given] = parts as [string, string, string, string, string];
      if (!MS.test(iat) || !MS.test(exp) || !NONCE.test(nonce) || !MAC.test(given)) return { ok: false, reason: 'malformed' };
      const givenMac = Buffer.from(given, 'base64url');
      const expected = mac(videoId, iat, exp, nonce);
      if (givenMac.length !== expected.length || !timingSafeEqual(givenMac, expected)) return { ok: false, reason: 'bad_signature' };
      const issuedAt = Number(iat);
      const expiresAt = Number(exp);
      const check = checkTimes(issuedAt, expiresAt);
      if (check.ok) verified.set(key, { issuedAt, expiresAt });
      return check;
    },
  };
}

/**
 * The gateway's playback sessions from its resolved config: `playbackSecret`, or when unset a key
 * derived from `jwtSecret` (SHA-256 of `playback-session:<jwtSecret>`, so the two never coincide).
 */
export function playbackSessionsOf(
  config: { jwtSecret: string; playbackSecret?: string; playbackSessionTtlSeconds: number },
  now: () => number,
): PlaybackSessions {
  const secret = config.playbackSecret ?? createHash('sha256').update(`playback-session:${config.jwtSecret}`).digest('base64url');
  return createPlaybackSessions({ secret, ttlSeconds: config.playbackSessionTtlSeconds, now });
}
