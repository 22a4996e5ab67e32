/**
 * Signed media URLs for videos that must not be served to everyone (private videos, and videos
 * not yet ready, seen by their owner only): issue 8, finding 5.
 *
 * A signed URL is `<media prefix>/signed/<expiresAt>.<mac>/videos/<videoId>/<rest of the key>`:
 * - `expiresAt`: Unix time, seconds (UTC), after which the URL answers 404;
 * - `mac`: base64url HMAC-SHA256 over `<videoId>.<expiresAt>` with the media-URL secret.
 * The token covers the whole video (not one key) so the relative URIs of the master and media
 * playlists (`360p/index.m3u8`, `seg-00001.m4s`) resolve under the same signed prefix and stay
 * valid: no playlist rewriting is needed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface MediaUrlSigningOptions {
  /** HMAC key; independent of the token and S3 keys (issue 8, finding 11). */
  secret: string | Buffer;
  /** Lifetime of a signed URL, seconds (`STREAMWAVE_MEDIA_URL_TTL_SECONDS`). */
  ttlSeconds: number;
  /** Wall clock, ms since the Unix epoch. Default Date.now. */
  now?: () => number;
}

export interface MediaUrlSigning {
  /** A fresh token `<expiresAt>.<mac>` for `videoId`, valid `ttlSeconds` from now. */
  token(videoId: string): string;
  /**
   * The key path to append to the media prefix: `signed/<token for videoId>/<key>`. Media delivery
   * accepts it only for keys under `videos/<videoId>/`.
   */
  signedKeyPath(videoId: string, key: string): string;
  /** True when `token` was issued for `videoId` and has not expired. Never throws. */
  verify(token: string, videoId: string): boolean;
}

/** The video id of a media key `videos/<videoId>/…`, or undefined for any other key. */
export function videoIdOfMediaKey(key: string): string | undefined {
  const m = /^videos\/([^/]+)\//.exec(key);
  return m?.[1];
}

/** Signs and verifies media URL tokens (see the file comment). */
export function createMediaUrlSigning(opts: MediaUrlSigningOptions): MediaUrlSigning {
  const now = opts.now ?? Date.now;
  const mac = (videoId: string, expiresAt: number) => createHmac('sha256', opts.secret).update(`${videoId}.${expiresAt}`).digest();
  const signing: MediaUrlSigning = {
    token(videoId) {
      const expiresAt = Math.floor(now() / 1000) + Math.max(1, Math.floor(opts.ttlSeconds));
      return `${expiresAt}.${mac(videoId, expiresAt).toString('base64url')}`;
    },
    signedKeyPath(videoId, key) {
      return `signed/${signing.token(videoId)}/${key}`;
    },
    verify(token, videoId) {
      const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
      if (!m) return false;
      const expiresAt = Number(m[1]);
      if (expiresAt * 1000 < now()) return false;
      const given = Buffer.from(m[2]!, 'base64url');
      const expected = mac(videoId, expiresAt);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
  return signing;
}
