/**
 * Uploads resource (prefix `/api/v1/uploads`), all behind `authenticate`:
 * - `POST /` → 201: opens an S3 multipart upload at `uploads/<video_id>/source`, presigns every
 *   part, then sends StartUpload. 413 UPLOAD_TOO_LARGE, 415 UNSUPPORTED_MEDIA_TYPE,
 *   429 RATE_LIMITED (uploadsPerHour per user, with Retry-After).
 * - `GET /{upload_id}` (owner) → parts received and fresh URLs for the missing ones (resume).
 * - `POST /{upload_id}/complete` (owner) → 202: CompleteMultipartUpload then CompleteUpload.
 *   Idempotent: a retry after success answers 202 again without touching the store. Parts must
 *   follow the plan and add up to the declared size, else 400 UPLOAD_SIZE_MISMATCH and the upload
 *   ends `failed` (FailUpload) with the reason (issue 8).
 * - Quota: StartUpload past STREAMWAVE_USER_STORAGE_QUOTA_BYTES → 403 STORAGE_QUOTA_EXCEEDED (command side).
 *
 * `upload_id` is the object store's multipart upload id (S3 UploadId), recorded on UploadStarted,
 * so the video is found with `getVideoByUploadId` and the store needs no extra mapping.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ObjectStoreError } from '../../../platform/object-store/object-store.port.ts';
import type { VideoDetail } from '../../../projections/read-model.port.ts';
import { Errors } from '../../errors.ts';
import { commandIdentity } from '../../idempotency.ts';
import { CommandTimeoutError } from '../../../commands/command-bus.port.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { assertOwner, iso } from '../shared.ts';
import { MAX_PARTS, isAcceptedContentType, planParts, plannedPartSize, sizeMismatch, sourceObjectKey, type PartPlan } from './upload-plan.ts';
import { completeUploadSchema, getUploadSchema, startUploadSchema } from './uploads.schemas.ts';

async function loadUpload(fastify: FastifyInstance, uploadId: string, userId: string): Promise<VideoDetail> {
  const video = await fastify.gateway.readModels['video-detail'].getVideoByUploadId(uploadId);
  if (!video || video.status === 'deleted') throw new Errors.UploadNotFound(uploadId);
  assertOwner(video, userId);
  return video;
}

export const uploadsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, commandBus, objectStore, readYourWrites, ids, now } = fastify.gateway;

  // Each URL signs the planned length of its part (Content-Length), so no part can outgrow the plan.
  const presign = (key: string, uploadId: string, plan: PartPlan, sizeBytes: number, partNumbers: number[]) =>
    Promise.all(
      partNumbers.map(async (n) => ({
        part_number: n,
        url: await objectStore.presignUploadPart(key, uploadId, n, config.uploadUrlTtlSeconds, plannedPartSize(plan, sizeBytes, n)),
      })),
    );

  /**
   * The assembled size cannot match the declaration (issue 8): drop the multipart upload, record
   * the failure on the log (FailUpload: the video ends `failed` with the reason), answer 400.
   */
  async function refuseSize(request: FastifyRequest, video: VideoDetail, key: string, userId: string, reason: string): Promise<never> {
    await objectStore.abortMultipartUpload(key, video.uploadId).catch((err: unknown) => {
      if (!(err instanceof ObjectStoreError && err.code === 'NoSuchUpload')) request.log.warn({ err, uploadId: video.uploadId }, 'could not abort multipart upload');
    });
    const result = await commandBus.send({
      type: 'FailUpload',
      data: { videoId: video.videoId, uploadId: video.uploadId, code: 'UPLOAD_SIZE_MISMATCH', reason },
      metadata: { now: now(), actorId: userId },
    });
    await readYourWrites('video-detail', result.positions);
    request.log.info({ videoId: video.videoId, uploadId: video.uploadId, reason }, 'upload refused: size does not match the declaration');
    throw new Errors.UploadSizeMismatch(reason);
  }

  const abortQuietly = (request: FastifyRequest, objectKey: string, uploadId: string) =>
    objectStore.abortMultipartUpload(objectKey, uploadId).catch((abortErr: unknown) => {
      request.log.warn({ err: abortErr, uploadId }, 'could not abort multipart upload');
    });

  fastify.post(
    '',
    {
      schema: startUploadSchema,
      onRequest: fastify.authenticate,
      config: {
        rateLimit: {
          max: config.uploadsPerHour,
          timeWindow: 3_600_000,
          // preHandler: after authentication and validation, so only well-formed, authenticated
          // upload attempts count against the user's quota.
          hook: 'preHandler',
          keyGenerator: (request) => `uploads:${request.principal?.userId ?? request.ip}`,
        },
      },
    },
    async (request, reply) => {
      const ownerId = requireUserId(request);
      const body = request.body;
      if (body.size_bytes > config.maxUploadBytes) throw new Errors.UploadTooLarge(body.size_bytes, config.maxUploadBytes);
      if (!isAcceptedContentType(body.content_type)) {
        throw new Errors.UnsupportedMediaType(`content_type ${body.content_type} is not a video or audio type`);
      }
      const plan = planParts(body.size_bytes, config);
      if (!plan) throw new Errors.UploadTooLarge(body.size_bytes, config.maxPartSizeBytes * MAX_PARTS);

      const identity = commandIdentity(request, ids);
      const videoId = identity.newId('vid');
      const objectKey = sourceObjectKey(videoId);
      const startedAt = now();
      const uploadId = await objectStore.createMultipartUpload(objectKey, body.content_type);
      const allParts = Array.from({ length: plan.partCount }, (_, i) => i + 1);
      try {
        let parts = await presign(objectKey, uploadId, plan, body.size_bytes, allParts);
        const result = await commandBus.send({
          type: 'StartUpload',
          data: {
            videoId,
            ownerId,
            uploadId,
            objectKey,
            filename: body.filename,
            sizeBytes: body.size_bytes,
            contentType: body.content_type,
            title: body.title,
            description: body.description ?? '',
            tags: body.tags ?? [],
            partSizeBytes: plan.partSizeBytes,
            ...(body.visibility !== undefined && { visibility: body.visibility }),
          },
          metadata: { now: startedAt, actorId: ownerId, commandId: identity.commandId },
        });
        // A repeated Idempotency-Key answers with the first request's upload, as its UploadStarted
        // recorded it (id, size, part size): the multipart upload opened for this retry is not needed.
        const started = result.events.find((e) => e.type === 'UploadStarted');
        let answer = { uploadId, plan, sizeBytes: body.size_bytes };
        if (started?.type === 'UploadStarted' && started.data.uploadId !== uploadId) {
          const { uploadId: firstId, sizeBytes, partSizeBytes } = started.data;
          answer = { uploadId: firstId, sizeBytes, plan: { partSizeBytes, partCount: Math.max(1, Math.ceil(sizeBytes / partSizeBytes)) } };
          parts = await presign(objectKey, firstId, answer.plan, sizeBytes, Array.from({ length: answer.plan.partCount }, (_, i) => i + 1));
          await abortQuietly(request, objectKey, uploadId);
        }
        // The client polls GET /uploads/{id} and /videos/{id}/status next.
        await readYourWrites('video-detail', result.positions);
        return reply.status(201).send({
          video_id: videoId,
          upload_id: answer.uploadId,
          part_size_bytes: answer.plan.partSizeBytes,
          parts,
          expires_at: iso(startedAt + config.uploadUrlTtlSeconds * 1000),
        });
      } catch (err) {
        // No event means no video: do not leave an orphan multipart upload behind. Except after a
        // timeout: StartUpload may still be decided with this upload (a retry with the same
        // Idempotency-Key would be answered with it); the upload reaper removes it if never completed.
        if (!(err instanceof CommandTimeoutError)) await abortQuietly(request, objectKey, uploadId);
        throw err;
      }
    },
  );

  fastify.get('/:upload_id', { schema: getUploadSchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    const { upload_id: uploadId } = request.params;
    const video = await loadUpload(fastify, uploadId, userId);
    if (video.status !== 'pending_upload') throw new Errors.UploadAlreadyCompleted(uploadId);
    const plan = planParts(video.sizeBytes, config);
    if (!plan) throw new Errors.UploadTooLarge(video.sizeBytes, config.maxPartSizeBytes * MAX_PARTS);
    const key = sourceObjectKey(video.videoId);
    const received = await objectStore.listParts(key, uploadId);
    const have = new Set(received.map((p) => p.partNumber));
    const missing = Array.from({ length: plan.partCount }, (_, i) => i + 1).filter((n) => !have.has(n));
    return {
      upload_id: uploadId,
      video_id: video.videoId,
      part_size_bytes: plan.partSizeBytes,
      size_bytes: video.sizeBytes,
      parts: received
        .slice()
        .sort((a, b) => a.partNumber - b.partNumber)
        .map((p) => ({ part_number: p.partNumber, etag: p.etag, size_bytes: p.size })),
      missing_parts: await presign(key, uploadId, plan, video.sizeBytes, missing),
      expires_at: iso(now() + config.uploadUrlTtlSeconds * 1000),
    };
  });

  fastify.post('/:upload_id/complete', { schema: completeUploadSchema, onRequest: fastify.authenticate }, async (request, reply) => {
    const userId = requireUserId(request);
    const { upload_id: uploadId } = request.params;
    const video = await loadUpload(fastify, uploadId, userId);
    if (video.status !== 'pending_upload') {
      // A retry of a completion that already went through: same answer, no side effects.
      return reply.status(202).send({ video_id: video.videoId, status: video.status });
    }
    const key = sourceObjectKey(video.videoId);
    const parts = request.body.parts.map((p) => ({ partNumber: p.part_number, etag: normaliseEtag(p.etag) }));
    const plan = planParts(video.sizeBytes, config);
    if (!plan) throw new Errors.UploadTooLarge(video.sizeBytes, config.maxPartSizeBytes * MAX_PARTS);
    let sizeBytes: number;
    try {
      // ListParts first: parts that do not follow the plan are never assembled (issue 8).
      const stored = await objectStore.listParts(key, uploadId);
      const mismatch = sizeMismatch(video.sizeBytes, plan, parts.map((p) => p.partNumber), stored);
      if (mismatch) await refuseSize(request, video, key, userId, mismatch);
      sizeBytes = await objectStore.completeMultipartUpload(key, uploadId, parts);
    } catch (err) {
      // The store completed on an earlier attempt whose CompleteUpload command did not land
      // (crash or timeout in between): the object exists, so finish the job with its size.
      const recovered = err instanceof ObjectStoreError && err.code === 'NoSuchUpload' ? await assembledSize(fastify, key) : undefined;
      if (recovered === undefined) throw err;
      sizeBytes = recovered;
    }
    if (sizeBytes !== video.sizeBytes) {
      await refuseSize(request, video, key, userId, `the assembled object is ${sizeBytes} bytes; ${video.sizeBytes} bytes were declared`);
    }
    const result = await commandBus.send({
      type: 'CompleteUpload',
      data: { videoId: video.videoId, uploadId, sizeBytes },
      metadata: { now: now(), actorId: userId },
    });
    await readYourWrites('video-detail', result.positions);
    const after = await fastify.gateway.readModels['video-detail'].getVideo(video.videoId);
    return reply.status(202).send({ video_id: video.videoId, status: after?.status ?? 'uploaded' });
  });
};

/** Size of an already assembled object, or undefined if it does not exist. */
async function assembledSize(fastify: FastifyInstance, key: string): Promise<number | undefined> {
  const obj = await fastify.gateway.objectStore.getObject(key);
  if (!obj) return undefined;
  obj.body.destroy();
  return obj.size;
}

/** Clients may send an ETag with or without the quotes S3 puts around it; the store expects them. */
function normaliseEtag(etag: string): string {
  const bare = etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return `"${bare}"`;
}
