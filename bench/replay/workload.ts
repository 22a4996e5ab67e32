/**
 * The workload of bench:replay: a synthetic but realistic history of a StreamWave instance —
 * users registering, videos going through upload → processing (progressive publishing, ADR 0007)
 * → renditions → completion (a few abandoned, failed, edited or deleted), comments and replies,
 * and player heartbeats (`VideoViewed`, signed playback sessions of view rule v2, a few legacy v1
 * sessions, 60 % by signed-in viewers) on videos picked by a Zipf-like popularity. Views dominate
 * the log (≈ 80 % of the events), as they do on a video platform.
 *
 * Events are laid on a 30-day timeline (deterministic PRNG, fixed epoch), sorted by event time and
 * written through the real Avro codec onto the log, keyed and partitioned as the command bus and
 * the view recorder write them (key = aggregate id; a `streamwave-command-id` header on
 * everything but heartbeats; record timestamp = event time).
 */
import type { DomainEvent, DomainEventType, RenditionInfo } from '../../domain/events.ts';
import type { VideoVisibility } from '../../domain/video/video-visibility.ts';
import { keyOf } from '../../domain/events.ts';
import { COMMAND_ID_HEADER } from '../../commands/command-ids.ts';
import type { EventLog, ProduceRecord } from '../../platform/log/event-log.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPIC_OF } from '../../schemas/topics.ts';
import { prng } from '../../test/support/prng.ts';

/** An event with its time (ms since the epoch) and, for a command's event, the command id. */
export interface TimedEvent {
  at: number;
  event: DomainEvent;
  commandId?: string;
}

export interface Workload {
  /** In event-time order. */
  events: TimedEvent[];
  /** Events per type. */
  counts: Partial<Record<DomainEventType, number>>;
  users: number;
  videos: number;
  /** Playback sessions (each a run of heartbeats). */
  sessions: number;
}

/** First instant of the timeline, ms since the epoch (2026-10-01T00:00:00Z). */
const T0 = Date.UTC(2026, 9, 1);
const DAY = 86_400_000;
/** Length of the timeline, ms. */
const SPAN = 30 * DAY;
/** Seconds between two heartbeats of a player. */
const HEARTBEAT_EVERY_S = 10;
/** Sessions before this instant carry no `sessionStartedAt` (recorded under view rule v1). */
const V2_SINCE = T0 + 4 * DAY;

const WORDS = (
  'cat dog travel vlog tutorial typescript kafka cooking pasta guitar lesson review unboxing drone footage mountain ' +
  'river city night timelapse music live concert football highlights chess opening speedrun minecraft build garden ' +
  'spring autumn winter summer coffee espresso bike repair camera lens test interview podcast episode news weekly ' +
  'how to make best worst first last ultimate guide beginner advanced quick easy simple explained deep dive'
).split(' ');

const LADDER_HEIGHTS = [144, 240, 360, 480, 720, 1080];
const SOURCE_HEIGHTS: [number, number][] = [[360, 0.05], [480, 0.1], [720, 0.35], [1080, 0.4], [1440, 0.05], [2160, 0.05]];


const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Generates about `opts.events` events (± a heartbeat session) with the proportions of the file
 * comment. Deterministic for a given `seed`.
 */
