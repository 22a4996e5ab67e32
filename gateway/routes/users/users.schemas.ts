import { IdempotencyHeaders } from '../../idempotency.ts';
import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER } from '../shared.ts';

const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[a-zA-Z0-9_.-]+$' });
const Password = Type.String({ minLength: 8, maxLength: 128 });

export const registerUserSchema = {
  summary: 'Register a user account',
  tags: ['users'],
  headers: IdempotencyHeaders,
  body: Type.Object(
    {
      username: Username,
      email: Type.String({ format: 'email', maxLength: 254 }),
      password: Password,
    },
    { additionalProperties: false },
  ),
  response: withErrors({ 201: Type.Object({ id: Type.String() }) }),
};

export const watchHistorySchema = {
  summary: "The caller's watch history, most recent first",
  tags: ['users'],
  security: BEARER,
  response: withErrors({
    200: Type.Object({
      history: Type.Array(
        Type.Object({
          video_id: Type.String(),
          watched_at: Type.String({ format: 'date-time' }),
          position_seconds: Type.Number(),
        }),
      ),
    }),
  }),
};
