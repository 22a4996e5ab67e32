import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { assertNever } from '../../shared/assert-never.ts';
import type { EmbeddedObjectStore } from '../embedded/embedded-object-store.adapter.ts';
import { decideByteRange } from './byte-range.ts';
import { S3RequestError, s3ErrorResponse, toS3Xml } from './s3-errors.ts';
import { createSigV4Verifier, type VerifiedRequest } from './sigv4-verifier.ts';
import { deleteObjects, listObjectsV2 } from './s3-bucket-operations.ts';
import { MAX_XML_BODY_BYTES, S3_XMLNS, bodyOf, queryOf, readSmallBody, signedBodyHash } from './s3-request.ts';

/** Largest accepted PutObject body, bytes: 5 GiB (S3's single-PUT limit). */
const MAX_OBJECT_SIZE_BYTES = 5 * 1024 * 1024 * 1024;

export interface S3EndpointPluginOptions {
  /** The embedded store; its `s3` config supplies bucket, region and the accepted access key. */
  store: EmbeddedObjectStore;
  /** Largest accepted UploadPart body, bytes. Default 64 MiB. Larger → 400 EntityTooLarge. */
  maxPartSizeBytes?: number;
  /** Clock for signature expiry, ms since the epoch (tests). */
  now?: () => number;
}

type S3Request = FastifyRequest<{ Params: { bucket?: string; '*'?: string } }>;

/** Reads and discards the rest of a request body; resolves at its end, on error, or after 30 s. */
function drain(raw: FastifyRequest['raw']): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, 30_000);
    raw.once('end', done);
    raw.once('error', done);
    raw.once('close', done);
    raw.resume();
  });
}

function contentLengthOf(request: FastifyRequest): number | undefined {
  const raw = request.headers['content-length'];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

const completeParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (_name, jpath) => jpath === 'CompleteMultipartUpload.Part',
});

/**
 * S3-compatible endpoint over the embedded object store (standalone mode), so browser and SDK
 * clients speak the same protocol as against S3. Mount with `{ prefix: '/s3' }` (the store's
 * `s3.endpointPath`). Path-style only: `/{bucket}/{key}`.
 *
 * Operations (S3 API reference): UploadPart `PUT ?partNumber&uploadId`, PutObject `PUT`,
 * CreateMultipartUpload `POST ?uploads`, CompleteMultipartUpload `POST ?uploadId` (XML body),
 * AbortMultipartUpload `DELETE ?uploadId`, DeleteObject `DELETE`, ListParts `GET ?uploadId`
 * (max-parts, part-number-marker), GetObject / HeadObject (`Range` supported), HeadBucket,
 * ListObjectsV2 `GET /{bucket}?list-type=2` (no delimiter) and DeleteObjects `POST /{bucket}?delete`
 * (what the S3 adapter's ObjectDeletion uses).
 * Every request must carry SigV4 auth (presigned query or Authorization header); CORS preflights
 * are answered so browsers can PUT parts and read the ETag header.
 *
 * Errors are S3 XML (`<Error><Code/><Message/></Error>`) with S3 status codes (see `s3ErrorResponse` in s3-errors.ts).
 * Not wrapped in fastify-plugin on purpose: its raw-body content-type parser and hooks must stay
 * encapsulated to this prefix.
 */
