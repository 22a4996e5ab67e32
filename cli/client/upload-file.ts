import { open, stat, readFile, writeFile, mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { homedir } from 'node:os';
import mime from 'mime-types';
import pRetry, { AbortError } from 'p-retry';
import { ApiError, type StreamWaveClient, type VideoStatusView } from './streamwave-client.ts';

/** Where interrupted uploads are remembered so a rerun resumes them (JSON: fingerprint → ids). */
function defaultResumeFile(): string {
  return process.env.STREAMWAVE_CLIENT_STATE ?? resolve(homedir(), '.config', 'streamwave', 'uploads.json');
}

export interface UploadFileOptions {
  title: string;
  description?: string;
  tags?: string[];
  /** Who may see the video: public (default) | unlisted | private (issue 8). */
  visibility?: 'public' | 'unlisted' | 'private';
  /** Resume-state file (default: defaultResumeFile()). */
  resumeFile?: string;
  /** Parts in flight at once (default 2). */
  concurrency?: number;
  /** Called after each part with bytes sent so far and the total, bytes. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** Stop after this many parts (used by tests to simulate an interrupted upload). */
  stopAfterParts?: number;
}

export interface UploadFileResult {
  videoId: string;
  uploadId: string;
  /** True when an earlier interrupted upload of the same file was resumed. */
  resumed: boolean;
  /** Parts sent in this run. */
  partsSent: number;
  /** False when stopped early by `stopAfterParts`. */
  completed: boolean;
}

type ResumeBook = Record<string, { upload_id: string; video_id: string }>;

async function readBook(file: string): Promise<ResumeBook> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ResumeBook;
  } catch {
    return {};
  }
}

async function writeBook(file: string, book: ResumeBook): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(book, null, 2));
}

/**
 * Uploads a file through the multipart protocol: asks the API for presigned part URLs,
 * PUTs the parts straight to object storage (retrying transient failures
 * with backoff), and completes the upload. An interrupted upload of the same file (same path,
 * size and mtime, same server) is resumed: only the parts the store has not received are sent.
 * @throws ApiError when the API or the store rejects the upload (4xx), after retries for 5xx/network errors.
 */
export async function uploadFile(client: StreamWaveClient, path: string, opts: UploadFileOptions): Promise<UploadFileResult> {
  const abs = resolve(path);
  const st = await stat(abs);
  const bookFile = opts.resumeFile ?? defaultResumeFile();
  const fingerprint = `${client.baseUrl}|${abs}|${st.size}|${Math.floor(st.mtimeMs)}`;
  const book = await readBook(bookFile);

  let ticket: { uploadId: string; videoId: string; partSize: number; todo: { part_number: number; url: string }[]; done: { part_number: number; etag: string }[] } | undefined;
  let resumed = false;
  const previous = book[fingerprint];
  if (previous) {
    try {
      const s = await client.getUpload(previous.upload_id);
      ticket = {
        uploadId: s.upload_id, videoId: s.video_id, partSize: s.part_size_bytes,
        todo: s.missing_parts, done: s.parts.map((p) => ({ part_number: p.part_number, etag: p.etag })),
      };
      resumed = true;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status >= 500) throw e;
      delete book[fingerprint]; // expired or unknown upload: start over
    }
  }
  if (!ticket) {
    const t = await client.createUpload({
      filename: basename(abs),
      size_bytes: st.size,
      content_type: mime.lookup(abs) || 'application/octet-stream',
      title: opts.title,
      description: opts.description ?? '',
      tags: opts.tags ?? [],
      ...(opts.visibility && { visibility: opts.visibility }),
    });
    ticket = { uploadId: t.upload_id, videoId: t.video_id, partSize: t.part_size_bytes, todo: t.parts, done: [] };
    book[fingerprint] = { upload_id: t.upload_id, video_id: t.video_id };
    await writeBook(bookFile, book);
  }

  const fh = await open(abs, 'r');
  let sent = ticket.done.length ? Math.min(st.size, ticket.done.length * ticket.partSize) : 0;
  opts.onProgress?.(sent, st.size);
  const etags = new Map(ticket.done.map((p) => [p.part_number, p.etag]));
  const queue = [...ticket.todo].sort((a, b) => a.part_number - b.part_number);
  let partsSent = 0;
  let stopped = false;
  try {
    const worker = async () => {
      for (;;) {
        if (opts.stopAfterParts !== undefined && partsSent >= opts.stopAfterParts) { stopped = true; return; }
        const part = queue.shift();
        if (!part) return;
        const start = (part.part_number - 1) * ticket!.partSize;
        const len = Math.min(ticket!.partSize, st.size - start);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, start);
        const etag = await pRetry(
          async () => {
            try {
              return await client.uploadPart(part.url, buf);
            } catch (e) {
              if (e instanceof ApiError && e.status < 500) throw new AbortError(e);
              throw e;
            }
          },
          { retries: 5, minTimeout: 200, maxTimeout: 5000 },
        );
        etags.set(part.part_number, etag);
        partsSent++;
        sent += len;
        opts.onProgress?.(sent, st.size);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  } finally {
    await fh.close();
  }
  if (stopped && queue.length) {
    return { videoId: ticket.videoId, uploadId: ticket.uploadId, resumed, partsSent, completed: false };
  }
  const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([part_number, etag]) => ({ part_number, etag }));
  await client.completeUpload(ticket.uploadId, parts);
  const after = await readBook(bookFile);
  delete after[fingerprint];
  await writeBook(bookFile, after);
  return { videoId: ticket.videoId, uploadId: ticket.uploadId, resumed, partsSent, completed: true };
}

