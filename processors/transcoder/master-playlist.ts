/**
 * HLS master playlist writer and RFC 6381 CODECS helpers. Pure; no I/O.
 * Attribute rules: RFC 8216 §4.3.4.2 (EXT-X-STREAM-INF) and Apple's HLS authoring spec.
 */

/** One variant stream of the master playlist. */
export interface MasterVariant {
  /** Peak segment bitrate, bits/s (RFC 8216: BANDWIDTH is the peak segment bit rate). */
  bandwidth: number;
  /** Average segment bitrate, bits/s. */
  averageBandwidth?: number;
  width: number;
  height: number;
  /** RFC 6381 codecs, e.g. `avc1.64001f,mp4a.40.2`. */
  codecs: string;
  /** Frames/s. */
  frameRate?: number;
  /** Media playlist URI relative to the master, e.g. `360p/index.m3u8`. */
  uri: string;
}

/** `mp4a.40.2`: MPEG-4 audio, object type 2 (AAC-LC) (RFC 6381 §3.3). */
const AAC_LC_CODEC = 'mp4a.40.2';

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * `avc1.PPCCLL` from the SPS header bytes (RFC 6381 §3.3): profile_idc, constraint flags
 * (constraint_set0..5 + reserved, one byte), level_idc; each as two lowercase hex digits.
 * @throws RangeError when a byte is out of 0..255.
 */
export function avc1Codec(profileIdc: number, constraintFlags: number, levelIdc: number): string {
  for (const b of [profileIdc, constraintFlags, levelIdc]) {
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new RangeError(`not a byte: ${b}`);
  }
  return `avc1.${hex2(profileIdc)}${hex2(constraintFlags)}${hex2(levelIdc)}`;
}

/**
 * Reads the avc1 codec string of the first H.264 track of an ISO-BMFF file (e.g. an fMP4
 * `init.mp4`) from its `avcC` box (ISO/IEC 14496-15 §5.3.3.1: configurationVersion,
 * AVCProfileIndication, profile_compatibility, AVCLevelIndication). The bytes are what the
 * encoder actually wrote, so CODECS matches the stream. Returns null when there is no avcC.
 */
export function avc1CodecFromMp4(data: Buffer): string | null {
  // A plain byte search is enough: 'avcC' is a box type inside stsd/avc1, and its payload
  // starts right after the 4-byte type.
  const at = data.indexOf('avcC', 0, 'latin1');
  if (at < 4 || at + 8 > data.length) return null;
  const payload = at + 4;
  if (data[payload] !== 1) return null; // configurationVersion must be 1
  return avc1Codec(data[payload + 1]!, data[payload + 2]!, data[payload + 3]!);
}

/** Joins the video and (optional) audio codec strings for CODECS. */
export function codecsString(videoCodec: string, hasAudio: boolean): string {
  return hasAudio ? `${videoCodec},${AAC_LC_CODEC}` : videoCodec;
}

/**
 * Reads a master playlist as `writeMasterPlaylist` writes it: its variants in order, with their
 * attributes (RFC 8216 §4.3.4.2). Variants without a readable BANDWIDTH or RESOLUTION are skipped.
 */
export function parseMasterPlaylist(text: string): MasterVariant[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const variants: MasterVariant[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) return;
    const attrs = new Map<string, string>();
    for (const m of line.slice('#EXT-X-STREAM-INF:'.length).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
    const uri = lines.slice(i + 1).find((l) => l && !l.startsWith('#'));
    const [width, height] = (attrs.get('RESOLUTION') ?? '').split('x').map(Number);
    const bandwidth = Number(attrs.get('BANDWIDTH'));
    if (!uri || !(bandwidth > 0) || !(width! > 0) || !(height! > 0)) return;
    const average = Number(attrs.get('AVERAGE-BANDWIDTH'));
    const frameRate = Number(attrs.get('FRAME-RATE'));
    variants.push({
      bandwidth, width: width!, height: height!, codecs: attrs.get('CODECS') ?? '', uri,
      ...(average > 0 ? { averageBandwidth: average } : {}),
      ...(frameRate > 0 ? { frameRate } : {}),
    });
  });
  return variants;
}

/**
 * A subtitles rendition of the master playlist (RFC 8216 §4.3.4.1 EXT-X-MEDIA, TYPE=SUBTITLES).
 * `name` and `language` must not hold `"`, CR or LF (quoted-string, RFC 8216 §4.2).
 */
export interface SubtitleRendition {
  /** Canonical BCP 47 tag (LANGUAGE). */
  language: string;
  /** Human-readable name shown in players' menus (NAME), unique in the group. */
  name: string;
  /** Subtitle media playlist URI relative to the master, e.g. `captions/en.m3u8`. */
  uri: string;
}

/** GROUP-ID of the subtitles renditions; every EXT-X-STREAM-INF names it in SUBTITLES (RFC 8216 §4.3.4.2). */
export const SUBTITLES_GROUP_ID = 'subs';

