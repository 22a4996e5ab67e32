import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAcceptedContentType, MAX_PARTS, planParts, sourceObjectKey } from './upload-plan.ts';

const MiB = 1024 * 1024;
const limits = { minPartSizeBytes: 5 * MiB, maxPartSizeBytes: 64 * MiB };

describe('planParts', () => {
  test('small files are one part of the minimum part size', () => {
    assert.deepEqual(planParts(1, limits), { partSizeBytes: 5 * MiB, partCount: 1 });
    assert.deepEqual(planParts(5 * MiB, limits), { partSizeBytes: 5 * MiB, partCount: 1 });
    assert.deepEqual(planParts(5 * MiB + 1, limits), { partSizeBytes: 5 * MiB, partCount: 2 });
  });

  test('parts cover the file exactly: (n-1)·part < size ≤ n·part, within S3 limits', () => {
    for (const size of [1, 999, 6 * MiB, 100 * MiB + 3, 4 * 1024 * MiB, 60_000 * MiB, 600_000 * MiB]) {
      const plan = planParts(size, limits);
      assert.ok(plan, `plan for ${size}`);
      assert.ok(plan.partCount * plan.partSizeBytes >= size);
      assert.ok((plan.partCount - 1) * plan.partSizeBytes < size);
      assert.ok(plan.partCount <= MAX_PARTS);
      assert.ok(plan.partSizeBytes >= limits.minPartSizeBytes && plan.partSizeBytes <= limits.maxPartSizeBytes);
      assert.equal(plan.partSizeBytes % MiB, 0);
    }
  });

  test('the part size grows in whole MiB once the file needs more than 10,000 minimum-size parts', () => {
    const size = 60_000 * MiB; // 10,000 parts of 6 MiB
    assert.deepEqual(planParts(size, limits), { partSizeBytes: 6 * MiB, partCount: 10_000 });
    assert.equal(planParts(size + 1, limits)?.partSizeBytes, 7 * MiB);
  });

  test('undefined when even maximum-size parts exceed 10,000 parts', () => {
    assert.equal(planParts(64 * MiB * MAX_PARTS + 1, limits), undefined);
  });
});

describe('content types and keys', () => {
  test('accepts video/*, audio/* and application/octet-stream, rejects the rest', () => {
    for (const ok of ['video/mp4', 'video/x-matroska', 'VIDEO/QuickTime', 'audio/mpeg', 'application/octet-stream', 'video/webm; codecs="vp9"']) {
      assert.equal(isAcceptedContentType(ok), true, ok);
    }
    for (const bad of ['text/plain', 'image/png', 'application/json', 'video/', 'videos/mp4', '']) {
      assert.equal(isAcceptedContentType(bad), false, bad);
    }
  });

  test('source object key', () => {
    assert.equal(sourceObjectKey('vid_1'), 'uploads/vid_1/source');
  });
});
