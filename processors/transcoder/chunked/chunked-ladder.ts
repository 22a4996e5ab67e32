/**
 * The coordinator of a chunked (segment-parallel) transcode (docs/adr/0008): the transcoder that
 * took the video's `UploadCompleted` plans chunks at segment boundaries (chunk-plan.ts), writes
 * one TranscodeChunkTask per chunk to the chunk topic, and waits for the chunks' results, which
 * the chunk encoders of any transcoder instance write (chunk-encoder.processor.ts). As the
 * completed chunks grow from chunk 0, every rung's media playlist is republished as the EVENT
 * join of those chunks (chunk-join.ts), so the video is published once chunk 0 is done (a short
 * first chunk: playable after a few seconds of video are encoded) and grows as later chunks land,
 * whichever instance encoded them and in whatever order. When every chunk is done, each rung's
 * playlist is ended, measured and completed through the same hooks as the single run.
 */
import type { Logger } from 'pino';
import { readObject, type ObjectStore } from '../../../platform/object-store/object-store.port.ts';
import type { TranscodeChunkTask } from '../../../schemas/codec/task-schemas.ts';
import { MediaRejectedError } from '../ffprobe.ts';
import { chunkKeys, contentTypeOf, hlsKeys } from '../hls-keys.ts';
import type { EncodedRendition } from '../hls-output.ts';
import type { RenditionPlan } from '../ladder.ts';
import { avc1CodecFromMp4, codecsString, measureBandwidth } from '../master-playlist.ts';
import { plannedCodecs, type TranscodePlan } from '../transcode-plan.ts';
import { readPublishedPlaylist } from '../progressive-upload.ts';
import { readObjectText, type ChunkedJobState, type ChunkResult } from './chunk-encoder.processor.ts';
import { joinMediaPlaylists } from './chunk-join.ts';
import { planChunks, type ChunkSpan } from './chunk-plan.ts';

/** When and how long videos are chunked (STREAMWAVE_CHUNK_* settings, deploy/config). */
export interface ChunkingConfig {
  /** Sources strictly longer than this, seconds, are chunked; `Infinity`: never (the single run). */
  thresholdSeconds: number;
  /** Chunk length, seconds (rounded down to whole segments). */
  chunkSeconds: number;
  /** Length of chunk 0, seconds (whole segments): what must be encoded before the video is playable. */
  firstChunkSeconds: number;
  /** Appends tasks to the chunk topic (key `<videoId>:<chunkIndex>`). @throws the log's errors */
  submit(tasks: TranscodeChunkTask[]): Promise<void>;
  /** How often the coordinator looks for chunk results, ms. Default 250. */
  pollIntervalMs?: number;
}

/** What the coordinator does through its job (transcode-job.ts), as the single run does. */
export interface ChunkedLadderHooks {
  /** Before the first playlist is published: throws DomainError when the video was deleted. */
  confirm(): Promise<void>;
  /** Each poll: throws when a progress report was refused (deleted meanwhile). */
  check(): void;
  /** Share of the source encoded, 0–1. */
  progress(fraction: number): void;
  /** Once every rung's growing playlist lists chunk 0: publish the video. */
  publish(): Promise<void>;
  /** A rung is complete: upload its ended playlist and sidecar. */
  complete(name: string, endedPlaylist: Buffer, encoded: EncodedRendition): Promise<void>;
}

/** The inputs of `encodeChunked`. */
export interface ChunkedLadderJob {
  objectStore: ObjectStore;
  videoId: string;
  /** Object key of the uploaded source (the chunk encoders download it). */
  objectKey: string;
  plan: TranscodePlan;
  /** The rungs to encode (the unfinished ones). */
  rungs: RenditionPlan[];
  /** Segment duration, seconds. */
  segmentSeconds: number;
  /** `#EXT-X-TARGETDURATION` of the growing playlists, seconds. */
  targetDuration: number;
  chunking: ChunkingConfig;
  /** How long to wait for all chunks, seconds (the encode time limit of the whole source). */
  timeLimitSeconds: number;
  log: Logger;
  signal?: AbortSignal;
  now?: () => number;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  const wake = (): void => {
    clearTimeout(t);
    signal?.removeEventListener('abort', wake);
    resolve();
  };
  const t = setTimeout(wake, ms);
  signal?.addEventListener('abort', wake, { once: true });
});

