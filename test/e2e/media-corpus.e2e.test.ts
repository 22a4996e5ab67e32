/**
 * Media edge cases through the HTTP API, always: a corpus of small clips generated with ffmpeg at
 * test time (rotation, variable frame rate, odd and tiny sizes, non-square pixels, no audio, audio
 * only, truncated files), each with its exact expected outcome: `ready` with the exact rung
 * heights, orientation, aspect ratio, codecs and duration, or `failed` with the expected reason.
 *
 * Also every file of a real-media folder when one is given (STREAMWAVE_TEST_MEDIA; an empty value
 * means none) or found beside the repo: each upload must end `ready` with a correct ladder
 * (checked with ffprobe: heights ≤ the source's display height, H.264/AAC, segment durations;
 * master and media playlists and a segment fetched) or `failed` with a reason — never stuck.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';
import { checkHls, sourceFacts } from '../support/media-check.ts';
import { makeAudioOnly, makeClip, truncateCopy } from '../support/make-media.ts';

const here = dirname(fileURLToPath(import.meta.url));
const envMedia = process.env.STREAMWAVE_TEST_MEDIA;
/** The real-media folder: the one given, else the one found beside the repo; null for none. */
const mediaDir: string | null = envMedia !== undefined ? envMedia || null : ((d) => (existsSync(d) ? d : null))(join(here, '..', '..', '..', 'shared', 'media'));

function listMedia(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/\.(md|json)$/i.test(e)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Clean, well-formed videos that must come out playable (not merely "ready or failed"). */
const MUST_BE_READY = [
  /peertube\/video_short(_[1-9]\d*p?)?\.(mp4|webm|mkv|ogv|avi)$/,
  /peertube\/video_short_no_audio\.mp4$/,
  /peertube\/60fps_720p_small\.mp4$/,
  /mediabunny\/rotate-buck-bunny\.mp4$/,
  /mediabunny\/sar_2x1\.mp4$/,
  /mediabunny\/video-h265\.mp4$/,
  /mediabunny\/frames\.webm$/,
  /jsonize-ffmpeg-task\/iphone_rotated\.mov$/,
  /file-type\/fixture-raw\.mts$/,
  /shaka-player\/hls-ts-h265\/0\.ts$/,
];

/** What a generated file must end as. */
type Expected =
  | {
      status: 'ready';
      /** Rung heights of the master playlist, lowest first. */
      heights: number[];
      /** Display width / height of the source: every rendition keeps it (square output pixels). */
      aspect: number;
      audio: boolean;
      /** Published duration, seconds: [min, max]. */
      duration: [number, number];
    }
  | { status: 'failed'; reason: RegExp };

interface GeneratedCase {
  name: string;
  make: (path: string) => Promise<string>;
  expected: Expected;
}

const GENERATED: GeneratedCase[] = [
  {
    // A portrait phone clip: coded landscape 320x180, display matrix rotate 90 → 180x320 upright.
    name: 'rotated-90-portrait.mp4',
    make: (p) => makeClip(p, { seconds: 2, width: 320, height: 180, rotate: 90 }),
    expected: { status: 'ready', heights: [144, 240], aspect: 180 / 320, audio: true, duration: [1.8, 2.2] },
  },
  {
    // 25 fps for 1 s, then one frame in four: avg 12.7 fps, r_frame_rate 25.
    name: 'variable-frame-rate.mp4',
    make: (p) => makeClip(p, { seconds: 3, width: 320, height: 180, vfr: true }),
    expected: { status: 'ready', heights: [144], aspect: 320 / 180, audio: true, duration: [2.7, 3.2] },
  },
  {
    // Odd coded size (4:4:4, as 4:2:0 cannot be odd): rungs up to 240 ≤ 241, even output sizes.
    name: 'odd-321x241.mp4',
    make: (p) => makeClip(p, { seconds: 2, width: 321, height: 241 }),
    expected: { status: 'ready', heights: [144, 240], aspect: 321 / 241, audio: true, duration: [1.8, 2.2] },
  },
  {
    // Under 144 pixels tall: one rendition at its own size, never upscaled.
    name: 'tiny-16x16.mp4',
    make: (p) => makeClip(p, { seconds: 2, width: 16, height: 16 }),
    expected: { status: 'ready', heights: [16], aspect: 1, audio: true, duration: [1.8, 2.2] },
  },
  {
    // Non-square pixels: coded 320x180 with SAR 2:1 displays as 640x180.
    name: 'sar-2x1.mp4',
    make: (p) => makeClip(p, { seconds: 2, width: 320, height: 180, sar: '2:1' }),
    expected: { status: 'ready', heights: [144], aspect: 640 / 180, audio: true, duration: [1.8, 2.2] },
  },
  {
    name: 'no-audio-320x240.mp4',
    make: (p) => makeClip(p, { seconds: 2, width: 320, height: 240, audio: false }),
    expected: { status: 'ready', heights: [144, 240], aspect: 320 / 240, audio: false, duration: [1.8, 2.2] },
  },
  {
    name: 'audio-only.m4a',
    make: (p) => makeAudioOnly(p, 2),
    expected: { status: 'failed', reason: /^The file has no video stream; please upload a video\.$/ },
  },
  {
    // The MP4 index (moov) is at the end and cut off: nothing can be read.
    name: 'truncated-no-index.mp4',
    make: async (p) => {
      const whole = await makeClip(`${p}.whole.mp4`, { seconds: 3, width: 320, height: 180 });
      await truncateCopy(whole, p, 0.5);
      await rm(whole);
      return p;
    },
    expected: { status: 'failed', reason: /^The file could not be read as audio or video\.$/ },
  },
  {
    // Index first, media cut at half: the header claims 3 s, about 1.5 s decode. The product
    // publishes what decodes, with the playable duration (not the header's).
    name: 'truncated-faststart.mp4',
    make: async (p) => {
      const whole = await makeClip(`${p}.whole.mp4`, { seconds: 3, width: 320, height: 180, faststart: true });
      await truncateCopy(whole, p, 0.5);
      await rm(whole);
      return p;
    },
    expected: { status: 'ready', heights: [144], aspect: 320 / 180, audio: true, duration: [0.8, 2.2] },
  },
];

let sw: StandaloneProcess;
let tmp: string;
let client: StreamWaveClient;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-corpus-'));
  // The corpus uploads ~100 files as one user within a minute: rate limits (write.account) are not under test here.
  sw = await startStandaloneProcess({ dataDir: join(tmp, 'data'), env: { STREAMWAVE_UPLOADS_PER_HOUR: '1000', STREAMWAVE_RATE_LIMITS: 'off' } });
  client = new StreamWaveClient(sw.url);
  await client.register('corpus', 'corpus@example.com', 'corpus-password');
  await client.login('corpus', 'corpus-password');
});

