/**
 * StreamWaveClient: the HTTP client the CLI and the end-to-end tests share. It speaks the public
 * API (README "API") and nothing else, so the tests exercise exactly what users run.
 */
import type { VideoStatus } from '../../domain/video/video.decider.ts';
import { EventSourceParserStream } from 'eventsource-parser/stream';

/** An error answer from the API: HTTP status plus the stable `code` of the error catalogue. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ApiError';
  }
}

export interface UploadTicket {
  video_id: string;
  upload_id: string;
  part_size_bytes: number;
  parts: { part_number: number; url: string }[];
}

export interface UploadState {
  upload_id: string;
  video_id: string;
  part_size_bytes: number;
  size_bytes: number;
  parts: { part_number: number; etag: string; size_bytes: number }[];
  missing_parts: { part_number: number; url: string }[];
}

export interface VideoStatusView {
  status: VideoStatus;
  progress: number;
  /**
   * The renditions the master playlist lists, lowest first; `complete` false while its playlist
   * still grows (progressive publishing; servers before issue 11 omit it: complete).
   */
  renditions: { name: string; width: number; height: number; bandwidth: number; complete?: boolean }[];
  /** The failure's fixed public sentence when failed (one per `error_code`). */
  error: string | null;
  /** Stable failure code when failed, e.g. `RESOLUTION_TOO_HIGH` (servers before issue 8 omit it). */
  error_code?: string | null;
}

export interface CreateUploadRequest {
  filename: string;
  size_bytes: number;
  content_type: string;
  title: string;
  description?: string;
  tags?: string[];
  /** public (default) | unlisted | private (issue 8). */
  visibility?: 'public' | 'unlisted' | 'private';
}

/** One Server-Sent Event of `GET /videos/{id}/events`: its name, id (a log position) and parsed data. */
export interface VideoEvent {
  event: string;
  id?: string;
  data: unknown;
}

export class StreamWaveClient {
  private token: string | undefined;

