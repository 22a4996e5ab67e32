/**
 * The FFmpeg thumbnail encoder on real FFmpeg: what it keeps of an upload (the pixels, scaled down
 * to 1280 px wide at most) and what it drops (metadata), and how an undecodable image fails; with
 * an FFmpeg that runs out of memory (scripts, as processors/transcoder/transcoder-limits.test.ts
 * simulates the prlimit cap), that it is never blamed on the image.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { imageSize } from 'image-size';
import { resolveFfmpegBinaries } from '../transcoder/ffmpeg-binaries.ts';
import { DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES } from '../transcoder/media-limits.ts';
import { createFfmpegThumbnailEncoder } from './ffmpeg-thumbnail-encoder.ts';
import { ThumbnailDecodeError, ThumbnailEncoderOutOfMemoryError } from './thumbnail-encoder.port.ts';

const { ffmpeg } = resolveFfmpegBinaries();
const dir = mkdtempSync(join(tmpdir(), 'thumbnail-encoder-test-'));
const work = mkdtempSync(join(tmpdir(), 'thumbnail-encoder-work-'));
after(() => { rmSync(dir, { recursive: true, force: true }); rmSync(work, { recursive: true, force: true }); });
const encoder = createFfmpegThumbnailEncoder({ ffmpegPath: ffmpeg, workDir: work, memoryLimitBytes: DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES });

/** An executable "FFmpeg" in `dir` running the shell `body`. */
function fakeFfmpeg(name: string, body: string): string {
  const path = join(dir, `${name}.sh`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function image(file: string, size: string): Buffer {
  const path = join(dir, file);
  execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=s=${size}`, '-frames:v', '1', '-y', path]);
  return readFileSync(path);
}

const SECRET = 'secret-gps-48.8584N-2.2945E';

/** `png` with a tEXt chunk (RFC 2083 §4.2.3.1) holding SECRET inserted after IHDR. */
function pngWithText(png: Buffer): Buffer {
  const data = Buffer.from(`Comment\0${SECRET}`, 'latin1');
  const type = Buffer.from('tEXt', 'latin1');
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  type.copy(chunk, 4);
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(Buffer.concat([type, data])) >>> 0, 8 + data.length);
  const afterIhdr = 8 + 25; // signature, then IHDR: length 4 + type 4 + data 13 + CRC 4
  return Buffer.concat([png.subarray(0, afterIhdr), chunk, png.subarray(afterIhdr)]);
}

/** `jpeg` with an EXIF APP1 segment and a COM segment, both holding SECRET, after SOI. */
function jpegWithExif(jpeg: Buffer): Buffer {
  const segment = (marker: number, payload: Buffer) => {
    const s = Buffer.alloc(4 + payload.length);
    s.writeUInt16BE(0xff00 | marker, 0);
    s.writeUInt16BE(2 + payload.length, 2);
    payload.copy(s, 4);
    return s;
  };
  const exif = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), Buffer.from([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0]), Buffer.from(SECRET, 'latin1')]);
  return Buffer.concat([jpeg.subarray(0, 2), segment(0xe1, exif), segment(0xfe, Buffer.from(SECRET, 'latin1')), jpeg.subarray(2)]);
}

test('given a PNG with a text chunk and a JPEG with EXIF and a comment, when re-encoded, then a JPEG of the same size without any of them', async () => {
  const png = pngWithText(image('m.png', '320x240'));
  assert.ok(png.includes(SECRET), 'the fixture carries the secret');
  const jpeg = jpegWithExif(image('m.jpg', '320x240'));
  for (const [upload, format] of [[png, 'png'], [jpeg, 'jpeg']] as const) {
    const out = await encoder.encode(upload, format);
    assert.deepEqual([...out.jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    assert.deepEqual([out.width, out.height], [320, 240]);
    assert.deepEqual(imageSize(out.jpeg), { width: 320, height: 240, type: 'jpg' });
    assert.ok(!out.jpeg.includes(SECRET), `${format}: the secret is gone`);
    assert.ok(!out.jpeg.includes('Exif'), `${format}: no EXIF segment`);
  }
});

test('given a 4096×4096 WebP, when re-encoded, then 1280×1280; a 2000×1000 PNG becomes 1280×640 (aspect kept)', async () => {
  const big = await encoder.encode(image('big.webp', '4096x4096'), 'webp');
  assert.deepEqual([big.width, big.height], [1280, 1280]);
  const wide = await encoder.encode(image('wide.png', '2000x1000'), 'png');
  assert.deepEqual([wide.width, wide.height], [1280, 640]);
});

test('given bytes that do not decode, then ThumbnailDecodeError, and no temporary file is left', async () => {
  const png = image('t.png', '64x64');
  await assert.rejects(encoder.encode(png.subarray(0, 40), 'png'), ThumbnailDecodeError);
  await assert.rejects(encoder.encode(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 garbage', 'latin1'), 'webp'), ThumbnailDecodeError);
  assert.deepEqual(readdirSync(work), []);
});

test('given an FFmpeg that cannot allocate memory (the prlimit cap), then ThumbnailEncoderOutOfMemoryError, not ThumbnailDecodeError, and no temporary file is left', async () => {
  const enomem = fakeFfmpeg('ffmpeg-enomem', 'echo "[png @ 0x5555] malloc of size 67108864 failed" >&2\necho "Error while decoding stream #0:0: Cannot allocate memory" >&2\nexit 1');
  const capped = createFfmpegThumbnailEncoder({ ffmpegPath: enomem, workDir: work, memoryLimitBytes: DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES });
  const err = await capped.encode(image('oom.png', '64x64'), 'png').then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ThumbnailEncoderOutOfMemoryError, String(err));
  assert.match(err.diagnostics, /Cannot allocate memory/, 'FFmpeg\'s stderr kept for the log');
  assert.deepEqual(readdirSync(work), []);
});

test('given an FFmpeg killed by the kernel (a SIGKILL the encoder did not send: the OOM killer), then ThumbnailEncoderOutOfMemoryError and no temporary file is left', async () => {
  const killed = createFfmpegThumbnailEncoder({ ffmpegPath: fakeFfmpeg('ffmpeg-oom-killed', 'kill -KILL $$'), workDir: work, memoryLimitBytes: DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES });
  await assert.rejects(killed.encode(image('killed.png', '64x64'), 'png'), ThumbnailEncoderOutOfMemoryError);
  assert.deepEqual(readdirSync(work), []);
});
