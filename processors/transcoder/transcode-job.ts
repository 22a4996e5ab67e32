/**
 * One transcode of an uploaded video, in its working folder `<workDir>/<videoId>/` (deleted at the
 * end): download the source, probe it and announce the ladder (StartProcessing), encode and
 * upload the lowest rung alone and publish the video with it
 * (docs/adr/0002-publish-at-the-lowest-rendition.md), then every other rung in one FFmpeg run,
 * and close with CompleteProcessing.
 * Rungs an earlier attempt uploaded completely are not encoded again.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Command } from '../../commands/command-bus.port.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { ObjectStoreError } from '../../platform/object-store/object-store.port.ts';
import type { HlsRenditionOutput } from './ffmpeg-args.ts';
import { makeThumbnail, OutOfMemoryError, runJob, type FfmpegEnv } from './ffmpeg-steps.ts';
import { MediaRejectedError, probeMedia } from './ffprobe.ts';
import { hlsKeys } from './hls-keys.ts';
import { describeRendition, readUploadedRendition, toRenditionInfo, uploadMaster, uploadRendition, type EncodedRendition } from './hls-output.ts';
import type { RenditionPlan } from './ladder.ts';
import { ProgressReporter } from './progress-reporter.ts';
import { checkSourceLimits, DEFAULT_SOURCE_LIMITS, DEFAULT_TIME_LIMITS, type SourceLimits } from './media-limits.ts';
import { ladderJob, planTranscode, plannedCodecs, type TranscodePlan } from './transcode-plan.ts';

/** Sends a command to the video aggregate (metadata added by the sender). */
export type SendCommand = <C extends Command>(type: C['type'], data: C['data']) => Promise<void>;

interface TranscodeEnv extends FfmpegEnv {
  objectStore: ObjectStore;
  /** Local scratch folder; each job works in `<workDir>/<videoId>/`. */
  workDir: string;
  /** Target segment duration, seconds. */
  segmentSeconds: number;
  ffprobePath: string;
  send: SendCommand;
  /** What a source may be (checked after ffprobe, before any encode); default DEFAULT_SOURCE_LIMITS. */
  sourceLimits?: SourceLimits;
  /**
   * The last attempt the caller allows (the retry after an out-of-memory kill): an
   * OutOfMemoryError of the higher rungs then omits them (OUT_OF_MEMORY) instead of being thrown.
   */
  finalAttempt?: boolean;
  /** Called after each successful FFmpeg encode run with the rungs it produced and its wall time, seconds. */
  onEncoded?(rungs: string[], seconds: number): void;
}

/**
 * Runs the transcode of `videoId` from the uploaded object `objectKey`; `log` is the job's logger.
 * @throws MediaRejectedError for a permanent input problem (the caller fails the video); any
 *   other error is transient (object store, spawn, commands) and the job may be retried.
 */
export async function transcode(env: TranscodeEnv, videoId: string, objectKey: string, log: Logger): Promise<void> {
  const dir = join(env.workDir, videoId);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    await new TranscodeJob(env, videoId, dir, log).run(objectKey);
  } finally {
    await rm(dir, { recursive: true, force: true }).catch((err) => log.warn({ err, dir }, 'could not delete work dir'));
  }
}

class TranscodeJob {
  /** Complete renditions by name, in the order the master playlist lists them. */
  private readonly done = new Map<string, EncodedRendition>();

