import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FfprobeData } from 'fluent-ffmpeg';
import { MediaRejectedError, interpretProbe } from './ffprobe.ts';

const data = (streams: Record<string, unknown>[], format: Record<string, unknown> = { format_name: 'mov,mp4', duration: 3 }): FfprobeData =>
  ({ streams: streams.map((s, index) => ({ index, disposition: { attached_pic: 0 }, ...s })), format, chapters: [] }) as unknown as FfprobeData;

const h264 = { codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, pix_fmt: 'yuv420p', sample_aspect_ratio: '1:1', avg_frame_rate: '30/1', r_frame_rate: '30/1', field_order: 'progressive' };
const aac = { codec_type: 'audio', codec_name: 'aac', channels: 6, sample_rate: 48000 };

const rejects = (d: FfprobeData, code: string) =>
  assert.throws(() => interpretProbe(d), (e: unknown) => e instanceof MediaRejectedError && e.code === code && e.reason.length > 0);

describe('interpretProbe', () => {
  test('display matrix rotation -90 swaps the display size (clockwise 90)', () => {
    const info = interpretProbe(data([{ ...h264, rotation: '-90' }, aac]));
    assert.equal(info.video!.rotation, 90);
    assert.deepEqual([info.video!.displayWidth, info.video!.displayHeight], [1080, 1920]);
    assert.deepEqual(info.audio, { index: 1, codec: 'aac', channels: 6, sampleRate: 48000 });
  });

  test('180° keeps orientation', () => {
    const v = interpretProbe(data([{ ...h264, rotation: 180 }])).video!;
    assert.equal(v.rotation, 180);
    assert.deepEqual([v.displayWidth, v.displayHeight], [1920, 1080]);
  });

  test('SAR 2:1 stretches the display width', () => {
    const v = interpretProbe(data([{ ...h264, width: 640, height: 360, sample_aspect_ratio: '2:1' }])).video!;
    assert.deepEqual([v.displayWidth, v.displayHeight], [1280, 360]);
  });

  test('field order tt/bb/tb/bt is interlaced', () => {
    for (const fo of ['tt', 'bb', 'tb', 'bt']) assert.equal(interpretProbe(data([{ ...h264, field_order: fo }])).video!.interlaced, true);
    assert.equal(interpretProbe(data([h264])).video!.interlaced, false);
  });

  test('VFR: avg_frame_rate wins over an absurd r_frame_rate', () => {
    const v = interpretProbe(data([{ ...h264, r_frame_rate: '57600/1', avg_frame_rate: '3628800/502589' }])).video!;
    assert.ok(Math.abs(v.fps - 7.22) < 0.01);
  });

  test('audio only and cover art are NO_VIDEO_STREAM', () => {
    rejects(data([aac]), 'NO_VIDEO_STREAM');
    rejects(data([aac, { codec_type: 'video', codec_name: 'mjpeg', width: 650, height: 650, pix_fmt: 'yuvj420p', disposition: { attached_pic: 1 } }]), 'NO_VIDEO_STREAM');
  });

  test('no streams → UNREADABLE_MEDIA; unknown pixel format → UNDECODABLE_VIDEO; no duration → INVALID_DURATION', () => {
    rejects(data([]), 'UNREADABLE_MEDIA');
    rejects(data([{ ...h264, pix_fmt: undefined }]), 'UNDECODABLE_VIDEO');
    rejects(data([{ ...h264 }], { format_name: 'mov', duration: 'N/A' }), 'INVALID_DURATION');
  });

  test('playlists and concat scripts are refused', () => {
    rejects(data([h264], { format_name: 'hls', duration: 3 }), 'UNSUPPORTED_CONTAINER');
    rejects(data([h264], { format_name: 'concat', duration: 3 }), 'UNSUPPORTED_CONTAINER');
  });
});
