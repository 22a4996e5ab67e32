import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ALGORITHM_IDENTIFIER, SignatureV4, createScope } from '@smithy/signature-v4';
import { NodeSha256 } from '../node-sha256.ts';
import { SIGV4_MAX_EXPIRES_SECONDS } from '../s3-rules.ts';
import { S3RequestError } from './s3-errors.ts';

/** Payload hash S3 uses for presigned URLs and for clients that do not hash the body (SigV4 for S3). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** What a verified request was signed with. */
export interface VerifiedRequest {
  accessKeyId: string;
  /** True for query-string (presigned URL) auth, false for the Authorization header. */
  presigned: boolean;
  /**
   * The signed payload hash: `UNSIGNED-PAYLOAD`, a 64-char lower-case hex SHA-256 of the body (the
   * handler must check the body against it) or a `STREAMING-…` marker (aws-chunked body).
   */
  payloadHash: string;
}

export interface SigV4VerifierOptions {
  /** The one access key the endpoint accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Region requests must be scoped to, e.g. `us-east-1`. */
  region: string;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/** Signing service name requests must be scoped to. */
const SERVICE = 's3';
/** Allowed difference between the request's X-Amz-Date and our clock, ms (S3: 15 minutes). */
const MAX_CLOCK_SKEW_MS = 900 * 1000;

type SignableRequest = Parameters<SignatureV4['presign']>[0];

/**
 * Exposes SignatureV4Base's canonical-request and string-to-sign builders so verification reuses
 * exactly the code the AWS SDK signs with (no hand-written canonicalisation to drift from it).
 */
class VerifyingSigner extends SignatureV4 {
  async signatureFor(
    request: SignableRequest,
    canonicalHeaders: Record<string, string>,
    payloadHash: string,
    longDate: string,
    scope: { shortDate: string; region: string; service: string },
    signingDate: Date,
  ): Promise<string> {
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const stringToSign = await this.createStringToSign(
      longDate,
      createScope(scope.shortDate, scope.region, scope.service),
      canonicalRequest,
      ALGORITHM_IDENTIFIER,
    );
    return this.sign(stringToSign, { signingDate, signingRegion: scope.region, signingService: scope.service });
  }
}

/** `20240102T030405Z` → Date, or undefined if malformed. */
function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) : null;
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * Splits a raw request target (`/s3/b/k?x=1&y`) into the undecoded path (S3 signs the path as
 * sent, SigV4 `uriEscapePath: false`) and the decoded query (repeated names become arrays).
 */
