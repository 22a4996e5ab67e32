import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER, VideoIdParams } from '../shared.ts';

export const recordViewSchema = {
  summary: 'Player heartbeat for a playback session issued by GET /videos/{id}/stream',
  description: 'Anonymous or authenticated (the token, if any, identifies the viewer). Answered once the heartbeat is on the log; analytics catch up asynchronously.',
  tags: ['views'],
  security: [...BEARER, {}],
  params: VideoIdParams,
  body: Type.Object(
    {
      session_id: Type.String({ minLength: 1, maxLength: 128, description: 'Playback session from GET /videos/{id}/stream (signed, bound to this video, expires).' }),
      watched_seconds: Type.Number({ minimum: 0, maximum: 1e7, description: 'Cumulative seconds watched in this session.' }),
      position_seconds: Type.Number({ minimum: 0, maximum: 1e7, description: 'Current playhead, seconds.' }),
    },
    { additionalProperties: false },
  ),
  response: withErrors({ 202: Type.Object({ accepted: Type.Boolean() }) }),
};
