/**
 * Progressive publishing, proven with a real player (issue 11, docs/adr/0007): as soon as the
 * transcoder publishes the video, FFmpeg's HLS demuxer (as a player) opens the master over real
 * HTTP while the ladder is still being encoded, and must read every segment, the ones published
 * at the start and the ones that appear later, to the end of the video, without error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import { makeClip } from '../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../test/support/requirements.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { contentTypeOf, hlsKeys } from './hls-keys.ts';
import { parseMediaPlaylist } from './master-playlist.ts';
import { createTranscoderWorld, type TranscoderWorld } from './testing/transcoder-world.ts';

const { ffmpeg } = resolveFfmpegBinaries();
const skip = requirement('FFmpeg', await ffmpegMissing());
const SECONDS = 24;
const FPS = 25;

interface PlayerRun { code: number | null; stdout: string; stderr: string }

/** FFmpeg as a player: every video frame of the master's first variant, from its first segment. */
function play(url: string): Promise<PlayerRun> {
  return new Promise((resolve) => {
    execFile(
      ffmpeg,
      ['-v', 'error', '-nostdin', '-live_start_index', '0', '-i', url, '-map', '0:v:0', '-f', 'framecrc', '-'],
      { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('progressive playback while the ladder is encoded', { skip }, () => {
  let dir = '';
  let world: TranscoderWorld;
  let server: Server;
  let player: Promise<PlayerRun> | undefined;
  let segmentsAtStart = -1;
  let completedBeforePlayerStarted = false;
  let completed = false;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sw-progressive-'));
    const source = await makeClip(join(dir, 'clip.mp4'), { seconds: SECONDS, width: 640, height: 360, fps: FPS, noisy: true });
    let base = '';
    world = await createTranscoderWorld({
      commandBus: (bus): CommandBus => ({
        async send(command) {
          const result = await bus.send(command);
          if (command.type === 'CompleteProcessing') completed = true;
          if (command.type === 'PublishVideo' && !player) {
            // The player starts the moment the video is playable, like a viewer refreshing the page.
            const playlist = (await world.read(hlsKeys.rendition('prog', '144p', 'index.m3u8'))).toString('utf8');
            segmentsAtStart = parseMediaPlaylist(playlist).segments.length;
            completedBeforePlayerStarted = completed;
            player = play(`${base}/${hlsKeys.master('prog')}`);
          }
          return result;
        },
      }),
    });
    // The object store over real HTTP, as the gateway's /media route or a CDN serves it.
    server = createServer((req, res) => {
      const key = decodeURIComponent((req.url ?? '/').slice(1).split('?')[0]!);
      void world.objectStore.getObject(key).then((obj) => {
        if (!obj) { res.writeHead(404).end(); return; }
        res.writeHead(200, { 'content-type': contentTypeOf(key), 'content-length': obj.size, 'cache-control': 'no-cache' });
        obj.body.pipe(res);
      }, () => res.writeHead(500).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await world.upload('prog', source);
  });
  after(async () => {
    await new Promise((r) => server?.close(r));
    await world?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the player opens the master while rungs are still growing, then reads every later segment to the end without error', async () => {
    await world.process();
    assert.ok(player, 'the video was published and the player started');
    const run = await player;
    assert.equal(completedBeforePlayerStarted, false, 'the player started before processing completed');
    const final = parseMediaPlaylist((await world.read(hlsKeys.rendition('prog', '144p', 'index.m3u8'))).toString('utf8')).segments;
    assert.ok(segmentsAtStart >= 1 && segmentsAtStart < final.length, `published with ${segmentsAtStart} of ${final.length} segments`);
    assert.equal(run.code, 0, `the player failed: ${run.stderr.slice(-2000)}`);
    assert.equal(run.stderr.trim(), '', 'the player reported no error');
    const frames = run.stdout.split('\n').filter((l) => /^\d+,/.test(l)).length;
    // Every frame of the video, across the segments that appeared after the player started.
    assert.ok(Math.abs(frames - SECONDS * FPS) <= 2, `${frames} frames played of ${SECONDS * FPS}`);
  });
});
