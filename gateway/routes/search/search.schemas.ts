import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { NullableNumber, NullableString } from '../shared.ts';

/** Page size when `page_size` is absent. */
export const DEFAULT_SEARCH_PAGE = 20;

export const searchVideosSchema = {
  summary: 'Full-text search over published videos (typo tolerant)',
  tags: ['search'],
  querystring: Type.Object(
    {
      q: Type.String({ minLength: 1, maxLength: 200 }),
      page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: DEFAULT_SEARCH_PAGE })),
      cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque; next_cursor of the previous page.' })),
    },
    { additionalProperties: false },
  ),
  response: withErrors({
    200: Type.Object({
      videos: Type.Array(
        Type.Object({
          id: Type.String(),
          title: Type.String(),
          description: Type.String(),
          tags: Type.Array(Type.String()),
          thumbnail_url: NullableString,
          duration_seconds: NullableNumber,
        }),
      ),
      next_cursor: NullableString,
    }),
  }),
};
