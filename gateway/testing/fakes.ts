/**
 * In-memory fakes of every port the gateway uses, for `fastify.inject` tests.
 *
 * The fake CommandBus runs the REAL deciders from `domain/` (so the gateway is tested against the
 * real invariants and DomainError codes), keeps the events per aggregate in memory, and applies
 * them synchronously to fake read models, so read-your-writes holds without waiting.
 * Only the cross-aggregate username uniqueness is enforced here directly, as the real command bus
 * does (with `usernameKey` from the user decider).
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Command, CommandBus, CommandResult } from '../../commands/command-bus.port.ts';
import { type DomainEvent } from '../../domain/events.ts';
import { TOPIC_OF, TOPICS } from '../../schemas/topics.ts';
import type { CommentEvent } from '../../domain/comment/comment.events.ts';
import type { UserEvent } from '../../domain/user/user.events.ts';
import type { VideoEvent } from '../../domain/video/video.events.ts';
import type { ViewEvent } from '../../domain/view/view.events.ts';
import { commentDecider } from '../../domain/comment/comment.decider.ts';
import { fold } from '../../domain/shared/decider.ts';
import { assertNever, DomainError } from '../../domain/shared/event.ts';
import { userDecider, usernameKey } from '../../domain/user/user.decider.ts';
import { videoDecider } from '../../domain/video/video.decider.ts';
import { viewDecider } from '../../domain/view/view.decider.ts';
import type { RecordMetadata } from '../../platform/log/event-log.port.ts';
import { ObjectStoreError, type ObjectStore, type UploadedPart } from '../../platform/object-store/object-store.port.ts';
import {
  InvalidCursorError,
  type AnalyticsQueries,
  type CommentView,
  type SearchHit,
  type SearchQueries,
  type UserAccount,
  type VideoAnalytics,
  type VideoDetail,
  type VideoQueries,
  type WatchHistoryEntry,
} from '../../projections/read-model.port.ts';

const isVideoEvent = (e: DomainEvent): e is VideoEvent => TOPIC_OF[e.type] === TOPICS.videos;
const isCommentEvent = (e: DomainEvent): e is CommentEvent => TOPIC_OF[e.type] === TOPICS.comments;
const isViewEvent = (e: DomainEvent): e is ViewEvent => TOPIC_OF[e.type] === TOPICS.views;
const isUserEvent = (e: DomainEvent): e is UserEvent => TOPIC_OF[e.type] === TOPICS.users;

/** Offset cursor used by the fake read models: base64url of `{"o":<offset>}`. */
function encodeOffsetCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

/** @throws InvalidCursorError when the cursor is not one of ours. */
function decodeOffsetCursor(cursor: string): number {
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof v.o !== 'number' || !Number.isSafeInteger(v.o) || v.o < 0) throw new Error('bad offset');
    return v.o;
  } catch {
    throw new InvalidCursorError('cursor is invalid');
  }
}

/** Fake read models: a synchronous projection of every event into the query ports' shapes. */
export class FakeReadModels implements VideoQueries, AnalyticsQueries, SearchQueries {
  readonly users = new Map<string, UserAccount>();
  readonly videos = new Map<string, VideoDetail>();
  readonly comments = new Map<string, CommentView[]>();
  readonly views = new Map<string, ViewEvent['data'][]>();
  readonly history = new Map<string, Map<string, WatchHistoryEntry>>();

