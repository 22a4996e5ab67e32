/**
 * The transcoder's media limits on the real wiring (testing/transcoder-world.ts), issue 8 finding 3:
 * a hung FFmpeg is killed at its time limit and the video fails with PROCESSING_TIMEOUT (and the
 * node reports itself not ready, and counts it); on shutdown the running FFmpeg is killed and the
 * job is left for redelivery, not failed; a source beyond the limits fails before any encode; an
 * allocation failure is retried once, then OUT_OF_MEMORY. Public reasons are the fixed sentences,
 * free of server paths.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROCESSING_FAILURE_MESSAGES } from '../../domain/video/processing-failure.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { makeClip } from '../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../test/support/requirements.ts';
import { BoundedProcessError } from './bounded-process.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { DEFAULT_TIME_LIMITS } from './media-limits.ts';
import { createTranscoderWorld } from './testing/transcoder-world.ts';

const skip = requirement('FFmpeg', await ffmpegMissing());
const { ffmpeg } = resolveFfmpegBinaries();

/** Limits that make the test quick: every FFmpeg run may take 1 s, then SIGTERM, SIGKILL 1 s later. */
const TINY_TIME_LIMITS = { ...DEFAULT_TIME_LIMITS, encodeFactor: 0.001, floorSeconds: 1, ceilingSeconds: 1, killGraceSeconds: 1 };

let media = '';
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** An "FFmpeg" that writes its pid to `pidFile`, ignores SIGTERM and hangs. */
async function hangingFfmpeg(name: string): Promise<{ path: string; pidFile: string }> {
  const path = join(media, `${name}.sh`);
  const pidFile = join(media, `${name}.pid`);
  await writeFile(path, `#!/bin/sh\ntrap '' TERM\necho $$ > '${pidFile}'\nwhile :; do sleep 1; done\n`);
  await chmod(path, 0o755);
  return { path, pidFile };
}