export function generateWorkload(opts: { events: number; seed?: number; onProgress?: (generated: number) => void }): Workload {
  const rnd = prng(opts.seed ?? 12);
  const target = Math.max(100, Math.floor(opts.events));
  const out: TimedEvent[] = [];
  const counts: Partial<Record<DomainEventType, number>> = {};
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const chars = (alphabet: string, n: number) => { let s = ''; for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)]; return s; };
  /** A ULID whose time part is `at` (ms). */
  const ulidAt = (at: number) => {
    let t = Math.floor(at);
    let time = '';
    for (let i = 0; i < 10; i++) { time = CROCKFORD[t % 32] + time; t = Math.floor(t / 32); }
    return time + chars(CROCKFORD, 16);
  };
  const words = (lo: number, hi: number) => Array.from({ length: int(lo, hi) }, () => pick(WORDS)).join(' ');
  /** Log-normal with median `median` and shape `sigma`, clamped to [lo, hi]. */
  const logNormal = (median: number, sigma: number, lo: number, hi: number) => {
    const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    return Math.min(hi, Math.max(lo, median * Math.exp(sigma * z)));
  };
  const emit = (at: number, event: DomainEvent, command = true) => {
    out.push({ at, event, ...(command && { commandId: ulidAt(at) }) });
    counts[event.type] = (counts[event.type] ?? 0) + 1;
    if (opts.onProgress && out.length % 50_000 === 0) opts.onProgress(out.length);
  };

  // ---- users ---------------------------------------------------------------------------------
  const videoCount = Math.max(5, Math.round(target / 110));
  const userCount = Math.max(20, Math.round(videoCount * 0.8));
  const users: string[] = [];
  for (let i = 0; i < userCount; i++) {
    const at = T0 + Math.floor(rnd() * 25 * DAY);
    const userId = ulidAt(at);
    users.push(userId);
    const username = `${pick(WORDS)}_${pick(WORDS)}${i}`;
    emit(at, {
      type: 'UserRegistered',
      data: {
        userId, username, email: `${username}@example.org`, registeredAt: at,
        passwordHash: `$scrypt$ln=15,r=8,p=1$${chars(B64URL, 22)}$${chars(B64URL, 43)}`,
      },
    });
  }
  /** A user, the first ones (the early, active accounts) more often. */
  const someUser = () => users[Math.floor(users.length * rnd() * rnd())];

  // ---- videos --------------------------------------------------------------------------------
  interface Playable { videoId: string; publishedAt: number; until: number; duration: number }
  const playable: Playable[] = [];
  for (let v = 0; v < videoCount; v++) {
    const tu = T0 + Math.floor(rnd() * 26 * DAY);
    const videoId = ulidAt(tu);
    const uploadId = ulidAt(tu);
    const objectKey = `uploads/${videoId}/source`;
    const sizeBytes = Math.round(logNormal(300e6, 1.2, 2e6, 8e9));
    const r = rnd();
    const visibility: VideoVisibility = r < 0.85 ? 'public' : r < 0.95 ? 'unlisted' : 'private';
    const title = words(3, 8);
    const ownerId = someUser();
    emit(tu, {
      type: 'UploadStarted',
      data: {
        videoId, ownerId, uploadId, objectKey, filename: `${title.replaceAll(' ', '-')}.mp4`, sizeBytes, contentType: 'video/mp4',
        title, description: words(0, 60), tags: Array.from({ length: int(0, 5) }, () => pick(WORDS)), partSizeBytes: 8 * 1024 * 1024, startedAt: tu, visibility,
      },
    });
    if (rnd() < 0.03) continue; // abandoned upload
    const tc = tu + int(20, 900) * 1000;
    emit(tc, { type: 'UploadCompleted', data: { videoId, uploadId, objectKey, sizeBytes, completedAt: tc } });
    const ts = tc + int(2, 20) * 1000;
    const duration = Math.round(logNormal(240, 1.1, 3, 3 * 3600) * 1000) / 1000;
    let sourceHeight = 1080;
    for (let x = rnd(), i = 0; i < SOURCE_HEIGHTS.length; i++) { x -= SOURCE_HEIGHTS[i][1]; if (x < 0) { sourceHeight = SOURCE_HEIGHTS[i][0]; break; } }
    const ladder: RenditionInfo[] = LADDER_HEIGHTS.filter((h) => h <= sourceHeight).map((h) => ({
      name: `${h}p`, width: Math.round((h * 16) / 9 / 2) * 2, height: h, bandwidth: Math.round(h * h * 4.5),
      codecs: h >= 720 ? 'avc1.64001f,mp4a.40.2' : 'avc1.4d401e,mp4a.40.2', playlist: `${h}p/index.m3u8`,
    }));
    emit(ts, { type: 'VideoProcessingStarted', data: { videoId, ladder, durationSeconds: duration, startedAt: ts } });
    if (rnd() < 0.03) {
      const tf = ts + int(1, 30) * 1000;
      emit(tf, { type: 'VideoProcessingFailed', data: { videoId, reason: 'the source has no decodable video stream', code: 'UNREADABLE_MEDIA', failedAt: tf } });
      continue;
    }
    // Progressive publishing: playable once the first segments of every rung exist.
    const encodeMs = duration * 1000 * (0.3 + rnd() * 0.9);
    const tp = ts + Math.floor(Math.max(2000, encodeMs * 0.05));
    emit(tp, {
      type: 'VideoPublished',
      data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `hls/${videoId}/thumb.jpg`, durationSeconds: duration, publishedAt: tp, renditions: ladder },
    });
    for (let p = 10; p <= 90; p += 10) {
      const at = ts + Math.floor((encodeMs * p) / 100);
      emit(at, { type: 'VideoProcessingProgressed', data: { videoId, progress: p, at } });
    }
    const omitTop = ladder.length > 2 && rnd() < 0.05;
    const encoded = omitTop ? ladder.slice(0, -1) : ladder;
    encoded.forEach((rendition, i) => {
      const at = ts + Math.floor((encodeMs * (i + 1)) / encoded.length);
      emit(at, { type: 'RenditionEncoded', data: { videoId, rendition, at } });
    });
    const tdone = ts + Math.floor(encodeMs) + 1000;
    emit(tdone, {
      type: 'VideoProcessingCompleted',
      data: {
        videoId, renditions: encoded.map((x) => x.name), completedAt: tdone,
        omitted: omitTop ? [{ name: ladder[ladder.length - 1].name, reason: 'encoder ran out of memory' }] : [],
      },
    });
    let until = T0 + SPAN;
    if (rnd() < 0.1) {
      const at = tp + Math.floor(rnd() * (until - tp));
      emit(at, { type: 'VideoMetadataUpdated', data: { videoId, title: words(3, 8), description: words(0, 60), tags: null, visibility: null, updatedBy: ownerId, updatedAt: at } });
    }
    if (rnd() < 0.02) {
      until = tp + Math.floor(rnd() * (until - tp));
      emit(until, { type: 'VideoDeleted', data: { videoId, deletedBy: ownerId, deletedAt: until } });
    }
    if (until > tp + 60_000) playable.push({ videoId, publishedAt: tp, until, duration });
  }

  // ---- popularity: Zipf-like over the playable videos, in a random order ---------------------
  for (let i = playable.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [playable[i], playable[j]] = [playable[j], playable[i]]; }
  const cumulative: number[] = [];
  let total = 0;
  playable.forEach((_, i) => { total += 1 / (i + 1) ** 0.9; cumulative.push(total); });
  const popular = (): Playable => {
    const x = rnd() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (cumulative[mid] < x) lo = mid + 1; else hi = mid; }
    return playable[lo];
  };
  const during = (p: Playable) => p.publishedAt + Math.floor(rnd() * (p.until - p.publishedAt - 30_000));

  // ---- comments ------------------------------------------------------------------------------
  const byVideo = new Map<string, { commentId: string; postedAt: number }[]>();
  for (let c = 0, n = playable.length ? videoCount * 3 : 0; c < n; c++) {
    const p = popular();
    const earlier = byVideo.get(p.videoId) ?? [];
    const parent = earlier.length && rnd() < 0.2 ? pick(earlier) : undefined;
    const postedAt = parent ? Math.min(p.until - 1, parent.postedAt + Math.floor(rnd() * DAY)) : during(p);
    const commentId = ulidAt(postedAt);
    earlier.push({ commentId, postedAt });
    byVideo.set(p.videoId, earlier);
    emit(postedAt, { type: 'CommentPosted', data: { commentId, videoId: p.videoId, authorId: someUser(), parentId: parent?.commentId ?? null, body: words(3, 40), postedAt } });
  }

  // ---- heartbeats ----------------------------------------------------------------------------
  let sessions = 0;
  while (out.length < target && playable.length) {
    const p = popular();
    const start = during(p);
    const signed = start >= V2_SINCE;
    const sessionId = `ps1.${start}.${start + 6 * 3600_000}.${chars('0123456789abcdef', 16)}.${chars(B64URL, 43)}`;
    const viewerId = rnd() < 0.6 ? someUser() : null;
    // Most sessions are short; a few watch to the end.
    const maxBeats = Math.floor(p.duration / HEARTBEAT_EVERY_S) + 1;
    const beats = Math.max(1, Math.min(maxBeats, Math.round(-Math.log(1 - rnd()) * 8), target - out.length));
    const seek = rnd() < 0.05 ? rnd() * p.duration * 0.5 : 0;
    sessions++;
    for (let k = 0; k < beats; k++) {
      const viewedAt = Math.min(p.until - 1, start + (k + 1) * HEARTBEAT_EVERY_S * 1000 + int(0, 900));
      const watchedSeconds = Math.min(p.duration, (k + 1) * HEARTBEAT_EVERY_S);
      emit(viewedAt, {
        type: 'VideoViewed',
        data: {
          videoId: p.videoId, sessionId, viewerId, watchedSeconds, positionSeconds: Math.min(p.duration, seek + watchedSeconds),
          videoDurationSeconds: p.duration, viewedAt, sessionStartedAt: signed ? start : null,
        },
      }, false);
    }
  }

  out.sort((a, b) => a.at - b.at);
  return { events: out, counts, users: userCount, videos: videoCount, sessions };
}

