/**
 * The gateway's ONE error catalogue and ONE error handler.
 *
 * Every error a client can see has a stable `code` (never renamed: clients switch on it) and the
 * body shape `{ statusCode, code, message }` (+ `details` for validation errors). Errors raised
 * deeper down (DomainError from deciders, ObjectStoreError from the object store,
 * InvalidCursorError from read models, Fastify's own FST_* errors) are translated here so a route
 * never builds an error body by hand.
 *
 * Rule: bad input is ALWAYS a 4xx. A 5xx means a bug or an unavailable dependency, and its body
 * hides the internal message (`{ code: 'INTERNAL' }`); the full error goes to the log.
 */
import { DataKeyError } from '../platform/keys/data-key-store.port.ts';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import createError from '@fastify/error';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@fastify/type-provider-typebox';
import { DomainError, assertNever } from '../domain/shared/event.ts';
import { ObjectStoreError } from '../platform/object-store/object-store.port.ts';
import { InvalidCursorError } from '../projections/read-model.port.ts';
import { KeyValueStoreError } from '../projections/stores/key-value-store.port.ts';
import { AnalyticsStoreError } from '../projections/analytics/analytics-store.port.ts';
import { SearchIndexError } from '../projections/search/search.port.ts';
import { RateLimitStoreError } from '../platform/rate-limit/rate-limit-store.port.ts';
import { CommandTimeoutError } from '../commands/command-bus.port.ts';
import { ThumbnailEncoderOutOfMemoryError } from '../processors/thumbnails/thumbnail-encoder.port.ts';

/**
 * Error catalogue. `new Errors.X(arg)` fills `%s` in the message. Status codes follow RFC 9110
 * (401 carries `WWW-Authenticate: Bearer`, RFC 6750 §3; 429 carries `Retry-After`, RFC 6585 §4).
 */
export const Errors = {
  ValidationError: createError('VALIDATION_ERROR', '%s', 400),
  MalformedJson: createError('MALFORMED_JSON', 'request body is not valid JSON', 400),
  InvalidCursor: createError('INVALID_CURSOR', 'cursor is invalid or expired', 400),
  InvalidPart: createError('INVALID_PART', '%s', 400),
  /** Issue 8: the parts do not follow the plan or do not add up to the declared size; the upload is failed. */
  UploadSizeMismatch: createError('UPLOAD_SIZE_MISMATCH', '%s', 400),
  /** Heartbeat whose session_id was not issued for this video by `GET /videos/{id}/stream`, is malformed, or expired (issue 8). */
  InvalidPlaybackSession: createError('INVALID_PLAYBACK_SESSION', 'playback session is invalid or expired (%s); get a new one from GET /videos/{id}/stream', 400),
  Unauthorized: createError('UNAUTHORIZED', 'a Bearer access token is required', 401),
  InvalidToken: createError('INVALID_TOKEN', 'the access token is invalid or expired', 401),
  InvalidCredentials: createError('INVALID_CREDENTIALS', 'unknown username or wrong password', 401),
  NotOwner: createError('NOT_OWNER', 'only the owner of this video may do that', 403),
  NotFound: createError('NOT_FOUND', 'route %s not found', 404),
  VideoNotFound: createError('VIDEO_NOT_FOUND', 'video %s not found', 404),
  ChannelNotFound: createError('CHANNEL_NOT_FOUND', 'channel %s not found', 404),
  UploadNotFound: createError('UPLOAD_NOT_FOUND', 'upload %s not found', 404),
  UsernameTaken: createError('USERNAME_TAKEN', 'username %s is already taken', 409),
  VideoNotReady: createError('VIDEO_NOT_READY', 'video %s is not playable yet', 409),
  UploadAlreadyCompleted: createError('UPLOAD_ALREADY_COMPLETED', 'upload %s is already completed', 409),
  PayloadTooLarge: createError('PAYLOAD_TOO_LARGE', 'request body is too large', 413),
  UploadTooLarge: createError('UPLOAD_TOO_LARGE', 'declared size %s bytes exceeds the limit of %s bytes', 413),
  UnsupportedMediaType: createError('UNSUPPORTED_MEDIA_TYPE', '%s', 415),
  InvalidLanguage: createError('INVALID_LANGUAGE', 'language %s is not a BCP 47 tag such as en or pt-BR', 400),
  /** A request body not received within the body timeout (issue 8, finding 9); the connection is closed. */
  RequestTimeout: createError('REQUEST_TIMEOUT', 'the request body was not received in time', 408),
  RateLimited: createError('RATE_LIMITED', 'rate limit exceeded, retry in %s', 429),
  /** More event streams open from one address than `eventStreamsPerIp` (issue 14). */
  TooManyStreams: createError('TOO_MANY_STREAMS', 'at most %s event streams may be open at once from one address; close one first', 429),
  Internal: createError('INTERNAL', 'internal server error', 500),
  /** Deliberate overload refusal (the password-hashing queue is full): public, with `Retry-After`. */
  ServerBusy: createError('SERVER_BUSY', '%s', 503),
  /** A server the answer needs (Redis, ClickHouse, Typesense, S3) is unreachable right now: public, with `Retry-After` (issue 9, outages). */
  ServiceUnavailable: createError('SERVICE_UNAVAILABLE', '%s', 503),
} as const;

