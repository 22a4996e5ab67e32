/**
 * Bucket set-up for the S3 adapter (`S3ObjectStore.ensureBucket`): create the bucket if missing and
 * put the CORS rule browsers need for presigned multipart uploads.
 */
import { CreateBucketCommand, HeadBucketCommand, PutBucketCorsCommand, type S3Client } from '@aws-sdk/client-s3';
import type pino from 'pino';
import { errorName, httpStatus } from './sdk-errors.ts';

/**
 * The CORS rule `ensureBucket` puts on the bucket: browsers PUT parts to presigned URLs and must read
 * each part's `ETag` response header to complete the upload (a cross-origin response exposes only
 * CORS-safelisted headers unless the server lists more in Access-Control-Expose-Headers). Source:
 * Amazon S3 user guide, "Configuring cross-origin resource sharing" (multipart uploads need ETag exposed).
 */
export interface BucketCorsOptions {
  /** Origins allowed to call the bucket, e.g. `https://app.example.com`. Default `['*']`. */
  allowedOrigins?: string[];
  /** Seconds a browser may cache a preflight answer. Default 3000. */
  maxAgeSeconds?: number;
}

/** What `ensureBucket` did. */
export interface EnsureBucketResult {
  /** True when the bucket did not exist and was created. */
  created: boolean;
  /**
   * `applied`: the CORS rule is on the bucket. `unsupported`: the server answered PutBucketCors with
   * NotImplemented (the embedded endpoint, which answers every preflight itself and always exposes
   * ETag); the caller's deployment docs must say how that server answers CORS.
   */
  cors: 'applied' | 'unsupported';
}

/**
 * Creates `bucket` unless it exists and puts the CORS rule (see S3ObjectStore.ensureBucket).
 * @throws the SDK's error when the bucket cannot be created or reached, or PutBucketCors fails
 *   otherwise than NotImplemented.
 */
export async function ensureS3Bucket(client: S3Client, bucket: string, cors: BucketCorsOptions = {}, logger?: pino.Logger): Promise<EnsureBucketResult> {
  let created = false;
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (httpStatus(err) !== 404) throw err;
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      created = true;
    } catch (createErr) {
      if (errorName(createErr) !== 'BucketAlreadyOwnedByYou') throw createErr;
    }
  }
  try {
    await client.send(
      new PutBucketCorsCommand({
        Bucket: bucket,
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedOrigins: cors.allowedOrigins ?? ['*'],
              AllowedMethods: ['GET', 'HEAD', 'PUT'],
              AllowedHeaders: ['*'],
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: cors.maxAgeSeconds ?? 3000,
            },
          ],
        },
      }),
    );
  } catch (err) {
    if (errorName(err) !== 'NotImplemented' && httpStatus(err) !== 501) throw err;
    logger?.warn({ bucket }, 'the S3 server does not implement PutBucketCors; relying on its default CORS answers');
    return { created, cors: 'unsupported' };
  }
  return { created, cors: 'applied' };
}
