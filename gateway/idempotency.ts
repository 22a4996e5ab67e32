/**
 * The `Idempotency-Key` request header of the routes that send commands (issue 10; the IETF draft
 * "The Idempotency-Key HTTP Header Field", draft-ietf-httpapi-idempotency-key-header, and Stripe's
 * practice). A client that retries a request (after a timeout, a 503 `COMMAND_TIMEOUT`, a dropped
 * connection) with the same key gets the first request's outcome within 24 h, and the command is
 * decided once:
 * - the command id is `idem_` + 26 base32 characters of SHA-256(caller, method, route, key): the
 *   caller is the authenticated user id, so two callers never share a key, and one key on two
 *   routes makes two commands. An anonymous caller (registration) is known only by what it asks
 *   for: the route passes a scope (the normalized username), so two clients that happen to pick
 *   one key for different names, or a retry with an edited name, are different commands;
 * - what the command creates (video, upload, user, comment) gets ids derived from that command id,
 *   so the repeat targets the same aggregate and the decider that remembers the id
 *   (commands/command-ids.ts) answers with the first decision (status, ids and positions);
 * - without the header, ids are fresh ULIDs and every request is a new command, as before.
 * The key is 1–255 visible ASCII characters (a UUID is the usual choice); anything else is 400
 * `VALIDATION_FAILED` from the route schema.
 */
import { createHash } from 'node:crypto';
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { IDEMPOTENT_ID_PREFIX } from '../commands/command-bus.port.ts';
import type { IdGenerator } from './gateway.types.ts';

/** Request header schema of a command route: the optional `idempotency-key` (Fastify lower-cases header names). */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$',
    description: 'A retry with the same key within 24 h gets the first request\'s outcome and is decided once (use a fresh UUID per operation).',
  })),
});

/** Crockford base32 of the first 130 bits of `bytes`: 26 characters, the shape of a ULID. */
function base32(bytes: Buffer): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
    if (out.length === 26) break;
  }
  return out;
}

const digest = (...parts: string[]): string => base32(createHash('sha256').update(parts.join('\0')).digest());

/** A request's command identity: its command id (when keyed) and the ids of what it creates. */
export interface CommandIdentity {
  /** `idem_…` when the request carries an `Idempotency-Key`; undefined otherwise (the bus makes one). */
  commandId: string | undefined;
  /** `<prefix>_<26 chars>`: derived from the command id when keyed, else a fresh ULID. */
  newId(prefix: string): string;
}

/**
 * The command identity of `request` (see the file comment); `ids` makes the unkeyed ones.
 * `anonymousScope` stands in for the caller when there is no principal (registration: the
 * normalized username).
 */
export function commandIdentity(request: FastifyRequest, ids: IdGenerator, anonymousScope = ''): CommandIdentity {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key === '') return { commandId: undefined, newId: (prefix) => ids.newId(prefix) };
  const caller = request.principal?.userId ?? `anonymous:${anonymousScope}`;
  const commandId = IDEMPOTENT_ID_PREFIX + digest(caller, request.method, request.routeOptions.url ?? request.url, key);
  return { commandId, newId: (prefix) => `${prefix}_${digest(commandId, prefix)}` };
}
