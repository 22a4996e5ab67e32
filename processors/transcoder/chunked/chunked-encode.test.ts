/**
 * Segment-parallel encoding, end to end with the real FFmpeg: a 50 s source (GOP of 250 frames,
 * so its keyframes are not on the chunk boundaries; 44.1 kHz audio, so the chunk boundaries are
 * not on the AAC packet grid) is encoded as one run and as 12 s chunks, the chunks are joined,
 * and the joined playlist is compared with the single run through ffprobe's HLS demuxer and the
 * fMP4 boxes. No timing thresholds: every check is on timestamps and counts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeClip } from '../../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../../test/support/requirements.ts';
import { runBounded } from '../bounded-process.ts';
import { buildFfmpegInvocation, type HlsLadderJob } from '../ffmpeg-args.ts';
import { resolveFfmpegBinaries } from '../ffmpeg-binaries.ts';
import { runFfmpeg } from '../ffmpeg-runner.ts';
import { parseMediaPlaylist } from '../master-playlist.ts';
import { AAC_FRAME_SAMPLES, planChunks, shouldChunk } from './chunk-plan.ts';
import { encodeChunk } from './chunk-encode.ts';
import { assembleRendition, joinMediaPlaylists } from './chunk-join.ts';
import { fragmentDecodeTimes } from './fmp4-boxes.ts';

const { ffmpeg, ffprobe } = resolveFfmpegBinaries();
const skip = requirement('FFmpeg', await ffmpegMissing());

const DURATION = 50;
const FPS = 30;
const SEGMENT = 4;
const RATE = 44_100;
const FRAME = 1 / FPS;
const RUNGS = [
  { name: '180p', width: 320, height: 180, maxrate: 400_000, bufsize: 800_000 },
  { name: '90p', width: 160, height: 90, maxrate: 200_000, bufsize: 400_000 },
];

interface Packet { stream: number; pts: number; dts: number }

/** Packets of a local HLS playlist through ffprobe's HLS demuxer, seconds. */
async function probePackets(playlist: string): Promise<Packet[]> {
  const out = await runBounded(ffprobe, [
    '-v', 'error', '-allowed_extensions', 'ALL', '-protocol_whitelist', 'file',
    '-show_entries', 'packet=stream_index,pts_time,dts_time', '-of', 'json', playlist,
  ], { captureStdout: true, timeoutMs: 60_000, maxStdoutBytes: 64 * 1024 * 1024 });
  const { packets } = JSON.parse(out) as { packets: { stream_index: number; pts_time: string; dts_time: string }[] };
  return packets.map((p) => ({ stream: p.stream_index, pts: Number(p.pts_time), dts: Number(p.dts_time) }));
}