  apply(event: DomainEvent): void {
    switch (event.type) {
      case 'UserRegistered': {
        const d = event.data;
        this.users.set(d.userId, { userId: d.userId, username: d.username, email: d.email, passwordHash: d.passwordHash });
        return;
      }
      case 'UploadStarted': {
        const d = event.data;
        this.videos.set(d.videoId, {
          videoId: d.videoId, ownerId: d.ownerId, title: d.title, description: d.description, tags: d.tags,
          status: 'pending_upload', progress: 0, renditions: [], plannedRenditions: 0, omittedRenditions: [], error: null, errorCode: null,
          uploadId: d.uploadId, filename: d.filename, sizeBytes: d.sizeBytes, durationSeconds: null,
          masterPlaylistKey: null, thumbnailKey: null, views: 0, commentCount: 0, createdAt: d.startedAt,
          publishedAt: null, updatedAt: d.startedAt,
        });
        return;
      }
      case 'UploadCompleted':
        return this.patch(event.data.videoId, { status: 'uploaded', sizeBytes: event.data.sizeBytes });
      case 'VideoProcessingStarted':
        return this.patch(event.data.videoId, {
          status: 'processing', plannedRenditions: event.data.ladder.length, durationSeconds: event.data.durationSeconds,
        });
      case 'VideoProcessingProgressed':
        return this.patch(event.data.videoId, { progress: event.data.progress });
      case 'RenditionEncoded': {
        const v = this.videos.get(event.data.videoId);
        if (v) this.patch(v.videoId, { renditions: [...v.renditions, event.data.rendition] });
        return;
      }
      case 'VideoPublished':
        return this.patch(event.data.videoId, {
          status: 'ready', masterPlaylistKey: event.data.masterPlaylistKey, thumbnailKey: event.data.thumbnailKey,
          durationSeconds: event.data.durationSeconds, publishedAt: event.data.publishedAt,
        });
      case 'VideoProcessingFailed':
        return this.patch(event.data.videoId, { status: 'failed', error: event.data.reason, errorCode: event.data.code });
      case 'VideoProcessingCompleted':
        return this.patch(event.data.videoId, { progress: 100, omittedRenditions: event.data.omitted });
      case 'VideoMetadataUpdated': {
        const d = event.data;
        const v = this.videos.get(d.videoId);
        if (v) {
          this.patch(d.videoId, { title: d.title ?? v.title, description: d.description ?? v.description, tags: d.tags ?? v.tags });
        }
        return;
      }
      case 'VideoDeleted':
        return this.patch(event.data.videoId, { status: 'deleted' });
      case 'CommentPosted': {
        const d = event.data;
        const list = this.comments.get(d.videoId) ?? [];
        list.push({ commentId: d.commentId, videoId: d.videoId, authorId: d.authorId, parentId: d.parentId ?? null, body: d.body, postedAt: d.postedAt });
        this.comments.set(d.videoId, list);
        const v = this.videos.get(d.videoId);
        if (v) this.patch(d.videoId, { commentCount: v.commentCount + 1 });
        return;
      }
      case 'VideoViewed': {
        const d = event.data;
        const list = this.views.get(d.videoId) ?? [];
        const newSession = !list.some((x) => x.sessionId === d.sessionId);
        list.push(d);
        this.views.set(d.videoId, list);
        const v = this.videos.get(d.videoId);
        if (v && newSession) this.patch(d.videoId, { views: v.views + 1 });
        if (d.viewerId) {
          const h = this.history.get(d.viewerId) ?? new Map<string, WatchHistoryEntry>();
          h.set(d.videoId, { videoId: d.videoId, watchedAt: d.viewedAt, positionSeconds: d.positionSeconds });
          this.history.set(d.viewerId, h);
        }
        return;
      }
      default:
        return assertNever(event);
    }
  }

  private patch(videoId: string, fields: Partial<VideoDetail>): void {
    const v = this.videos.get(videoId);
    if (v) this.videos.set(videoId, { ...v, ...fields });
  }

  async getVideo(videoId: string): Promise<VideoDetail | undefined> {
    return this.videos.get(videoId);
  }

  async getVideoByUploadId(uploadId: string): Promise<VideoDetail | undefined> {
    return [...this.videos.values()].find((v) => v.uploadId === uploadId);
  }

  async listUserVideos(ownerId: string): Promise<VideoDetail[]> {
    return [...this.videos.values()].filter((v) => v.ownerId === ownerId && v.status !== 'deleted');
  }