/** The chunks of `plan` under `chunking` (deterministic, so a redelivered job plans the same). */
export function chunksOf(plan: TranscodePlan, segmentSeconds: number, chunking: ChunkingConfig): ChunkSpan[] {
  return planChunks(plan.info.duration, { segmentSeconds, chunkSeconds: chunking.chunkSeconds, firstChunkSeconds: chunking.firstChunkSeconds });
}

/**
 * Runs a chunked transcode of `job.rungs` to completion (see the file comment). Chunks a previous
 * attempt completed are not submitted again; a failed result written before this attempt is
 * ignored and its chunk submitted again.
 * @throws MediaRejectedError with the chunk's code when a chunk failed for good in this attempt,
 *   PROCESSING_TIMEOUT when the chunks are not all done within `timeLimitSeconds`; the hooks'
 *   and the object store's errors; the signal's abort.
 */
export async function encodeChunked(job: ChunkedLadderJob, hooks: ChunkedLadderHooks): Promise<void> {
  const { objectStore: store, videoId, plan, chunking, log } = job;
  const now = job.now ?? Date.now;
  const chunks = chunksOf(plan, job.segmentSeconds, chunking);
  const names = job.rungs.map((p) => p.name);
  const requestedAt = now();
  const done = new Map<number, ChunkResult>();
  /** A chunk's result if it belongs to this plan: same span, every rung; a failure only of this attempt. */
  const readResult = async (c: ChunkSpan): Promise<ChunkResult | undefined> => {
    const text = await readObjectText(store, chunkKeys.result(videoId, c.index));
    const result = text === undefined ? undefined : (JSON.parse(text) as ChunkResult);
    if (!result || result.startSeconds !== c.startSeconds || result.endSeconds !== c.endSeconds) return undefined;
    if (result.failed) return result.requestedAt >= requestedAt ? result : undefined;
    return names.every((n) => result.renditions?.[n]) ? result : undefined;
  };
  for (const c of chunks) {
    const r = await readResult(c);
    if (r && !r.failed) done.set(c.index, r);
  }
  // Segments an earlier attempt published (a redelivered job): a playlist is only ever extended.
  const published = new Map<string, number>();
  for (const p of job.rungs) published.set(p.name, (await readPublishedPlaylist(store, videoId, p.name))?.segments.length ?? 0);
  await hooks.confirm(); // a deleted video gets no job object, hence no chunk
  const jobKey = chunkKeys.job(videoId);
  const putJob = (active: boolean): Promise<void> => {
    const state: ChunkedJobState = { objectKey: job.objectKey, chunks: chunks.length, renditions: names, requestedAt, active };
    return store.putObject(jobKey, Buffer.from(JSON.stringify(state)), 'application/json');
  };
  await putJob(true);
  try {
    await runChunks(job, hooks, { chunks, done, readResult, requestedAt, published });
  } finally {
    // The attempt's remaining tasks are dropped (unless the video's objects are already gone).
    if (await store.exists(jobKey).catch(() => false)) await putJob(false).catch((err) => log.warn({ err }, 'could not end the chunked job object'));
  }
}

interface ChunkRun {
  chunks: ChunkSpan[];
  /** Completed chunks by index (filled as results arrive). */
  done: Map<number, ChunkResult>;
  readResult(c: ChunkSpan): Promise<ChunkResult | undefined>;
  requestedAt: number;
  /** Segments each rung's published playlist lists (updated as this attempt publishes). */
  published: Map<string, number>;
}

