/**
 * Media delivery's view of the video-detail read model (issue 8, finding 5): the access level of
 * a video's media (platform/object-store/http/media.plugin.ts `access`), by the visibility rule
 * of domain/video/video-visibility.ts. Read on every media request, so a DELETE — whose 204 waits
 * for this read model — makes the playlists, segments and thumbnail 404 at once.
 */
import { mediaAccessOf, type MediaAccess } from '../../domain/video/video-visibility.ts';
import type { VideoDetailQueries } from './video-detail.port.ts';

/** `(videoId) => 'public' | 'signed' | 'gone'` over the video-detail read model; an unknown video is `gone`. */
export function videoMediaAccess(videoDetail: Pick<VideoDetailQueries, 'getVideo'>): (videoId: string) => Promise<MediaAccess> {
  return async (videoId) => mediaAccessOf(await videoDetail.getVideo(videoId));
}