/** Seconds a client is told to wait (`Retry-After`) when a backing server is down: its restart takes seconds. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * Which backing server an error says is unavailable (so the request may succeed later), or
 * undefined. The adapters' typed errors: KeyValueStoreError `STORE_IO` (Redis), AnalyticsStoreError
 * `ANALYTICS_IO` (ClickHouse), SearchIndexError `SEARCH_UNAVAILABLE` (Typesense), ObjectStoreError
 * `ServiceUnavailable` / `SlowDown` / `InternalError` (S3), RateLimitStoreError `RATE_LIMIT_STORE_IO`
 * (a shared rate-limit store).
 */
export function unavailableServer(error: unknown): string | undefined {
  if (error instanceof KeyValueStoreError) return error.code === 'STORE_IO' ? 'key-value store' : undefined;
  if (error instanceof AnalyticsStoreError) return error.code === 'ANALYTICS_IO' ? 'analytics store' : undefined;
  if (error instanceof SearchIndexError) return error.code === 'SEARCH_UNAVAILABLE' ? 'search engine' : undefined;
  if (error instanceof ObjectStoreError) return ['ServiceUnavailable', 'SlowDown', 'InternalError'].includes(error.code) ? 'object store' : undefined;
  if (error instanceof RateLimitStoreError) return error.code === 'RATE_LIMIT_STORE_IO' ? 'rate-limit store' : undefined;
  if (error instanceof DataKeyError) return error.code === 'KEY_STORE_IO' ? 'data-key store' : undefined;
  return undefined;
}

/** Codes of the catalogue, used to recognise our own errors in the handler. */
const CATALOGUE_CODES = new Set<string>(Object.values(Errors).map((E) => new E().code));