/**
 * Follows processing until it ends: `ready` with progress 100 (processing completed: every
 * rendition of the ladder that could be encoded is in the master playlist), or `failed`. Pushed,
 * not polled (issue 14): it listens to the video's Server-Sent Events (`status` events); when the
 * stream is refused (404 while the read model has not seen the upload yet), ends or breaks, it
 * reads the status once and reopens the stream after `intervalMs`, resuming after the last event.
 * `onStatus` is called with each status seen.
 * @param timeoutMs give up after this long (throws Error 'processing timed out').
 * @throws ApiError from the status read (other than 404), or a network error.
 */
/** Longest a processing stream is listened to before the status is read again, ms. */
const STREAM_CHECK_MS = 30_000;

export async function waitForProcessing(
  client: StreamWaveClient,
  videoId: string,
  opts: { timeoutMs?: number; intervalMs?: number; onStatus?: (s: VideoStatusView) => void } = {},
): Promise<VideoStatusView> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
  const ended = (s: VideoStatusView) => s.status === 'failed' || s.status === 'deleted' || (s.status === 'ready' && s.progress >= 100);
  let lastEventId: string | undefined;
  let last: VideoStatusView | undefined;
  for (;;) {
    const stop = new AbortController();
    // Reopened at least every STREAM_CHECK_MS with a status read in between: a stream that missed
    // the end (a gateway restarted between the two) cannot hold the upload until the deadline.
    const timer = setTimeout(() => stop.abort(), Math.max(0, Math.min(STREAM_CHECK_MS, deadline - Date.now())));
    try {
      for await (const e of client.videoEvents(videoId, { lastEventId, signal: stop.signal })) {
        if (e.id) lastEventId = e.id;
        if (e.event === 'gone') break;
        if (e.event !== 'status') continue;
        last = e.data as VideoStatusView;
        opts.onStatus?.(last);
        if (ended(last)) return last;
      }
    } catch {
      // Refused, ended or broken: the status read below says why, then the stream is reopened.
    } finally {
      clearTimeout(timer);
      stop.abort();
    }
    try {
      last = await client.status(videoId);
      opts.onStatus?.(last);
      if (ended(last)) return last;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e; // 404 until the read model catches up
    }
    if (Date.now() > deadline) throw new Error(`processing of ${videoId} timed out (last status ${last?.status ?? 'unknown'})`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}