/**
 * Writes the master playlist: `#EXTM3U`, `#EXT-X-VERSION:7`, `#EXT-X-INDEPENDENT-SEGMENTS`, then
 * one EXT-X-MEDIA per subtitles rendition (language order; DEFAULT=NO, AUTOSELECT=YES: players pick
 * one by the viewer's language but show none unasked), then one EXT-X-STREAM-INF + URI per variant,
 * lowest first (by height, then bandwidth), which is the order many players pick their start
 * variant from; with subtitles, each variant carries `SUBTITLES="subs"` (RFC 8216 §4.3.4.2).
 * @throws RangeError when there is no variant.
 */
export function writeMasterPlaylist(variants: MasterVariant[], subtitles: readonly SubtitleRendition[] = []): string {
  if (variants.length === 0) throw new RangeError('a master playlist needs at least one variant');
  const sorted = [...variants].sort((a, b) => a.height - b.height || a.bandwidth - b.bandwidth);
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const s of [...subtitles].sort((a, b) => (a.language < b.language ? -1 : a.language > b.language ? 1 : 0))) {
    lines.push(`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="${SUBTITLES_GROUP_ID}",NAME="${s.name}",LANGUAGE="${s.language}",DEFAULT=NO,AUTOSELECT=YES,URI="${s.uri}"`);
  }
  for (const v of sorted) {
    const attrs = [`BANDWIDTH=${Math.round(v.bandwidth)}`];
    if (v.averageBandwidth !== undefined) attrs.push(`AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth)}`);
    attrs.push(`RESOLUTION=${v.width}x${v.height}`, `CODECS="${v.codecs}"`);
    // RFC 8216: FRAME-RATE is a decimal-floating-point rounded to 3 decimal places.
    if (v.frameRate !== undefined && v.frameRate > 0) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    if (subtitles.length > 0) attrs.push(`SUBTITLES="${SUBTITLES_GROUP_ID}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri);
  }
  return `${lines.join('\n')}\n`;
}

/** One media segment of a media playlist. */
interface MediaSegment {
  /** Seconds (EXTINF). */
  duration: number;
  /** URI relative to the media playlist. */
  uri: string;
}

/** Parses the EXTINF durations and URIs of a media playlist (what we need to measure bitrates). */
export function parseMediaPlaylist(text: string): { segments: MediaSegment[]; initUri: string | null } {
  const segments: MediaSegment[] = [];
  let initUri: string | null = null;
  let pending: number | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXTINF:')) {
      pending = Number.parseFloat(line.slice('#EXTINF:'.length));
    } else if (line.startsWith('#EXT-X-MAP:')) {
      initUri = /URI="([^"]+)"/.exec(line)?.[1] ?? null;
    } else if (!line.startsWith('#') && pending !== null) {
      segments.push({ duration: pending, uri: line });
      pending = null;
    }
  }
  return { segments, initUri };
}

/**
 * Peak and average bitrate of a rendition from its segments, bits/s. Peak = max over segments of
 * size×8/duration (RFC 8216 §4.3.4.2 BANDWIDTH); average = total bits / total duration.
 * The init segment's bytes are added to the first segment (a player must load both).
 */
export function measureBandwidth(segments: { duration: number; bytes: number }[], initBytes = 0): { peak: number; average: number } {
  let peak = 0;
  let bits = 0;
  let seconds = 0;
  segments.forEach((s, i) => {
    if (!(s.duration > 0)) return;
    const segBits = (s.bytes + (i === 0 ? initBytes : 0)) * 8;
    peak = Math.max(peak, segBits / s.duration);
    bits += segBits;
    seconds += s.duration;
  });
  return { peak: Math.ceil(peak), average: seconds > 0 ? Math.ceil(bits / seconds) : 0 };
}

/**
 * H.264 level limits (ITU-T H.264 Table A-1): level_idc, max frame size (macroblocks),
 * max macroblock rate (macroblocks/s).
 */
const H264_LEVELS: [number, number, number][] = [
  [10, 99, 1_485], [11, 396, 3_000], [12, 396, 6_000], [13, 396, 11_880], [20, 396, 11_880],
  [21, 792, 19_800], [22, 1_620, 20_250], [30, 1_620, 40_500], [31, 3_600, 108_000],
  [32, 5_120, 216_000], [40, 8_192, 245_760], [41, 8_192, 245_760], [42, 8_704, 522_240],
  [50, 22_080, 589_824], [51, 36_864, 983_040], [52, 36_864, 2_073_600],
];

/**
 * Smallest H.264 level_idc whose frame-size and macroblock-rate limits fit `width`×`height` at
 * `fps` (what x264 picks when no `-level` is given, ignoring bitrate limits). Used for the
 * PLANNED codecs string; the encoded one is read back from the init segment.
 */
export function h264LevelFor(width: number, height: number, fps: number): number {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const rate = mbs * Math.max(1, fps);
  return (H264_LEVELS.find(([, maxFs, maxMbps]) => mbs <= maxFs && rate <= maxMbps) ?? H264_LEVELS[H264_LEVELS.length - 1]!)[0];
}

/** profile_idc of H.264 High profile (ITU-T H.264 Annex A.2.4). */
export const H264_HIGH_PROFILE_IDC = 100;