describe('transcoder media limits', { skip }, () => {
  before(async () => {
    media = await mkdtemp(join(tmpdir(), 'sw-transcoder-limits-'));
    await makeClip(join(media, 'plain.mp4'), { seconds: 2, width: 320, height: 180, fps: 15, audio: false });
    await makeClip(join(media, 'landscape.mp4'), { seconds: 2, width: 640, height: 360, fps: 15, audio: false });
    await makeClip(join(media, 'wide-sar.mp4'), { seconds: 1, width: 256, height: 144, fps: 5, audio: false, sar: '1000:1' });
  });
  after(async () => {
    await rm(media, { recursive: true, force: true });
  });

  test('given an FFmpeg that hangs, then it is killed at its time limit, the video fails with PROCESSING_TIMEOUT, and the node is not ready', async () => {
    const hung = await hangingFfmpeg('hung');
    const world = await createTranscoderWorld({ transcoder: { ffmpegPath: hung.path, timeLimits: TINY_TIME_LIMITS } });
    try {
      assert.equal(world.transcoder.readiness(), null, 'ready before');
      await world.upload('hung', join(media, 'plain.mp4'));
      await world.process();
      const v = await world.video('hung');
      assert.deepEqual([v.status, v.errorCode, v.error], ['failed', 'PROCESSING_TIMEOUT', PROCESSING_FAILURE_MESSAGES.PROCESSING_TIMEOUT]);
      const pid = Number(await readFile(hung.pidFile, 'utf8'));
      assert.equal(alive(pid), false, 'the hung FFmpeg (deaf to SIGTERM) was killed');
      assert.deepEqual(await world.deadLetters(), [], 'a permanent failure: not retried, not dead-lettered');
      assert.deepEqual(world.transcoder.readiness(), { reason: 'TRANSCODE_TIMED_OUT', at: 1_700_000_000_000, videoId: 'hung' });
      const metric = await world.transcoder.timeLimitExceeded.get();
      assert.deepEqual(metric.values.map((m) => [m.labels, m.value]), [[{ step: 'encode', cause: 'timeout' }, 1]]);
      assert.deepEqual(await readdir(world.workDir), []);
    } finally {
      await world.close();
    }
  });

  test('given shutdown while FFmpeg hangs, then the child is killed at once and the handler throws: the record is redelivered, the video is not failed', async () => {
    const hung = await hangingFfmpeg('shutdown');
    // Time limits far away: only the abort can end it.
    const world = await createTranscoderWorld({ transcoder: { ffmpegPath: hung.path, timeLimits: { ...DEFAULT_TIME_LIMITS, killGraceSeconds: 1 } } });
    try {
      await world.upload('stopping', join(media, 'plain.mp4'));
      const records = world.driver.log.records(TOPICS.videos);
      let uploadCompleted;
      for (const r of records) if ((await world.codec.decode(r.value!)).type === 'UploadCompleted') uploadCompleted = r;
      assert.ok(uploadCompleted);
      const shutdown = new AbortController();
      const handling = world.transcoder.handle(uploadCompleted, { signal: shutdown.signal }).then(() => null, (e: unknown) => e);
      // Shut down once FFmpeg runs (its pid file appears).
      let pid = 0;
      while (!pid) {
        pid = Number(await readFile(hung.pidFile, 'utf8').catch(() => '0')) || 0;
        if (!pid) await new Promise((r) => setImmediate(r));
      }
      shutdown.abort(new Error('processor transcoder stopping'));
      const err = await handling;
      assert.ok(err instanceof BoundedProcessError, String(err));
      assert.equal(err.kind, 'aborted');
      assert.equal(alive(pid), false, 'FFmpeg was killed');
      assert.equal(world.sent.filter((c) => c.type === 'FailProcessing').length, 0, 'an interrupted job does not fail the video');
      assert.deepEqual(await readdir(world.workDir), []);
    } finally {
      await world.close();
    }
  });

  test('given a 1000:1 sample aspect ratio, then the video fails with ASPECT_RATIO_UNSUPPORTED before any encode or StartProcessing', async () => {
    const world = await createTranscoderWorld();
    try {
      await world.upload('wide', join(media, 'wide-sar.mp4'));
      await world.process();
      const v = await world.video('wide');
      assert.deepEqual([v.status, v.errorCode, v.error], ['failed', 'ASPECT_RATIO_UNSUPPORTED', PROCESSING_FAILURE_MESSAGES.ASPECT_RATIO_UNSUPPORTED]);
      assert.deepEqual(world.sent.map((c) => c.type), ['StartUpload', 'CompleteUpload', 'FailProcessing']);
      assert.deepEqual(world.writes, []);
    } finally {
      await world.close();
    }
  });

  test('given an FFmpeg that cannot allocate memory (the prlimit cap), then it is retried once, then OUT_OF_MEMORY; the stderr with its paths is not in the event', async () => {
    const path = join(media, 'ffmpeg-enomem.sh');
    await writeFile(path, `#!/bin/sh\necho "[libx264 @ 0x5555] malloc of size 1073741824 failed" >&2\necho "Error while opening encoder for output stream: ${media}/x Cannot allocate memory" >&2\nexit 1\n`);
    await chmod(path, 0o755);
    const world = await createTranscoderWorld({ transcoder: { ffmpegPath: path } });
    try {
      await world.upload('enomem', join(media, 'plain.mp4'));
      await world.process();
      assert.equal(world.sent.filter((c) => c.type === 'StartProcessing').length, 2);
      const failed = (await world.videoEvents('enomem')).filter((e) => e.type === 'VideoProcessingFailed');
      assert.equal(failed.length, 1);
      assert.equal(JSON.stringify(failed[0]!.data).includes(media), false, 'no server path in the event');
      assert.deepEqual([(failed[0]!.data as { code: string }).code], ['OUT_OF_MEMORY']);
    } finally {
      await world.close();
    }
  });

  test('given the higher rungs running out of memory on both attempts, then the video stays published with the lowest and completion omits them with OUT_OF_MEMORY', async () => {
    const path = join(media, 'ffmpeg-enomem-higher.sh');
    await writeFile(path, `#!/bin/sh\nfor a in "$@"; do case "$a" in */hls/240p/*) echo "Cannot allocate memory" >&2; exit 1;; esac; done\nexec '${ffmpeg}' "$@"\n`);
    await chmod(path, 0o755);
    const world = await createTranscoderWorld({ transcoder: { ffmpegPath: path } });
    try {
      await world.upload('higher', join(media, 'landscape.mp4'));
      await world.process();
      assert.equal(world.sent.filter((c) => c.type === 'StartProcessing').length, 2, 'retried once');
      const v = await world.video('higher');
      assert.deepEqual([v.status, v.progress, v.renditions.map((r) => r.name)], ['ready', 100, ['144p']]);
      assert.deepEqual(v.omittedRenditions.map((o) => [o.name, o.reason]), [['240p', PROCESSING_FAILURE_MESSAGES.OUT_OF_MEMORY], ['360p', PROCESSING_FAILURE_MESSAGES.OUT_OF_MEMORY]]);
      assert.deepEqual(await world.deadLetters(), []);
    } finally {
      await world.close();
    }
  });

  test('given the real FFmpeg under the default limits and prlimit cap, then a normal clip is still ready', async () => {
    const world = await createTranscoderWorld({ transcoder: { ffmpegPath: ffmpeg } });
    try {
      await world.upload('ok', join(media, 'plain.mp4'));
      await world.process();
      assert.equal((await world.video('ok')).status, 'ready');
    } finally {
      await world.close();
    }
  });
});
