/**
 * Bucket-level operations of the embedded S3 endpoint that the S3 adapter's ObjectDeletion uses:
 * ListObjectsV2 and DeleteObjects (Amazon S3 API reference). Mounted by s3-endpoint.plugin.ts
 * after authentication and the bucket check.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { EmbeddedObjectStore } from '../embedded/embedded-object-store.adapter.ts';
import { ObjectStoreError } from '../object-store.port.ts';
import { S3RequestError, toS3Xml } from './s3-errors.ts';
import { MAX_XML_BODY_BYTES, S3_XMLNS, bodyOf, readSmallBody, signedBodyHash } from './s3-request.ts';
import type { VerifiedRequest } from './sigv4-verifier.ts';

const deleteParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  // Keys may begin or end with spaces; the SDK sends the document without indentation.
  trimValues: false,
  isArray: (_name, jpath) => jpath === 'Delete.Object',
});

/**
 * ListObjectsV2 (`GET /{bucket}?list-type=2`): prefix, start-after, continuation-token (the
 * base64url of the last key listed), max-keys (1..1000, default 1000). No delimiter (no common
 * prefixes): a request with one is refused with NotImplemented rather than answered wrongly.
 */
export async function listObjectsV2(store: EmbeddedObjectStore, reply: FastifyReply, query: Record<string, string | undefined>) {
  if (query.delimiter) throw new S3RequestError('NotImplemented', 'ListObjectsV2 with a delimiter is not implemented');
  const prefix = query.prefix ?? '';
  const rawMax = query['max-keys'];
  if (rawMax !== undefined && !/^\d+$/.test(rawMax)) throw new S3RequestError('InvalidArgument', 'max-keys must be a non-negative integer');
  const maxKeys = Math.min(1000, rawMax === undefined ? 1000 : Number(rawMax));
  const token = query['continuation-token'];
  const startAfter = token !== undefined ? Buffer.from(token, 'base64url').toString('utf8') : query['start-after'];
  const { objects, truncated } = maxKeys === 0 ? { objects: [], truncated: false } : await store.listObjects(prefix, startAfter, maxKeys);
  const last = objects.at(-1);
  return reply.type('application/xml').send(
    toS3Xml({
      ListBucketResult: {
        '@_xmlns': S3_XMLNS,
        Name: store.s3.bucket,
        Prefix: prefix,
        ...(query['start-after'] !== undefined ? { StartAfter: query['start-after'] } : {}),
        ...(token !== undefined ? { ContinuationToken: token } : {}),
        KeyCount: objects.length,
        MaxKeys: maxKeys,
        IsTruncated: truncated,
        ...(truncated && last ? { NextContinuationToken: Buffer.from(last.key, 'utf8').toString('base64url') } : {}),
        Contents: objects.map((o) => ({
          Key: o.key,
          LastModified: o.lastModified.toISOString(),
          ETag: o.etag,
          Size: o.size,
          StorageClass: 'STANDARD',
        })),
      },
    }),
  );
}

/**
 * DeleteObjects (`POST /{bucket}?delete`, XML body of up to 1000 `<Object><Key>`): deletes each
 * key (a missing key counts as deleted, as in S3) and answers `<Deleted>` per key (none in Quiet
 * mode) and `<Error>` per key that could not be deleted (an invalid key: InvalidArgument). S3
 * requires an integrity header on this request: a `Content-MD5` or `x-amz-checksum-crc32` that is
 * sent is checked (BadDigest), as is a signed body SHA-256.
 */
export async function deleteObjects(store: EmbeddedObjectStore, request: FastifyRequest, reply: FastifyReply, auth: VerifiedRequest) {
  const expectedSha256 = signedBodyHash(auth);
  const raw = await readSmallBody(bodyOf(request), MAX_XML_BODY_BYTES);
  if (expectedSha256 && createHash('sha256').update(raw).digest('hex') !== expectedSha256) {
    throw new S3RequestError('XAmzContentSHA256Mismatch', 'the body does not match x-amz-content-sha256');
  }
  const md5 = request.headers['content-md5'];
  if (typeof md5 === 'string' && createHash('md5').update(raw).digest('base64') !== md5) {
    throw new S3RequestError('BadDigest', 'the Content-MD5 you specified did not match what we received');
  }
  const crc = request.headers['x-amz-checksum-crc32'];
  if (typeof crc === 'string') {
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc32(raw));
    if (sum.toString('base64') !== crc) throw new S3RequestError('BadDigest', 'the x-amz-checksum-crc32 you specified did not match what we received');
  }
  const xml = raw.toString('utf8');
  if (XMLValidator.validate(xml) !== true) throw new S3RequestError('MalformedXML', 'the XML you provided was not well-formed');
  const doc = deleteParser.parse(xml) as { Delete?: { Quiet?: unknown; Object?: { Key?: unknown }[] } };
  const objects = doc.Delete?.Object ?? [];
  if (objects.length === 0 || objects.length > 1000) throw new S3RequestError('MalformedXML', 'DeleteObjects takes 1 to 1000 objects');
  const quiet = String(doc.Delete?.Quiet ?? '').trim() === 'true';
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const o of objects) {
    if (typeof o.Key !== 'string') throw new S3RequestError('MalformedXML', 'every Object needs a Key');
    try {
      await store.deleteObject(o.Key);
      deleted.push({ Key: o.Key });
    } catch (err) {
      if (!(err instanceof ObjectStoreError)) throw err;
      errors.push({ Key: o.Key, Code: err.code, Message: err.message });
    }
  }
  return reply
    .type('application/xml')
    .send(toS3Xml({ DeleteResult: { '@_xmlns': S3_XMLNS, ...(quiet ? {} : { Deleted: deleted }), Error: errors } }));
}
