/**
 * Presigned UploadPart URLs for the embedded store's S3-compatible endpoint: real SigV4
 * query-string URLs (AWS SigV4 docs, "Authenticating Requests: Using Query Parameters") made by
 * `@aws-sdk/s3-request-presigner`, path-style (`<base>/<endpointPath>/<bucket>/<key>`), which the
 * endpoint's verifier (platform/object-store/http/sigv4-verifier.ts) checks.
 */
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { NodeSha256 } from '../node-sha256.ts';
import { ObjectStoreError } from '../object-store.port.ts';
import { SIGV4_MAX_EXPIRES_SECONDS, assertContentLength, assertValidPartNumber, encodeKeyPath, encodeRfc3986 } from '../s3-rules.ts';
import { assertStorableKey } from './object-files.ts';

/** The S3-compatible endpoint the embedded store is served through (standalone mode). */
export interface EmbeddedS3Config {
  /** Mount path of the endpoint in the gateway, e.g. `/s3`. */
  endpointPath: string;
  /** The single bucket the endpoint serves, e.g. `streamwave`. */
  bucket: string;
  /** SigV4 signing region, e.g. `us-east-1`. */
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export class PartUrlPresigner {
  private readonly presigner: S3RequestPresigner;
  private readonly publicBase: URL;

  /**
   * @param publicBaseUrl origin (and optional path) clients reach the gateway at
   * @param s3 the endpoint, `endpointPath` without a trailing slash
   * @param now clock of the signature (`X-Amz-Date`)
   */
  constructor(publicBaseUrl: string, private readonly s3: EmbeddedS3Config, private readonly now: () => Date) {
    this.publicBase = new URL(publicBaseUrl);
    this.presigner = new S3RequestPresigner({
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      region: s3.region,
      sha256: NodeSha256,
    });
  }

  /**
   * URL to PUT part `partNumber` (1..10000) of upload `uploadId` of `key`, valid for
   * `expiresInSeconds` (1..604800, SigV4's 7-day maximum). With `contentLength` (bytes ≥ 0) the
   * URL signs `content-length`, so the endpoint's verifier refuses (403) a body of another length.
   * @throws ObjectStoreError InvalidArgument (key, part number, expiry or length), KeyTooLongError
   */
  async presignUploadPart(key: string, uploadId: string, partNumber: number, expiresInSeconds: number, contentLength?: number): Promise<string> {
    assertStorableKey(key);
    assertValidPartNumber(partNumber);
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > SIGV4_MAX_EXPIRES_SECONDS) {
      throw new ObjectStoreError('InvalidArgument', `expiresInSeconds must be an integer between 1 and ${SIGV4_MAX_EXPIRES_SECONDS}`);
    }
    assertContentLength(contentLength);
    const { publicBase, s3 } = this;
    const basePath = publicBase.pathname.replace(/\/+$/, '');
    const path = `${basePath}${s3.endpointPath}/${encodeRfc3986(s3.bucket)}/${encodeKeyPath(key)}`;
    const signed = await this.presigner.presign(
      {
        method: 'PUT',
        protocol: publicBase.protocol,
        hostname: publicBase.hostname,
        port: publicBase.port ? Number(publicBase.port) : undefined,
        path,
        query: { partNumber: String(partNumber), uploadId },
        headers: contentLength === undefined ? {} : { 'content-length': String(contentLength) },
      },
      { expiresIn: expiresInSeconds, signingDate: this.now() },
    );
    const query = Object.entries(signed.query ?? {})
      .flatMap(([k, v]) => (Array.isArray(v) ? v : v == null ? [] : [v]).map((x) => `${encodeRfc3986(k)}=${encodeRfc3986(x)}`))
      .join('&');
    return `${publicBase.protocol}//${publicBase.host}${path}?${query}`;
  }
}
