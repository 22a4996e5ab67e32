import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planChunks } from './chunk-plan.ts';

const spans = (duration: number, o: Parameters<typeof planChunks>[1]) => planChunks(duration, o).map((c) => [c.startSeconds, c.endSeconds, c.firstSegmentIndex, c.last]);

test('a short first chunk, then whole chunks on segment boundaries; a short tail joins the last chunk', () => {
  assert.deepEqual(spans(30, { segmentSeconds: 4, chunkSeconds: 8, firstChunkSeconds: 4 }), [[0, 4, 0, false], [4, 12, 1, false], [12, 20, 3, false], [20, 30, 5, true]]);
  // Without firstChunkSeconds every chunk is chunkSeconds long (rounded down to whole segments).
  assert.deepEqual(spans(30, { segmentSeconds: 4, chunkSeconds: 10 }), [[0, 8, 0, false], [8, 16, 2, false], [16, 24, 4, false], [24, 30, 6, true]]);
  // A first chunk longer than the source is the only chunk.
  assert.deepEqual(spans(3, { segmentSeconds: 4, chunkSeconds: 8, firstChunkSeconds: 4 }), [[0, 3, 0, true]]);
});

test('a first chunk shorter than one segment is refused', () => {
  assert.throws(() => planChunks(30, { segmentSeconds: 4, chunkSeconds: 8, firstChunkSeconds: 2 }), RangeError);
});