/**
 * Encodes `events` with the real codec and appends them to their topics (key = aggregate id),
 * `windowSize` events at a time: each window's records are appended per topic in one call (the
 * log group-commits them per partition). `onProgress(written)` after each window.
 * @returns the records written per topic.
 */
export async function writeWorkload(log: EventLog, codec: EventCodec, events: TimedEvent[], opts: { windowSize?: number; onProgress?: (written: number) => void } = {}): Promise<Map<string, number>> {
  const windowSize = opts.windowSize ?? 10_000;
  const perTopic = new Map<string, number>();
  for (let i = 0; i < events.length; i += windowSize) {
    const byTopic = new Map<string, ProduceRecord[]>();
    for (const { at, event, commandId } of events.slice(i, i + windowSize)) {
      const topic = TOPIC_OF[event.type];
      const record: ProduceRecord = { key: keyOf(event), value: await codec.encode(topic, event), timestamp: Math.floor(at), ...(commandId && { headers: { [COMMAND_ID_HEADER]: commandId } }) };
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, list = []);
      list.push(record);
    }
    await Promise.all([...byTopic].map(([topic, records]) => log.append(topic, records)));
    for (const [topic, records] of byTopic) perTopic.set(topic, (perTopic.get(topic) ?? 0) + records.length);
    opts.onProgress?.(Math.min(events.length, i + windowSize));
  }
  return perTopic;
}
