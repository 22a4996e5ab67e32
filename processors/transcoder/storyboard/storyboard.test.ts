/**
 * Seek previews from the transcoder on the real wiring (../testing/transcoder-world.ts) with the
 * real FFmpeg: the sprite sheets' size, the WebVTT cues, the event and the video detail; a
 * storyboard that fails, an audio-only source and a damaged one never fail publishing. Sources are
 * generated with lavfi (a few seconds, small); the shared real media (../shared/media) is used
 * when present.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Registry, type Counter } from 'prom-client';
import pino from 'pino';
import type { VideoEvent } from '../../../domain/events.ts';
import { makeAudioOnly, makeClip, truncateCopy } from '../../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../../test/support/requirements.ts';
import { resolveFfmpegBinaries } from '../ffmpeg-binaries.ts';
import { hlsKeys } from '../hls-keys.ts';
import { createTranscoderWorld, type TranscoderWorld } from '../testing/transcoder-world.ts';
import { readStoryboardVtt } from './storyboard-layout.ts';
import { addStoryboard, renderStoryboard } from './storyboard-step.ts';

const run = promisify(execFile);
const { ffmpeg, ffprobe } = resolveFfmpegBinaries();
const skip = requirement('FFmpeg', await ffmpegMissing());
const SHARED_MEDIA = join(import.meta.dirname, '../../../../shared/media');

let media = '';
const src = (name: string): string => join(media, name);
const vttKey = (videoId: string) => hlsKeys.storyboard(videoId, 'storyboard.vtt');
const storyboardEvents = (events: VideoEvent[]) => events.filter((e) => e.type === 'StoryboardGenerated');

async function imageSize(world: TranscoderWorld, key: string): Promise<string> {
  const path = join(world.dir, key.replaceAll('/', '_'));
  await writeFile(path, await world.read(key));
  const { stdout } = await run(ffprobe, ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', path]);
  return stdout.trim();
}

/** Transcodes `source` as `videoId` in a fresh world; the caller closes it. */
async function transcoded(videoId: string, source: string, opts: Parameters<typeof createTranscoderWorld>[0] = {}): Promise<TranscoderWorld> {
  const world = await createTranscoderWorld(opts);
  await world.upload(videoId, source);
  await world.process();
  return world;
}