/** Body of every error response (the OpenAPI document references it on every route). */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code.' }),
    message: Type.String(),
    details: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({ description: 'JSON pointer of the offending value, e.g. `/body/size_bytes`.' }),
          message: Type.String(),
          keyword: Type.String(),
        }),
      ),
    ),
  },
  { title: 'ErrorResponse' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

/** Adds the shared error body to a route's response map for the OpenAPI document and serializer. */
export function withErrors<T extends Record<number, unknown>>(responses: T): T & { '4xx': typeof ErrorResponse; '5xx': typeof ErrorResponse } {
  return { ...responses, '4xx': ErrorResponse, '5xx': ErrorResponse };
}

/** HTTP status of a DomainError kind (kinds are defined in domain/shared/event.ts). */
function statusOfDomainKind(kind: DomainError['kind']): number {
  switch (kind) {
    case 'not_found':
      return 404;
    case 'forbidden':
      return 403;
    case 'conflict':
      return 409;
    case 'invalid':
      return 400;
    default:
      return assertNever(kind);
  }
}

/**
 * Translates an ObjectStoreError (S3 error codes) into a client error, or undefined when it is
 * not the client's fault (then it is a 500).
 */
function fromObjectStoreError(err: ObjectStoreError): ErrorResponse | undefined {
  switch (err.code) {
    case 'InvalidPart':
    case 'InvalidPartOrder':
    case 'EntityTooSmall':
      return { statusCode: 400, code: 'INVALID_PART', message: err.message };
    case 'EntityTooLarge':
      return { statusCode: 413, code: 'UPLOAD_TOO_LARGE', message: err.message };
    case 'NoSuchUpload':
      return { statusCode: 404, code: 'UPLOAD_NOT_FOUND', message: err.message };
    default:
      return undefined;
  }
}

interface AjvLikeError {
  instancePath?: string;
  schemaPath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/**
 * Maps any thrown value to the public error body. Pure (no logging), exported for tests.
 * - Fastify validation errors → 400 VALIDATION_ERROR with `details` (one entry per Ajv error).
 * - FST_ERR_CTP_* body parse errors → 400 MALFORMED_JSON / 413 PAYLOAD_TOO_LARGE / 415.
 * - A backing server unavailable (see unavailableServer) → 503 SERVICE_UNAVAILABLE (Retry-After set by the handler).
 * - CommandTimeoutError (cluster mode: no outcome from the command processor in time) → 503 COMMAND_TIMEOUT (Retry-After).
 * - ThumbnailEncoderOutOfMemoryError (the encoder's memory cap, not the image) → 503 THUMBNAIL_ENCODER_UNAVAILABLE (Retry-After).
 * - DomainError → status by kind, its own code. ObjectStoreError → see fromObjectStoreError.
 * - DataKeyError (issue 13) KEY_ERASED → 403 USER_ERASED (KEY_STORE_IO is an unavailable server, above).
 * - InvalidCursorError → 400 INVALID_CURSOR. Catalogue errors → their own status and code.
 * - Anything else with a 4xx statusCode → that status, code kept if present.
 * - Everything else → 500 INTERNAL with a generic message.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  const down = unavailableServer(error);
  if (down) return { statusCode: 503, code: 'SERVICE_UNAVAILABLE', message: `the ${down} is unavailable; retry later` };
  if (error instanceof CommandTimeoutError) {
    return { statusCode: 503, code: 'COMMAND_TIMEOUT', message: 'the command was not decided in time; it may still be — retry later' };
  }
  if (error instanceof ThumbnailEncoderOutOfMemoryError) {
    return { statusCode: 503, code: 'THUMBNAIL_ENCODER_UNAVAILABLE', message: 'the thumbnail encoder ran out of memory; retry later' };
  }
  if (error instanceof DomainError) {
    return { statusCode: statusOfDomainKind(error.kind), code: error.code, message: error.message };
  }
  if (error instanceof DataKeyError && error.code === 'KEY_ERASED') {
    // Issue 13: writing personal data of an erased user (a command in flight during the erasure).
    return { statusCode: 403, code: 'USER_ERASED', message: 'the user was erased' };
  }
  if (error instanceof ObjectStoreError) {
    return fromObjectStoreError(error) ?? internal();
  }
  if (error instanceof InvalidCursorError) {
    return { statusCode: 400, code: 'INVALID_CURSOR', message: error.message || 'cursor is invalid or expired' };
  }
  if (typeof error !== 'object' || error === null) return internal();
  const err = error as Partial<FastifyError> & { validation?: AjvLikeError[]; validationContext?: string };

  if (Array.isArray(err.validation)) {
    const context = err.validationContext ?? 'request';
    return {
      statusCode: 400,
      code: 'VALIDATION_ERROR',
      message: err.message ?? 'request is invalid',
      details: err.validation.slice(0, MAX_DETAILS).map((v) => ({
        path: `/${context}${v.instancePath ?? ''}`,
        message: describeAjvError(v),
        keyword: v.keyword ?? 'unknown',
      })),
    };
  }
  if (typeof err.code === 'string' && CATALOGUE_CODES.has(err.code) && typeof err.statusCode === 'number') {
    if (err.statusCode >= 500 && err.code !== 'SERVER_BUSY' && err.code !== 'SERVICE_UNAVAILABLE') return internal();
    return { statusCode: err.statusCode, code: err.code, message: err.message ?? err.code };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { statusCode: 400, code: 'MALFORMED_JSON', message: 'request body is not valid JSON' };
    case 'FST_ERR_BAD_URL':
      return { statusCode: 400, code: 'BAD_URL', message: 'the URL is malformed' };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { statusCode: 414, code: 'URI_TOO_LONG', message: 'a path parameter is too long' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: err.message ?? 'unsupported content type' };
    default:
      break;
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return {
      statusCode: err.statusCode,
      code: typeof err.code === 'string' && err.code.length > 0 ? stripFastifyPrefix(err.code) : 'BAD_REQUEST',
      message: err.message ?? 'bad request',
    };
  }
  return internal();
}

function internal(): ErrorResponse {
  return { statusCode: 500, code: 'INTERNAL', message: 'internal server error' };
}

/** `FST_ERR_FOO` → `FOO`: clients should not depend on framework-internal prefixes. */
function stripFastifyPrefix(code: string): string {
  return code.replace(/^FST_(ERR_)?/, '');
}

/** Human-readable message of one Ajv-style error (Ajv and TypeBox 1.x report the same shape). */
function describeAjvError(v: AjvLikeError): string {
  const extra = v.params?.additionalProperty ?? v.params?.additionalProperties;
  if (v.keyword === 'additionalProperties' && (typeof extra === 'string' || Array.isArray(extra))) {
    return `unknown field${Array.isArray(extra) && extra.length > 1 ? 's' : ''} ${[extra].flat().map((f) => `'${String(f)}'`).join(', ')}`;
  }
  // TypeBox also reports the unknown property itself against `additionalProperties: false`.
  if (v.keyword === 'boolean' && v.schemaPath?.endsWith('/additionalProperties')) {
    return `unknown field '${(v.instancePath ?? '').split('/').pop() ?? ''}'`;
  }
  return v.message ?? 'is invalid';
}

/** At most this many entries in `details` (one request cannot make us build a huge body). */
const MAX_DETAILS = 20;

/**
 * The gateway's error handler (set once on the root instance; every encapsulated route plugin
 * inherits it). Logs 5xx at error level with the full error, 4xx at debug.
 */
export function gatewayErrorHandler(this: unknown, error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body = toErrorResponse(error);
  if (body.code === 'SERVICE_UNAVAILABLE' || body.code === 'COMMAND_TIMEOUT') {
    // An outage, not a bug: one line per request at warn, without the stack.
    request.log.warn({ code: body.code, reason: (error as Error)?.message }, 'request failed: backing server unavailable');
  } else if (body.statusCode >= 500) {
    request.log.error({ err: error }, 'request failed');
  } else {
    request.log.debug({ code: body.code, statusCode: body.statusCode }, 'request rejected');
  }
  if (body.code === 'SERVER_BUSY' && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
  // A 503 that may succeed later says when to retry (RFC 9110 §10.2.3); THUMBNAIL_ENCODER_UNAVAILABLE
  // is logged at error above (with the encoder's diagnostics): its memory cap may be too low.
  if (['SERVICE_UNAVAILABLE', 'COMMAND_TIMEOUT', 'THUMBNAIL_ENCODER_UNAVAILABLE'].includes(body.code) && !reply.hasHeader('retry-after')) {
    reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  }
  if (body.statusCode === 401 && !reply.hasHeader('www-authenticate')) {
    // RFC 6750 §3: a 401 for a protected resource names the scheme (and the error for a bad token).
    reply.header('www-authenticate', body.code === 'INVALID_TOKEN' ? 'Bearer error="invalid_token"' : 'Bearer');
  }
  return reply.status(body.statusCode).type('application/json; charset=utf-8').send(body);
}

/** Status and stable code for an HTTP error raised before a request exists (node:http `clientError`). */
function clientErrorResponse(err: NodeJS.ErrnoException): ErrorResponse {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { statusCode: 431, code: 'HEADERS_TOO_LARGE', message: 'request headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { statusCode: 408, code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' };
    default:
      return { statusCode: 400, code: 'MALFORMED_REQUEST', message: 'the request is not valid HTTP/1.1' };
  }
}

/**
 * Fastify `clientErrorHandler`: answers a request node:http could not parse (oversized headers →
 * 431, timeout → 408, anything else → 400; RFC 9110 §15.5, RFC 6585 §5) in the gateway's error
 * shape, then closes the connection (the stream's framing is unknown after a parse error).
 * A socket already gone (ECONNRESET, not writable) is destroyed silently. Never throws.
 */
export function gatewayClientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const response = clientErrorResponse(err);
  const { statusCode } = response;
  const body = JSON.stringify(response);
  socket.end(
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\n`
    + `content-length: ${Buffer.byteLength(body)}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`,
  );
}