  async listComments(videoId: string, limit: number, cursor?: string): Promise<{ comments: CommentView[]; nextCursor: string | null }> {
    const start = cursor === undefined ? 0 : decodeOffsetCursor(cursor);
    const newestFirst = [...(this.comments.get(videoId) ?? [])].reverse();
    const page = newestFirst.slice(start, start + limit);
    return { comments: page, nextCursor: start + limit < newestFirst.length ? encodeOffsetCursor(start + limit) : null };
  }

  async getWatchHistory(userId: string): Promise<WatchHistoryEntry[]> {
    return [...(this.history.get(userId)?.values() ?? [])].sort((a, b) => b.watchedAt - a.watchedAt);
  }

  async findUserByUsername(username: string): Promise<UserAccount | undefined> {
    const key = usernameKey(username);
    return [...this.users.values()].find((u) => usernameKey(u.username) === key);
  }

  /** Fake analytics: a view = a session; watch time = max cumulative seconds per session. */
  async videoAnalytics(videoId: string): Promise<VideoAnalytics> {
    const list = this.views.get(videoId) ?? [];
    const sessions = new Map<string, { viewer: string; watched: number; first: number }>();
    for (const v of list) {
      const s = sessions.get(v.sessionId);
      if (s) s.watched = Math.max(s.watched, v.watchedSeconds);
      else sessions.set(v.sessionId, { viewer: v.viewerId ?? `anon:${v.sessionId}`, watched: v.watchedSeconds, first: v.viewedAt });
    }
    const perMinute = new Map<string, number>();
    for (const s of sessions.values()) {
      const minute = new Date(Math.floor(s.first / 60_000) * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    }
    return {
      views: sessions.size,
      unique_viewers: new Set([...sessions.values()].map((s) => s.viewer)).size,
      watch_time_seconds: [...sessions.values()].reduce((sum, s) => sum + s.watched, 0),
      views_per_minute: [...perMinute.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([minute, views]) => ({ minute, views })),
    };
  }

  /** Fake search: case-insensitive substring over title, description and tags of ready videos. */
  async search(q: string, pageSize: number, cursor?: string): Promise<{ videos: SearchHit[]; nextCursor: string | null }> {
    const start = cursor === undefined ? 0 : decodeOffsetCursor(cursor);
    const needle = q.toLowerCase();
    const hits = [...this.videos.values()]
      .filter((v) => v.status === 'ready')
      .filter((v) => [v.title, v.description, ...v.tags].some((s) => s.toLowerCase().includes(needle)))
      .map((v) => ({
        videoId: v.videoId, title: v.title, description: v.description, tags: v.tags, ownerId: v.ownerId,
        thumbnailKey: v.thumbnailKey, durationSeconds: v.durationSeconds, publishedAt: v.publishedAt,
      }));
    const page = hits.slice(start, start + pageSize);
    return { videos: page, nextCursor: start + pageSize < hits.length ? encodeOffsetCursor(start + pageSize) : null };
  }
}

/** A CommandBus that decides with the real deciders and projects into FakeReadModels synchronously. */
export class FakeCommandBus implements CommandBus {
  /** Every event appended, in order, with its position. */
  readonly log: { event: DomainEvent; position: RecordMetadata }[] = [];
  /** Every command received (including rejected ones). */
  readonly sent: Command[] = [];
  private readonly byKey = new Map<string, DomainEvent[]>();
  private readonly offsets = new Map<string, number>();

  constructor(private readonly readModels: FakeReadModels) {}

  async send(command: Command): Promise<CommandResult> {
    this.sent.push(command);
    const { key, events } = this.decide(command);
    const positions = events.map((event) => {
      const topic = TOPIC_OF[event.type];
      const offset = this.offsets.get(topic) ?? 0;
      this.offsets.set(topic, offset + 1);
      const position = { topic, partition: 0, offset };
      this.log.push({ event, position });
      const list = this.byKey.get(key) ?? [];
      list.push(event);
      this.byKey.set(key, list);
      this.readModels.apply(event);
      return position;
    });
    return { events, positions };
  }

