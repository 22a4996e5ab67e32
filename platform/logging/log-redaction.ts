/**
 * Logs without secrets (issue 8, finding 10): presigned URLs carry their SigV4 signature in the
 * query string (`X-Amz-Signature`, AWS SigV4 query-string authentication), and Fastify logs every
 * request URL at info level. `createRedactingLogger` builds the process logger so that every URL
 * it logs (`req.url`, any top-level `url`) has its credential-bearing query values replaced by
 * `[REDACTED]`, and `Authorization` headers, passwords, tokens and secrets are censored by pino's
 * `redact` wherever they appear one level deep.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

/** The replacement text of a redacted value. */
export const REDACTED = '[REDACTED]';

/**
 * Query parameter names whose values are credentials: SigV4's signature, credential and session
 * token (X-Amz-*), generic `signature`/`sig`, bearer tokens, passwords, secrets, API keys.
 * Case-insensitive.
 */
const SENSITIVE_QUERY_PARAM = /^(x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|token|access_token|id_token|refresh_token|session_token|password|passwd|secret|api_key|apikey|key)$/i;

/**
 * `url` (absolute or path + query) with the values of credential-bearing query parameters
 * replaced by `[REDACTED]`; everything else byte for byte. Non-strings are returned unchanged.
 */
export function sanitizeUrl<T>(url: T): T {
  if (typeof url !== 'string' || !url.includes('?')) return url;
  const q = url.indexOf('?');
  const query = url.slice(q).replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, sep: string, name: string) => {
    let decoded = name;
    try { decoded = decodeURIComponent(name); } catch { /* keep the raw name */ }
    return SENSITIVE_QUERY_PARAM.test(decoded) ? `${sep}${name}=${REDACTED}` : whole;
  });
  return (url.slice(0, q) + query) as T;
}

/**
 * pino `redact` paths: Authorization/cookie headers of logged requests, and password, token and
 * secret fields at the top level or one level down.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'authorization',
  ...['password', 'token', 'accessToken', 'access_token', 'secret', 'secretAccessKey', 'adminToken', 'jwtSecret']
    .flatMap((k) => [k, `*.${k}`]),
];

interface RequestLike {
  method?: string;
  url?: string;
  ip?: string;
  host?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
}

/** pino serializers: `req` as Fastify logs it but with a sanitised URL; any `url` sanitised. */
export const redactingSerializers = {
  req: (req: RequestLike) => ({
    method: req.method,
    url: sanitizeUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
  url: sanitizeUrl,
};

/**
 * The process logger: pino with `options` plus URL sanitising serializers and secret redaction.
 * Pass it to Fastify as `loggerInstance` (Fastify keeps an instance's own `req` serializer).
 * @param destination optional pino destination (tests capture lines with it).
 */
export function createRedactingLogger(options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const opts: LoggerOptions = {
    ...options,
    serializers: { ...redactingSerializers, ...options.serializers },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  };
  return destination ? pino(opts, destination) : pino(opts);
}
