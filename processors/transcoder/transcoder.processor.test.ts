import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from '../../commands/command-bus.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { DomainEvent, RenditionInfo } from '../../domain/events.ts';
import { createJsonEventCodec } from '../../test/support/json-event-codec.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import { ObjectStoreError } from '../../platform/object-store/object-store.port.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { parseMediaPlaylist } from './master-playlist.ts';
import { createFsObjectStoreFake, readObjectText } from './testing/fs-object-store.fake.ts';
import type { FsObjectStoreFake } from './testing/fs-object-store.fake.ts';
import { createRecordingCommandBus } from './testing/recording-command-bus.fake.ts';
import type { RecordingCommandBus } from './testing/recording-command-bus.fake.ts';
import { hlsKeys } from './hls-keys.ts';
import { PROCESSING_FAILED_CODE, buildTranscoderProcessor } from './transcoder.processor.ts';

const run = promisify(execFile);
const { ffmpeg, ffprobe } = resolveFfmpegBinaries();
const haveFfmpeg = await run(ffmpeg, ['-version']).then(() => true, () => false);
const codec = createJsonEventCodec();

let root = '';
const src = (name: string): string => join(root, 'media', name);

/** Tiny sources generated with lavfi, so the suite needs no media files. */
async function generateMedia(): Promise<void> {
  const lavfi = (spec: string) => ['-f', 'lavfi', '-i', spec];
  const enc = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
  await run(ffmpeg, ['-v', 'error', '-y', ...lavfi('testsrc=size=640x360:rate=15'), ...lavfi('sine=frequency=440:sample_rate=44100'), '-t', '5', ...enc, '-c:a', 'aac', '-metadata', 'location=+48.8584+002.2945/', src('landscape.mp4')]);
  // FFmpeg 5.1 has no -display_rotation: a `rotate` tag on an mp4 stream copy writes a display matrix.
  await run(ffmpeg, ['-v', 'error', '-y', ...lavfi('testsrc=size=320x180:rate=15'), '-t', '2', ...enc, src('plain.mp4')]);
  await run(ffmpeg, ['-v', 'error', '-y', '-i', src('plain.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', src('rotated.mp4')]);
  await run(ffmpeg, ['-v', 'error', '-y', ...lavfi('sine=frequency=440:sample_rate=44100'), '-t', '1', '-c:a', 'aac', src('audio-only.mp4')]);
  await writeFile(src('text.mp4'), 'this is not a video\n'.repeat(20));
}

async function probeJson(path: string, entries: string): Promise<any> {
  const { stdout } = await run(ffprobe, ['-v', 'error', '-show_entries', entries, '-of', 'json', path]);
  return JSON.parse(stdout);
}

interface Harness {
  store: FsObjectStoreFake;
  bus: RecordingCommandBus;
  processor: ReturnType<typeof buildTranscoderProcessor>;
  workDir: string;
}

let harnessCount = 0;
function harness(
  busOpts?: Parameters<typeof createRecordingCommandBus>[0],
  storeOverride?: (s: FsObjectStoreFake) => FsObjectStoreFake,
  ffmpegPath?: string,
): Harness {
  const n = harnessCount++;
  const base = createFsObjectStoreFake(join(root, `store-${n}`));
  const store = storeOverride ? storeOverride(base) : base;
  const bus = createRecordingCommandBus(busOpts);
  const workDir = join(root, `work-${n}`);
  const processor = buildTranscoderProcessor({ commandBus: bus, codec, objectStore: store, workDir, now: () => 1_700_000_000_000, ffmpegPath });
  return { store, bus, processor, workDir };
}

async function recordOf(event: DomainEvent, offset = 0): Promise<LogRecord> {
  return { topic: TOPICS.videos, partition: 0, offset, key: 'k', value: await codec.encode(TOPICS.videos, event), headers: {}, timestamp: 0 };
}

async function uploadAndRecord(h: Harness, videoId: string, file: string): Promise<LogRecord> {
  await h.store.putFile(`uploads/${videoId}`, file, 'video/mp4');
  h.store.writes.length = 0;
  return recordOf({ type: 'UploadCompleted', data: { videoId, uploadId: 'u1', objectKey: `uploads/${videoId}`, sizeBytes: 1, completedAt: 0 } });
}

const ofType = <T extends Command['type']>(cmds: Command[], type: T): Extract<Command, { type: T }>[] =>
  cmds.filter((c): c is Extract<Command, { type: T }> => c.type === type);

describe('transcoder processor', { skip: !haveFfmpeg && 'ffmpeg not installed' }, () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sw-transcoder-test-'));
    await writeFile(join(root, '.keep'), '');
    await run('mkdir', ['-p', join(root, 'media')]);
    await generateMedia();
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('a 5 s 640x360 video with audio', () => {
    let h: Harness;
    let record: LogRecord;
    before(async () => {
      h = harness();
      record = await uploadAndRecord(h, 'vid-1', src('landscape.mp4'));
      await h.processor.handle(record);
    });

    test('StartProcessing first, with the planned ladder and duration', () => {
      const first = h.bus.commands[0]!;
      assert.equal(first.type, 'StartProcessing');
      if (first.type !== 'StartProcessing') return;
      assert.deepEqual(first.data.ladder.map((r) => [r.name, r.height]), [['144p', 144], ['240p', 240], ['360p', 360]]);
      assert.ok(Math.abs(first.data.durationSeconds - 5) < 0.2);
    });

    test('publish comes after the lowest rendition and before the others', () => {
      const seq = h.bus.commands
        .filter((c) => c.type === 'RecordRenditionEncoded' || c.type === 'PublishVideo')
        .map((c) => (c.type === 'RecordRenditionEncoded' ? c.data.rendition.name : c.type));
      assert.deepEqual(seq, ['144p', 'PublishVideo', '240p', '360p']);
      const publish = ofType(h.bus.commands, 'PublishVideo')[0]!;
      assert.equal(publish.data.masterPlaylistKey, 'videos/vid-1/hls/master.m3u8');
      assert.equal(publish.data.thumbnailKey, 'videos/vid-1/thumbnail.jpg');
    });

    test('processing ends with CompleteProcessing listing every rung, lowest first, nothing omitted', () => {
      const last = h.bus.commands.at(-1)!;
      assert.equal(last.type, 'CompleteProcessing');
      const complete = ofType(h.bus.commands, 'CompleteProcessing');
      assert.equal(complete.length, 1);
      const encoded = ofType(h.bus.commands, 'RecordRenditionEncoded').map((c) => c.data.rendition.name);
      assert.deepEqual(complete[0]!.data, { videoId: 'vid-1', renditions: encoded, omitted: [] });
      assert.deepEqual(complete[0]!.data.renditions, ['144p', '240p', '360p']);
    });

    test('renditions have the planned size, H.264 High + AAC stereo, square pixels, no location metadata', async () => {
      for (const c of ofType(h.bus.commands, 'RecordRenditionEncoded')) {
        const r = c.data.rendition;
        const dir = dirname(h.store.pathOf(hlsKeys.rendition('vid-1', r.name, 'index.m3u8')));
        const joined = join(root, `joined-${r.name}.mp4`);
        await writeFile(joined, Buffer.concat([await readFile(join(dir, 'init.mp4')), await readFile(join(dir, 'seg-00001.m4s'))]));
        const p = await probeJson(joined, 'stream=codec_name,profile,level,width,height,sample_aspect_ratio,channels,sample_rate:format_tags');
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

    test('segments are ≤ 6 s except the last, and the 5 s video has ≥ 2 segments', async () => {
      for (const name of ['144p', '240p', '360p']) {
        const { segments, initUri } = parseMediaPlaylist(await readObjectText(h.store, hlsKeys.rendition('vid-1', name, 'index.m3u8')));
        assert.equal(initUri, 'init.mp4');
        assert.ok(segments.length >= 2, `${name}: ${segments.length} segments`);
        segments.slice(0, -1).forEach((s) => assert.ok(s.duration <= 6, `${name} segment ${s.uri} is ${s.duration} s`));
        assert.equal(segments[0]!.uri, 'seg-00001.m4s');
        for (const s of segments) assert.ok(await h.store.exists(hlsKeys.rendition('vid-1', name, s.uri)));
      }
    });

    test('master playlist lists every rendition, lowest first, with measured BANDWIDTH and real CODECS', async () => {
      const master = await readObjectText(h.store, hlsKeys.master('vid-1'));
      const lines = master.trim().split('\n');
      assert.deepEqual(lines.slice(0, 3), ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS']);
      const encoded = new Map(ofType(h.bus.commands, 'RecordRenditionEncoded').map((c) => [c.data.rendition.playlist, c.data.rendition] as [string, RenditionInfo]));
      const inf = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
      assert.equal(inf.length, 3);
      const uris = lines.filter((l) => !l.startsWith('#'));
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
        const { segments } = parseMediaPlaylist(await readObjectText(h.store, hlsKeys.rendition('vid-1', r.name, 'index.m3u8')));
        const dir = dirname(h.store.pathOf(hlsKeys.rendition('vid-1', r.name, 'index.m3u8')));
        const bits = (await Promise.all(segments.map((s) => readFile(join(dir, s.uri))))).reduce((n, b) => n + b.length * 8, 0);
        const secs = segments.reduce((n, s) => n + s.duration, 0);
        assert.ok(r.bandwidth >= bits / secs, `${r.name}: ${r.bandwidth} < ${bits / secs}`);
      }
    });

    test('thumbnail is a JPEG ≤ 640 wide', async () => {
      const path = h.store.pathOf(hlsKeys.thumbnail('vid-1'));
      const bytes = await readFile(path);
      assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xd8]);
      const p = await probeJson(path, 'stream=width,height');
      assert.ok(p.streams[0].width <= 640 && p.streams[0].width > 0);
    });

    test('progress rises in steps of ≥ 5 points, within 0..100', () => {
      const values = ofType(h.bus.commands, 'ReportProcessingProgress').map((c) => c.data.progress);
      assert.ok(values.length >= 1);
      values.forEach((v, i) => {
        assert.ok(v >= 0 && v <= 100);
        if (i > 0) assert.ok(v - values[i - 1]! >= 5 || v === 100, `progress ${values.join(',')}`);
      });
      assert.equal(values.at(-1), 100);
    });

    test('the work directory is deleted', async () => {
      const left = await readdir(h.workDir).catch(() => []);
      assert.deepEqual(left, []);
    });

    test('a redelivered job encodes nothing again and produces no new events', async () => {
      const effectiveBefore = h.bus.effective.length;
      h.store.writes.length = 0;
      await h.processor.handle(record);
      const rewritten = h.store.writes.filter((k) => k !== hlsKeys.master('vid-1'));
      assert.deepEqual(rewritten, [], 'no rendition or thumbnail object is written again');
      const newEffective = h.bus.effective.slice(effectiveBefore).filter((c) => c.type !== 'ReportProcessingProgress');
      assert.deepEqual(newEffective, []);
      assert.equal(ofType(h.bus.commands.slice(effectiveBefore), 'ReportProcessingProgress').length, 0);
      // CompleteProcessing is sent again (the aggregate ignores the repeat), with the same final ladder.
      const again = ofType(h.bus.commands.slice(effectiveBefore), 'CompleteProcessing');
      assert.equal(again.length, 1);
      assert.deepEqual(again[0]!.data.renditions, ['144p', '240p', '360p']);
    });
  });

  test('a rotated video without audio gives portrait, video-only renditions without rotation side data', async () => {
    const h = harness();
    await h.processor.handle(await uploadAndRecord(h, 'rot', src('rotated.mp4')));
    const start = ofType(h.bus.commands, 'StartProcessing')[0]!;
    // 320x180 coded, rotated 90° → 180x320 display: rungs up to 320 tall.
    assert.deepEqual(start.data.ladder.map((r) => r.height), [144, 240]);
    const encoded = ofType(h.bus.commands, 'RecordRenditionEncoded').map((c) => c.data.rendition);
    assert.deepEqual(encoded.map((r) => r.name), ['144p', '240p']);
    for (const e of encoded) assert.ok(e.width < e.height, `portrait expected, got ${e.width}x${e.height}`);
    const r = encoded[1]!;
    assert.doesNotMatch(r.codecs, /mp4a/);
    const dir = dirname(h.store.pathOf(hlsKeys.rendition('rot', r.name, 'index.m3u8')));
    const joined = join(root, 'joined-rot.mp4');
    await writeFile(joined, Buffer.concat([await readFile(join(dir, 'init.mp4')), await readFile(join(dir, 'seg-00001.m4s'))]));
    const p = await probeJson(joined, 'stream=codec_type,width,height:stream_side_data=rotation');
    assert.equal(p.streams.length, 1);
    assert.deepEqual([p.streams[0].width, p.streams[0].height], [r.width, r.height]);
    assert.equal((p.streams[0].side_data_list ?? []).some((d: { rotation?: number }) => d.rotation), false);
    assert.equal(ofType(h.bus.commands, 'PublishVideo').length, 1);
  });

  test('higher rungs that fail for good leave the video published; CompleteProcessing omits them with the reason', async () => {
    // An FFmpeg wrapper that rejects the run producing the 240p rung (the higher-rungs run) as undecodable.
    const wrapper = join(root, 'ffmpeg-failing-higher-rungs.sh');
    await writeFile(wrapper, [
      '#!/bin/sh',
      'for a in "$@"; do case "$a" in */hls/240p/*) echo "Invalid data found when processing input" >&2; exit 1;; esac; done',
      `exec '${ffmpeg}' "$@"`,
      '',
    ].join('\n'));
    await chmod(wrapper, 0o755);
    const h = harness(undefined, undefined, wrapper);
    await h.processor.handle(await uploadAndRecord(h, 'partial', src('landscape.mp4')));
    assert.equal(ofType(h.bus.commands, 'FailProcessing').length, 0);
    assert.equal(ofType(h.bus.commands, 'PublishVideo').length, 1);
    assert.deepEqual(ofType(h.bus.commands, 'RecordRenditionEncoded').map((c) => c.data.rendition.name), ['144p']);
    const last = h.bus.commands.at(-1)!;
    assert.equal(last.type, 'CompleteProcessing');
    if (last.type !== 'CompleteProcessing') return;
    assert.deepEqual(last.data.renditions, ['144p']);
    assert.deepEqual(last.data.omitted.map((o) => o.name), ['240p', '360p']);
    for (const o of last.data.omitted) assert.match(o.reason, /could not be decoded.*240p, 360p/);
    const master = await readObjectText(h.store, hlsKeys.master('partial'));
    assert.deepEqual(master.split('\n').filter((l) => l && !l.startsWith('#')), ['144p/index.m3u8']);
  });

  for (const [file, code] of [['audio-only.mp4', 'NO_VIDEO_STREAM'], ['text.mp4', 'UNREADABLE_MEDIA']] as const) {
    test(`${file} is rejected with ${code} and a readable reason, without retry`, async () => {
      const h = harness();
      await h.processor.handle(await uploadAndRecord(h, 'bad', src(file)));
      assert.deepEqual(h.bus.commands.map((c) => c.type), ['FailProcessing']);
      const fail = ofType(h.bus.commands, 'FailProcessing')[0]!;
      assert.equal(fail.data.code, code);
      assert.ok(fail.data.reason.length > 10);
      assert.deepEqual(h.store.writes, []);
    });
  }

  test('a missing source object fails the video with SOURCE_NOT_FOUND', async () => {
    const h = harness();
    await h.processor.handle(await recordOf({ type: 'UploadCompleted', data: { videoId: 'gone', uploadId: 'u', objectKey: 'uploads/nope', sizeBytes: 1, completedAt: 0 } }));
    assert.deepEqual(h.bus.commands.map((c) => [c.type, c.type === 'FailProcessing' ? c.data.code : '']), [['FailProcessing', 'SOURCE_NOT_FOUND']]);
  });

  test('other event types are ignored', async () => {
    const h = harness();
    await h.processor.handle(await recordOf({ type: 'VideoDeleted', data: { videoId: 'x', deletedBy: 'u', deletedAt: 0 } }));
    await h.processor.handle({ ...(await recordOf({ type: 'VideoDeleted', data: { videoId: 'x', deletedBy: 'u', deletedAt: 0 } })), topic: TOPICS.comments });
    assert.deepEqual(h.bus.commands, []);
  });

  test('a transient object-store error is thrown (retry); onDeadLetter then fails the video', async () => {
    const h = harness(undefined, (s) => ({
      ...s,
      putFile: async (key, path, type) => {
        if (key.includes('/hls/')) throw new ObjectStoreError('SlowDown', 'store unavailable');
        return s.putFile(key, path, type);
      },
    }));
    const record = await uploadAndRecord(h, 'flaky', src('plain.mp4'));
    await assert.rejects(h.processor.handle(record), (e: unknown) => e instanceof ObjectStoreError);
    assert.equal(ofType(h.bus.commands, 'FailProcessing').length, 0);
    assert.equal(ofType(h.bus.commands, 'PublishVideo').length, 0);
    assert.deepEqual(await readdir(h.workDir), [], 'work dir cleaned up after a failure too');
    await h.processor.onDeadLetter!(record, new Error('store unavailable'));
    const fail = ofType(h.bus.commands, 'FailProcessing');
    assert.equal(fail.length, 1);
    assert.equal(fail[0]!.data.code, PROCESSING_FAILED_CODE);
    assert.match(fail[0]!.data.reason, /^processing failed after retries: store unavailable/);
  });
});