  private history(key: string): DomainEvent[] {
    return this.byKey.get(key) ?? [];
  }

  private decide(command: Command): { key: string; events: DomainEvent[] } {
    switch (command.type) {
      case 'RegisterUser': {
        const taken = this.log.some(
          ({ event }) => isUserEvent(event) && usernameKey(event.data.username) === usernameKey(command.data.username),
        );
        if (taken) throw new DomainError('USERNAME_TAKEN', `username ${command.data.username} is already taken`, 'conflict');
        const key = `user:${command.data.userId}`;
        return { key, events: userDecider.decide(command, fold(userDecider, this.history(key).filter(isUserEvent))) };
      }
      case 'StartUpload':
      case 'CompleteUpload':
      case 'StartProcessing':
      case 'ReportProcessingProgress':
      case 'RecordRenditionEncoded':
      case 'PublishVideo':
      case 'FailProcessing':
      case 'CompleteProcessing':
      case 'UpdateVideoMetadata':
      case 'DeleteVideo': {
        const key = `video:${command.data.videoId}`;
        return { key, events: videoDecider.decide(command, fold(videoDecider, this.history(key).filter(isVideoEvent))) };
      }
      case 'PostComment': {
        const key = `video:${command.data.videoId}`;
        const relevant = this.history(key).filter((e): e is VideoEvent | CommentEvent => isVideoEvent(e) || isCommentEvent(e));
        return { key, events: commentDecider.decide(command, fold(commentDecider, relevant)) };
      }
      case 'RecordView': {
        const key = `video:${command.data.videoId}`;
        const relevant = this.history(key).filter((e): e is VideoEvent | ViewEvent => isVideoEvent(e) || isViewEvent(e));
        return { key, events: viewDecider.decide(command, fold(viewDecider, relevant)) };
      }
      default:
        return assertNever(command);
    }
  }
}

interface FakeUpload {
  key: string;
  contentType: string;
  parts: Map<number, { body: Buffer; etag: string }>;
}

/**
 * In-memory ObjectStore with S3 multipart semantics: ETag = quoted MD5 of a part, CompleteMultipartUpload
 * checks every listed part exists with that ETag (InvalidPart), ascending order (InvalidPartOrder) and
 * that all parts but the last are ≥ `minPartSizeBytes` (EntityTooSmall).
 */
export class FakeObjectStore implements ObjectStore {
  readonly objects = new Map<string, { body: Buffer; contentType: string }>();
  readonly uploads = new Map<string, FakeUpload>();
  readonly aborted: string[] = [];
  private counter = 0;

  constructor(private readonly minPartSizeBytes = 5 * 1024 * 1024) {}

  async createMultipartUpload(key: string, contentType: string): Promise<string> {
    const uploadId = `mpu-${++this.counter}-${createHash('sha1').update(key).digest('hex').slice(0, 8)}`;
    this.uploads.set(uploadId, { key, contentType, parts: new Map() });
    return uploadId;
  }