describe('storyboard (seek previews) from the transcoder', { skip }, () => {
  before(async () => {
    media = await mkdtemp(join(tmpdir(), 'sw-storyboard-media-'));
    await makeClip(src('clip.mp4'), { seconds: 3.5, width: 320, height: 180, fps: 10 });
    await makeClip(src('faststart.mp4'), { seconds: 4, width: 320, height: 180, fps: 10, faststart: true });
    await makeAudioOnly(src('audio-only.m4a'), 1);
  });
  after(() => rm(media, { recursive: true, force: true }));

  test('given a 3.5 s 320x180 clip, when transcoded, then one 640x90 sprite of 4 tiles, 4 cues, StoryboardGenerated after completion and the key in the detail', async () => {
    const world = await transcoded('sb', src('clip.mp4'));
    try {
      const video = await world.video('sb');
      assert.equal(video.status, 'ready');
      assert.equal(video.storyboardKey, vttKey('sb'));
      assert.equal(await imageSize(world, hlsKeys.storyboard('sb', 'sprite-1.jpg')), 'mjpeg,640,90');
      assert.equal(await world.objectStore.exists(hlsKeys.storyboard('sb', 'sprite-2.jpg')), false);
      const vtt = (await world.read(vttKey('sb'))).toString('utf8');
      assert.deepEqual(vtt.split('\n').filter((l) => l.includes('#xywh=')), [0, 160, 320, 480].map((x) => `sprite-1.jpg#xywh=${x},0,160,90`));
      assert.match(vtt, /^WEBVTT\n\n00:00:00\.000 --> 00:00:01\.000\n/);
      assert.match(vtt, /00:00:03\.000 --> 00:00:03\.[0-9]{3}\nsprite-1\.jpg#xywh=480,0,160,90\n$/);
      const events = await world.videoEvents('sb');
      const sb = storyboardEvents(events);
      assert.equal(sb.length, 1);
      assert.deepEqual({ ...sb[0]!.data, generatedAt: 0 }, { videoId: 'sb', storyboardKey: vttKey('sb'), intervalSeconds: 1, tiles: 4, tileWidth: 160, tileHeight: 90, generatedAt: 0 });
      assert.ok(events.findIndex((e) => e.type === 'VideoProcessingCompleted') < events.indexOf(sb[0]!), 'after the video is complete');
      assert.equal(world.writes.indexOf(vttKey('sb')), world.writes.length - 1, 'the track is uploaded last (the mark of completion)');
    } finally {
      await world.close();
    }
  });

  test('given a redelivered upload, then the storyboard is rendered once and recorded once', async () => {
    const world = await transcoded('again', src('clip.mp4'), { redeliver: true });
    try {
      assert.equal(world.writes.filter((k) => k === hlsKeys.storyboard('again', 'sprite-1.jpg')).length, 1);
      assert.equal(storyboardEvents(await world.videoEvents('again')).length, 1);
    } finally {
      await world.close();
    }
  });

  test('given FFmpeg failing on the storyboard only, then the video is still published and completed, the failure counted', async () => {
    const wrapper = join(media, 'ffmpeg-no-storyboard.sh');
    await writeFile(wrapper, `#!/bin/sh\ncase "$*" in *sprite-%d.jpg*) echo 'Invalid data found when processing input' >&2; exit 1;; esac\nexec '${ffmpeg}' "$@"\n`);
    await chmod(wrapper, 0o755);
    const registry = new Registry();
    const world = await transcoded('nosb', src('clip.mp4'), { transcoder: { ffmpegPath: wrapper, registry } });
    try {
      const video = await world.video('nosb');
      assert.equal(video.status, 'ready');
      assert.equal(video.progress, 100);
      assert.equal(video.storyboardKey ?? null, null);
      assert.equal(storyboardEvents(await world.videoEvents('nosb')).length, 0);
      assert.equal((await world.deadLetters()).length, 0);
      const counter = registry.getSingleMetric('streamwave_transcoder_storyboards_total') as Counter<'outcome'>;
      const failed = (await counter.get()).values.find((v) => v.labels.outcome === 'failed');
      assert.equal(failed?.value, 1);
    } finally {
      await world.close();
    }
  });

  test('given an audio-only source, then the video fails as before (NO_VIDEO_STREAM) and no storyboard is attempted; rendering one returns null', async () => {
    const world = await transcoded('audio', src('audio-only.m4a'));
    try {
      const video = await world.video('audio');
      assert.equal(video.status, 'failed');
      assert.equal(video.errorCode, 'NO_VIDEO_STREAM');
      assert.equal(await world.objectStore.exists(vttKey('audio')), false);
      const env = { ffmpegPath: ffmpeg, logger: pino({ level: 'silent' }) };
      assert.equal(await renderStoryboard(env, src('audio-only.m4a'), null, 1, world.dir), null);
      const sent: string[] = [];
      const outcome = await addStoryboard({ ...env, objectStore: world.objectStore, send: async (type) => { sent.push(type); } }, 'audio', src('audio-only.m4a'), null, 1, world.dir, pino({ level: 'silent' }));
      assert.equal(outcome, 'skipped');
      assert.deepEqual(sent, []);
    } finally {
      await world.close();
    }
  });

  test('given a truncated upload, then the video is published with what decodes and its storyboard cues point only at sheets that exist', async () => {
    const world = await transcoded('cut', await truncateCopy(src('faststart.mp4'), src('cut.mp4'), 0.5));
    try {
      const video = await world.video('cut');
      assert.notEqual(video.status, 'failed', `${video.errorCode}`);
      if (video.storyboardKey) {
        const info = readStoryboardVtt((await world.read(video.storyboardKey)).toString('utf8'))!;
        assert.ok(info.tiles >= 1);
        assert.equal(await world.objectStore.exists(hlsKeys.storyboard('cut', 'sprite-1.jpg')), true);
      }
    } finally {
      await world.close();
    }
  });

  test('real media when present: a 5 s 720p PeerTube clip gets 5 tiles of 160x84; a damaged file fails without a storyboard', async (t) => {
    const real = join(SHARED_MEDIA, 'peertube/video_short.mp4');
    if (!(await access(real).then(() => true, () => false))) return t.skip('../shared/media is not here');
    const world = await transcoded('real', real);
    try {
      assert.equal((await world.video('real')).storyboardKey, vttKey('real'));
      const info = readStoryboardVtt((await world.read(vttKey('real'))).toString('utf8'))!;
      // Its pixels are not square (SAR 241:226): it displays 1365x720, so a 160-wide tile is 84 high.
      assert.deepEqual({ ...info, tiles: Math.min(info.tiles, 5) }, { intervalSeconds: 1, tiles: 5, tileWidth: 160, tileHeight: 84 });
      await world.upload('fake', join(SHARED_MEDIA, 'peertube/video_short_fake.webm'));
      await world.process();
      assert.equal((await world.video('fake')).status, 'failed');
      assert.equal(await world.objectStore.exists(vttKey('fake')), false);
    } finally {
      await world.close();
    }
  });
});
