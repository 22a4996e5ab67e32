import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { NotModified, withEtagHeaders } from '../../plugins/etag.ts';
import { NullableNumber, NullableString } from '../shared.ts';

/** Page size when `page_size` is absent. */
export const DEFAULT_SEARCH_PAGE = 20;

/** One tag as the filter takes it (the limits of a video's tags, domain/video/video.decider.ts). */
const TagParam = Type.String({ minLength: 1, maxLength: 50 });

export const searchVideosSchema = {
  summary: 'Full-text search over published videos (typo tolerant), with filters, sort and tag facets',
  tags: ['search'],
  querystring: Type.Object(
    {
      q: Type.String({ minLength: 1, maxLength: 200 }),
      page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: DEFAULT_SEARCH_PAGE })),
      cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Opaque; next_cursor of the previous page, with the same q, filters and sort.' })),
      min_duration_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 1e7, description: 'Inclusive; videos of unknown duration never pass a duration bound.' })),
      max_duration_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 1e7, description: 'Inclusive.' })),
      published_after: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive (RFC 3339).' })),
      published_before: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive (RFC 3339).' })),
      tag: Type.Optional(Type.Array(TagParam, { maxItems: 10, description: 'Repeatable: videos carrying every tag named (case-insensitive).' })),
      channel: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "A user id: only that channel's videos." })),
      sort: Type.Optional(Type.Union([Type.Literal('relevance'), Type.Literal('date'), Type.Literal('views')], { default: 'relevance', description: 'relevance (text score), date (newest first) or views (most viewed first; counts reach the index in batches, seconds behind video detail).' })),
      facets: Type.Optional(Type.Literal('tags', { description: 'Also count the tags of the whole result set (first page only).' })),
    },
    { additionalProperties: false },
  ),
  response: withErrors({
    304: NotModified,
    200: withEtagHeaders(Type.Object({
      videos: Type.Array(
        Type.Object({
          id: Type.String(),
          owner_id: Type.String(),
          title: Type.String(),
          description: Type.String(),
          tags: Type.Array(Type.String()),
          thumbnail_url: NullableString,
          duration_seconds: NullableNumber,
          published_at: NullableString,
          views: Type.Integer({ description: "Video detail's count as the index last received it (seconds behind)." }),
        }),
      ),
      next_cursor: NullableString,
      facets: Type.Optional(Type.Object({
        tags: Type.Array(Type.Object({ value: Type.String(), count: Type.Integer() }), { description: 'The 20 most frequent tags (lowercased), most frequent first.' }),
      })),
    })),
  }),
};
