/** Title, description and tags of a video: their limits and normalisation (rules of the video decider). */
import { DomainError } from '../shared/event.ts';
import { charLength } from '../shared/validation.ts';

const invalid = (code: string, message: string) => new DomainError(code, message, 'invalid');

/** Limits of the video metadata: title 1..200 chars, description ≤ 5000, ≤ 20 tags of 1..50 chars. */
const VIDEO_METADATA_LIMITS = { titleMax: 200, descriptionMax: 5000, tagsMax: 20, tagMax: 50 } as const;

/**
 * Validates and normalises (trims) title, description and tags; absent fields stay absent.
 * @throws DomainError `INVALID_METADATA` (invalid) when a limit of VIDEO_METADATA_LIMITS is broken.
 */
export function normaliseVideoMetadata(m: { title?: unknown; description?: unknown; tags?: unknown }): {
  title?: string; description?: string; tags?: string[];
} {
  const out: { title?: string; description?: string; tags?: string[] } = {};
  if (m.title !== undefined) {
    if (typeof m.title !== 'string') throw invalid('INVALID_METADATA', 'title must be a string');
    const title = m.title.trim();
    const n = charLength(title);
    if (n < 1 || n > VIDEO_METADATA_LIMITS.titleMax) {
      throw invalid('INVALID_METADATA', `title must be 1..${VIDEO_METADATA_LIMITS.titleMax} characters (got ${n})`);
    }
    out.title = title;
  }
  if (m.description !== undefined) {
    if (typeof m.description !== 'string') throw invalid('INVALID_METADATA', 'description must be a string');
    const description = m.description.trim();
    const n = charLength(description);
    if (n > VIDEO_METADATA_LIMITS.descriptionMax) {
      throw invalid('INVALID_METADATA', `description must be at most ${VIDEO_METADATA_LIMITS.descriptionMax} characters (got ${n})`);
    }
    out.description = description;
  }
  if (m.tags !== undefined) {
    if (!Array.isArray(m.tags)) throw invalid('INVALID_METADATA', 'tags must be an array of strings');
    if (m.tags.length > VIDEO_METADATA_LIMITS.tagsMax) {
      throw invalid('INVALID_METADATA', `at most ${VIDEO_METADATA_LIMITS.tagsMax} tags (got ${m.tags.length})`);
    }
    out.tags = m.tags.map((t: unknown) => {
      if (typeof t !== 'string') throw invalid('INVALID_METADATA', 'each tag must be a string');
      const tag = t.trim();
      const n = charLength(tag);
      if (n < 1 || n > VIDEO_METADATA_LIMITS.tagMax) {
        throw invalid('INVALID_METADATA', `each tag must be 1..${VIDEO_METADATA_LIMITS.tagMax} characters (got ${n})`);
      }
      return tag;
    });
  }
  return out;
}