export const s3EndpointPlugin: FastifyPluginAsync<S3EndpointPluginOptions> = async (fastify, opts) => {
  const { store } = opts;
  const maxPartSizeBytes = opts.maxPartSizeBytes ?? 64 * 1024 * 1024;
  /** A rejected request body up to this size is read and discarded before answering, bytes. */
  const drainLimitBytes = 2 * maxPartSizeBytes;
  const verifier = createSigV4Verifier({
    credentials: { accessKeyId: store.s3.accessKeyId, secretAccessKey: store.s3.secretAccessKey },
    region: store.s3.region,
    now: opts.now,
  });

  // Bodies stay raw streams: parts go straight to disk, and the signature may cover the exact bytes.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  fastify.addHook('onSend', async (request, reply) => {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-expose-headers', 'ETag, x-amz-request-id, Content-Range, Accept-Ranges');
    reply.header('x-amz-request-id', request.id);
  });

  async function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
    const { status, code, body } = s3ErrorResponse(err, request.url.split('?')[0], String(request.id));
    if (status >= 500) request.log.error({ err }, 's3 endpoint failure');
    else request.log.info({ code, url: request.url }, 's3 request rejected');
    if (!request.raw.complete) {
      // The body was not read to the end (auth failure, EntityTooLarge). Answering while the
      // client is still sending makes most HTTP clients see a connection reset instead of our
      // error, so drain a body of bounded size first; past the bound, close the connection
      // after answering rather than read what could be gigabytes.
      const declared = contentLengthOf(request);
      if (declared !== undefined && declared <= drainLimitBytes && !request.raw.destroyed) await drain(request.raw);
      if (!request.raw.complete) reply.header('connection', 'close');
    }
    return reply.code(status).type('application/xml').send(body);
  }

  fastify.setErrorHandler((err, request, reply) => sendError(request, reply, err));
  fastify.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new S3RequestError('MethodNotAllowed', 'the specified method is not allowed against this resource')),
  );

  fastify.options('/*', async (request, reply) => {
    const requested = request.headers['access-control-request-headers'];
    return reply
      .code(204)
      .header('access-control-allow-methods', 'GET, HEAD, PUT, POST, DELETE')
      .header('access-control-allow-headers', requested ?? '*')
      .header('access-control-max-age', '600')
      .send();
  });

  async function authenticate(request: FastifyRequest): Promise<VerifiedRequest> {
    return verifier.verify(request.method, request.raw.url ?? request.url, request.headers);
  }

  function checkBucket(bucket: string | undefined) {
    if (bucket !== store.s3.bucket) throw new S3RequestError('NoSuchBucket', 'the specified bucket does not exist');
  }

  // Bucket level: HeadBucket (useful as a health check), ListObjectsV2 and DeleteObjects; the rest
  // (CreateBucket, bucket configuration) is out of scope. The SDK addresses the bucket as
  // `/{bucket}` or `/{bucket}/`; both land here.
  async function bucketRequest(request: S3Request, reply: FastifyReply) {
    try {
      const auth = await authenticate(request);
      checkBucket(request.params.bucket);
      const query = queryOf(request);
      if (request.method === 'HEAD') return reply.code(200).send();
      if (request.method === 'GET' && query['list-type'] === '2') return await listObjectsV2(store, reply, query);
      if (request.method === 'POST' && query.delete !== undefined) return await deleteObjects(store, request, reply, auth);
      throw new S3RequestError('NotImplemented', `${request.method} on a bucket is not implemented`);
    } catch (err) {
      return sendError(request, reply, err);
    }
  }

  fastify.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
    url: '/:bucket',
    exposeHeadRoute: false,
    handler: bucketRequest,
  });

  fastify.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
    url: '/:bucket/*',
    exposeHeadRoute: false,
    handler: async (request: S3Request, reply) => {
      if (!request.params['*']) return bucketRequest(request, reply);
      try {
        const auth = await authenticate(request);
        checkBucket(request.params.bucket);
        const key = request.params['*'] ?? '';
        const query = queryOf(request);
        switch (request.method) {
          case 'PUT':
            return await (query.uploadId !== undefined || query.partNumber !== undefined
              ? uploadPart(request, reply, auth, key, query)
              : putObject(request, reply, auth, key));
          case 'POST':
            if (query.uploads !== undefined) return await createUpload(request, reply, key);
            if (query.uploadId !== undefined) return await completeUpload(request, reply, auth, key, query.uploadId);
            throw new S3RequestError('NotImplemented', 'this POST operation is not implemented');
          case 'DELETE':
            if (query.uploadId !== undefined) {
              await store.abortMultipartUpload(key, query.uploadId);
            } else {
              await store.deleteObject(key);
            }
            return reply.code(204).send();
          case 'GET':
            if (query.uploadId !== undefined) return await listParts(reply, key, query);
            return await getObject(request, reply, key, false);
          case 'HEAD':
            return await getObject(request, reply, key, true);
          default:
            throw new S3RequestError('MethodNotAllowed', `${request.method} is not allowed`);
        }
      } catch (err) {
        return sendError(request, reply, err);
      }
    },
  });

  async function uploadPart(
    request: S3Request,
    reply: FastifyReply,
    auth: VerifiedRequest,
    key: string,
    query: Record<string, string | undefined>,
  ) {
    const { uploadId, partNumber } = query;
    if (!uploadId || !partNumber || !/^\d+$/.test(partNumber)) {
      throw new S3RequestError('InvalidArgument', 'UploadPart needs uploadId and a numeric partNumber');
    }
    const expectedSha256 = signedBodyHash(auth);
    const declared = contentLengthOf(request);
    // Refuse before reading a byte when the declared length is already over the limit.
    if (declared !== undefined && declared > maxPartSizeBytes) {
      throw new S3RequestError('EntityTooLarge', `part is ${declared} bytes; the maximum is ${maxPartSizeBytes} bytes`);
    }
    const etag = await store.writePart(uploadId, Number(partNumber), bodyOf(request), maxPartSizeBytes, { key, expectedSha256 });
    return reply.code(200).header('etag', etag).send();
  }

  async function putObject(request: S3Request, reply: FastifyReply, auth: VerifiedRequest, key: string) {
    if (request.headers['x-amz-copy-source']) throw new S3RequestError('NotImplemented', 'CopyObject is not implemented');
    const expectedSha256 = signedBodyHash(auth);
    const declared = contentLengthOf(request);
    if (declared !== undefined && declared > MAX_OBJECT_SIZE_BYTES) {
      throw new S3RequestError('EntityTooLarge', `object is ${declared} bytes; the maximum is ${MAX_OBJECT_SIZE_BYTES} bytes`);
    }
    const contentType = request.headers['content-type'] ?? 'application/octet-stream';
    const etag = await store.writeObject(key, bodyOf(request), contentType, { maxBytes: MAX_OBJECT_SIZE_BYTES, expectedSha256 });
    return reply.code(200).header('etag', etag).send();
  }

  async function createUpload(request: S3Request, reply: FastifyReply, key: string) {
    bodyOf(request).resume();
    const contentType = request.headers['content-type'] ?? 'application/octet-stream';
    const uploadId = await store.createMultipartUpload(key, contentType);
    return reply
      .type('application/xml')
      .send(toS3Xml({ InitiateMultipartUploadResult: { '@_xmlns': S3_XMLNS, Bucket: store.s3.bucket, Key: key, UploadId: uploadId } }));
  }

  async function completeUpload(request: S3Request, reply: FastifyReply, auth: VerifiedRequest, key: string, uploadId: string) {
    const expectedSha256 = signedBodyHash(auth);
    const raw = await readSmallBody(bodyOf(request), MAX_XML_BODY_BYTES);
    if (expectedSha256 && createHash('sha256').update(raw).digest('hex') !== expectedSha256) {
      throw new S3RequestError('XAmzContentSHA256Mismatch', 'the body does not match x-amz-content-sha256');
    }
    const xml = raw.toString('utf8');
    if (XMLValidator.validate(xml) !== true) throw new S3RequestError('MalformedXML', 'the XML you provided was not well-formed');
    const doc = completeParser.parse(xml) as { CompleteMultipartUpload?: { Part?: { PartNumber?: unknown; ETag?: unknown }[] } };
    const partsXml = doc.CompleteMultipartUpload?.Part;
    if (!partsXml || partsXml.length === 0) throw new S3RequestError('MalformedXML', 'CompleteMultipartUpload needs at least one Part');
    const parts = partsXml.map((p) => {
      const partNumber = Number(p.PartNumber);
      if (typeof p.ETag !== 'string' || !Number.isInteger(partNumber)) {
        throw new S3RequestError('MalformedXML', 'every Part needs a PartNumber and an ETag');
      }
      return { partNumber, etag: p.ETag };
    });
    await store.completeMultipartUpload(key, uploadId, parts);
    const info = await store.headObject(key);
    const base = `${request.protocol}://${request.headers.host ?? 'localhost'}${store.s3.endpointPath}/${store.s3.bucket}`;
    return reply.type('application/xml').send(
      toS3Xml({
        CompleteMultipartUploadResult: {
          '@_xmlns': S3_XMLNS,
          Location: `${base}/${key}`,
          Bucket: store.s3.bucket,
          Key: key,
          ETag: info?.etag ?? '',
        },
      }),
    );
  }

  async function listParts(reply: FastifyReply, key: string, query: Record<string, string | undefined>) {
    const uploadId = query.uploadId ?? '';
    const maxParts = Math.min(1000, Math.max(1, Number(query['max-parts'] ?? 1000) || 1000));
    const marker = Math.max(0, Number(query['part-number-marker'] ?? 0) || 0);
    const all = (await store.listParts(key, uploadId)).filter((p) => p.partNumber > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    return reply.type('application/xml').send(
      toS3Xml({
        ListPartsResult: {
          '@_xmlns': S3_XMLNS,
          Bucket: store.s3.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumberMarker: marker,
          NextPartNumberMarker: page.length ? page[page.length - 1].partNumber : marker,
          MaxParts: maxParts,
          IsTruncated: truncated,
          StorageClass: 'STANDARD',
          Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified.toISOString(), ETag: p.etag, Size: p.size })),
        },
      }),
    );
  }

  async function getObject(request: S3Request, reply: FastifyReply, key: string, headOnly: boolean) {
    const info = await store.headObject(key);
    if (!info) throw new S3RequestError('NoSuchKey', 'the specified key does not exist');
    const decision = decideByteRange(request.headers.range, info.size);
    reply
      .header('content-type', info.contentType)
      .header('etag', info.etag)
      .header('last-modified', info.lastModified.toUTCString())
      .header('accept-ranges', 'bytes');
    switch (decision.kind) {
      case 'unsatisfiable':
        reply.header('content-range', `bytes */${info.size}`);
        throw new S3RequestError('InvalidRange', 'the requested range is not satisfiable');
      case 'partial': {
        reply.code(206).header('content-range', `bytes ${decision.start}-${decision.end}/${info.size}`);
        reply.header('content-length', decision.end - decision.start + 1);
        if (headOnly) return reply.send();
        const obj = await store.getObjectRange(key, { start: decision.start, end: decision.end });
        if (!obj) throw new S3RequestError('NoSuchKey', 'the specified key does not exist');
        return reply.send(obj.body);
      }
      case 'full': {
        if (headOnly) return reply.code(200).header('content-length', info.size).send();
        const obj = await store.getObjectRange(key);
        if (!obj) throw new S3RequestError('NoSuchKey', 'the specified key does not exist');
        // Length of what was actually opened, in case the object was replaced since headObject.
        return reply.code(200).header('content-length', obj.size).send(obj.body);
      }
      default:
        return assertNever(decision);
    }
  }
};
