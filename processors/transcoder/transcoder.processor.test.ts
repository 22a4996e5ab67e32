/**
 * The transcoder on the real wiring (testing/transcoder-world.ts): an upload's real commands go
 * through the real command bus, the topology test driver runs the transcoder and the video-detail
 * read model, and the output lands in the embedded object store. Assertions are on what a user
 * sees: the video's document, the events on the log, the objects (checked with ffprobe).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from '../../commands/command-bus.port.ts';
import type { RenditionInfo, VideoEvent } from '../../domain/events.ts';
import { ObjectStoreError } from '../../platform/object-store/object-store.port.ts';
import { DLQ_HEADERS } from '../runtime/processor.runtime.ts';
import { makeAudioOnly, makeClip } from '../../test/support/make-media.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { hlsKeys } from './hls-keys.ts';
import { parseMediaPlaylist } from './master-playlist.ts';
import { createTranscoderWorld, UPLOADER, WORLD_NOW, type TranscoderWorld } from './testing/transcoder-world.ts';
import { ffmpegMissing, requirement } from '../../test/support/requirements.ts';
import { PROCESSING_FAILED_CODE } from './transcoder.processor.ts';
import { PROCESSING_FAILURE_MESSAGES } from '../../domain/video/processing-failure.ts';

const run = promisify(execFile);
const { ffmpeg, ffprobe } = resolveFfmpegBinaries();
const skip = requirement('FFmpeg', await ffmpegMissing());

let media = '';
const src = (name: string): string => join(media, name);

/** Tiny sources generated with lavfi, so the suite needs no media files. */
async function generateMedia(): Promise<void> {
  await makeClip(src('landscape.mp4'), { seconds: 5, width: 640, height: 360, fps: 15, metadata: { location: '+48.8584+002.2945/' } });
  await makeClip(src('rotated.mp4'), { seconds: 2, width: 320, height: 180, fps: 15, audio: false, rotate: 90 });
  await makeClip(src('plain.mp4'), { seconds: 2, width: 320, height: 180, fps: 15, audio: false });
  await makeClip(src('long.mp4'), { seconds: 40, width: 640, height: 360, fps: 15, noisy: true });
  await makeAudioOnly(src('audio-only.mp4'), 1);
  await writeFile(src('text.mp4'), 'this is not a video\n'.repeat(20));
}

async function probeJson(path: string, entries: string): Promise<any> {
  const { stdout } = await run(ffprobe, ['-v', 'error', '-show_entries', entries, '-of', 'json', path]);
  return JSON.parse(stdout);
}

/** A rendition's init segment + first media segment as one local MP4, for ffprobe. */
async function firstSegmentFile(world: TranscoderWorld, videoId: string, rendition: string): Promise<string> {
  const path = join(world.dir, `joined-${videoId}-${rendition}.mp4`);
  const key = (f: string) => hlsKeys.rendition(videoId, rendition, f);
  await writeFile(path, Buffer.concat([await world.read(key('init.mp4')), await world.read(key('seg-00001.m4s'))]));
  return path;
}

const text = async (world: TranscoderWorld, key: string): Promise<string> => (await world.read(key)).toString('utf8');
const masterUris = (master: string): string[] => master.split('\n').filter((l) => l && !l.startsWith('#'));

type Of<T extends VideoEvent['type']> = Extract<VideoEvent, { type: T }>;
const ofType = <T extends VideoEvent['type']>(events: VideoEvent[], type: T): Of<T>[] => events.filter((e): e is Of<T> => e.type === type);
const sentOfType = <T extends Command['type']>(cmds: Command[], type: T): Extract<Command, { type: T }>[] =>
  cmds.filter((c): c is Extract<Command, { type: T }> => c.type === type);
/** What the transcoder did to the video, in log order: the events after UploadCompleted. */
const afterUpload = (events: VideoEvent[]): VideoEvent[] => events.slice(events.findIndex((e) => e.type === 'UploadCompleted') + 1);

