/**
 * Entity tags and `If-None-Match` for cacheable reads (issue 14, "push instead of polling"): a
 * client polling a video, its status or its comments sends back the tag it holds and gets
 * `304 Not Modified`, no body, while nothing changed.
 *
 * - The tag is STRONG (RFC 9110 §8.8.3): `"` + base64url SHA-1 of the exact UTF-8 bytes of the
 *   200 body + `"`. Two bodies differing by one byte (an owner's signed thumbnail URL, another
 *   cursor page) have different tags; equal bodies share one, whoever asked. SHA-1 is not here for
 *   security but because Node's one-shot native hash beats a JavaScript FNV-1a loop at every body
 *   size the routes send (0.6 µs vs 0.8 µs at 400 bytes, 3.6 vs 8 µs at 5 kB) without its 32-bit
 *   collision odds (a collision would answer 304 to a changed body).
 * - `If-None-Match` (RFC 9110 §13.1.2): `*`, or a comma-separated list of entity-tags; the
 *   condition is false (→ 304 for GET/HEAD) when `*` is sent and the resource has a representation,
 *   or when a listed tag matches by WEAK comparison (§8.8.3.2: the opaque-tags are equal, a `W/`
 *   prefix on either side ignored). Members that are not entity-tags are ignored.
 * - Only a 200 gets a tag or a 304; errors (a private video's 404 included) never do, so a tag
 *   cannot probe what the caller may not see. A 304 carries the ETag and Vary a 200 would
 *   (RFC 9110 §15.4.5).
 */
import { hash } from 'node:crypto';
import type { TSchema } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The strong entity-tag of a body (quotes included): see the file comment. */
export function entityTagOf(body: string): string {
  return `"${hash('sha1', body, 'base64url')}"`;
}

/**
 * Whether an `If-None-Match` field value matches `etag` (a quoted strong or weak entity-tag)
 * under RFC 9110 §13.1.2: true for `*` and for a listed tag equal to it by weak comparison
 * (§8.8.3.2), i.e. the precondition is false and a GET answers 304. An absent or empty field, or
 * one holding no valid entity-tag (`abc` without quotes, `w/"x"` with a lower-case prefix), is no match.
 */
export function ifNoneMatchMatches(fieldValue: string | undefined, etag: string): boolean {
  if (!fieldValue) return false;
  if (fieldValue.trim() === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (§8.8.3); etagc may be a comma, so the list is
  // scanned tag by tag rather than split on commas.
  let i = 0;
  const n = fieldValue.length;
  while (i < n) {
    const c = fieldValue.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x2c) { i++; continue; }
    let start = i;
    if (fieldValue.startsWith('W/"', i)) start = i + 2;
    if (fieldValue.charCodeAt(start) === 0x22) {
      const end = fieldValue.indexOf('"', start + 1);
      if (end === -1) return false;
      if (end - start + 1 === opaque.length && fieldValue.startsWith(opaque, start)) return true;
      i = end + 1;
    } else {
      // Not an entity-tag: skip to the next list member.
      const comma = fieldValue.indexOf(',', i);
      if (comma === -1) return false;
      i = comma + 1;
    }
  }
  return false;
}

/**
 * Adds `Authorization` to the reply's `Vary` (RFC 9110 §12.5.5) unless it is there: for a read
 * whose answer depends on the caller (a video only its owner may see is 404 to others). Set
 * before the read, so the 404 carries it too.
 */
export function varyOnAuthorization(reply: FastifyReply): void {
  const vary = reply.getHeader('vary');
  if (vary === undefined) reply.header('vary', 'Authorization');
  else if (!/(^|,)\s*(authorization|\*)\s*(,|$)/i.test(String(vary))) reply.header('vary', `${String(vary)}, Authorization`);
}

/**
 * Sends a 200 JSON body (already serialised by the route's serialiser) with its ETag, or 304 with
 * the ETag and no body when the request's `If-None-Match` matches it. `etag` defaults to hashing
 * `body`; pass a tag computed once per cached body to skip the hash.
 */
export function sendWithEtag(request: FastifyRequest, reply: FastifyReply, body: string, etag: string = entityTagOf(body)): FastifyReply {
  reply.header('etag', etag);
  if (ifNoneMatchMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(body);
}

/**
 * A route `onSend` hook doing what sendWithEtag does for a route that returns its body: a 200
 * string payload (JSON serialised by the route's serialiser) gets its ETag, and 304 with no body
 * when the request's `If-None-Match` matches it. The route lists `304: NotModified` in its
 * response schema; one whose answer depends on the caller also calls varyOnAuthorization.
 */
export async function etagOnSend(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode !== 200 || typeof payload !== 'string') return payload;
  const etag = entityTagOf(payload);
  reply.header('etag', etag);
  if (!ifNoneMatchMatches(request.headers['if-none-match'], etag)) return payload;
  reply.code(304).removeHeader('content-type');
  // An empty string, not null: Fastify's HEAD route pipes a GET's payload and reads `null` as a stream (500).
  return '';
}

/** The response headers of a tagged 200 or 304, for the OpenAPI document (@fastify/swagger reads `headers` of a response schema). */
const ETAG_RESPONSE_HEADERS = {
  ETag: { type: 'string', description: 'Strong entity-tag of the 200 body (RFC 9110 §8.8.3); send it back in `If-None-Match` to get 304 while the body is unchanged.' },
  Vary: { type: 'string', description: '`Authorization`: the answer depends on the caller.' },
};

/** A 200 response schema documented with its ETag and Vary headers (the schema's keywords are kept as they are). */
export function withEtagHeaders<T extends TSchema>(schema: T): T {
  return Object.create(Object.getPrototypeOf(schema), {
    ...Object.getOwnPropertyDescriptors(schema),
    headers: { value: ETAG_RESPONSE_HEADERS, enumerable: true, writable: true, configurable: true },
  }) as T;
}

/** The 304 response of a tagged read, for the route's response map (no body). */
export const NotModified = Type.Null({
  description: 'Not Modified: the `If-None-Match` request header holds `*` or the current ETag (weak comparison, RFC 9110 §13.1.2); no body.',
  headers: ETAG_RESPONSE_HEADERS,
});
