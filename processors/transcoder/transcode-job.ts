/**
 * One transcode of an uploaded video, in a working folder of its own attempt
 * (`<workDir>/<videoId>.<pid>.<random>/`, platform/files/attempt-folder.ts; deleted at the end):
 * download the source, probe it and announce the ladder (StartProcessing), then encode every rung
 * in ONE FFmpeg run (one decode) whose segments are uploaded as they appear; the video is
 * published (PublishVideo with the rungs the master lists) as soon as every rung has its first
 * segment, each rung is recorded (RecordRenditionEncoded) once complete, and CompleteProcessing
 * closes it (docs/adr/0007-progressive-publishing-in-one-ffmpeg-run.md, superseding ADR 0002).
 * Rungs an earlier attempt completed are not encoded again; segments it published are not
 * uploaded again.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Command } from '../../commands/command-bus.port.ts';
import { inAttemptFolder } from '../../platform/files/attempt-folder.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { readObject } from '../../platform/object-store/object-store.port.ts';
import type { HlsRenditionOutput } from './ffmpeg-args.ts';
import { downloadSource, makeThumbnail, OutOfMemoryError, probeAndPlan, runJob, type FfmpegEnv } from './ffmpeg-steps.ts';
import { MediaRejectedError } from './ffprobe.ts';
import { contentTypeOf, hlsKeys } from './hls-keys.ts';
import { describeRendition, readUploadedRendition, toRenditionInfo, uploadMaster, type EncodedRendition } from './hls-output.ts';
import type { RenditionPlan } from './ladder.ts';
import { endPublishedPlaylist, ProgressiveUpload, readPublishedPlaylist } from './progressive-upload.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from './master-playlist.ts';
import { ProgressReporter } from './progress-reporter.ts';
import { DEFAULT_TIME_LIMITS, encodeTimeLimitSeconds, type SourceLimits } from './media-limits.ts';
import { encodeChunked, type ChunkingConfig } from './chunked/chunked-ladder.ts';
import { shouldChunk } from './chunked/chunk-plan.ts';
import { ladderJob, plannedCodecs, type TranscodePlan } from './transcode-plan.ts';
import { addStoryboard, type StoryboardOutcome } from './storyboard/storyboard-step.ts';

/** Default length of every rung's first segment, seconds: playable after one second of video is encoded. */
export const FIRST_SEGMENT_SECONDS = 1;

/** Sends a command to the video aggregate (metadata added by the sender). */
export type SendCommand = <C extends Command>(type: C['type'], data: C['data']) => Promise<void>;

interface TranscodeEnv extends FfmpegEnv {
  objectStore: ObjectStore;
  /** Local scratch folder; each attempt of a job works in its own `<workDir>/<videoId>.<pid>.<random>/`. */
  workDir: string;
  /** Target segment duration, seconds. */
  segmentSeconds: number;
  /** Length of the first segment of every rung, seconds (≤ segmentSeconds); default FIRST_SEGMENT_SECONDS. */
  firstSegmentSeconds?: number;
  ffprobePath: string;
  send: SendCommand;
  /** What a source may be (checked after ffprobe, before any encode); default DEFAULT_SOURCE_LIMITS. */
  sourceLimits?: SourceLimits;
  /**
   * The last attempt the caller allows (the retry after an out-of-memory kill): an
   * OutOfMemoryError after publication then omits rungs (OUT_OF_MEMORY) instead of being thrown.
   */
  finalAttempt?: boolean;
  /** Called after each successful FFmpeg encode run with the rungs it produced and its wall time, seconds. */
  onEncoded?(rungs: string[], seconds: number): void;
  /** Segment-parallel encoding over the chunk topic for long sources (chunked/chunked-ladder.ts); absent: never. */
  chunking?: ChunkingConfig;
  /** Called with how the video's storyboard (seek previews) ended; it never fails the job. */
  onStoryboard?(outcome: StoryboardOutcome): void;
}

/**
 * Runs the transcode of `videoId` from the uploaded object `objectKey`; `log` is the job's logger.
 * @throws MediaRejectedError for a permanent input problem (the caller fails the video); any
 *   other error is transient (object store, spawn, commands) and the job may be retried.
 */
export async function transcode(env: TranscodeEnv, videoId: string, objectKey: string, log: Logger): Promise<void> {
  await inAttemptFolder(env.workDir, videoId, (dir) => new TranscodeJob(env, videoId, dir, log).run(objectKey), {
    onRemoveError: (err, dir) => log.warn({ err, dir }, 'could not delete work dir'),
  });
}

