import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planStoryboard, storyboardVtt, tilePosition, vttTimestamp } from './storyboard-layout.ts';

describe('storyboard layout', () => {
  test('given a 5 s 1280x720 video, when planned, then 5 tiles of 160x90, one a second, on one 5x1 sheet', () => {
    assert.deepEqual(planStoryboard(5, 1280, 720), { intervalSeconds: 1, tiles: 5, tileWidth: 160, tileHeight: 90, columns: 5, rows: 1, sheets: 1 });
  });

  test('given a long video, when planned, then at most 100 tiles, one every ceil(duration / 100) s, on one 10x10 sheet', () => {
    const hour = planStoryboard(3600, 1920, 1080);
    assert.equal(hour.intervalSeconds, 36);
    assert.equal(hour.tiles, 100);
    assert.deepEqual([hour.columns, hour.rows, hour.sheets], [10, 10, 1]);
    const odd = planStoryboard(125.4, 10, 8);
    assert.deepEqual([odd.intervalSeconds, odd.tiles], [2, 63]);
    assert.deepEqual([odd.tileWidth, odd.tileHeight], [10, 8], 'a tiny source is not upscaled');
    for (const d of [1, 99.9, 100, 101, 999, 21_600]) assert.ok(planStoryboard(d, 640, 360).tiles <= 100, `${d} s`);
  });

  test('given portrait, square, zero-length or unknown sizes, then tiles keep the aspect and stay even; a bad size throws RangeError', () => {
    assert.deepEqual([planStoryboard(10, 720, 1280).tileWidth, planStoryboard(10, 720, 1280).tileHeight], [160, 284]);
    assert.equal(planStoryboard(10, 1088, 1088).tileHeight, 160);
    assert.equal(planStoryboard(0, 640, 360).tiles, 1);
    assert.equal(planStoryboard(Number.NaN, 640, 360).tiles, 1);
    assert.throws(() => planStoryboard(10, 0, 360), RangeError);
  });

  test('given more tiles than a sheet holds, then they continue on the next sheet from its top-left corner', () => {
    const layout = { intervalSeconds: 1, tiles: 250, tileWidth: 160, tileHeight: 90, columns: 10, rows: 10, sheets: 3 };
    assert.deepEqual(tilePosition(layout, 0), { sheet: 1, x: 0, y: 0 });
    assert.deepEqual(tilePosition(layout, 13), { sheet: 1, x: 480, y: 90 });
    assert.deepEqual(tilePosition(layout, 99), { sheet: 1, x: 1440, y: 810 });
    assert.deepEqual(tilePosition(layout, 100), { sheet: 2, x: 0, y: 0 });
  });

  test('WebVTT: a header, one cue per tile with sprite-N.jpg#xywh, the last ending at the duration', () => {
    assert.equal(vttTimestamp(3723.5), '01:02:03.500');
    const vtt = storyboardVtt(planStoryboard(2.5, 640, 360), 2.5);
    assert.equal(vtt, [
      'WEBVTT', '',
      '00:00:00.000 --> 00:00:01.000', 'sprite-1.jpg#xywh=0,0,160,90', '',
      '00:00:01.000 --> 00:00:02.000', 'sprite-1.jpg#xywh=160,0,160,90', '',
      '00:00:02.000 --> 00:00:02.500', 'sprite-1.jpg#xywh=320,0,160,90', '',
    ].join('\n'));
  });
});
