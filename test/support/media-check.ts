import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = promisify(execFile);
const FFPROBE = process.env.STREAMWAVE_FFPROBE_PATH ?? 'ffprobe';
const FFMPEG = process.env.STREAMWAVE_FFMPEG_PATH ?? 'ffmpeg';

export interface SourceFacts {
  /** Display height after SAR and rotation, pixels; null when there is no (non-cover-art) video stream. */
  displayHeight: number | null;
  /** Display width after SAR and rotation, pixels; null when there is no (non-cover-art) video stream. */
  displayWidth: number | null;
  /** Container duration, seconds; null when unknown. */
  durationSeconds: number | null;
  hasAudio: boolean;
  probeOk: boolean;
}

/** Independent probe of an upload, to judge the pipeline's output (not shared with the pipeline's code). */
export async function sourceFacts(path: string): Promise<SourceFacts> {
  try {
    const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', path], { maxBuffer: 32 << 20 });
    const j = JSON.parse(stdout) as { streams?: Record<string, any>[]; format?: Record<string, any> };
    const streams = j.streams ?? [];
    const d = Number(j.format?.duration);
    const durationSeconds = d > 0 ? d : null;
    const v = streams.find((s) => s.codec_type === 'video' && !(s.disposition?.attached_pic === 1));
    const hasAudio = streams.some((s) => s.codec_type === 'audio');
    if (!v || !v.width || !v.height) return { displayHeight: null, displayWidth: null, durationSeconds, hasAudio, probeOk: true };
    const [sn, sd] = String(v.sample_aspect_ratio ?? '1:1').split(':').map(Number);
    const sar = sn > 0 && sd > 0 ? sn / sd : 1;
    const rotation = Number((v.side_data_list ?? []).find((d: any) => d.rotation !== undefined)?.rotation ?? 0);
    const quarter = Math.abs(rotation) % 180 === 90;
    const displayHeight = quarter ? v.width * sar : v.height;
    const displayWidth = quarter ? v.height : v.width * sar;
    return { displayHeight, displayWidth, durationSeconds, hasAudio, probeOk: true };
  } catch {
    return { displayHeight: null, displayWidth: null, durationSeconds: null, hasAudio: false, probeOk: false };
  }
}

export interface RenditionCheck {
  resolution: string;
  bandwidth: number;
  codecs: string;
  playlistUrl: string;
  segmentDurations: number[];
  videoCodec: string;
  audioCodec: string | null;
  width: number;
  height: number;
  /** Display-matrix rotation of the rendition's video, degrees (0 when none: pixels already upright). */
  rotation: number;
  /**
   * PSNR (dB) of the rendition's first frame against the source's first frame as a player shows
   * it (rotation and sample aspect ratio applied by ffmpeg, scaled to the rendition's size); null
   * unless `checkHls` got the source. Around 40 for the right picture, under 12 for a rotated,
   * flipped or squashed one.
   */
  psnrVsSource: number | null;
  segmentContentType: string | null;
}

/** Parses a master playlist into its variant streams (RFC 8216 §4.3.4.2). */
export function parseMaster(text: string, baseUrl: string): { attrs: Record<string, string>; url: string }[] {
  const lines = text.split(/\r?\n/);
  const out: { attrs: Record<string, string>; url: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('#EXT-X-STREAM-INF:')) continue;
    const attrs: Record<string, string> = {};
    for (const m of lines[i].slice(18).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs[m[1]] = m[2].replace(/^"|"$/g, '');
    out.push({ attrs, url: new URL(lines[i + 1].trim(), baseUrl).toString() });
  }
  return out;
}

/** PSNR (dB) of the first video frame of `rendition` against the first displayed frame of `source`, at width x height. */
async function firstFramePsnr(source: string, rendition: string, width: number, height: number): Promise<number> {
  const size = `${width}:${height}`;
  const graph = `[0:v:0]setpts=PTS-STARTPTS,scale=${size},setsar=1,format=yuv420p[a];[1:v:0]setpts=PTS-STARTPTS,scale=${size},setsar=1,format=yuv420p[b];[a][b]psnr`;
  // Both first frames at time 0 (psnr pairs frames by timestamp; an output may start later, e.g.
  // after audio priming). The PSNR summary is an info-level log line: `PSNR y:… average:39.97 min:… max:…`.
  const { stderr } = await run(FFMPEG, ['-hide_banner', '-nostats', '-i', source, '-i', rendition, '-filter_complex', graph, '-frames:v', '1', '-f', 'null', '-']);
  const m = /PSNR .*average:(inf|[\d.]+)/.exec(stderr);
  if (!m) throw new Error(`no PSNR in ffmpeg's output: ${stderr.slice(-300)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}

/**
 * Fetches the master playlist, every media playlist, and the init + first segment of each
 * rendition, and probes them with ffprobe. With `opts.source` (the uploaded file), also compares
 * each rendition's first frame with the source's (`psnrVsSource`).
 * @throws Error describing the first thing that is wrong (HTTP status, content type, missing tag).
 */
export async function checkHls(manifestUrl: string, opts: { source?: string } = {}): Promise<{ masterContentType: string | null; renditions: RenditionCheck[] }> {
  const master = await fetch(manifestUrl);
  if (!master.ok) throw new Error(`master playlist ${manifestUrl}: HTTP ${master.status}`);
  const masterText = await master.text();
  if (!masterText.startsWith('#EXTM3U')) throw new Error('master playlist does not start with #EXTM3U');
  const variants = parseMaster(masterText, manifestUrl);
  const dir = await mkdtemp(join(tmpdir(), 'sw-hls-'));
  try {
    const renditions: RenditionCheck[] = [];
    for (const [i, v] of variants.entries()) {
      const pl = await fetch(v.url);
      if (!pl.ok) throw new Error(`media playlist ${v.url}: HTTP ${pl.status}`);
      const text = await pl.text();
      const segmentDurations = [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
      const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
      const firstSeg = text.split(/\r?\n/).find((l) => l && !l.startsWith('#'));
      if (!init || !firstSeg) throw new Error(`media playlist ${v.url} lacks EXT-X-MAP or segments`);
      const initRes = await fetch(new URL(init, v.url));
      const segRes = await fetch(new URL(firstSeg, v.url));
      if (!initRes.ok || !segRes.ok) throw new Error(`init/segment fetch failed: ${initRes.status}/${segRes.status}`);
      const file = join(dir, `r${i}.mp4`);
      await writeFile(file, Buffer.concat([Buffer.from(await initRes.arrayBuffer()), Buffer.from(await segRes.arrayBuffer())]));
      const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_streams', '-of', 'json', file]);
      const streams = (JSON.parse(stdout) as { streams: Record<string, any>[] }).streams;
      const vs = streams.find((s) => s.codec_type === 'video');
      const as = streams.find((s) => s.codec_type === 'audio');
      const psnrVsSource = opts.source && vs ? await firstFramePsnr(opts.source, file, vs.width, vs.height) : null;
      renditions.push({
        resolution: v.attrs.RESOLUTION,
        bandwidth: Number(v.attrs.BANDWIDTH),
        codecs: v.attrs.CODECS,
        playlistUrl: v.url,
        segmentDurations,
        videoCodec: vs?.codec_name ?? 'none',
        audioCodec: as?.codec_name ?? null,
        width: vs?.width ?? 0,
        height: vs?.height ?? 0,
        rotation: Number((vs?.side_data_list ?? []).find((d: any) => d.rotation !== undefined)?.rotation ?? 0),
        psnrVsSource,
        segmentContentType: segRes.headers.get('content-type'),
      });
    }
    return { masterContentType: master.headers.get('content-type'), renditions };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
