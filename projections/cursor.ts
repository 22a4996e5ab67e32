import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidCursorError } from './read-model.port.ts';

/** Opaque unsigned cursor: base64url of JSON. @throws InvalidCursorError when undecodable. */
export function encodeCursor(payload: object): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

export function decodeCursor<T>(cursor: string): T {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError('cursor is not base64url');
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as T;
  } catch {
    throw new InvalidCursorError('cursor is not a valid token');
  }
}

/** Signed cursor `<base64url JSON>.<base64url HMAC-SHA256>`, so a client cannot forge or edit it. */
export function encodeSignedCursor(payload: object, secret: string | Buffer): string {
  const body = encodeCursor(payload);
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** @throws InvalidCursorError when malformed or the signature does not match. */
export function decodeSignedCursor<T>(cursor: string, secret: string | Buffer): T {
  if (typeof cursor !== 'string') throw new InvalidCursorError('cursor must be a string');
  const dot = cursor.indexOf('.');
  if (dot <= 0 || dot !== cursor.lastIndexOf('.')) throw new InvalidCursorError('cursor is malformed');
  const body = cursor.slice(0, dot);
  const sig = Buffer.from(cursor.slice(dot + 1), 'base64url');
  const expected = createHmac('sha256', secret).update(body).digest();
  if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) throw new InvalidCursorError('cursor signature mismatch');
  return decodeCursor<T>(body);
}
