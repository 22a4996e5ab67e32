/**
 * HTTP Basic authentication of the schema registry's write API (issue 8, finding 1), as
 * Confluent's registry does it and as `@kafkajs/confluent-schema-registry`'s `auth: {username,
 * password}` option sends it (RFC 7617). Reads, lookups (`POST /subjects/{s}`) and compatibility
 * tests (`POST /compatibility/...`) stay open, as Confluent's do.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Credentials of the registry's write API. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Confluent's `error_code` for a refused authentication (401). */
export const REGISTRY_UNAUTHORIZED_ERROR_CODE = 40101;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The `Authorization` header value that carries `creds` (RFC 7617 Basic). */
export function basicAuthorization(creds: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
}

/**
 * Whether an `Authorization` header carries exactly `creds` (Basic scheme; constant-time compare
 * of SHA-256 digests, so neither length nor content leaks through timing).
 */
export function basicAuthMatches(header: string | undefined, creds: RegistryCredentials): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const expected = digest(`${creds.username}:${creds.password}`);
  return timingSafeEqual(digest(Buffer.from(m[1], 'base64').toString('utf8')), expected);
}

/**
 * A Fastify `onRequest` hook refusing requests without `creds`: 401, `WWW-Authenticate: Basic
 * realm="schema-registry"`, Confluent's body `{error_code: 40101, message}`.
 */
export function requireRegistryCredentials(creds: RegistryCredentials, contentType: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (basicAuthMatches(req.headers.authorization, creds)) return;
    await reply.code(401)
      .header('www-authenticate', 'Basic realm="schema-registry", charset="UTF-8"')
      .type(contentType)
      .send({ error_code: REGISTRY_UNAUTHORIZED_ERROR_CODE, message: 'Unauthorized: registry writes need credentials (HTTP Basic)' });
  };
}
