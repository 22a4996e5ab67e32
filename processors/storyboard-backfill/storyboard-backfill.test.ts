/**
 * The storyboard backfill on the transcoder's real wiring (transcoder/testing/transcoder-world.ts):
 * videos published "before storyboards" (the transcoder's FFmpeg refuses the storyboard run) get
 * theirs from a replay of the log, from the source or, once the source is gone, the top rendition;
 * a second run finds nothing to do; a run stopped after an upload resumes by recording it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Command } from '../../commands/command-bus.port.ts';
import { makeClip } from '../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../test/support/requirements.ts';
import { resolveFfmpegBinaries } from '../transcoder/ffmpeg-binaries.ts';
import { hlsKeys } from '../transcoder/hls-keys.ts';
import { createTranscoderWorld, WORLD_NOW, type TranscoderWorld } from '../transcoder/testing/transcoder-world.ts';
import { runStoryboardBackfill, type BackfillProgress, type StoryboardBackfillDeps } from './storyboard-backfill.ts';

const { ffmpeg, ffprobe } = resolveFfmpegBinaries();
const skip = requirement('FFmpeg', await ffmpegMissing());
const vtt = (id: string) => hlsKeys.storyboard(id, 'storyboard.vtt');

describe('storyboard backfill', { skip }, () => {
  let media = '';
  let world: TranscoderWorld;
  const deps = (): StoryboardBackfillDeps => ({
    log: world.driver.log, codec: world.codec, objectStore: world.objectStore, ffmpegPath: ffmpeg, ffprobePath: ffprobe,
    workDir: join(world.dir, 'backfill'), logger: pino({ level: 'silent' }),
    send: async (type, data) => { await world.commandBus.send({ type, data, metadata: { now: WORLD_NOW } } as Command); },
  });
  before(async () => {
    media = await mkdtemp(join(tmpdir(), 'sw-backfill-media-'));
    const clip = await makeClip(join(media, 'clip.mp4'), { seconds: 3, width: 320, height: 180, fps: 10, audio: false });
    // The transcoder of "before": no storyboard (its FFmpeg refuses the storyboard run).
    const wrapper = join(media, 'ffmpeg-before-storyboards.sh');
    await writeFile(wrapper, `#!/bin/sh\ncase "$*" in *sprite-%d.jpg*) exit 1;; esac\nexec '${ffmpeg}' "$@"\n`);
    await chmod(wrapper, 0o755);
    world = await createTranscoderWorld({ transcoder: { ffmpegPath: wrapper } });
    for (const id of ['old-1', 'old-2', 'old-3', 'gone']) await world.upload(id, clip);
    await world.process();
    await world.commandBus.send({ type: 'DeleteVideo', data: { videoId: 'gone' }, metadata: { now: WORLD_NOW, actorId: 'user-uploader' } });
    // old-2's source was collected: only its renditions are left.
    await world.objectStore.deleteObject('uploads/old-2');
    // old-3: a run stopped after uploading the track, before recording it.
    await world.objectStore.putObject(vtt('old-3'), Buffer.from('WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nsprite-1.jpg#xywh=0,0,160,90\n\n00:00:01.500 --> 00:00:03.000\nsprite-1.jpg#xywh=160,0,160,90\n'), 'text/vtt');
  });
  after(async () => {
    await world?.close();
    await rm(media, { recursive: true, force: true });
  });

  test('given published videos without storyboards, when backfilled twice, then each live one gets one, with progress, and the second run has nothing to do', async () => {
    for (const id of ['old-1', 'old-2', 'old-3']) assert.equal((await world.video(id)).storyboardKey ?? null, null, `${id} before`);
    // Left by a backfill killed mid-video: its attempt's folder (its process is gone), and one of before per-attempt folders.
    const exited = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(exited, 'exit');
    for (const entry of [`old-1.${exited.pid}.aB3_x-`, 'old-2']) await mkdir(join(deps().workDir, entry, 'tiles'), { recursive: true });
    const seen: BackfillProgress[] = [];
    const first = await runStoryboardBackfill(deps(), (p) => seen.push(structuredClone(p)));
    assert.deepEqual(first, { total: 3, done: 3, outcomes: { generated: 2, existing: 1, skipped: 0, failed: 0 } });
    assert.deepEqual(seen.map((p) => p.done), [0, 1, 2, 3]);
    assert.deepEqual(await readdir(deps().workDir), [], 'each video\'s folder is removed after it, the leftovers at its start');
    await world.process();
    for (const id of ['old-1', 'old-2', 'old-3']) assert.equal((await world.video(id)).storyboardKey, vtt(id), id);
    assert.equal(await world.objectStore.exists(vtt('gone')), false, 'a deleted video is left alone');
    assert.match((await world.read(vtt('old-2'))).toString('utf8'), /sprite-1\.jpg#xywh=320,0,160,90/, 'from the top rendition: 3 tiles');
    assert.equal(await world.objectStore.exists(hlsKeys.storyboard('old-3', 'sprite-1.jpg')), false, 'the stopped run\'s track is recorded, not rendered again');
    const old3 = (await world.videoEvents('old-3')).find((e) => e.type === 'StoryboardGenerated');
    assert.deepEqual(old3 && { ...old3.data, generatedAt: 0 }, { videoId: 'old-3', storyboardKey: vtt('old-3'), intervalSeconds: 1.5, tiles: 2, tileWidth: 160, tileHeight: 90, generatedAt: 0 });

    const second = await runStoryboardBackfill(deps());
    assert.deepEqual(second, { total: 0, done: 0, outcomes: { generated: 0, existing: 0, skipped: 0, failed: 0 } }, 'nothing rendered or sent again');
    const events = (await world.events()).filter((e) => e.event.type === 'StoryboardGenerated');
    assert.equal(events.length, 3, 'one StoryboardGenerated per video');
  });
});
