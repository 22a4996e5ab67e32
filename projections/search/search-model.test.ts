/**
 * evolveSearchDoc on custom thumbnails (issue 15): search hits show the thumbnail the video detail
 * shows, whichever of CustomThumbnailSet and VideoPublished comes first, and redelivery converges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { evolveSearchDoc, searchedVideoId, type SearchDoc } from './search-model.ts';

const T0 = Date.UTC(2026, 11, 1);
const started: DomainEvent = { type: 'UploadStarted', data: {
  videoId: 'v1', ownerId: 'o1', uploadId: 'up-v1', objectKey: 'raw/v1', filename: 'a.mp4', sizeBytes: 1, contentType: 'video/mp4', title: 'A', description: '', tags: [], partSizeBytes: 1, startedAt: T0,
} };
const published: DomainEvent = { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'videos/v1/hls/master.m3u8', thumbnailKey: 'videos/v1/thumbnail.jpg', durationSeconds: 30, publishedAt: T0 + 1 } };
const custom = (key: string): DomainEvent => ({ type: 'CustomThumbnailSet', data: { videoId: 'v1', key, width: 640, height: 360, sizeBytes: 9_000, setBy: 'o1', setAt: T0 + 2 } });
const fold = (events: DomainEvent[], from?: SearchDoc) => events.reduce<SearchDoc | undefined>((doc, e) => evolveSearchDoc(doc, e), from);
const KEY = 'videos/v1/thumbnail-0123456789abcdef.jpg';

test('given a published video, when a custom thumbnail is set, then the search document carries it', () => {
  assert.equal(searchedVideoId(custom(KEY)), 'v1');
  assert.equal(fold([started, published])!.thumbnailKey, 'videos/v1/thumbnail.jpg');
  assert.equal(fold([started, published, custom(KEY)])!.thumbnailKey, KEY);
});

test('given a custom thumbnail set before publication, when VideoPublished arrives (or is redelivered), then the custom one stays', () => {
  const doc = fold([started, custom(KEY), published]);
  assert.equal(doc!.thumbnailKey, KEY);
  assert.equal(doc!.ready, true);
  assert.deepEqual(fold([published, custom(KEY)], doc), doc, 'redelivery converges');
  assert.equal(fold([custom('videos/v1/thumbnail-fedcba9876543210.jpg'), published], doc)!.thumbnailKey, 'videos/v1/thumbnail-fedcba9876543210.jpg');
});

test('a custom thumbnail of an unknown or deleted video creates no document', () => {
  assert.equal(evolveSearchDoc(undefined, custom(KEY)), undefined);
});
