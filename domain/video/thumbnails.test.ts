import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { DomainError } from '../shared/event.ts';
import { assertThumbnailDimensions, customThumbnailKey, isCustomThumbnailKey, sniffThumbnailFormat, THUMBNAIL_MAX_BYTES } from './thumbnails.ts';
import { videoDecider } from './video.decider.ts';
import type { VideoCommand } from './video.commands.ts';
import { historyUpTo, OWNER, STRANGER, T0, videoCommands, videoEvents } from './video.fixtures.ts';

const V = 'vid-1';
const spec = DeciderSpecification.for(videoDecider);
const cmd = videoCommands(V);
const ev = videoEvents(V);
const KEY = `videos/${V}/thumbnail-0123456789abcdef.jpg`;
const set = (over: Partial<{ key: string; width: number; height: number; sizeBytes: number }> = {}, actorId: string | null = OWNER): VideoCommand => ({
  type: 'SetCustomThumbnail', data: { videoId: V, key: KEY, width: 640, height: 360, sizeBytes: 20_000, ...over }, metadata: actorId === null ? { now: T0 + 12 } : { now: T0 + 12, actorId },
});

describe('custom thumbnails (video decider)', () => {
  test('given a video in any live status, when the owner sets a thumbnail, then CustomThumbnailSet', () => {
    for (const status of ['pending_upload', 'uploaded', 'processing', 'ready', 'failed'] as const) {
      spec.given(historyUpTo(V, status)).when(cmd.setThumbnail()).then([ev.thumbnailSet()]);
    }
  });
  test('given that thumbnail already set, when it is set again, then nothing; another key replaces it', () => {
    spec.given([...historyUpTo(V, 'ready'), ev.thumbnailSet()]).when(cmd.setThumbnail()).then([]);
    const other = customThumbnailKey(V, 'fedcba9876543210ffff');
    spec.given([...historyUpTo(V, 'ready'), ev.thumbnailSet()]).when(cmd.setThumbnail(other)).then([ev.thumbnailSet(other)]);
  });
  test('only the owner; never on a deleted or unknown video', () => {
    spec.given(historyUpTo(V, 'ready')).when(set({}, STRANGER)).thenThrows('NOT_OWNER', 'forbidden');
    spec.given(historyUpTo(V, 'ready')).when(set({}, null)).thenThrows('NOT_OWNER', 'forbidden');
    spec.given(historyUpTo(V, 'deleted')).when(cmd.setThumbnail()).thenThrows('VIDEO_DELETED', 'not_found');
    spec.given([]).when(cmd.setThumbnail()).thenThrows('VIDEO_NOT_FOUND', 'not_found');
  });
  test('a key that is not one of the video\'s thumbnail keys, or sizes out of range, is INVALID_THUMBNAIL', () => {
    for (const key of [`videos/other/thumbnail-0123456789abcdef.jpg`, `videos/${V}/thumbnail.jpg`, `videos/${V}/thumbnail-0123456789ABCDEF.jpg`, `uploads/${V}/x.jpg`, `videos/${V}/thumbnail-0123456789abcdef.png`]) {
      spec.given(historyUpTo(V, 'ready')).when(set({ key })).thenThrows('INVALID_THUMBNAIL', 'invalid');
    }
    for (const over of [{ width: 0 }, { width: 1281 }, { height: 4097 }, { height: 1.5 }, { sizeBytes: 0 }, { sizeBytes: THUMBNAIL_MAX_BYTES + 1 }]) {
      spec.given(historyUpTo(V, 'ready')).when(set(over)).thenThrows('INVALID_THUMBNAIL', 'invalid');
    }
  });
});

describe('custom thumbnail rules', () => {
  test('the format comes from the magic bytes: JPEG, PNG, WebP; GIF, BMP, text and empty are none', () => {
    assert.equal(sniffThumbnailFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
    assert.equal(sniffThumbnailFormat(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])), 'png');
    assert.equal(sniffThumbnailFormat(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1')), 'webp');
    for (const other of [Buffer.from('GIF89a'), Buffer.from('BM'), Buffer.from('RIFF\x10\x00\x00\x00WAVE', 'latin1'), Buffer.from('<svg/>'), Buffer.alloc(0)]) {
      assert.equal(sniffThumbnailFormat(other), null, other.toString('latin1'));
    }
  });
  test('at most 4096×4096 px, positive integers', () => {
    assertThumbnailDimensions(4096, 4096);
    assertThumbnailDimensions(1, 1);
    for (const [w, h] of [[4097, 10], [10, 4097], [0, 10], [10, -1], [1.5, 2], [Number.NaN, 3]] as const) {
      assert.throws(() => assertThumbnailDimensions(w, h), (e) => e instanceof DomainError && e.code === 'INVALID_THUMBNAIL', `${w}×${h}`);
    }
  });
  test('keys are content-addressed under the video\'s media prefix', () => {
    const key = customThumbnailKey(V, 'ab'.repeat(32));
    assert.equal(key, `videos/${V}/thumbnail-abababababababab.jpg`);
    assert.ok(isCustomThumbnailKey(key, V));
    assert.ok(!isCustomThumbnailKey(key, 'vid-2'));
  });
});