  /** @param baseUrl gateway URL, e.g. `http://127.0.0.1:8080` */
  constructor(readonly baseUrl: string, token?: string) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.token = token;
  }

  get accessToken(): string | undefined {
    return this.token;
  }

  /**
   * Calls the API and parses JSON.
   * @throws ApiError on a non-2xx answer (with the server's stable code).
   */
  async request<T>(method: string, path: string, body?: unknown, opts: { auth?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token && opts.auth !== false) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const j = (json ?? {}) as { code?: string; message?: string };
      throw new ApiError(res.status, j.code ?? 'HTTP_ERROR', j.message ?? text.slice(0, 200));
    }
    return json as T;
  }

  /**
   * Opens `GET /api/v1/videos/{id}/events` (Server-Sent Events) and yields each event as it
   * arrives, `data` parsed from JSON, until the server ends the stream or `signal` aborts (then it
   * returns quietly). Resumes after `lastEventId` when given.
   * @throws ApiError when the stream is refused (404 VIDEO_NOT_FOUND, 429 TOO_MANY_STREAMS, …).
   */
  async *videoEvents(videoId: string, opts: { lastEventId?: string; signal?: AbortSignal } = {}): AsyncGenerator<VideoEvent> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v1/videos/${encodeURIComponent(videoId)}/events`, { headers, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) return;
      throw e;
    }
    if (!res.ok || !res.body) {
      const text = await res.text();
      const j = (safeJson(text) ?? {}) as { code?: string; message?: string };
      throw new ApiError(res.status, j.code ?? 'HTTP_ERROR', j.message ?? text.slice(0, 200));
    }
    const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    try {
      for await (const m of events) yield { event: m.event ?? 'message', id: m.id, data: safeJson(m.data) };
    } catch (e) {
      if (opts.signal?.aborted) return;
      throw e;
    }
  }

  async register(username: string, email: string, password: string): Promise<{ id: string }> {
    return this.request('POST', '/api/v1/users', { username, email, password });
  }

  /** Logs in (OAuth2 password-style token request) and keeps the bearer token for later calls. */
  async login(username: string, password: string): Promise<string> {
    const r = await this.request<{ access_token: string }>('POST', '/api/v1/auth/token', { username, password });
    this.token = r.access_token;
    return r.access_token;
  }

  createUpload(req: CreateUploadRequest): Promise<UploadTicket> {
    return this.request('POST', '/api/v1/uploads', req);
  }

  getUpload(uploadId: string): Promise<UploadState> {
    return this.request('GET', `/api/v1/uploads/${encodeURIComponent(uploadId)}`);
  }

  completeUpload(uploadId: string, parts: { part_number: number; etag: string }[]): Promise<{ video_id: string; status: string }> {
    return this.request('POST', `/api/v1/uploads/${encodeURIComponent(uploadId)}/complete`, { parts });
  }

  /**
   * PUTs one part to its presigned URL (the object store, not the API).
   * @returns the part's ETag as the store returned it (quoted MD5).
   * @throws ApiError with the S3 error code on failure.
   */
  async uploadPart(url: string, body: Buffer): Promise<string> {
    const res = await fetch(url, { method: 'PUT', body: body as unknown as BodyInit, headers: { 'content-type': 'application/octet-stream' } });
    const text = await res.text();
    if (!res.ok) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? 'HTTP_ERROR';
      throw new ApiError(res.status, code, text.slice(0, 300));
    }
    const etag = res.headers.get('etag');
    if (!etag) throw new ApiError(res.status, 'NO_ETAG', 'object store returned no ETag');
    return etag;
  }

  status(videoId: string): Promise<VideoStatusView> {
    return this.request('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/status`);
  }

  video(videoId: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/api/v1/videos/${encodeURIComponent(videoId)}`);
  }

  /**
   * `GET /videos/{id}/stream`: the master playlist URL and a new signed playback session
   * (`session_id`, valid until `session_expires_at`, RFC 3339) that `recordView` must carry (issue 8).
   */
  stream(videoId: string): Promise<{ manifest_url: string; session_id: string; session_expires_at: string }> {
    return this.request('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/stream`);
  }

  /**
   * A player heartbeat (`POST /videos/{id}/views`): `session_id` from `stream(videoId)`, seconds
   * watched in the session (cumulative) and playhead, seconds. 400 INVALID_PLAYBACK_SESSION when the
   * session was not issued for this video or expired.
   */
  recordView(videoId: string, v: { session_id: string; watched_seconds: number; position_seconds: number }): Promise<unknown> {
    return this.request('POST', `/api/v1/videos/${encodeURIComponent(videoId)}/views`, v);
  }

  postComment(videoId: string, body: string, parentId?: string): Promise<{ id: string }> {
    return this.request('POST', `/api/v1/videos/${encodeURIComponent(videoId)}/comments`, parentId ? { body, parent_id: parentId } : { body });
  }

  listComments(videoId: string, cursor?: string): Promise<{ comments: { id: string; body: string; author_id: string; parent_id: string | null }[]; next_cursor: string | null }> {
    const q = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
    return this.request('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/comments${q}`);
  }

  /**
   * `PUT` (like), `DELETE` (take back) or `GET` the caller's like of a video (issue 14); answers
   * `{ liked, like_count }`. Both changes are idempotent.
   * @throws ApiError 404 VIDEO_NOT_FOUND, 409 VIDEO_NOT_PUBLISHED (liking a video that is not ready)
   */
  like(videoId: string, method: 'PUT' | 'DELETE' | 'GET' = 'PUT'): Promise<{ liked: boolean; like_count: number }> {
    return this.request(method, `/api/v1/videos/${encodeURIComponent(videoId)}/like`);
  }

  /**
   * `PUT` (subscribe), `DELETE` (unsubscribe) or `GET` the caller's subscription to the channel of
   * user `channelId` (issue 14); answers `{ subscribed, subscriber_count }`. Both changes are idempotent.
   * @throws ApiError 404 CHANNEL_NOT_FOUND, 400 CANNOT_SUBSCRIBE_TO_SELF
   */
  subscription(channelId: string, method: 'PUT' | 'DELETE' | 'GET' = 'PUT'): Promise<{ subscribed: boolean; subscriber_count: number }> {
    return this.request(method, `/api/v1/users/${encodeURIComponent(channelId)}/subscription`);
  }

  search(q: string, pageSize = 20, cursor?: string): Promise<{ videos: { id: string; title: string }[]; next_cursor: string | null }> {
    const params = new URLSearchParams({ q, page_size: String(pageSize) });
    if (cursor) params.set('cursor', cursor);
    return this.request('GET', `/api/v1/search/videos?${params}`);
  }

  analytics(videoId: string): Promise<{ views: number; unique_viewers: number; watch_time_seconds: number; views_per_minute: { minute: string; views: number }[]; view_rule_version: string }> {
    return this.request('GET', `/api/v1/videos/${encodeURIComponent(videoId)}/analytics`);
  }

  /** Everything the platform holds about the signed-in user (`GET /api/v1/users/me/export`, issue 13). */
  exportMe(): Promise<Record<string, unknown>> {
    return this.request('GET', '/api/v1/users/me/export');
  }

  /** Erases the signed-in user (`DELETE /api/v1/users/me`, issue 13). @throws ApiError 401 INVALID_CREDENTIALS for a wrong password. */
  async eraseMe(password: string): Promise<void> {
    await this.request('DELETE', '/api/v1/users/me', { password });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { code: 'NON_JSON_RESPONSE', message: text.slice(0, 200) };
  }
}
