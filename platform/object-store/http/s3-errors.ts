import { XMLBuilder } from 'fast-xml-parser';
import { ObjectStoreError } from '../object-store.port.ts';

/**
 * HTTP status of each S3 error code the endpoint returns.
 * Source: Amazon S3 API reference, "Error responses" → "List of error codes".
 */
const S3_ERROR_STATUS: Readonly<Record<string, number>> = {
  AccessDenied: 403,
  SignatureDoesNotMatch: 403,
  InvalidAccessKeyId: 403,
  RequestTimeTooSkewed: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  MissingSecurityHeader: 400,
  InvalidArgument: 400,
  KeyTooLongError: 400,
  InvalidRequest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  MalformedXML: 400,
  BadDigest: 400,
  XAmzContentSHA256Mismatch: 400,
  NoSuchUpload: 404,
  NoSuchKey: 404,
  NoSuchBucket: 404,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  InvalidRange: 416,
  InternalError: 500,
  NotImplemented: 501,
};

/** An S3-protocol error raised by the endpoint itself (auth, request shape); `code` is the S3 error code. */
export class S3RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'S3RequestError';
  }
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false });

/** Serialises `{ Root: {...} }` as an S3 XML document (with the XML declaration). */
export function toS3Xml(doc: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(doc) as string}`;
}

/**
 * Maps any error to an S3 error response: ObjectStoreError / S3RequestError keep their code; a
 * framework error with a 4xx `statusCode` (Fastify's FST_ERR_CTP_* for a malformed Content-Type or
 * an oversized body, FST_ERR_BAD_URL, …) keeps that status as `InvalidRequest`, since it is the
 * client's input; anything else becomes a 500 InternalError without leaking the message.
 */
export function s3ErrorResponse(err: unknown, resource: string, requestId: string): { status: number; code: string; body: string } {
  let code = 'InternalError';
  let message = 'We encountered an internal error. Please try again.';
  let status: number | undefined;
  if (err instanceof S3RequestError || err instanceof ObjectStoreError) {
    code = err.code;
    message = err.message;
  } else if (isClientFrameworkError(err)) {
    code = 'InvalidRequest';
    message = err.message;
    status = err.statusCode;
  }
  status ??= S3_ERROR_STATUS[code] ?? 400;
  return { status, code, body: toS3Xml({ Error: { Code: code, Message: message, Resource: resource, RequestId: requestId } }) };
}

/** A Fastify error that blames the request (4xx `statusCode`), e.g. FST_ERR_CTP_INVALID_MEDIA_TYPE. */
function isClientFrameworkError(err: unknown): err is Error & { statusCode: number } {
  if (!(err instanceof Error)) return false;
  const { statusCode } = err as { statusCode?: unknown };
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500;
}