after(async () => {
  await sw?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Checks one ready generated upload against its expectation; throws on the first difference. */
async function checkReady(file: string, videoId: string, e: Extract<Expected, { status: 'ready' }>): Promise<string> {
  const { manifest_url } = await client.stream(videoId);
  const hls = await checkHls(manifest_url, { source: file });
  const heights = hls.renditions.map((r) => r.height).sort((a, b) => a - b);
  assert.deepEqual(heights, e.heights, 'rung heights');
  for (const r of hls.renditions) {
    assert.equal(`${r.width}x${r.height}`, r.resolution, 'RESOLUTION in the master playlist is the encoded size');
    assert.equal(r.videoCodec, 'h264');
    assert.equal(r.audioCodec, e.audio ? 'aac' : null, 'audio track');
    assert.equal(r.width % 2, 0);
    assert.equal(r.height % 2, 0);
    assert.equal(r.rotation, 0, `${r.resolution}: pixels upright, no display matrix left for the player`);
    // The picture is the source as displayed: right way up, not mirrored, not squashed.
    assert.ok(r.psnrVsSource! >= 25, `${r.resolution}: first frame differs from the displayed source (PSNR ${r.psnrVsSource?.toFixed(1)} dB)`);
    // Width is the even number nearest height × aspect: off by at most 1 pixel.
    assert.ok(Math.abs(r.width - r.height * e.aspect) <= 1, `${r.resolution}: aspect ${(r.width / r.height).toFixed(3)}, expected ${e.aspect.toFixed(3)}`);
    const total = r.segmentDurations.reduce((s, d) => s + d, 0);
    assert.ok(total >= e.duration[0] && total <= e.duration[1], `${r.resolution}: segments total ${total.toFixed(2)} s, expected ${e.duration.join('–')} s`);
  }
  const detail = await client.video(videoId);
  const duration = Number(detail.duration_seconds);
  assert.ok(duration >= e.duration[0] && duration <= e.duration[1], `published duration ${duration} s, expected ${e.duration.join('–')} s`);
  return hls.renditions.map((r) => `${r.resolution} (${r.psnrVsSource?.toFixed(1)} dB)`).join(' ');
}

test('every generated edge case ends exactly as expected', async (t) => {
  const dir = join(tmp, 'generated');
  await mkdir(dir);
  const uploads: { c: GeneratedCase; file: string; videoId: string }[] = [];
  // Upload each file as soon as it is made: the transcoder works through its queue meanwhile.
  for (const c of GENERATED) {
    const file = await c.make(join(dir, c.name));
    const up = await uploadFile(client, file, { title: `generated ${c.name}`, tags: ['corpus'], resumeFile: join(tmp, 'resume.json') });
    uploads.push({ c, file, videoId: up.videoId });
  }
  const problems: string[] = [];
  for (const { c, file, videoId } of uploads) {
    const final = await waitForProcessing(client, videoId, { timeoutMs: 10 * 60_000, intervalMs: 250 });
    try {
      const e = c.expected;
      assert.equal(final.status, e.status, `ended ${final.status}${final.error ? ` (${final.error})` : ''}`);
      if (e.status === 'failed') {
        assert.match(final.error ?? '', e.reason);
        assert.deepEqual(final.renditions, [], 'a failed video has no renditions');
        t.diagnostic(`failed  ${c.name}: ${final.error}`);
      } else {
        assert.equal(final.progress, 100);
        assert.equal(final.error, null);
        t.diagnostic(`ready   ${c.name}: ${await checkReady(file, videoId, e)}`);
      }
    } catch (err) {
      problems.push(`${c.name}: ${(err as Error).message}`);
    }
  }
  if (!mediaDir) t.diagnostic('no media folder given (STREAMWAVE_TEST_MEDIA) or found: only the generated corpus ran');
  assert.deepEqual(problems, []);
});

if (mediaDir) {
  test(`every file of the media folder ${mediaDir} ends ready with a correct ladder or failed with a reason`, async (t) => {
    assert.ok(existsSync(mediaDir), `STREAMWAVE_TEST_MEDIA=${mediaDir} does not exist`);
    const files = listMedia(mediaDir);
    assert.ok(files.length > 0, `no media files in ${mediaDir}`);
    // Upload everything first: the transcoder works through its queue while we upload.
    const uploads: { file: string; name: string; videoId: string }[] = [];
    for (const file of files) {
      const name = relative(mediaDir, file);
      const up = await uploadFile(client, file, { title: `corpus ${basename(file)}`, tags: ['corpus'], resumeFile: join(tmp, 'resume.json') });
      uploads.push({ file, name, videoId: up.videoId });
    }
    let ready = 0;
    let failed = 0;
    const problems: string[] = [];
    for (const u of uploads) {
      const final = await waitForProcessing(client, u.videoId, { timeoutMs: 15 * 60_000, intervalMs: 250 });
      const facts = await sourceFacts(u.file);
      try {
        assert.ok(final.status === 'ready' || final.status === 'failed', `ended ${final.status}`);
        if (final.status === 'failed') {
          failed++;
          assert.ok(final.error && final.error.length > 5, 'failed without a reason');
          assert.ok(!MUST_BE_READY.some((re) => re.test(u.name)), `a clean video failed: ${final.error}`);
          t.diagnostic(`failed  ${u.name}: ${final.error}`);
          continue;
        }
        ready++;
        assert.ok(facts.displayHeight !== null, 'ready although the source has no video stream');
        assert.equal(final.progress, 100);
        const { manifest_url } = await client.stream(u.videoId);
        const hls = await checkHls(manifest_url);
        assert.ok(hls.renditions.length >= 1);
        const maxH = Math.max(...hls.renditions.map((r) => r.height));
        if (facts.displayHeight! < 144) assert.equal(hls.renditions.length, 1, 'a source under 144p gets one rendition');
        else assert.ok(maxH <= Math.ceil(facts.displayHeight!) + 1, `rendition ${maxH}p above the source's ${facts.displayHeight}p`);
        for (const r of hls.renditions) {
          assert.equal(r.videoCodec, 'h264');
          if (r.audioCodec) assert.equal(r.audioCodec, 'aac');
          assert.equal(r.width % 2, 0);
          assert.equal(r.height % 2, 0);
          for (const d of r.segmentDurations.slice(0, -1)) assert.ok(d <= 6.05, `segment of ${d} s`);
        }
        t.diagnostic(`ready   ${u.name}: ${hls.renditions.map((r) => r.resolution).join(' ')}`);
      } catch (e) {
        problems.push(`${u.name}: ${(e as Error).message}`);
      }
    }
    t.diagnostic(`corpus: ${uploads.length} files, ${ready} ready, ${failed} failed, ${problems.length} problems`);
    assert.deepEqual(problems, []);
  });
}
