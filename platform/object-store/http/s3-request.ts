/** Request helpers shared by the embedded S3 endpoint's handlers (s3-endpoint.plugin.ts). */
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { S3RequestError } from './s3-errors.ts';
import { UNSIGNED_PAYLOAD, type VerifiedRequest } from './sigv4-verifier.ts';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** Largest XML request body (CompleteMultipartUpload, DeleteObjects), bytes: 1 MiB. */
export const MAX_XML_BODY_BYTES = 1024 * 1024;

/** The query string, one value per name (the first when repeated). */
export function queryOf(request: FastifyRequest): Record<string, string | undefined> {
  const q = (request.query ?? {}) as Record<string, string | string[] | undefined>;
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(q)) out[k] = Array.isArray(v) ? v[0] : v;
  return out;
}

/** The raw request body stream (the plugin parses no body), empty when there is none. */
export function bodyOf(request: FastifyRequest): Readable {
  return (request.body as Readable | undefined) ?? Readable.from([]);
}

/** Reads a small request body (XML) into a string, bounded by `maxBytes`. */
export async function readSmallBody(body: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body.iterator({ destroyOnReturn: false })) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > maxBytes) throw new S3RequestError('MalformedXML', `the XML body is larger than ${maxBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** The hex SHA-256 the client signed for its body, if it signed one (else UNSIGNED-PAYLOAD). */
export function signedBodyHash(auth: VerifiedRequest): string | undefined {
  if (auth.payloadHash === UNSIGNED_PAYLOAD) return undefined;
  if (/^[0-9a-f]{64}$/i.test(auth.payloadHash)) return auth.payloadHash.toLowerCase();
  // aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, …-TRAILER); the S3 adapter is configured
  // with requestChecksumCalculation WHEN_REQUIRED so the SDK does not send them.
  throw new S3RequestError('NotImplemented', `x-amz-content-sha256 ${auth.payloadHash} (aws-chunked) is not supported`);
}
