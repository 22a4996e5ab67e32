/**
 * A transcode that dies mid-run and is redelivered (issue 11, docs/adr/0007): the job restarts
 * its unfinished rungs only, never encodes a finished rung twice, never republishes a segment a
 * player may have loaded, never shrinks a published playlist, and every outcome is on the log once.
 * The crash is a failure injected into the real wiring right after an effect (the transcoder's
 * process would die there): the processor runtime then redelivers the record, as after a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VideoEvent } from '../../domain/events.ts';
import { makeClip } from '../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../test/support/requirements.ts';
import { hlsKeys } from './hls-keys.ts';
import { parseMediaPlaylist } from './master-playlist.ts';
import { createTranscoderWorld, type TranscoderWorld } from './testing/transcoder-world.ts';

const skip = requirement('FFmpeg', await ffmpegMissing());
const RUNGS = ['144p', '240p', '360p'];

const count = (events: VideoEvent[], type: VideoEvent['type']): number => events.filter((e) => e.type === type).length;

/** Every version of each rung's published playlist only grew, and the last lists each segment once, ended. */
function assertPlaylistsOnlyGrew(world: TranscoderWorld, videoId: string): void {
  for (const name of RUNGS) {
    const key = hlsKeys.rendition(videoId, name, 'index.m3u8');
    let before: string[] = [];
    const versions = world.written.filter((w) => w.key === key).map((w) => w.body.toString('utf8'));
    for (const v of versions) {
      const uris = parseMediaPlaylist(v).segments.map((s) => s.uri);
      assert.deepEqual(uris.slice(0, before.length), before, `${name}: a published playlist lost or changed a segment`);
      before = uris;
    }
    assert.equal(new Set(before).size, before.length, `${name}: a segment listed twice`);
    assert.match(versions.at(-1)!, /#EXT-X-ENDLIST/);
  }
}

/** Segment keys the published playlists listed, then written again (a player may have loaded them). */
function rewrittenAfterListing(world: TranscoderWorld): string[] {
  const listed = new Set<string>();
  const rewritten: string[] = [];
  const writes = world.writes;
  let w = 0;
  for (const version of world.written) {
    // Replay the writes up to this playlist version: segments already listed must not come again.
    for (; w < version.at; w++) if (writes[w]!.endsWith('.m4s') && listed.has(writes[w]!)) rewritten.push(writes[w]!);
    const dir = version.key.slice(0, version.key.lastIndexOf('/') + 1);
    for (const s of parseMediaPlaylist(version.body.toString('utf8')).segments) listed.add(dir + s.uri);
  }
  for (; w < writes.length; w++) if (writes[w]!.endsWith('.m4s') && listed.has(writes[w]!)) rewritten.push(writes[w]!);
  return rewritten;
}

describe('a transcode that dies mid-run', { skip }, () => {
  let dir = '';
  let source = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sw-transcoder-crash-'));
    source = await makeClip(join(dir, 'clip.mp4'), { seconds: 14, width: 640, height: 360, fps: 15, noisy: true });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('right after publication (rungs still growing): the redelivered job encodes them again, republishes no listed segment, and each outcome is on the log once', async () => {
    let crashed = false;
    const world = await createTranscoderWorld({
      commandBus: (bus) => ({
        async send(command) {
          const result = await bus.send(command);
          if (command.type === 'PublishVideo' && !crashed) {
            crashed = true;
            throw new Error('transcoder process died after publishing');
          }
          return result;
        },
      }),
    });
    try {
      await world.upload('mid', source);
      await world.process();
      assert.ok(crashed);
      assert.equal(world.sent.filter((c) => c.type === 'StartProcessing').length, 2, 'the job ran again');
      const events = await world.videoEvents('mid');
      assert.equal(count(events, 'VideoPublished'), 1);
      assert.deepEqual(events.filter((e) => e.type === 'RenditionEncoded').map((e) => e.type === 'RenditionEncoded' && e.data.rendition.name), RUNGS);
      assert.equal(count(events, 'VideoProcessingCompleted'), 1);
      assert.equal(count(events, 'VideoProcessingFailed'), 0);
      assertPlaylistsOnlyGrew(world, 'mid');
      assert.deepEqual(rewrittenAfterListing(world), [], 'no listed segment written again');
      const v = await world.video('mid');
      assert.deepEqual([v.status, v.progress, v.renditions.map((r) => [r.name, r.complete])], ['ready', 100, RUNGS.map((n) => [n, true])]);
      assert.deepEqual(await world.deadLetters(), []);
    } finally {
      await world.close();
    }
  });

  test('between two rungs completing: the redelivered job never encodes the finished rung again', async () => {
    let crashed = false;
    const world = await createTranscoderWorld({
      objectStore: (store) => ({
        ...store,
        async putObject(key, body, type) {
          // The process dies right before the second rung's completion mark: 144p is complete.
          if (key === hlsKeys.rendition('between', '240p', 'rendition.json') && !crashed) {
            crashed = true;
            throw new Error('transcoder process died between two rungs');
          }
          return store.putObject(key, body, type);
        },
      }),
    });
    try {
      await world.upload('between', source);
      await world.process();
      assert.ok(crashed);
      // 144p was complete before the crash: the second run wrote nothing of it but its (final) entry in the master.
      const starts = world.sent.flatMap((c, i) => (c.type === 'StartProcessing' ? [i] : []));
      assert.equal(starts.length, 2);
      const firstRun144 = world.writes.filter((k) => k.includes('/hls/144p/'));
      assert.equal(firstRun144.filter((k) => k.endsWith('rendition.json')).length, 1, '144p completed once');
      const segments144 = firstRun144.filter((k) => k.endsWith('.m4s'));
      assert.equal(new Set(segments144).size, segments144.length, '144p segments written once each: not encoded again');
      const events = await world.videoEvents('between');
      assert.deepEqual(events.filter((e) => e.type === 'RenditionEncoded').map((e) => e.type === 'RenditionEncoded' && e.data.rendition.name), RUNGS);
      assert.equal(count(events, 'VideoPublished'), 1);
      assert.equal(count(events, 'VideoProcessingCompleted'), 1);
      assertPlaylistsOnlyGrew(world, 'between');
      assert.deepEqual(rewrittenAfterListing(world), []);
      const v = await world.video('between');
      assert.deepEqual([v.status, v.progress], ['ready', 100]);
    } finally {
      await world.close();
    }
  });

  test('after the master is uploaded but before PublishVideo reaches the aggregate: the redelivered job publishes, and the video ends ready, not stuck processing', async () => {
    let lost = false;
    const world = await createTranscoderWorld({
      commandBus: (bus) => ({
        async send(command) {
          if (command.type === 'PublishVideo' && !lost) {
            lost = true;
            throw new Error('transcoder process died before PublishVideo was sent');
          }
          return bus.send(command);
        },
      }),
    });
    try {
      await world.upload('lost', source);
      await world.process();
      assert.ok(lost);
      const events = await world.videoEvents('lost');
      assert.equal(count(events, 'VideoPublished'), 1);
      assert.equal(count(events, 'VideoProcessingCompleted'), 1);
      const v = await world.video('lost');
      assert.deepEqual([v.status, v.progress], ['ready', 100]);
      assertPlaylistsOnlyGrew(world, 'lost');
    } finally {
      await world.close();
    }
  });

  test('dead-lettered after publication (the store refuses a later segment for good): the video stays playable, its renditions end where they stopped, processing completes', async () => {
    const world = await createTranscoderWorld({
      objectStore: (store) => ({
        ...store,
        async putFile(key, path, type) {
          if (key.endsWith('/seg-00003.m4s')) throw new Error('store refuses this segment');
          return store.putFile(key, path, type);
        },
      }),
    });
    try {
      await world.upload('dead', source);
      await world.process();
      assert.equal((await world.deadLetters()).length, 1);
      const events = await world.videoEvents('dead');
      assert.equal(count(events, 'VideoPublished'), 1);
      assert.equal(count(events, 'VideoProcessingFailed'), 0, 'a published video is not failed');
      assert.equal(count(events, 'VideoProcessingCompleted'), 1);
      for (const name of RUNGS) {
        const playlist = (await world.read(hlsKeys.rendition('dead', name, 'index.m3u8'))).toString('utf8');
        assert.match(playlist, /#EXT-X-ENDLIST/, `${name} ends`);
        assert.equal(parseMediaPlaylist(playlist).segments.length, 2, `${name} ends where it stopped`);
      }
      const v = await world.video('dead');
      assert.deepEqual([v.status, v.progress, v.renditions.every((r) => r.complete)], ['ready', 100, true]);
    } finally {
      await world.close();
    }
  });
});