  constructor(
    private readonly env: TranscodeEnv,
    private readonly videoId: string,
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  async run(objectKey: string): Promise<void> {
    const { env, videoId, done, log } = this;
    const plan = await this.planFrom(await this.download(objectKey));
    const [lowest, ...rest] = plan.rungs;
    for (const p of plan.rungs) {
      const existing = await readUploadedRendition(env.objectStore, videoId, p.name);
      if (existing) done.set(p.name, existing);
    }
    const remaining = rest.filter((p) => !done.has(p.name));
    const weightOf = (ps: RenditionPlan[]): number => ps.reduce((s, p) => s + p.width * p.height * plan.info.duration, 0);
    const lowestWeight = done.has(lowest.name) ? 0 : weightOf([lowest]);
    const restWeight = weightOf(remaining);
    const progress = new ProgressReporter(lowestWeight + restWeight, (p) => env.send('ReportProcessingProgress', { videoId, progress: p }), log);

    // 1. Lowest rung alone, so the video is playable as early as possible.
    if (!done.has(lowest.name)) {
      const [out] = await this.encode(plan, [lowest], `the ${lowest.name} rendition`, (f) => progress.update(lowestWeight, f));
      progress.finishRun(lowestWeight);
      // Deleted while encoding? Then nothing of it may reach the (public) object store.
      await progress.confirm();
      await this.store(plan, out);
      log.info({ rendition: done.get(lowest.name) }, 'lowest rendition encoded');
    }
    await this.publish(plan, lowest);

    // 2. Every remaining rung in ONE run: one decode, split filter, one HLS output per rung.
    let higherFailure: MediaRejectedError | null = null;
    if (remaining.length > 0) {
      try {
        const what = `renditions ${remaining.map((p) => p.name).join(', ')}`;
        const outs = await this.encode(plan, remaining as [RenditionPlan, ...RenditionPlan[]], what, (f) => progress.update(restWeight, f));
        progress.finishRun(restWeight);
        await progress.confirm();
        for (const out of outs) await this.store(plan, out);
      } catch (err) {
        // The video is already published with its lowest rendition: a permanent problem with the
        // higher rungs leaves it playable rather than failing it.
        const permanent = err instanceof OutOfMemoryError && env.finalAttempt ? new MediaRejectedError('OUT_OF_MEMORY', err.message, { cause: err }) : err;
        if (!(permanent instanceof MediaRejectedError)) throw err;
        higherFailure = permanent;
        log.error({ err, code: permanent.code }, 'higher renditions failed; video stays published with fewer renditions');
      }
    }
    await uploadMaster(env.objectStore, videoId, done);
    for (const p of rest) {
      const r = done.get(p.name);
      if (r) await env.send('RecordRenditionEncoded', { videoId, rendition: toRenditionInfo(r) });
    }
    await progress.flush();
    // 3. The end of processing, explicitly: clients waiting for progress 100 must not wait for
    // rungs that will never come. Sent again on redelivery (the aggregate ignores a repeat).
    const inMaster = plan.rungs.filter((p) => done.has(p.name)).map((p) => p.name);
    const omitted = plan.rungs
      .filter((p) => !done.has(p.name))
      .map((p) => ({ name: p.name, reason: higherFailure?.reason ?? 'The rendition could not be encoded.' }));
    await env.send('CompleteProcessing', { videoId, renditions: inMaster, omitted });
    log.info({ renditions: inMaster, omitted: omitted.map((o) => o.name) }, 'transcode finished');
  }

  /** Downloads the source into the work folder; returns its path. @throws MediaRejectedError SOURCE_NOT_FOUND */
  private async download(objectKey: string): Promise<string> {
    const src = join(this.dir, 'source');
    try {
      await this.env.objectStore.downloadToFile(objectKey, src);
    } catch (err) {
      if (err instanceof ObjectStoreError && err.code === 'NoSuchKey') {
        throw new MediaRejectedError('SOURCE_NOT_FOUND', 'The uploaded file is no longer available.', { cause: err });
      }
      throw err;
    }
    return src;
  }

  /**
   * Probes the source (bounded), checks it against the source limits, plans the ladder and
   * announces it (StartProcessing).
   * @throws MediaRejectedError for a source beyond the limits or one ffprobe rejects or times out on
   */
  private async planFrom(src: string): Promise<TranscodePlan> {
    const { env } = this;
    const limits = env.sourceLimits ?? DEFAULT_SOURCE_LIMITS;
    const timeLimits = env.timeLimits ?? DEFAULT_TIME_LIMITS;
    let info;
    try {
      info = await probeMedia(src, {
        ffprobePath: env.ffprobePath,
        timeoutMs: timeLimits.probeSeconds * 1000,
        bounds: { killGraceMs: timeLimits.killGraceSeconds * 1000, memoryLimitBytes: env.memoryLimitBytes, prlimitPath: env.prlimitPath, signal: env.signal },
      });
    } catch (err) {
      if (err instanceof MediaRejectedError && err.code === 'PROCESSING_TIMEOUT') env.onTimeLimitExceeded?.('probe', 'timeout');
      throw err;
    }
    checkSourceLimits(info, limits);
    const plan = planTranscode(src, info, limits.maxSidePx);
    this.log.info({ source: { ...info }, ladder: plan.ladder.map((r) => r.name) }, 'transcode planned');
    await this.env.send('StartProcessing', { videoId: this.videoId, ladder: plan.ladder, durationSeconds: info.duration });
    return plan;
  }

  /** Encodes `rungs` in one FFmpeg run into `<dir>/hls/<rung>/`; `what` names them in errors. */
  private async encode(
    plan: TranscodePlan,
    rungs: [RenditionPlan, ...RenditionPlan[]],
    what: string,
    onFraction: (f: number) => void,
  ): Promise<[HlsRenditionOutput, ...HlsRenditionOutput[]]> {
    const outs = (await Promise.all(rungs.map(async (p) => {
      const outputDir = join(this.dir, 'hls', p.name);
      await mkdir(outputDir, { recursive: true });
      return { plan: p, outputDir };
    }))) as [HlsRenditionOutput, ...HlsRenditionOutput[]];
    const started = performance.now();
    await runJob(this.env, ladderJob(plan, this.env.segmentSeconds, outs), what, onFraction, plan.info.duration);
    this.env.onEncoded?.(rungs.map((p) => p.name), (performance.now() - started) / 1000);
    return outs;
  }

  /** Measures and uploads an encoded rung; it is then complete. */
  private async store(plan: TranscodePlan, out: HlsRenditionOutput): Promise<void> {
    const encoded = await describeRendition(out, plan.fpsValue, plan.hasAudio, plannedCodecs(plan, out.plan));
    await uploadRendition(this.env.objectStore, this.videoId, out, encoded);
    this.done.set(out.plan.name, encoded);
  }

  /**
   * Uploads the thumbnail (once) and a master playlist of the complete renditions (a player must
   * never see a missing variant), records the lowest rendition and publishes the video.
   */
  private async publish(plan: TranscodePlan, lowest: RenditionPlan): Promise<void> {
    const { env, videoId, done } = this;
    const thumbnailKey = hlsKeys.thumbnail(videoId);
    if (!(await env.objectStore.exists(thumbnailKey))) {
      const thumb = await makeThumbnail(env, this.dir, plan);
      await env.objectStore.putFile(thumbnailKey, thumb, 'image/jpeg');
    }
    await uploadMaster(env.objectStore, videoId, done);
    const encoded = done.get(lowest.name)!;
    await env.send('RecordRenditionEncoded', { videoId, rendition: toRenditionInfo(encoded) });
    // A truncated upload can claim a duration in its header far beyond what decodes: publish the
    // playable duration then.
    const playable = encoded.durationSeconds;
    const durationSeconds = playable > 0 && playable < plan.info.duration * 0.9 ? playable : plan.info.duration;
    await env.send('PublishVideo', { videoId, masterPlaylistKey: hlsKeys.master(videoId), thumbnailKey, durationSeconds });
  }
}