describe('transcoder processor', { skip }, () => {
  before(async () => {
    media = await mkdtemp(join(tmpdir(), 'sw-transcoder-media-'));
    await generateMedia();
  });
  after(async () => {
    await rm(media, { recursive: true, force: true });
  });

  describe('given the upload of a 5 s 640x360 video with audio, when it completes', () => {
    let world: TranscoderWorld;
    let events: VideoEvent[];
    before(async () => {
      world = await createTranscoderWorld();
      await world.upload('vid-1', src('landscape.mp4'));
      await world.process();
      events = await world.videoEvents('vid-1');
    });
    after(() => world.close());

    test('then the video is ready at progress 100 with every rendition, lowest first', async () => {
      const v = await world.video('vid-1');
      assert.equal(v.status, 'ready');
      assert.equal(v.progress, 100);
      assert.deepEqual(v.renditions.map((r) => r.name), ['144p', '240p', '360p']);
      assert.equal(v.plannedRenditions, 3);
      assert.deepEqual(v.omittedRenditions, []);
      assert.equal(v.errorCode, null);
      assert.equal(v.masterPlaylistKey, hlsKeys.master('vid-1'));
      assert.equal(v.thumbnailKey, hlsKeys.thumbnail('vid-1'));
      assert.ok(Math.abs(v.durationSeconds! - 5) < 0.2, `duration ${v.durationSeconds}`);
      assert.equal(v.publishedAt, WORLD_NOW);
    });

    test('then processing starts first, with the planned ladder and the source duration', () => {
      const first = afterUpload(events)[0]!;
      assert.equal(first.type, 'VideoProcessingStarted');
      if (first.type !== 'VideoProcessingStarted') return;
      assert.deepEqual(first.data.ladder.map((r) => [r.name, r.height]), [['144p', 144], ['240p', 240], ['360p', 360]]);
      assert.ok(Math.abs(first.data.durationSeconds - 5) < 0.2);
    });

    test('then the video is published once every rung has its first segment, before any rung is complete (progressive publishing)', () => {
      const seq = events
        .filter((e) => e.type === 'RenditionEncoded' || e.type === 'VideoPublished')
        .map((e) => (e.type === 'RenditionEncoded' ? e.data.rendition.name : e.type));
      assert.deepEqual(seq, ['VideoPublished', '144p', '240p', '360p']);
      const published = ofType(events, 'VideoPublished')[0]!;
      assert.deepEqual(published.data.renditions?.map((r) => r.name), ['144p', '240p', '360p'], 'the master lists every rung from the start');
      assert.equal(published.data.masterPlaylistKey, 'videos/vid-1/hls/master.m3u8');
      assert.equal(published.data.thumbnailKey, 'videos/vid-1/thumbnail.jpg');
      // (A 5 s clip may be encoded whole before the first look at the output: how far the run got
      // by publication depends on the machine, so only the order of the outcomes is asserted.)
      assert.equal(ofType(events, 'VideoProcessingProgressed').map((e) => e.data.progress).at(-1), 100);
    });

    test('then every media playlist is an EVENT playlist that only grew: target duration 4 throughout, a 1 s first segment, ended last', () => {
      for (const name of ['144p', '240p', '360p']) {
        const key = hlsKeys.rendition('vid-1', name, 'index.m3u8');
        const versions = world.written.filter((w) => w.key === key).map((w) => w.body.toString('utf8'));
        assert.ok(versions.length >= 2, `${name}: ${versions.length} versions of its playlist`);
        let before: string[] = [];
        for (const [i, v] of versions.entries()) {
          assert.match(v, /#EXT-X-PLAYLIST-TYPE:EVENT/);
          assert.match(v, /#EXT-X-TARGETDURATION:4\n/);
          assert.equal(v.includes('#EXT-X-ENDLIST'), i === versions.length - 1, `${name} v${i}: ENDLIST only in the last version`);
          const uris = parseMediaPlaylist(v).segments.map((s) => s.uri);
          assert.deepEqual(uris.slice(0, before.length), before, `${name}: a later version keeps every earlier segment`);
          assert.ok(uris.length >= before.length);
          before = uris;
        }
        const { segments } = parseMediaPlaylist(versions.at(-1)!);
        assert.ok(Math.abs(segments[0]!.duration - 1) < 0.1, `${name}: first segment ${segments[0]!.duration} s`);
      }
    });

    test('then processing completes last (only the storyboard after it), listing every rung lowest first, nothing omitted', () => {
      assert.deepEqual(events.slice(-2).map((e) => e.type), ['VideoProcessingCompleted', 'StoryboardGenerated']);
      const completed = ofType(events, 'VideoProcessingCompleted');
      assert.equal(completed.length, 1);
      const encoded = ofType(events, 'RenditionEncoded').map((e) => e.data.rendition.name);
      assert.deepEqual(completed[0]!.data.renditions, encoded);
      assert.deepEqual(completed[0]!.data.renditions, ['144p', '240p', '360p']);
      assert.deepEqual(completed[0]!.data.omitted, []);
    });

    test('then renditions have the planned size, H.264 High + AAC stereo, square pixels, no location metadata', async () => {
      const source = await probeJson(src('landscape.mp4'), 'format_tags=location');
      assert.ok(source.format.tags?.location, 'the source carries a location to strip');
      for (const { data: { rendition: r } } of ofType(events, 'RenditionEncoded')) {
        const p = await probeJson(await firstSegmentFile(world, 'vid-1', r.name), 'stream=codec_name,profile,level,width,height,sample_aspect_ratio,channels,sample_rate:format_tags');
        const [v, a] = p.streams;
        assert.equal(v.codec_name, 'h264');
        assert.equal(v.profile, 'High');
        assert.deepEqual([v.width, v.height], [r.width, r.height]);
        assert.ok(v.sample_aspect_ratio === undefined || v.sample_aspect_ratio === '1:1');
        assert.equal(a.codec_name, 'aac');
        assert.equal(a.channels, 2);
        // CODECS is derived from what was encoded.
        assert.equal(r.codecs, `avc1.64${'00'}${v.level.toString(16).padStart(2, '0')},mp4a.40.2`);
        assert.equal(p.format.tags?.location, undefined);
        assert.equal(r.playlist, `${r.name}/index.m3u8`);
      }
    });

    test('then segments are ≤ 6 s except the last, and the 5 s video has ≥ 2 segments per rendition', async () => {
      for (const name of ['144p', '240p', '360p']) {
        const { segments, initUri } = parseMediaPlaylist(await text(world, hlsKeys.rendition('vid-1', name, 'index.m3u8')));
        assert.equal(initUri, 'init.mp4');
        assert.ok(segments.length >= 2, `${name}: ${segments.length} segments`);
        segments.slice(0, -1).forEach((s) => assert.ok(s.duration <= 6, `${name} segment ${s.uri} is ${s.duration} s`));
        assert.equal(segments[0]!.uri, 'seg-00001.m4s');
        for (const s of segments) assert.ok(await world.objectStore.exists(hlsKeys.rendition('vid-1', name, s.uri)), s.uri);
      }
    });

    test('then the master playlist lists every rendition, lowest first, with measured BANDWIDTH and real CODECS', async () => {
      const lines = (await text(world, hlsKeys.master('vid-1'))).trim().split('\n');
      assert.deepEqual(lines.slice(0, 3), ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS']);
      const encoded = new Map(ofType(events, 'RenditionEncoded').map((e) => [e.data.rendition.playlist, e.data.rendition] as [string, RenditionInfo]));
      const inf = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
      assert.equal(inf.length, 3);
      const uris = masterUris(lines.join('\n'));
      assert.deepEqual(uris, ['144p/index.m3u8', '240p/index.m3u8', '360p/index.m3u8']);
      inf.forEach((l, i) => {
        const r = encoded.get(uris[i]!)!;
        assert.match(l, new RegExp(`BANDWIDTH=${r.bandwidth},`));
        assert.match(l, /AVERAGE-BANDWIDTH=\d+/);
        assert.match(l, new RegExp(`RESOLUTION=${r.width}x${r.height}`));
        assert.match(l, new RegExp(`CODECS="${r.codecs.replace('.', '\\.')}"`));
        assert.match(l, /FRAME-RATE=15\.000/);
      });
      // BANDWIDTH is the peak segment bitrate: at least the average of the segments.
      for (const r of encoded.values()) {
        const { segments } = parseMediaPlaylist(await text(world, hlsKeys.rendition('vid-1', r.name, 'index.m3u8')));
        const bytes = await Promise.all(segments.map((s) => world.read(hlsKeys.rendition('vid-1', r.name, s.uri))));
        const bits = bytes.reduce((n, b) => n + b.length * 8, 0);
        const secs = segments.reduce((n, s) => n + s.duration, 0);
        assert.ok(r.bandwidth >= bits / secs, `${r.name}: ${r.bandwidth} < ${bits / secs}`);
      }
    });

    test('then the thumbnail is a JPEG ≤ 640 wide', async () => {
      const bytes = await world.read(hlsKeys.thumbnail('vid-1'));
      assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xd8]);
      const path = join(world.dir, 'thumbnail.jpg');
      await writeFile(path, bytes);
      const p = await probeJson(path, 'stream=width,height');
      assert.ok(p.streams[0].width <= 640 && p.streams[0].width > 0);
    });

    test('then progress rises in steps of ≥ 5 points within 0..100 and ends at 100', () => {
      const values = ofType(events, 'VideoProcessingProgressed').map((e) => e.data.progress);
      assert.ok(values.length >= 1);
      values.forEach((v, i) => {
        assert.ok(v >= 0 && v <= 100);
        if (i > 0) assert.ok(v - values[i - 1]! >= 5 || v === 100, `progress ${values.join(',')}`);
      });
      assert.equal(values.at(-1), 100);
    });

    test('then the work directory is deleted', async () => {
      assert.deepEqual(await readdir(world.workDir).catch(() => []), []);
    });
  });

  describe('given the same completed upload delivered twice (a lost offset commit)', () => {
    let world: TranscoderWorld;
    let events: VideoEvent[];
    before(async () => {
      world = await createTranscoderWorld({ redeliver: true });
      await world.upload('twice', src('landscape.mp4'));
      await world.process();
      events = await world.videoEvents('twice');
    });
    after(() => world.close());

    test('then the log holds each outcome once: one start, one RenditionEncoded per rung, one VideoPublished, one completion', () => {
      assert.equal(ofType(events, 'VideoProcessingStarted').length, 1);
      assert.deepEqual(ofType(events, 'RenditionEncoded').map((e) => e.data.rendition.name), ['144p', '240p', '360p']);
      assert.equal(ofType(events, 'VideoPublished').length, 1);
      assert.equal(ofType(events, 'VideoProcessingCompleted').length, 1);
      assert.equal(ofType(events, 'VideoProcessingFailed').length, 0);
    });

    test('then the second delivery encodes nothing: no segment, init segment, sidecar or thumbnail is written twice', () => {
      // Playlists are rewritten as they grow (and the master at completion); nothing else is.
      const twice = world.writes.filter((k, i) => !k.endsWith('.m3u8') && world.writes.indexOf(k) !== i);
      assert.deepEqual(twice, []);
    });

    test('then the second delivery reports no progress and completes again with the same final ladder', () => {
      const starts = world.sent.flatMap((c, i) => (c.type === 'StartProcessing' ? [i] : []));
      assert.equal(starts.length, 2, 'the job ran twice');
      const second = world.sent.slice(starts[1]);
      assert.equal(sentOfType(second, 'ReportProcessingProgress').length, 0);
      // CompleteProcessing is sent again (the aggregate ignores the repeat), with the same final ladder.
      const again = sentOfType(second, 'CompleteProcessing');
      assert.equal(again.length, 1);
      assert.deepEqual(again[0]!.data.renditions, ['144p', '240p', '360p']);
    });

    test('then the video is ready at progress 100 with its three renditions', async () => {
      const v = await world.video('twice');
      assert.deepEqual([v.status, v.progress, v.renditions.map((r) => r.name)], ['ready', 100, ['144p', '240p', '360p']]);
    });
  });

  test('given a rotated video without audio, then renditions are portrait, video-only and carry no rotation side data', async () => {
    const world = await createTranscoderWorld();
    try {
      await world.upload('rot', src('rotated.mp4'));
      await world.process();
      const events = await world.videoEvents('rot');
      const start = ofType(events, 'VideoProcessingStarted')[0]!;
      // 320x180 coded, rotated 90° → 180x320 display: rungs up to 320 tall.
      assert.deepEqual(start.data.ladder.map((r) => r.height), [144, 240]);
      const encoded = ofType(events, 'RenditionEncoded').map((e) => e.data.rendition);
      assert.deepEqual(encoded.map((r) => r.name), ['144p', '240p']);
      for (const e of encoded) assert.ok(e.width < e.height, `portrait expected, got ${e.width}x${e.height}`);
      const r = encoded[1]!;
      assert.doesNotMatch(r.codecs, /mp4a/);
      const p = await probeJson(await firstSegmentFile(world, 'rot', r.name), 'stream=codec_type,width,height:stream_side_data=rotation');
      assert.equal(p.streams.length, 1);
      assert.deepEqual([p.streams[0].width, p.streams[0].height], [r.width, r.height]);
      assert.equal((p.streams[0].side_data_list ?? []).some((d: { rotation?: number }) => d.rotation), false);
      assert.equal(ofType(events, 'VideoPublished').length, 1);
      assert.equal((await world.video('rot')).status, 'ready');
    } finally {
      await world.close();
    }
  });

  test('given one rung whose output fails mid-run, then FFmpeg fails whole, the ladder runs again without that rung, and completion omits it with the reason', async () => {
    // The real FFmpeg, with the 240p rung's segments pointed at a missing directory: its muxer
    // fails at the first segment and FFmpeg ends the whole run, as when one output's disk fails.
    const wrapper = join(media, 'ffmpeg-failing-240p.sh');
    await writeFile(wrapper, [
      '#!/bin/sh',
      'for a in "$@"; do shift; case "$a" in */hls/240p/seg-*) set -- "$@" /nonexistent-streamwave/seg-%05d.m4s;; *) set -- "$@" "$a";; esac; done',
      `exec '${ffmpeg}' "$@"`,
      '',
    ].join('\n'));
    await chmod(wrapper, 0o755);
    const world = await createTranscoderWorld({ transcoder: { ffmpegPath: wrapper } });
    try {
      await world.upload('partial', src('landscape.mp4'));
      await world.process();
      const events = await world.videoEvents('partial');
      assert.equal(ofType(events, 'VideoProcessingFailed').length, 0);
      assert.equal(ofType(events, 'VideoPublished').length, 1);
      assert.deepEqual(ofType(events, 'RenditionEncoded').map((e) => e.data.rendition.name), ['144p', '360p']);
      // The storyboard (seek previews) comes after completion.
      const last = events.filter((e) => e.type !== 'StoryboardGenerated').at(-1)!;
      assert.equal(last.type, 'VideoProcessingCompleted');
      if (last.type !== 'VideoProcessingCompleted') return;
      assert.deepEqual(last.data.renditions, ['144p', '360p']);
      assert.deepEqual(last.data.omitted.map((o) => o.name), ['240p']);
      assert.equal(last.data.omitted[0]!.reason, PROCESSING_FAILURE_MESSAGES.ENCODE_FAILED);
      assert.deepEqual(masterUris(await text(world, hlsKeys.master('partial'))), ['144p/index.m3u8', '360p/index.m3u8']);
      for (const name of ['144p', '360p']) {
        const playlist = await text(world, hlsKeys.rendition('partial', name, 'index.m3u8'));
        assert.match(playlist, /#EXT-X-ENDLIST/);
        assert.ok(parseMediaPlaylist(playlist).segments.length >= 2);
      }
      const v = await world.video('partial');
      assert.deepEqual([v.status, v.progress, v.renditions.map((r) => r.name)], ['ready', 100, ['144p', '360p']]);
      assert.deepEqual(v.omittedRenditions.map((o) => o.name), ['240p']);
    } finally {
      await world.close();
    }
  });

  for (const [file, what, code] of [['audio-only.mp4', 'an audio-only file', 'NO_VIDEO_STREAM'], ['text.mp4', 'a text file', 'UNREADABLE_MEDIA']] as const) {
    test(`given ${what}, then the video fails with ${code} and a readable reason, without retry and without output`, async () => {
      const world = await createTranscoderWorld();
      try {
        await world.upload('bad', src(file));
        await world.process();
        const v = await world.video('bad');
        assert.equal(v.status, 'failed');
        assert.equal(v.errorCode, code);
        assert.ok(v.error!.length > 10, v.error!);
        assert.deepEqual(world.sent.map((c) => c.type), ['StartUpload', 'CompleteUpload', 'FailProcessing']);
        assert.deepEqual(await world.deadLetters(), []);
        assert.deepEqual(world.writes, []);
      } finally {
        await world.close();
      }
    });
  }

  test('given an upload whose source object is gone, then the video fails with SOURCE_NOT_FOUND', async () => {
    const world = await createTranscoderWorld();
    try {
      await world.upload('gone', null);
      await world.process();
      const v = await world.video('gone');
      assert.deepEqual([v.status, v.errorCode], ['failed', 'SOURCE_NOT_FOUND']);
      assert.deepEqual(await world.deadLetters(), []);
    } finally {
      await world.close();
    }
  });

  test('given events other than a completed upload (an upload still open, a deletion, a comment), then nothing is transcoded', async () => {
    const world = await createTranscoderWorld();
    try {
      await world.driver.pipe([
        {
          type: 'UploadStarted',
          data: {
            videoId: 'open', ownerId: UPLOADER, uploadId: 'u', objectKey: 'uploads/open', filename: 'a.mp4', sizeBytes: 1,
            contentType: 'video/mp4', title: 't', description: '', tags: [], partSizeBytes: 1, startedAt: 0,
          },
        },
        { type: 'VideoDeleted', data: { videoId: 'x', deletedBy: UPLOADER, deletedAt: 0 } },
        { type: 'CommentPosted', data: { commentId: 'c', videoId: 'x', authorId: UPLOADER, body: 'hi', postedAt: 0 } },
      ]);
      await world.process();
      assert.deepEqual(world.sent, []);
      assert.equal((await world.events()).length, 3);
      assert.equal((await world.video('open')).status, 'pending_upload');
    } finally {
      await world.close();
    }
  });

  test('given a video deleted before it is transcoded, then the refused job is dropped: no retry, no output, nothing dead-lettered', async () => {
    const world = await createTranscoderWorld();
    try {
      await world.upload('deleted', src('plain.mp4'));
      await world.commandBus.send({ type: 'DeleteVideo', data: { videoId: 'deleted' }, metadata: { now: WORLD_NOW, actorId: UPLOADER } });
      await world.process();
      assert.equal(sentOfType(world.sent, 'StartProcessing').length, 1, 'refused once, not retried');
      assert.deepEqual(world.writes, []);
      assert.deepEqual(await world.deadLetters(), []);
      assert.deepEqual((await world.videoEvents('deleted')).map((e) => e.type), ['UploadStarted', 'UploadCompleted', 'VideoDeleted']);
      assert.deepEqual(await readdir(world.workDir).catch(() => []), []);
    } finally {
      await world.close();
    }
  });

  test('given a video its owner deletes while it is being encoded, then the transcoder stops: nothing uploaded or published, no retry, nothing dead-lettered', async () => {
    // The owner's DeleteVideo goes through the real bus right after the aggregate accepted
    // StartProcessing: the job is then encoding its lowest rung.
    let deleted = false;
    const world = await createTranscoderWorld({
      commandBus: (bus) => ({
        async send(command) {
          const result = await bus.send(command);
          if (command.type === 'StartProcessing' && !deleted) {
            deleted = true;
            await bus.send({ type: 'DeleteVideo', data: { videoId: 'mid' }, metadata: { now: WORLD_NOW, actorId: UPLOADER } });
          }
          return result;
        },
      }),
    });
    try {
      await world.upload('mid', src('landscape.mp4'));
      await world.process();
      assert.ok(deleted, 'the video was deleted during its transcode');
      // The decider refuses every command for the deleted video: the log ends with the deletion.
      assert.deepEqual((await world.videoEvents('mid')).map((e) => e.type), ['UploadStarted', 'UploadCompleted', 'VideoProcessingStarted', 'VideoDeleted']);
      // The transcoder stopped at the refusal instead of uploading and publishing for a deleted video.
      assert.deepEqual(world.writes, [], 'nothing written to the object store');
      assert.equal(await world.objectStore.exists(hlsKeys.master('mid')), false);
      for (const type of ['RecordRenditionEncoded', 'PublishVideo', 'CompleteProcessing', 'FailProcessing'] as const) {
        assert.equal(sentOfType(world.sent, type).length, 0, `${type} sent for a deleted video`);
      }
      assert.equal(sentOfType(world.sent, 'StartProcessing').length, 1, 'a refusal is not retried');
      assert.deepEqual(await world.deadLetters(), []);
      assert.equal((await world.video('mid')).status, 'deleted');
      assert.deepEqual(await readdir(world.workDir).catch(() => []), []);
    } finally {
      await world.close();
    }
  });

  test('given a video its owner deletes once it is published, then the transcoder stops at the next progress report: no rendition is completed, nothing is recorded, no retry', async () => {
    let deleted = false;
    let writesAtDeletion = -1;
    const world = await createTranscoderWorld({
      commandBus: (bus) => ({
        async send(command) {
          const result = await bus.send(command);
          if (command.type === 'PublishVideo' && !deleted) {
            deleted = true;
            writesAtDeletion = world.writes.length;
            await bus.send({ type: 'DeleteVideo', data: { videoId: 'gone-mid' }, metadata: { now: WORLD_NOW, actorId: UPLOADER } });
          }
          return result;
        },
      }),
    });
    try {
      await world.upload('gone-mid', src('long.mp4'));
      await world.process();
      assert.ok(deleted);
      const types = (await world.videoEvents('gone-mid')).map((e) => e.type);
      assert.equal(types.at(-1), 'VideoDeleted');
      assert.ok(!types.includes('RenditionEncoded') && !types.includes('VideoProcessingCompleted'));
      // At most the pass that was running when the refusal came back; nothing after FFmpeg was killed.
      const after = world.writes.slice(writesAtDeletion);
      assert.ok(!after.some((k) => k.endsWith('rendition.json')), `no rendition completed after the deletion: ${after.join(', ')}`);
      assert.equal(sentOfType(world.sent, 'StartProcessing').length, 1, 'a refusal is not retried');
      assert.deepEqual(await world.deadLetters(), []);
      assert.deepEqual(await readdir(world.workDir).catch(() => []), []);
    } finally {
      await world.close();
    }
  });

  test('given an object store refusing HLS writes, then the job is retried, dead-lettered, and the video fails with PROCESSING_FAILED', async () => {
    let refused = 0;
    const world = await createTranscoderWorld({
      objectStore: (store) => ({
        ...store,
        async putFile(key, path, type) {
          if (key.includes('/hls/')) {
            refused++;
            throw new ObjectStoreError('SlowDown', 'store unavailable');
          }
          return store.putFile(key, path, type);
        },
      }),
    });
    try {
      await world.upload('flaky', src('plain.mp4'));
      await world.process();
      assert.ok(sentOfType(world.sent, 'StartProcessing').length > 1, 'the job was retried');
      assert.ok(refused > 1);
      const [dead, ...more] = await world.deadLetters();
      assert.equal(more.length, 0);
      assert.equal(dead!.headers[DLQ_HEADERS.error], 'store unavailable');
      assert.equal((await world.codec.decode(dead!.value!)).type, 'UploadCompleted');
      const events = await world.videoEvents('flaky');
      assert.equal(ofType(events, 'VideoPublished').length, 0);
      const failed = ofType(events, 'VideoProcessingFailed');
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.data.code, PROCESSING_FAILED_CODE);
      // The dead-letter text stays in the DLQ headers and the log: the uploader gets the code's sentence.
      assert.equal(failed[0]!.data.reason, PROCESSING_FAILURE_MESSAGES.PROCESSING_FAILED);
      const v = await world.video('flaky');
      assert.deepEqual([v.status, v.errorCode], ['failed', PROCESSING_FAILED_CODE]);
      assert.deepEqual(await readdir(world.workDir), [], 'work dir cleaned up after a failure too');
    } finally {
      await world.close();
    }
  });

  test('given FFmpeg killed by SIGKILL on every attempt (as by the OOM killer), then it is retried once, then the video fails for good with OUT_OF_MEMORY: no runtime retries, nothing dead-lettered', async () => {
    // The real FFmpeg binary is never reached: the wrapper dies as the OOM killer would kill it.
    const wrapper = join(media, 'ffmpeg-killed.sh');
    await writeFile(wrapper, '#!/bin/sh\nkill -9 $$\n');
    await chmod(wrapper, 0o755);
    const world = await createTranscoderWorld({ transcoder: { ffmpegPath: wrapper } });
    try {
      await world.upload('killed', src('plain.mp4'));
      await world.process();
      // Issue 8: it used to be "temporary" and tried 1 + DEFAULT_RETRY.retries times.
      assert.equal(sentOfType(world.sent, 'StartProcessing').length, 2, 'one attempt and one retry');
      assert.deepEqual(await world.deadLetters(), []);
      const events = await world.videoEvents('killed');
      assert.deepEqual(afterUpload(events).map((e) => e.type), ['VideoProcessingStarted', 'VideoProcessingFailed']);
      const failed = ofType(events, 'VideoProcessingFailed')[0]!;
      assert.deepEqual([failed.data.code, failed.data.reason], ['OUT_OF_MEMORY', PROCESSING_FAILURE_MESSAGES.OUT_OF_MEMORY]);
      const v = await world.video('killed');
      assert.deepEqual([v.status, v.errorCode], ['failed', 'OUT_OF_MEMORY']);
      assert.deepEqual(world.writes, []);
      assert.deepEqual(await readdir(world.workDir), []);
    } finally {
      await world.close();
    }
  });

  test('given folders of the video left by a dead process, kept by a live one, and the old-style <workDir>/<videoId>/, when the job is delivered twice, then each attempt works in a folder of its own: the dead process\'s and the old-style folders are gone when it starts, the live one\'s kept', async () => {
    // ffprobe's last argument is the file it probes (first the source, in the attempt's folder);
    // the wrapper notes it with the work folder's entries at that moment.
    const wrapper = join(media, 'ffprobe-noting-folders.sh');
    const notes = join(media, 'ffprobe-folders.txt');
    const world = await createTranscoderWorld({ redeliver: true, transcoder: { ffprobePath: wrapper } });
    const live = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      await once(live, 'spawn');
      await writeFile(wrapper, `#!/bin/sh\nfor a in "$@"; do last="$a"; done\necho "$last|$(ls '${world.workDir}' | tr '\\n' ' ')" >> '${notes}'\nexec '${ffprobe}' "$@"\n`);
      await chmod(wrapper, 0o755);
      const exited = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      await once(exited, 'exit'); // reaped: its pid is no process's now
      const dead = `folders.${exited.pid}.aB3_x-`;
      const alive = `folders.${live.pid}.Zz9-_q`;
      for (const entry of [dead, alive, 'folders']) {
        await mkdir(join(world.workDir, entry), { recursive: true });
        await writeFile(join(world.workDir, entry, 'source'), 'a leftover writer\'s bytes');
      }
      await world.upload('folders', src('plain.mp4'));
      await world.process();

      assert.equal((await world.video('folders')).status, 'ready');
      // The work folder's entries at each attempt's first probe (of its source), by the attempt's folder.
      const firstProbe = new Map<string, string[]>();
      for (const [path, entries] of (await readFile(notes, 'utf8')).trim().split('\n').map((l) => l.split('|') as [string, string])) {
        const folder = path.slice(world.workDir.length + 1).split('/')[0]!;
        if (!firstProbe.has(folder)) firstProbe.set(folder, entries.trim().split(' '));
      }
      assert.equal(firstProbe.size, 2, `one folder per delivery: ${[...firstProbe.keys()].join(', ')}`);
      for (const [folder, entries] of firstProbe) {
        assert.match(folder, new RegExp(`^folders\\.${process.pid}\\.[^./]+$`));
        assert.deepEqual(entries.sort(), [alive, folder].sort(), `${folder}: only its own folder and the live process's at its start`);
      }
      assert.deepEqual(await readdir(world.workDir), [alive], 'each attempt removed its folder; the live process\'s is kept');
      assert.deepEqual(await readdir(join(world.workDir, alive)), ['source']);
    } finally {
      live.kill('SIGKILL');
      await world.close();
    }
  });
});
