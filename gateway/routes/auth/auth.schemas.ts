import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';

export const tokenSchema = {
  summary: 'Exchange username and password for an access token (OAuth 2.0 password grant shape, RFC 6749 §4.3)',
  tags: ['auth'],
  body: Type.Object(
    {
      // Lenient bounds here: a login must answer 401, not reveal the registration rules.
      username: Type.String({ minLength: 1, maxLength: 64 }),
      password: Type.String({ minLength: 1, maxLength: 1024 }),
      grant_type: Type.Optional(Type.Literal('password')),
    },
    { additionalProperties: false },
  ),
  response: withErrors({
    200: Type.Object({
      access_token: Type.String(),
      token_type: Type.Literal('Bearer'),
      expires_in: Type.Integer({ description: 'Seconds until the token expires.' }),
    }),
  }),
};