function splitRawUrl(rawUrl: string): { path: string; query: Record<string, string | string[]> } {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query: Record<string, string | string[]> = {};
  if (q !== -1) {
    for (const pair of rawUrl.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      let name: string;
      let value: string;
      try {
        name = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
        value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1));
      } catch {
        throw new S3RequestError('InvalidArgument', 'malformed query string');
      }
      const prev = query[name];
      query[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
  }
  return { path, query };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function constantTimeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * AWS Signature Version 4 verification for the embedded S3 endpoint: query-string auth
 * (presigned URLs: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders, X-Amz-Signature) and header auth (`Authorization: AWS4-HMAC-SHA256
 * Credential=…, SignedHeaders=…, Signature=…` with `x-amz-date` and `x-amz-content-sha256`).
 * Source: AWS SigV4 docs, "Authenticating Requests: Using Query Parameters" / "Using the
 * Authorization Header" (S3 API reference).
 *
 * `verify` recomputes the signature with @smithy/signature-v4 over the same method, raw path,
 * query minus X-Amz-Signature, signed headers and payload hash, and compares in constant time.
 * @throws S3RequestError AccessDenied (no auth, expired / not-yet-valid URL),
 *   SignatureDoesNotMatch, InvalidAccessKeyId, AuthorizationHeaderMalformed,
 *   AuthorizationQueryParametersError, RequestTimeTooSkewed, MissingSecurityHeader
 */
export function createSigV4Verifier(opts: SigV4VerifierOptions) {
  const now = opts.now ?? Date.now;
  const signer = new VerifyingSigner({
    credentials: opts.credentials,
    region: opts.region,
    service: SERVICE,
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });

  /** Parses `AK/20240102/us-east-1/s3/aws4_request` and checks it names our key, region and service. */
  function parseCredential(credential: string | undefined, malformed: string) {
    const parts = credential?.split('/') ?? [];
    if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1])) {
      throw new S3RequestError(malformed, 'the credential is malformed; expected "<key>/<YYYYMMDD>/<region>/<service>/aws4_request"');
    }
    const [accessKeyId, shortDate, region, svc] = parts;
    if (accessKeyId !== opts.credentials.accessKeyId) {
      throw new S3RequestError('InvalidAccessKeyId', 'the AWS access key id you provided does not exist in our records');
    }
    if (region !== opts.region) throw new S3RequestError(malformed, `the region '${region}' is wrong; expecting '${opts.region}'`);
    if (svc !== SERVICE) throw new S3RequestError(malformed, `the service '${svc}' is wrong; expecting '${SERVICE}'`);
    return { accessKeyId, shortDate, region, service: svc };
  }

  function canonicalHeadersFor(headers: IncomingHttpHeaders, signedHeaders: string): Record<string, string> {
    const names = signedHeaders.split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
    if (!names.includes('host')) throw new S3RequestError('SignatureDoesNotMatch', 'the host header must be signed');
    const canonical: Record<string, string> = {};
    for (const name of names) {
      const value = headerValue(headers, name);
      if (value === undefined) throw new S3RequestError('SignatureDoesNotMatch', `signed header ${name} is missing from the request`);
      canonical[name] = value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').trim();
    }
    return canonical;
  }

  async function check(
    method: string,
    path: string,
    query: Record<string, string | string[]>,
    canonicalHeaders: Record<string, string>,
    payloadHash: string,
    longDate: string,
    signingDate: Date,
    scope: { shortDate: string; region: string; service: string },
    signature: string,
  ): Promise<void> {
    const request: SignableRequest = { method, protocol: 'http:', hostname: canonicalHeaders.host, path, query, headers: canonicalHeaders };
    const expected = await signer.signatureFor(request, canonicalHeaders, payloadHash, longDate, scope, signingDate);
    if (!constantTimeEqualHex(expected, signature.toLowerCase())) {
      throw new S3RequestError('SignatureDoesNotMatch', 'the request signature we calculated does not match the signature you provided');
    }
  }

  return {
    /**
     * @param method HTTP method, upper case.
     * @param rawUrl The request target exactly as received (path + query), e.g. `req.raw.url`.
     */
    async verify(method: string, rawUrl: string, headers: IncomingHttpHeaders): Promise<VerifiedRequest> {
      const { path, query } = splitRawUrl(rawUrl);
      const authorization = headerValue(headers, 'authorization');

      if (query['X-Amz-Signature'] !== undefined || query['X-Amz-Algorithm'] !== undefined) {
        const bad = 'AuthorizationQueryParametersError';
        if (single(query['X-Amz-Algorithm']) !== ALGORITHM_IDENTIFIER) throw new S3RequestError(bad, 'X-Amz-Algorithm must be AWS4-HMAC-SHA256');
        const scope = parseCredential(single(query['X-Amz-Credential']), bad);
        const longDate = single(query['X-Amz-Date']);
        const signedAt = parseAmzDate(longDate);
        const expiresRaw = single(query['X-Amz-Expires']);
        const expires = expiresRaw && /^\d+$/.test(expiresRaw) ? Number(expiresRaw) : NaN;
        const signature = single(query['X-Amz-Signature']);
        const signedHeaders = single(query['X-Amz-SignedHeaders']);
        if (!signedAt || !longDate) throw new S3RequestError(bad, 'X-Amz-Date must be in the form YYYYMMDDTHHMMSSZ');
        if (!(expires >= 1 && expires <= SIGV4_MAX_EXPIRES_SECONDS)) {
          throw new S3RequestError(bad, `X-Amz-Expires must be between 1 and ${SIGV4_MAX_EXPIRES_SECONDS} seconds`);
        }
        if (!signature || !/^[0-9a-fA-F]{64}$/.test(signature) || !signedHeaders) throw new S3RequestError(bad, 'X-Amz-Signature and X-Amz-SignedHeaders are required');
        const t = now();
        if (t > signedAt.getTime() + expires * 1000) throw new S3RequestError('AccessDenied', 'Request has expired');
        if (signedAt.getTime() > t + MAX_CLOCK_SKEW_MS) throw new S3RequestError('AccessDenied', 'Request is not valid yet');
        const canonicalHeaders = canonicalHeadersFor(headers, signedHeaders);
        const hoisted = Object.keys(query).find((k) => k.toLowerCase() === 'x-amz-content-sha256');
        const payloadHash = (hoisted && single(query[hoisted])) || UNSIGNED_PAYLOAD;
        await check(method, path, query, canonicalHeaders, payloadHash, longDate, signedAt, scope, signature);
        return { accessKeyId: scope.accessKeyId, presigned: true, payloadHash };
      }

      if (authorization) {
        const bad = 'AuthorizationHeaderMalformed';
        const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(authorization.trim());
        if (!m) throw new S3RequestError(bad, 'only AWS4-HMAC-SHA256 authorization is supported');
        const fields = new Map<string, string>();
        for (const item of m[1].split(',')) {
          const eq = item.indexOf('=');
          if (eq > 0) fields.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
        }
        const scope = parseCredential(fields.get('Credential'), bad);
        const signedHeaders = fields.get('SignedHeaders');
        const signature = fields.get('Signature');
        if (!signedHeaders || !signature || !/^[0-9a-fA-F]{64}$/.test(signature)) {
          throw new S3RequestError(bad, 'the authorization header needs SignedHeaders and Signature');
        }
        const longDate = headerValue(headers, 'x-amz-date');
        const signedAt = parseAmzDate(longDate);
        if (!signedAt || !longDate) throw new S3RequestError('AccessDenied', 'AWS authentication requires a valid x-amz-date header');
        if (Math.abs(now() - signedAt.getTime()) > MAX_CLOCK_SKEW_MS) {
          throw new S3RequestError('RequestTimeTooSkewed', 'the difference between the request time and the server time is too large');
        }
        const payloadHash = headerValue(headers, 'x-amz-content-sha256');
        if (!payloadHash) throw new S3RequestError('MissingSecurityHeader', 'x-amz-content-sha256 header is required');
        const canonicalHeaders = canonicalHeadersFor(headers, signedHeaders);
        await check(method, path, query, canonicalHeaders, payloadHash, longDate, signedAt, scope, signature);
        return { accessKeyId: scope.accessKeyId, presigned: false, payloadHash };
      }

      throw new S3RequestError('AccessDenied', 'Access Denied: the request is not signed');
    },
  };
}