/** Polls the results in order of need, publishes the growing join, then completes every rung. */
async function runChunks(job: ChunkedLadderJob, hooks: ChunkedLadderHooks, run: ChunkRun): Promise<void> {
  const { objectStore: store, videoId, plan, chunking, log } = job;
  const { chunks, done, requestedAt } = run;
  const now = job.now ?? Date.now;
  const names = job.rungs.map((p) => p.name);
  await chunking.submit(chunks.filter((c) => !done.has(c.index)).map((c) => ({
    videoId, objectKey: job.objectKey, chunkIndex: c.index, chunkCount: chunks.length, startSeconds: c.startSeconds, endSeconds: c.endSeconds,
    last: c.last, firstSegmentIndex: c.firstSegmentIndex, segmentSeconds: job.segmentSeconds, renditions: names, requestedAt,
  })));
  log.info({ chunks: chunks.length, alreadyDone: done.size, renditions: names }, 'chunked transcode: tasks submitted');

  const deadline = requestedAt + job.timeLimitSeconds * 1000;
  let listed = 0; // chunks 0…listed-1 are in the published playlists
  for (let poll = 0; ; poll++) {
    // The next few missing chunks each poll (they gate the playlists); all of them every 20th.
    const missing = chunks.filter((c) => !done.has(c.index));
    for (const c of poll % 20 === 0 ? missing : missing.slice(0, 4)) {
      const r = await run.readResult(c);
      if (!r) continue;
      if (r.failed) throw new MediaRejectedError(r.failed.code, `chunk ${c.index} (${c.startSeconds}–${c.endSeconds} s) failed: ${r.failed.reason}`);
      done.set(c.index, r);
      log.info({ chunk: c.index, encodedBy: r.encodedBy, encodeSeconds: r.encodeSeconds }, 'chunk done');
    }
    let prefix = 0;
    while (done.has(prefix)) prefix++;
    if (prefix > listed && prefix < chunks.length) {
      if (listed === 0) await hooks.confirm(); // nothing of a deleted video may be published
      await publishPlaylists(job, chunks, done, prefix, false, run.published);
      if (listed === 0) await hooks.publish();
      listed = prefix;
    }
    const encoded = chunks.filter((c) => done.has(c.index)).reduce((n, c) => n + (c.endSeconds - c.startSeconds), 0);
    hooks.progress(Math.min(1, encoded / plan.info.duration));
    if (done.size === chunks.length) break;
    hooks.check();
    if (poll % 20 === 19) await hooks.confirm(); // deleted meanwhile? (no report is refused while progress stands still)
    job.signal?.throwIfAborted();
    if (now() > deadline) throw new MediaRejectedError('PROCESSING_TIMEOUT', `chunked transcode: ${chunks.length - done.size} of ${chunks.length} chunks not done after ${job.timeLimitSeconds} s`);
    await sleep(chunking.pollIntervalMs ?? 250, job.signal);
  }

  await hooks.confirm(); // deleted after the last poll? Then no rung is completed.
  const ended = await publishPlaylists(job, chunks, done, chunks.length, true, listed === 0 ? run.published : null);
  if (listed === 0) await hooks.publish();
  for (const p of job.rungs) {
    const parts = chunks.map((c) => done.get(c.index)!.renditions![p.name]!);
    const initData = (await readObject(store, hlsKeys.rendition(videoId, p.name, 'init.mp4'))) ?? Buffer.alloc(0);
    const initBytes = parts[0]!.initBytes ?? initData.length;
    const segments = parts.flatMap((x) => x.segments);
    const { peak, average } = measureBandwidth(segments, initBytes);
    const avc1 = avc1CodecFromMp4(initData);
    await hooks.complete(p.name, ended.get(p.name)!, {
      name: p.name, width: p.width, height: p.height, bandwidth: peak, averageBandwidth: average,
      codecs: avc1 ? codecsString(avc1, plan.hasAudio) : plannedCodecs(plan, p), playlist: `${p.name}/index.m3u8`,
      frameRate: plan.fpsValue, durationSeconds: segments.reduce((n, s) => n + s.duration, 0),
    });
  }
  log.info({ chunks: chunks.length, encodedBy: [...new Set([...done.values()].map((r) => r.encodedBy))] }, 'chunked transcode: every chunk joined');
}

/**
 * Every rung's playlist over chunks 0…count-1 (EVENT; ended when `ended`), uploaded when
 * `published` is given and it lists more segments than the published one (never a shorter one).
 * @returns the playlists by rung name.
 */
async function publishPlaylists(job: ChunkedLadderJob, chunks: ChunkSpan[], done: Map<number, ChunkResult>, count: number, ended: boolean, published: Map<string, number> | null): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const p of job.rungs) {
    const parts = chunks.slice(0, count).map((c) => done.get(c.index)!.renditions![p.name]!);
    const text = Buffer.from(joinMediaPlaylists(parts.map((x) => x.playlist), 'init.mp4', { playlistType: 'EVENT', ended, targetDuration: job.targetDuration }));
    out.set(p.name, text);
    const longest = Math.max(...parts.flatMap((x) => x.segments.map((s) => Math.round(s.duration))));
    if (longest > job.targetDuration) job.log.warn({ rendition: p.name, longest, target: job.targetDuration }, 'a segment is longer than the target duration (RFC 8216 §4.3.3.1)');
    const segments = parts.reduce((n, x) => n + x.segments.length, 0);
    if (published && segments > (published.get(p.name) ?? 0)) {
      await job.objectStore.putObject(hlsKeys.rendition(job.videoId, p.name, 'index.m3u8'), text, contentTypeOf('index.m3u8'));
      published.set(p.name, segments);
    }
  }
  return out;
}
