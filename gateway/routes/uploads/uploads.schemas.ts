import { IdempotencyHeaders } from '../../idempotency.ts';
import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER, VisibilityJson } from '../shared.ts';

export const Title = Type.String({ minLength: 1, maxLength: 200 });
export const Description = Type.String({ maxLength: 5000 });
export const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 20 });

const PresignedPart = Type.Object({ part_number: Type.Integer(), url: Type.String() });

export const startUploadSchema = {
  summary: 'Start a resumable multipart upload of a new video',
  description:
    'PUT each part to its presigned URL with exactly its planned length (part_size_bytes, the last part the remainder: '
    + 'the URL signs Content-Length, another length gets 403), then POST /api/v1/uploads/{upload_id}/complete with the ETags. '
    + '403 STORAGE_QUOTA_EXCEEDED when the declared size would exceed the per-user storage quota.',
  tags: ['uploads'],
  security: BEARER,
  headers: IdempotencyHeaders,
  body: Type.Object(
    {
      filename: Type.String({ minLength: 1, maxLength: 255 }),
      size_bytes: Type.Integer({ minimum: 1, description: 'Declared file size, bytes.' }),
      content_type: Type.String({ minLength: 3, maxLength: 255 }),
      title: Title,
      description: Type.Optional(Description),
      tags: Type.Optional(Tags),
      visibility: Type.Optional(VisibilityJson),
    },
    { additionalProperties: false },
  ),
  response: withErrors({
    201: Type.Object({
      video_id: Type.String(),
      upload_id: Type.String(),
      part_size_bytes: Type.Integer(),
      parts: Type.Array(PresignedPart),
      expires_at: Type.String({ format: 'date-time', description: 'When the presigned URLs expire.' }),
    }),
  }),
};

const UploadIdParams = Type.Object({ upload_id: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });

export const getUploadSchema = {
  summary: 'Upload progress, with fresh URLs for the parts still missing (resume)',
  tags: ['uploads'],
  security: BEARER,
  params: UploadIdParams,
  response: withErrors({
    200: Type.Object({
      upload_id: Type.String(),
      video_id: Type.String(),
      part_size_bytes: Type.Integer(),
      size_bytes: Type.Integer(),
      parts: Type.Array(Type.Object({ part_number: Type.Integer(), etag: Type.String(), size_bytes: Type.Integer() })),
      missing_parts: Type.Array(PresignedPart),
      expires_at: Type.String({ format: 'date-time' }),
    }),
  }),
};

export const completeUploadSchema = {
  summary: 'Assemble the uploaded parts; processing starts',
  description:
    'Parts must follow the part-size plan and add up to the declared size; otherwise 400 UPLOAD_SIZE_MISMATCH, '
    + 'the multipart upload is aborted and the video ends failed with the reason.',
  tags: ['uploads'],
  security: BEARER,
  params: UploadIdParams,
  body: Type.Object(
    {
      parts: Type.Array(
        Type.Object(
          { part_number: Type.Integer({ minimum: 1, maximum: 10000 }), etag: Type.String({ minLength: 1, maxLength: 128 }) },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 10000 },
      ),
    },
    { additionalProperties: false },
  ),
  response: withErrors({ 202: Type.Object({ video_id: Type.String(), status: Type.String() }) }),
};