describe('chunked HLS encoding', { skip }, () => {
  let dir = '';
  const job = (outRoot: string): HlsLadderJob => ({
    type: 'hls-ladder',
    input: join(dir, 'src.mp4'),
    videoStreamIndex: 0,
    audio: { streamIndex: 1, sampleRate: RATE },
    interlaced: false,
    fps: { num: FPS, den: 1 },
    segmentSeconds: SEGMENT,
    renditions: [
      { plan: RUNGS[0]!, outputDir: join(outRoot, RUNGS[0]!.name) },
      { plan: RUNGS[1]!, outputDir: join(outRoot, RUNGS[1]!.name) },
    ],
  });
  const chunks = planChunks(DURATION, { chunkSeconds: 12, segmentSeconds: SEGMENT });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamwave-chunked-'));
    // makeClip: libx264 default GOP (250 frames = 8.3 s, scene cuts on), 440 Hz tone at 44.1 kHz.
    await makeClip(join(dir, 'src.mp4'), { seconds: DURATION, width: 640, height: 360, fps: FPS });
    const make = async (j: HlsLadderJob): Promise<void> => {
      for (const r of j.renditions) await mkdir(r.outputDir, { recursive: true });
    };
    const single = job(join(dir, 'single'));
    await make(single);
    await runFfmpeg(buildFfmpegInvocation(single), { ffmpegPath: ffmpeg, bounds: { timeoutMs: 120_000 } });
    for (const c of chunks) {
      const j = job(join(dir, `chunk-${c.index}`));
      await make(j);
      await encodeChunk(j, c, { ffmpegPath: ffmpeg, bounds: { timeoutMs: 120_000 } });
    }
    for (const r of RUNGS) {
      await mkdir(join(dir, 'joined', r.name), { recursive: true });
      await assembleRendition(chunks.map((c) => join(dir, `chunk-${c.index}`, r.name)), join(dir, 'joined', r.name));
    }
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the plan: 12 s chunks on 4 s segment boundaries, the 2 s tail merged into the last chunk', () => {
    assert.deepEqual(chunks.map((c) => [c.startSeconds, c.endSeconds, c.firstSegmentIndex]), [[0, 12, 0], [12, 24, 3], [24, 36, 6], [36, 50, 9]]);
    assert.equal(shouldChunk(DURATION, 60), false);
    assert.equal(shouldChunk(DURATION, 30), true);
  });

  for (const rung of RUNGS) {
    describe(rung.name, () => {
      const paths = () => ({ single: join(dir, 'single', rung.name), joined: join(dir, 'joined', rung.name) });

      test('(a) same segments with the same EXTINF durations (within one frame) as the single run', async () => {
        const single = parseMediaPlaylist(await readFile(join(paths().single, 'index.m3u8'), 'utf8')).segments;
        const joined = parseMediaPlaylist(await readFile(join(paths().joined, 'index.m3u8'), 'utf8')).segments;
        assert.deepEqual(joined.map((s) => s.uri), single.map((s) => s.uri));
        joined.forEach((s, i) => assert.ok(Math.abs(s.duration - single[i]!.duration) <= FRAME + 1e-6, `${s.uri}: ${s.duration} vs ${single[i]!.duration}`));
      });

      test('every segment has the single run\'s fMP4 decode times (tfdt, per track); chunk 0\'s init.mp4 is the single run\'s', async () => {
        const { single, joined } = paths();
        const segs = parseMediaPlaylist(await readFile(join(single, 'index.m3u8'), 'utf8')).segments;
        for (const s of segs) {
          const a = fragmentDecodeTimes(await readFile(join(single, s.uri)));
          const b = fragmentDecodeTimes(await readFile(join(joined, s.uri)));
          // Audio is cut on the packet grid next to the video cut, not where the single run's
          // interleaving put it: compare the video track exactly, the audio track on the grid.
          assert.equal(b.get(1), a.get(1), `${s.uri} video tfdt`);
          assert.equal((b.get(2) ?? 0) % AAC_FRAME_SAMPLES, 0, `${s.uri} audio tfdt on the 1024 grid`);
        }
        assert.deepEqual(await readFile(join(joined, 'init.mp4')), await readFile(join(single, 'init.mp4')));
      });

      test('(b)(c)(d) video PTS continuous, audio continuous and in sync, same frame and packet counts', async () => {
        const { single, joined } = paths();
        const [ps, pj] = await Promise.all([probePackets(join(single, 'index.m3u8')), probePackets(join(joined, 'index.m3u8'))]);
        const video = (p: Packet[]): number[] => p.filter((x) => x.stream === 0).map((x) => x.pts).sort((x, y) => x - y);
        const audio = (p: Packet[]): number[] => p.filter((x) => x.stream === 1).map((x) => x.pts).sort((x, y) => x - y);
        const [vs, vj, as, aj] = [video(ps), video(pj), audio(ps), audio(pj)];
        // (d) frame count, and each frame at the single run's time.
        assert.equal(vj.length, vs.length);
        assert.equal(vj.length, DURATION * FPS);
        vj.forEach((t, i) => assert.ok(Math.abs(t - vs[i]!) < 1e-3, `frame ${i}: ${t} vs ${vs[i]}`));
        // (b) strictly increasing, one frame apart (no gap > 1 frame at the joins).
        for (let i = 1; i < vj.length; i++) {
          const d = vj[i]! - vj[i - 1]!;
          assert.ok(d > 0 && d <= FRAME + 1e-3, `video gap ${d} s before frame ${i}`);
        }
        // (c) audio: one AAC frame apart everywhere (no gap/overlap at the joins), same packets
        // as the single run (so no priming or padding offset accumulates per chunk).
        const aacFrame = AAC_FRAME_SAMPLES / RATE;
        for (let i = 1; i < aj.length; i++) {
          const d = aj[i]! - aj[i - 1]!;
          assert.ok(Math.abs(d - aacFrame) < 1e-4, `audio step ${d} s before packet ${i}`);
        }
        assert.equal(aj.length, as.length);
        aj.forEach((t, i) => assert.ok(Math.abs(t - as[i]!) < 1e-4, `audio packet ${i}: ${t} vs ${as[i]}`));
        // A/V sync at the end: audio and video end within one video frame of each other.
        const videoEnd = vj[vj.length - 1]! + FRAME;
        const audioEnd = aj[aj.length - 1]! + aacFrame;
        assert.ok(Math.abs(audioEnd - videoEnd) <= FRAME, `audio ends at ${audioEnd}, video at ${videoEnd}`);
      });
    });
  }

  test('join: TARGETDURATION, one EXT-X-MAP, ENDLIST; non-consecutive chunks are refused', () => {
    const chunk = (first: number, durs: number[]): string =>
      ['#EXTM3U', '#EXT-X-MAP:URI="init.mp4"', ...durs.flatMap((d, i) => [`#EXTINF:${d},`, `seg-${String(first + i).padStart(5, '0')}.m4s`]), '#EXT-X-ENDLIST'].join('\n');
    const text = joinMediaPlaylists([chunk(1, [4, 4]), chunk(3, [4.4, 2])]);
    assert.match(text, /#EXT-X-TARGETDURATION:4\n/);
    assert.equal(text.match(/#EXT-X-MAP:URI="init.mp4"/g)?.length, 1);
    assert.deepEqual(parseMediaPlaylist(text).segments.map((s) => s.uri), ['seg-00001.m4s', 'seg-00002.m4s', 'seg-00003.m4s', 'seg-00004.m4s']);
    assert.ok(text.endsWith('#EXT-X-ENDLIST\n'));
    assert.throws(() => joinMediaPlaylists([chunk(1, [4]), chunk(3, [4])]), /not consecutive/);
  });
});
