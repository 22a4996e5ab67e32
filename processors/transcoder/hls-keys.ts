/**
 * Object keys of a video's HLS output, the layout the gateway and the CDN serve:
 *
 *   videos/<videoId>/hls/master.m3u8                  master playlist (complete renditions only)
 *   videos/<videoId>/hls/<rendition>/index.m3u8       media playlist, uploaded last
 *   videos/<videoId>/hls/<rendition>/init.mp4, seg-NNNNN.m4s, rendition.json (sidecar)
 *   videos/<videoId>/thumbnail.jpg
 *   videos/<videoId>/storyboard/sprite-N.jpg, storyboard.vtt   seek previews (storyboard/), the track uploaded last
 */
export const hlsKeys = {
  master: (videoId: string): string => `videos/${videoId}/hls/master.m3u8`,
  rendition: (videoId: string, rendition: string, file: string): string => `videos/${videoId}/hls/${rendition}/${file}`,
  thumbnail: (videoId: string): string => `videos/${videoId}/thumbnail.jpg`,
  storyboard: (videoId: string, file: string): string => `videos/${videoId}/storyboard/${file}`,
};

/**
 * Private keys of a chunked transcode (docs/adr/0008), outside the served `videos/` prefix and
 * deleted with the video (media collector):
 *
 *   transcode/<videoId>/job.json              the running chunked job (chunk encoders drop tasks without it)
 *   transcode/<videoId>/chunks/<NNNNN>.json   one chunk's result (ChunkResult), written last by its encoder
 */
export const chunkKeys = {
  prefix: (videoId: string): string => `transcode/${videoId}/`,
  job: (videoId: string): string => `transcode/${videoId}/job.json`,
  result: (videoId: string, chunkIndex: number): string => `transcode/${videoId}/chunks/${String(chunkIndex).padStart(5, '0')}.json`,
};

/** MIME types of the files the transcoder uploads (playlists: RFC 8216 §4). */
const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.json': 'application/json',
  '.jpg': 'image/jpeg',
  '.vtt': 'text/vtt',
};

/** Content type of an output file by its extension; `application/octet-stream` if unknown. */
export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
}
