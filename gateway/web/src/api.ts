/**
 * The web app's client of the public API (nothing else: the app uses what any client can). The
 * access token lives in localStorage; `videoEvents` reads a video's Server-Sent Events through
 * fetch (so an owner's token can be sent) with eventsource-parser, and reconnects with
 * Last-Event-ID like EventSource does.
 */
import { EventSourceParserStream } from 'eventsource-parser/stream';

/** What a page returns: called when the user leaves it. */
export type Cleanup = () => void;

const TOKEN = 'streamwave.token';
const USER = 'streamwave.user';

/** The signed-in user, or null. */
export function session(): { token: string; id: string; username: string } | null {
  const token = localStorage.getItem(TOKEN);
  const user = localStorage.getItem(USER);
  if (!token || !user) return null;
  return { token, ...(JSON.parse(user) as { id: string; username: string }) };
}

export function signOut(): void {
  localStorage.removeItem(TOKEN);
  localStorage.removeItem(USER);
}

/** An API error answer: HTTP status and the server's stable code. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Calls the API with the session's token and parses JSON. `body`: sent as JSON, except a Blob (a
 * File from an `<input type="file">`), sent as-is with its own type (a custom thumbnail).
 * @throws ApiError on a non-2xx answer.
 */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const s = session();
  if (s) headers.authorization = `Bearer ${s.token}`;
  const raw = body instanceof Blob ? body : null;
  if (body !== undefined) headers['content-type'] = raw ? raw.type || 'application/octet-stream' : 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : raw ?? JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new ApiError(res.status, json?.code ?? 'HTTP_ERROR', json?.message ?? res.statusText);
  return json as T;
}

/** Registers (when `email` is given) and signs in; keeps the token. */
export async function signIn(username: string, password: string, email?: string): Promise<void> {
  if (email !== undefined) await api('POST', '/api/v1/users', { username, email, password });
  const t = await api<{ access_token: string }>('POST', '/api/v1/auth/token', { username, password });
  localStorage.setItem(TOKEN, t.access_token);
  const payload = JSON.parse(atob(t.access_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { sub: string };
  localStorage.setItem(USER, JSON.stringify({ id: payload.sub, username }));
}

/** One event of a video's stream. */
export interface VideoEvent { event: string; data: any; id?: string }

/**
 * Follows `GET /api/v1/videos/{id}/events` until `signal` aborts, calling `onEvent` for each
 * event; reconnects after a break (1 s later, resuming after the last id). A `gone` ends it.
 */
export async function videoEvents(videoId: string, onEvent: (e: VideoEvent) => void, signal: AbortSignal): Promise<void> {
  let lastEventId: string | undefined;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      const s = session();
      if (s) headers.authorization = `Bearer ${s.token}`;
      if (lastEventId) headers['last-event-id'] = lastEventId;
      const res = await fetch(`/api/v1/videos/${encodeURIComponent(videoId)}/events`, { headers, signal });
      if (res.status === 404) return; // not (or no longer) visible: nothing will come
      if (res.status === 429) await new Promise((r) => setTimeout(r, 10_000)); // too many streams open: wait longer
      if (res.ok && res.body) {
        const stream = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
        const reader = stream.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (value.id) lastEventId = value.id;
          const e = { event: value.event ?? 'message', id: value.id, data: JSON.parse(value.data) };
          onEvent(e);
          if (e.event === 'gone') return;
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Formats seconds as m:ss. */
export const clock = (s: number | null | undefined): string => (s == null ? '' : `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`);

/** Escapes text for HTML. */
export const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A video card (thumbnail, title, views) linking to its watch page. */
export const card = (v: { id: string; title: string; thumbnail_url: string | null; views: number; duration_seconds: number | null }): string => `
  <a class="card" href="#/watch/${encodeURIComponent(v.id)}" data-video-id="${esc(v.id)}">
    <div class="thumb">${v.thumbnail_url ? `<img src="${esc(v.thumbnail_url)}" alt="" loading="lazy" />` : ''}<span class="dur">${clock(v.duration_seconds)}</span></div>
    <div class="title">${esc(v.title)}</div>
    <div class="meta">${v.views} views</div>
  </a>`;