class TranscodeJob {
  /** Complete renditions by name. */
  private readonly done = new Map<string, EncodedRendition>();
  /** Rungs left out of the ladder for good, with their public reason. */
  private readonly omitted = new Map<string, string>();
  /** Whether a master playlist was on the object store at the start (an earlier attempt published it). */
  private publishedBefore = false;
  /** Whether this job sent PublishVideo (always sent once per job: the aggregate ignores a repeat). */
  private publishedHere = false;
  /** Segments on the plain k·S grid (no short first segment): set once chunks may have been published. */
  private plainGrid = false;

  constructor(
    private readonly env: TranscodeEnv,
    private readonly videoId: string,
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Whether players may have loaded a master listing growing rungs. */
  private get published(): boolean {
    return this.publishedBefore || this.publishedHere;
  }

  private get targetDuration(): number {
    return Math.ceil(this.env.segmentSeconds);
  }

  async run(objectKey: string): Promise<void> {
    const { env, videoId, done, omitted, log } = this;
    const plan = await this.planFrom(await downloadSource(env.objectStore, objectKey, this.dir));
    for (const p of plan.rungs) {
      const existing = await readUploadedRendition(env.objectStore, videoId, p.name);
      if (existing) done.set(p.name, existing);
      // Ended but without its sidecar: the earlier attempt died between the two; it is complete.
      else await this.completeFromPublished(plan, p, { onlyIfEnded: true });
    }
    this.publishedBefore = await env.objectStore.exists(hlsKeys.master(videoId));
    const progress = new ProgressReporter(1, (p) => env.send('ReportProcessingProgress', { videoId, progress: p }), log);
    // The thumbnail first (it seeks: about one GOP decoded), so the video can be published the
    // moment the first segments are up.
    const thumbnail = (await env.objectStore.exists(hlsKeys.thumbnail(videoId))) ? null : await makeThumbnail(env, this.dir, plan);
    let pending = plan.rungs.filter((p) => !done.has(p.name));
    // A long source is encoded in chunks by every transcoder instance (docs/adr/0008); if that
    // fails, the rules below apply to the single run, on the chunks' segment grid.
    let chunked = env.chunking !== undefined && shouldChunk(plan.info.duration, env.chunking.thresholdSeconds);
    this.plainGrid = chunked;

    // Every unfinished rung in ONE run (one decode, split filter, one HLS output per rung). If the
    // run fails for good, the rung FFmpeg names is left out and the rest run again; a failure
    // naming none leaves the lowest rung alone (the least memory and work); if that fails too, the
    // video fails, or, already published, every rung ends where it stopped. A run killed at its
    // time limit is not run again: it has used the job's time budget.
    while (pending.length > 0) {
      try {
        if (chunked) await this.encodeChunks(plan, pending, progress, thumbnail, objectKey);
        else await this.encode(plan, pending, progress, thumbnail);
        break;
      } catch (err) {
        chunked = false;
        const permanent = err instanceof OutOfMemoryError && env.finalAttempt ? new MediaRejectedError('OUT_OF_MEMORY', err.message, { cause: err }) : err;
        if (!(permanent instanceof MediaRejectedError)) throw err;
        pending = pending.filter((p) => !done.has(p.name)); // a run can fail after completing some rungs
        const culprit = failingRung(permanent, pending);
        const again = permanent.code !== 'PROCESSING_TIMEOUT';
        if (again && culprit && pending.length > 1) {
          log.error({ err, rendition: culprit.name, code: permanent.code }, 'one rendition failed; encoding the others again without it');
          omitted.set(culprit.name, permanent.reason);
          pending = pending.filter((p) => p !== culprit);
        } else if (again && pending.length > 1) {
          log.error({ err, code: permanent.code }, 'the ladder failed; encoding the lowest rendition alone');
          for (const p of pending.slice(1)) omitted.set(p.name, permanent.reason);
          pending = pending.slice(0, 1);
        } else if (!this.published) {
          throw permanent;
        } else {
          log.error({ err, code: permanent.code }, 'the run failed after publication; each rendition ends where it stopped');
          for (const p of pending) {
            if (!(await this.completeFromPublished(plan, p, { onlyIfEnded: false }))) omitted.set(p.name, permanent.reason);
          }
          pending = [];
        }
      }
    }
    await progress.flush();
    const inMaster = plan.rungs.filter((p) => done.has(p.name));
    if (inMaster.length === 0) throw new MediaRejectedError('UNDECODABLE_VIDEO', 'No rendition could be encoded.');
    if (!this.publishedHere) {
      if (!this.publishedBefore) await progress.confirm(); // nothing of a deleted video may be uploaded
      await this.publish(plan, inMaster.map((p) => done.get(p.name)!), thumbnail);
    }
    // A rung left out after players may have loaded the first master: its playlist ends where it stopped.
    if (this.published) for (const name of omitted.keys()) await endPublishedPlaylist(env.objectStore, videoId, name, this.targetDuration);
    await uploadMaster(env.objectStore, videoId, inMaster.map((p) => done.get(p.name)!));
    for (const p of inMaster) await env.send('RecordRenditionEncoded', { videoId, rendition: toRenditionInfo(done.get(p.name)!) });
    // The end of processing, explicitly: clients waiting for progress 100 must not wait for
    // rungs that will never come. Sent again on redelivery (the aggregate ignores a repeat).
    const omittedList = plan.rungs
      .filter((p) => !done.has(p.name))
      .map((p) => ({ name: p.name, reason: omitted.get(p.name) ?? 'The rendition could not be encoded.' }));
    // A truncated upload can claim a duration in its header far beyond what decodes: the
    // published duration (from the header) is corrected to the playable one.
    const playable = Math.max(...inMaster.map((p) => done.get(p.name)!.durationSeconds));
    const corrected = playable > 0 && playable < plan.info.duration * 0.9 ? { durationSeconds: playable } : {};
    await env.send('CompleteProcessing', { videoId, renditions: inMaster.map((p) => p.name), omitted: omittedList, ...corrected });
    log.info({ renditions: inMaster.map((p) => p.name), omitted: omittedList.map((o) => o.name) }, 'transcode finished');
    // Seek previews last, once the video is complete: a second decode that must never delay or fail publishing.
    env.onStoryboard?.(await addStoryboard(env, videoId, plan.src, plan.video, corrected.durationSeconds ?? plan.info.duration, this.dir, log));
  }

  /**
   * Probes the source (bounded), checks it against the source limits, plans the ladder and
   * announces it (StartProcessing).
   * @throws MediaRejectedError for a source beyond the limits or one ffprobe rejects or times out on
   */
  private async planFrom(src: string): Promise<TranscodePlan> {
    const plan = await probeAndPlan(this.env, src);
    const info = plan.info;
    this.log.info({ source: { ...info }, ladder: plan.ladder.map((r) => r.name) }, 'transcode planned');
    await this.env.send('StartProcessing', { videoId: this.videoId, ladder: plan.ladder, durationSeconds: info.duration });
    return plan;
  }

  /**
   * Encodes `rungs` in one progressive FFmpeg run into `<dir>/hls/<rung>/`, uploading segments as
   * they appear; once every rung has its first segment, publishes the video with a master that
   * lists every rung still in play (complete ones and these). Each rung is then measured, its
   * playlist ended (#EXT-X-ENDLIST) and its sidecar uploaded last: the mark of completion.
   * A refused progress report (the video was deleted meanwhile) or a failed upload kills FFmpeg.
   */
  private async encode(plan: TranscodePlan, rungs: RenditionPlan[], progress: ProgressReporter, thumbnail: string | null): Promise<void> {
    const { env, videoId } = this;
    const outs = (await Promise.all(rungs.map(async (p) => {
      const outputDir = join(this.dir, 'hls', p.name);
      await rm(outputDir, { recursive: true, force: true });
      await mkdir(outputDir, { recursive: true });
      return { plan: p, outputDir };
    }))) as [HlsRenditionOutput, ...HlsRenditionOutput[]];
    const already = new Map<string, number>();
    for (const p of rungs) already.set(p.name, (await readPublishedPlaylist(env.objectStore, videoId, p.name))?.segments.length ?? 0);
    const upload = new ProgressiveUpload(env.objectStore, videoId, outs, this.targetDuration, already, this.log);
    const first = this.plainGrid ? env.segmentSeconds : env.firstSegmentSeconds ?? FIRST_SEGMENT_SECONDS;
    const job = { ...ladderJob(plan, env.segmentSeconds, outs), progressive: { firstSegmentSeconds: first } };
    const what = `renditions ${rungs.map((p) => p.name).join(', ')}`;
    const started = performance.now();
    const stop = new AbortController();
    const signal = env.signal ? AbortSignal.any([env.signal, stop.signal]) : stop.signal;
    const ffmpeg = runJob({ ...env, signal }, job, what, (f) => progress.update(1, f), plan.info.duration);
    await upload.run(ffmpeg, {
      // Deleted while encoding? Then nothing (more) of it may reach the (public) object store.
      beforeFirstUpload: () => progress.confirm(),
      check: () => progress.throwIfRefused(),
      onFirstSegments: () => this.publishInPlay(plan, rungs, thumbnail),
      abort: () => stop.abort(),
    });
    env.onEncoded?.(rungs.map((p) => p.name), (performance.now() - started) / 1000);
    progress.update(1, 1);
    await progress.confirm(); // deleted after the last pass? Then no rung is completed.
    for (const out of outs) {
      const encoded = await describeRendition(out, plan.fpsValue, plan.hasAudio, plannedCodecs(plan, out.plan));
      const ended = await upload.endedPlaylist(out);
      const longest = Math.max(...parseMediaPlaylist(ended.toString('utf8')).segments.map((seg) => Math.round(seg.duration)));
      if (longest > this.targetDuration) this.log.warn({ rendition: out.plan.name, longest, target: this.targetDuration }, 'a segment is longer than the target duration (RFC 8216 §4.3.3.1)');
      await this.complete(out.plan.name, ended, encoded);
    }
  }

  /** `rungs` encoded in chunks by the transcoder instances' chunk encoders (chunked/chunked-ladder.ts). */
  private async encodeChunks(plan: TranscodePlan, rungs: RenditionPlan[], progress: ProgressReporter, thumbnail: string | null, objectKey: string): Promise<void> {
    const { env, videoId } = this;
    await encodeChunked({
      objectStore: env.objectStore, videoId, objectKey, plan, rungs, segmentSeconds: env.segmentSeconds, targetDuration: this.targetDuration,
      chunking: env.chunking!, timeLimitSeconds: encodeTimeLimitSeconds(plan.info.duration, env.timeLimits ?? DEFAULT_TIME_LIMITS), log: this.log, signal: env.signal,
    }, {
      confirm: () => progress.confirm(),
      check: () => progress.throwIfRefused(),
      progress: (f) => progress.update(1, f),
      publish: () => this.publishInPlay(plan, rungs, thumbnail),
      complete: (name, ended, encoded) => this.complete(name, ended, encoded),
    });
  }

  /** Publishes the video (once per job) over the complete rungs and the growing `rungs`. */
  private async publishInPlay(plan: TranscodePlan, rungs: RenditionPlan[], thumbnail: string | null): Promise<void> {
    if (this.publishedHere) return;
    const inPlay = plan.rungs.filter((p) => this.done.has(p.name) || rungs.includes(p));
    await this.publish(plan, inPlay.map((p) => this.done.get(p.name) ?? this.plannedEntry(plan, p)), thumbnail);
  }

  /**
   * A rung of an earlier attempt or of a failed run, completed from its published playlist: ended
   * where it stopped (unless `onlyIfEnded`: then only a playlist already ended counts) and given
   * its sidecar. @returns whether the rung is now complete (false: no published segment)
   */
  private async completeFromPublished(plan: TranscodePlan, rung: RenditionPlan, opts: { onlyIfEnded: boolean }): Promise<boolean> {
    const { objectStore } = this.env;
    const published = opts.onlyIfEnded
      ? await readPublishedPlaylist(objectStore, this.videoId, rung.name)
      : await endPublishedPlaylist(objectStore, this.videoId, rung.name, this.targetDuration);
    if (!published?.ended || published.segments.length === 0) return false;
    const encoded: EncodedRendition = {
      ...this.plannedEntry(plan, rung),
      durationSeconds: published.segments.reduce((n, seg) => n + seg.duration, 0),
    };
    await this.complete(rung.name, Buffer.from(published.text), encoded);
    return true;
  }

  /** Uploads a complete rung's ended playlist, then its sidecar (the mark of completion, read by a redelivered job). */
  private async complete(name: string, endedPlaylist: Buffer, encoded: EncodedRendition): Promise<void> {
    const { objectStore } = this.env;
    await objectStore.putObject(hlsKeys.rendition(this.videoId, name, 'index.m3u8'), endedPlaylist, contentTypeOf('index.m3u8'));
    await objectStore.putObject(hlsKeys.rendition(this.videoId, name, 'rendition.json'), Buffer.from(JSON.stringify(encoded)), 'application/json');
    this.done.set(name, encoded);
  }

  /**
   * A rung as the master lists it before it is measured: the planned BANDWIDTH (maxrate + audio,
   * the rate the encoder's VBV holds over its buffer; an estimate: a short first segment can
   * exceed it) and CODECS; no AVERAGE-BANDWIDTH.
   */
  private plannedEntry(plan: TranscodePlan, rung: RenditionPlan): EncodedRendition {
    const planned = plan.ladder.find((r) => r.name === rung.name)!;
    return { ...planned, frameRate: plan.fpsValue, durationSeconds: plan.info.duration };
  }

  /**
   * Uploads the thumbnail and the master over `renditions` (unless an earlier attempt published
   * them), and publishes the video with them (a player must never see a variant without
   * segments); sent again by a redelivered job, which the aggregate ignores once the video is
   * ready. Deleted meanwhile? The aggregate refuses (DomainError).
   */
  private async publish(plan: TranscodePlan, renditions: EncodedRendition[], thumbnail: string | null): Promise<void> {
    const { env, videoId } = this;
    if (thumbnail) await env.objectStore.putFile(hlsKeys.thumbnail(videoId), thumbnail, 'image/jpeg');
    if (!this.publishedBefore) await uploadMaster(env.objectStore, videoId, renditions);
    await env.send('PublishVideo', {
      videoId,
      masterPlaylistKey: hlsKeys.master(videoId),
      thumbnailKey: hlsKeys.thumbnail(videoId),
      durationSeconds: plan.info.duration,
      renditions: renditions.map(toRenditionInfo),
    });
    this.publishedHere = true;
  }
}

/**
 * Ends the processing of a PUBLISHED video whose job was dead-lettered (it cannot be failed: it is
 * playable): every rendition the published master lists is completed where it stopped (its
 * playlist ended, its sidecar written), recorded, and the master rewritten over them; those with no
 * published segment are omitted with `reason`; then CompleteProcessing. Without a master (not
 * published), returns false and does nothing.
 * @throws ObjectStoreError or the command's errors (the caller logs them)
 */
export async function closePublishedVideo(objectStore: ObjectStore, videoId: string, send: SendCommand, reason: string, targetDuration: number): Promise<boolean> {
  const master = await readObject(objectStore, hlsKeys.master(videoId));
  if (!master) return false;
  const complete: EncodedRendition[] = [];
  const omitted: { name: string; reason: string }[] = [];
  for (const v of parseMasterPlaylist(master.toString('utf8'))) {
    const name = v.uri.split('/')[0]!;
    const done = await readUploadedRendition(objectStore, videoId, name);
    const published = done ? null : await endPublishedPlaylist(objectStore, videoId, name, targetDuration);
    if (!done && !published?.segments.length) {
      omitted.push({ name, reason });
      continue;
    }
    const encoded: EncodedRendition = done ?? {
      name, width: v.width, height: v.height, bandwidth: v.bandwidth, codecs: v.codecs, playlist: v.uri, frameRate: v.frameRate ?? 0,
      durationSeconds: published!.segments.reduce((n, seg) => n + seg.duration, 0),
    };
    if (!done) await objectStore.putObject(hlsKeys.rendition(videoId, name, 'rendition.json'), Buffer.from(JSON.stringify(encoded)), 'application/json');
    complete.push(encoded);
  }
  if (complete.length === 0) return false;
  await uploadMaster(objectStore, videoId, complete);
  for (const r of complete) await send('RecordRenditionEncoded', { videoId, rendition: toRenditionInfo(r) });
  await send('CompleteProcessing', { videoId, renditions: complete.map((r) => r.name), omitted });
  return true;
}

/**
 * The rung a failed FFmpeg run names in its stderr, or null. FFmpeg fails a multi-output run whole
 * when one output fails; its muxer's lines carry the muxer's address (`[hls @ 0x…]`), so the rung
 * is the one whose `/hls/<rung>/` path that muxer also opened; else `output file #N` (the N-th
 * rung of the run), else a `/hls/<rung>/` path on an error line.
 */
export function failingRung(err: MediaRejectedError, rungs: readonly RenditionPlan[]): RenditionPlan | null {
  const lines = `${String((err.cause as { stderrTail?: string } | undefined)?.stderrTail ?? '')}\n${err.message}`.split('\n');
  const byName = (name: string | undefined): RenditionPlan | null => rungs.find((p) => p.name === name) ?? null;
  const rungIn = (line: string): string | undefined => /\/hls\/([^/\s'"]+)\//.exec(line)?.[1];
  const isError = (line: string): boolean => /fail|error|could not|cannot|invalid/i.test(line);
  for (const line of lines.filter(isError)) {
    const muxer = /^\[hls @ (0x[0-9a-f]+)\]/.exec(line)?.[1];
    if (!muxer) continue;
    const found = lines.filter((l) => l.startsWith(`[hls @ ${muxer}]`)).map(rungIn).find(Boolean);
    if (found) return byName(found);
  }
  for (const line of lines) {
    const index = /output file #(\d+)/i.exec(line)?.[1];
    if (index !== undefined) return rungs[Number(index)] ?? null;
  }
  return byName(lines.filter(isError).map(rungIn).find(Boolean));
}