  async presignUploadPart(key: string, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string> {
    const q = new URLSearchParams({ uploadId, partNumber: String(partNumber), 'X-Amz-Expires': String(expiresInSeconds) });
    return `http://objects.test/${key}?${q.toString()}`;
  }

  /** Test helper standing in for the client's PUT to a presigned URL (S3 UploadPart). Returns the ETag. */
  uploadPart(uploadId: string, partNumber: number, body: Buffer): string {
    const upload = this.requireUpload(uploadId);
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    upload.parts.set(partNumber, { body, etag });
    return etag;
  }

  private requireUpload(uploadId: string, key?: string): FakeUpload {
    const upload = this.uploads.get(uploadId);
    if (!upload || (key !== undefined && upload.key !== key)) throw new ObjectStoreError('NoSuchUpload', `upload ${uploadId} does not exist`);
    return upload;
  }

  async listParts(key: string, uploadId: string): Promise<UploadedPart[]> {
    const upload = this.requireUpload(uploadId, key);
    return [...upload.parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([partNumber, p]) => ({ partNumber, etag: p.etag, size: p.body.length }));
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<number> {
    const upload = this.requireUpload(uploadId, key);
    const bodies: Buffer[] = [];
    parts.forEach((p, i) => {
      if (i > 0 && p.partNumber <= parts[i - 1]!.partNumber) throw new ObjectStoreError('InvalidPartOrder', 'parts must be in ascending order');
      const stored = upload.parts.get(p.partNumber);
      if (!stored || stored.etag !== p.etag) throw new ObjectStoreError('InvalidPart', `part ${p.partNumber} not found or ETag mismatch`);
      if (i < parts.length - 1 && stored.body.length < this.minPartSizeBytes) {
        throw new ObjectStoreError('EntityTooSmall', `part ${p.partNumber} is smaller than the minimum part size`);
      }
      bodies.push(stored.body);
    });
    const body = Buffer.concat(bodies);
    this.objects.set(key, { body, contentType: upload.contentType });
    this.uploads.delete(uploadId);
    return body.length;
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    this.requireUpload(uploadId, key);
    this.uploads.delete(uploadId);
    this.aborted.push(uploadId);
  }

  async putObject(key: string, body: Buffer | Readable, contentType: string): Promise<void> {
    const chunks: Buffer[] = [];
    if (Buffer.isBuffer(body)) chunks.push(body);
    else for await (const c of body) chunks.push(Buffer.from(c as Buffer));
    this.objects.set(key, { body: Buffer.concat(chunks), contentType });
  }

  async putFile(key: string, path: string, contentType: string): Promise<void> {
    this.objects.set(key, { body: await readFile(path), contentType });
  }

  async downloadToFile(key: string, path: string): Promise<void> {
    const obj = this.objects.get(key);
    if (!obj) throw new ObjectStoreError('NoSuchKey', `no object ${key}`);
    await writeFile(path, obj.body);
  }

  async getObject(key: string): Promise<{ body: Readable; size: number; contentType: string } | undefined> {
    const obj = this.objects.get(key);
    return obj && { body: Readable.from([obj.body]), size: obj.body.length, contentType: obj.contentType };
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  publicUrl(key: string): string {
    return `http://cdn.test/${key}`;
  }
}

/** All fakes wired together. */
export interface FakeWorld {
  readModels: FakeReadModels;
  commandBus: FakeCommandBus;
  objectStore: FakeObjectStore;
  /**
   * Drives an uploaded video to `ready` through the real video decider, as the transcoder would
   * (StartProcessing → RecordRenditionEncoded → PublishVideo). Duration in seconds.
   */
  publish(videoId: string, durationSeconds?: number): Promise<void>;
}

export function createFakeWorld(opts: { minPartSizeBytes?: number; now?: () => number } = {}): FakeWorld {
  const readModels = new FakeReadModels();
  const commandBus = new FakeCommandBus(readModels);
  const objectStore = new FakeObjectStore(opts.minPartSizeBytes);
  const now = opts.now ?? Date.now;
  const rendition = { name: '360p', width: 640, height: 360, bandwidth: 1_000_000, codecs: 'avc1.64001e,mp4a.40.2', playlist: '360p/index.m3u8' };
  return {
    readModels,
    commandBus,
    objectStore,
    async publish(videoId, durationSeconds = 10) {
      const metadata = { now: now() };
      await commandBus.send({ type: 'StartProcessing', data: { videoId, ladder: [rendition], durationSeconds }, metadata });
      await commandBus.send({ type: 'RecordRenditionEncoded', data: { videoId, rendition }, metadata });
      await commandBus.send({
        type: 'PublishVideo',
        data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `hls/${videoId}/thumb.jpg`, durationSeconds },
        metadata,
      });
    },
  };
}
