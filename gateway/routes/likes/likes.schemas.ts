import { Type } from '@fastify/type-provider-typebox';
import { IdempotencyHeaders } from '../../idempotency.ts';
import { withErrors } from '../../errors.ts';
import { BEARER, VideoIdParams } from '../shared.ts';

/** The caller's like of a video and the video's standing likes. */
const LikeState = Type.Object({
  liked: Type.Boolean({ description: 'Whether the caller\'s like stands.' }),
  like_count: Type.Integer({ minimum: 0, description: 'Standing likes of the video (one per user).' }),
});

const base = { tags: ['likes'], security: BEARER, params: VideoIdParams, response: withErrors({ 200: LikeState }) };

export const likeSchema = { ...base, summary: 'Like a published video (idempotent: one like per user)', headers: IdempotencyHeaders };
export const unlikeSchema = { ...base, summary: 'Take back your like of a video (idempotent)', headers: IdempotencyHeaders };
export const getLikeSchema = { ...base, summary: 'Whether you like a video, and its like count' };
