/**
 * Who may see a video, in which state (issue 8, finding 5 "Visibility and deletion"). The one
 * rule used by the gateway (detail, status, stream), the search read model (listings) and media
 * delivery (playlists, segments, thumbnail). Pure; no I/O.
 *
 * - `public`: everyone sees it once ready; listed in search.
 * - `unlisted`: everyone who has the link (the video id) may see and play it once ready; never
 *   listed in search or any listing.
 * - `private`: the owner only, media included (served only through signed media URLs).
 * - Whatever the visibility, a video that is not `ready` (pending_upload, uploaded, processing,
 *   failed) is seen by its owner only, and a `deleted` video by no one. Others get 404, never
 *   403, so a video's existence is not leaked.
 */
/** The visibilities a video can have; `public` is the default (events written before issue 8 carry none). */
export const VIDEO_VISIBILITIES = ['public', 'unlisted', 'private'] as const;
export type VideoVisibility = (typeof VIDEO_VISIBILITIES)[number];
export const DEFAULT_VISIBILITY: VideoVisibility = 'public';

/** True when `v` is one of VIDEO_VISIBILITIES. */
export function isVideoVisibility(v: unknown): v is VideoVisibility {
  return typeof v === 'string' && (VIDEO_VISIBILITIES as readonly string[]).includes(v);
}

/** What the rule needs to know of a video; `visibility` undefined (old events) means public. */
export interface VisibilitySubject {
  ownerId: string;
  /** A VideoStatus of video.decider.ts (typed as string so this module does not import the decider, which imports it). */
  status: string;
  visibility?: VideoVisibility | undefined;
}

/** The video's visibility, `public` when absent (events from before issue 8). */
export const visibilityOf = (v: Pick<VisibilitySubject, 'visibility'>): VideoVisibility => v.visibility ?? DEFAULT_VISIBILITY;

/**
 * True when `viewerId` (null: anonymous) may see the video's detail, status and stream: the owner
 * while it is not deleted; anyone else only when it is `ready` and not private.
 */
export function canSeeVideo(video: VisibilitySubject, viewerId: string | null): boolean {
  if (video.status === 'deleted') return false;
  if (viewerId !== null && viewerId === video.ownerId) return true;
  return video.status === 'ready' && visibilityOf(video) !== 'private';
}

/** True when the video may appear in search results and listings seen by others: ready and public. */
export function isListed(video: VisibilitySubject): boolean {
  return video.status === 'ready' && visibilityOf(video) === 'public';
}

/**
 * How media delivery may serve the video's objects (playlists, segments, thumbnail):
 * - `public`: plain `/media/<key>` URLs, cacheable by anyone (ready, public or unlisted);
 * - `signed`: only through a signed media URL, never cached publicly (private, or not ready:
 *   the owner reaches those through the signed `manifest_url`);
 * - `gone`: 404 for everyone, signed or not (deleted, or unknown).
 */
export type MediaAccess = 'public' | 'signed' | 'gone';

/** The MediaAccess of a video (undefined: unknown to the read model → `gone`). */
export function mediaAccessOf(video: VisibilitySubject | undefined): MediaAccess {
  if (!video || video.status === 'deleted') return 'gone';
  return video.status === 'ready' && visibilityOf(video) !== 'private' ? 'public' : 'signed';
}
