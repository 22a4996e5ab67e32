/**
 * Quality-of-experience reports of one playback session (issue 15), beside the heartbeats:
 * `start` with the startup time (ms from the play request to the first `playing`), rendition
 * switches (hls.js LEVEL_SWITCHED, by height in pixels), stalls (`waiting` outside a seek →
 * `rebuffer_start`, the next `playing` → `rebuffer_end` with its length in ms), fatal errors and
 * the end. Queued and sent to `POST /api/v1/videos/{id}/playback-events` at most 20 at a time,
 * on `flush()` (each heartbeat), on pause and on the end.
 */
import Hls from 'hls.js';
import { api } from './api.ts';

type Report = { type: string; position_seconds: number; startup_time_ms?: number; rendition_height?: number; rebuffer_ms?: number; error_code?: string };

/** Most events one request carries (the API's limit). */
const MAX_PER_REQUEST = 20;

/**
 * Starts reporting for `player` (and `hls` when hls.js plays it). `requestedAt` is the
 * `performance.now()` of the play request. Returns `flush`, to call with every heartbeat.
 */
export function reportPlayback(videoId: string, sessionId: string, player: HTMLVideoElement, hls: Hls | undefined, requestedAt: number): { flush(): void } {
  const queue: Report[] = [];
  const at = () => Math.max(0, Math.round(player.currentTime * 10) / 10);
  const height = () => (hls && hls.currentLevel >= 0 ? hls.levels[hls.currentLevel]?.height : undefined);
  let started = false;
  let stalledAt: number | undefined;
  const flush = () => {
    while (queue.length) {
      const events = queue.splice(0, MAX_PER_REQUEST);
      void api('POST', `/api/v1/videos/${encodeURIComponent(videoId)}/playback-events`, { session_id: sessionId, events }).catch(() => {});
    }
  };
  player.addEventListener('playing', () => {
    if (!started) {
      started = true;
      const h = height();
      queue.push({ type: 'start', position_seconds: at(), startup_time_ms: Math.min(600_000, Math.round(performance.now() - requestedAt)), ...(h && { rendition_height: h }) });
      flush();
    } else if (stalledAt !== undefined) {
      queue.push({ type: 'rebuffer_end', position_seconds: at(), rebuffer_ms: Math.min(600_000, Math.round(performance.now() - stalledAt)) });
    }
    stalledAt = undefined;
  });
  player.addEventListener('waiting', () => {
    if (!started || player.seeking || stalledAt !== undefined) return;
    stalledAt = performance.now();
    queue.push({ type: 'rebuffer_start', position_seconds: at() });
  });
  player.addEventListener('pause', flush);
  player.addEventListener('ended', () => { queue.push({ type: 'end', position_seconds: at() }); flush(); });
  player.addEventListener('error', () => {
    const code = player.error?.code;
    queue.push({ type: 'error', position_seconds: at(), error_code: code ? `MEDIA_ERR_${code}` : 'MEDIA_ERR' });
    flush();
  });
  hls?.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => {
    const h = hls.levels[d.level]?.height;
    if (started && h) queue.push({ type: 'rendition_switch', position_seconds: at(), rendition_height: h });
  });
  hls?.on(Hls.Events.ERROR, (_e, d) => {
    if (d.fatal) queue.push({ type: 'error', position_seconds: at(), error_code: String(d.details).replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) || 'hls' });
  });
  return { flush };
}
