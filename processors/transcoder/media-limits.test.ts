/**
 * Source limits and the FFmpeg time-limit formula (issue 8, finding 3): a 16384² source, a
 * 1000:1 sample aspect ratio and a two-frame file claiming ten hours are refused before any
 * encode, and the ladder never plans a rendition beyond the max side.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FfprobeData } from 'fluent-ffmpeg';
import { interpretProbe, MediaRejectedError } from './ffprobe.ts';
import { planLadder } from './ladder.ts';
import { checkSourceLimits, DEFAULT_SOURCE_LIMITS, DEFAULT_TIME_LIMITS, encodeTimeLimitSeconds } from './media-limits.ts';
import { PROCESSING_FAILURE_MESSAGES } from '../../domain/video/processing-failure.ts';

const probe = (video: Record<string, unknown>, duration: number | string = 10) =>
  interpretProbe({
    streams: [{ index: 0, disposition: { attached_pic: 0 }, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, pix_fmt: 'yuv420p', sample_aspect_ratio: '1:1', avg_frame_rate: '30/1', r_frame_rate: '30/1', ...video }],
    format: { format_name: 'matroska,webm', duration },
    chapters: [],
  } as unknown as FfprobeData);

const rejectsWith = (info: ReturnType<typeof probe>, code: string) =>
  assert.throws(() => checkSourceLimits(info), (e: unknown) => {
    assert.ok(e instanceof MediaRejectedError);
    assert.equal(e.code, code);
    // The public reason is the code's fixed sentence; the figures are in the detail (log only).
    assert.equal(e.reason, PROCESSING_FAILURE_MESSAGES[code as keyof typeof PROCESSING_FAILURE_MESSAGES]);
    assert.ok(e.detail.length > 0);
    return true;
  });

describe('checkSourceLimits (defaults: 8192 px, 8192×4320, 1:4…4:1, 6 h, 240 fps)', () => {
  test('a 16384×16384 source is RESOLUTION_TOO_HIGH', () => rejectsWith(probe({ width: 16384, height: 16384 }), 'RESOLUTION_TOO_HIGH'));
  test('8192×8192 is within the side but beyond 8192×4320 pixels: RESOLUTION_TOO_HIGH', () => rejectsWith(probe({ width: 8192, height: 8192 }), 'RESOLUTION_TOO_HIGH'));
  test('a 1000:1 sample aspect ratio is ASPECT_RATIO_UNSUPPORTED (display 256000x144)', () =>
    rejectsWith(probe({ width: 256, height: 144, sample_aspect_ratio: '1000:1' }), 'ASPECT_RATIO_UNSUPPORTED'));
  test('a 1:5 portrait strip is ASPECT_RATIO_UNSUPPORTED', () => rejectsWith(probe({ width: 200, height: 1000 }), 'ASPECT_RATIO_UNSUPPORTED'));
  test('SAR 7:4 on 5000x2400 stays within 4:1 but displays 8750 px wide: RESOLUTION_TOO_HIGH', () =>
    rejectsWith(probe({ width: 5000, height: 2400, sample_aspect_ratio: '7:4' }), 'RESOLUTION_TOO_HIGH'));
  test('a file claiming ten hours (36,001 s) is DURATION_TOO_LONG', () => rejectsWith(probe({}, 36001), 'DURATION_TOO_LONG'));
  test('300 fps is FRAME_RATE_TOO_HIGH', () => rejectsWith(probe({ avg_frame_rate: '300/1', r_frame_rate: '300/1' }), 'FRAME_RATE_TOO_HIGH'));
  test('what stays inside passes: 8K 7680x4320 at 60 fps, 6 h, 4:1, 1:4, 240 fps, 9:16 portrait', () => {
    for (const info of [
      probe({ width: 7680, height: 4320, avg_frame_rate: '60/1' }, 6 * 3600),
      probe({ width: 1600, height: 400 }),
      probe({ width: 400, height: 1600 }),
      probe({ avg_frame_rate: '240/1' }),
      probe({ width: 1080, height: 1920 }),
    ]) assert.doesNotThrow(() => checkSourceLimits(info));
  });
  test('limits are configurable', () => {
    assert.throws(() => checkSourceLimits(probe({}, 120), { ...DEFAULT_SOURCE_LIMITS, maxDurationSeconds: 60 }), /DURATION_TOO_LONG/);
  });
});

describe('planLadder never plans a rendition beyond the max side', () => {
  test('a 4:1 2160-tall source: 2160p would be 8640 wide, so it stops at 1440p (5760)', () => {
    const rungs = planLadder({ displayWidth: 8640, displayHeight: 2160 });
    assert.deepEqual(rungs.map((r) => r.name), ['144p', '240p', '360p', '480p', '720p', '1080p', '1440p']);
    for (const r of rungs) assert.ok(r.width <= 8192 && r.height <= 8192, `${r.name} ${r.width}x${r.height}`);
  });
  test('the 1000:1 source that once got a 256000-px "144p" gets no plan at all (RangeError)', () => {
    assert.throws(() => planLadder({ displayWidth: 256000, displayHeight: 144 }), RangeError);
  });
});

describe('encodeTimeLimitSeconds = min(12 h, max(120 s, 10 × duration))', () => {
  test('the floor, the factor and the ceiling', () => {
    const cases: [number, number][] = [[0, 120], [5, 120], [12, 120], [60, 600], [3600, 36000], [4320, 43200], [36001, 43200], [NaN, 120], [-3, 120]];
    for (const [d, limit] of cases) assert.equal(encodeTimeLimitSeconds(d), limit, `duration ${d}`);
  });
  test('configurable', () => {
    assert.equal(encodeTimeLimitSeconds(60, { ...DEFAULT_TIME_LIMITS, encodeFactor: 2, floorSeconds: 1, ceilingSeconds: 100 }), 100);
    assert.equal(encodeTimeLimitSeconds(10, { ...DEFAULT_TIME_LIMITS, encodeFactor: 2, floorSeconds: 1, ceilingSeconds: 100 }), 20);
  });
});
