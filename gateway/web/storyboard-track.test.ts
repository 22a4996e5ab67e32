import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cueAt, parseStoryboardTrack } from './src/storyboard-track.ts';

const TRACK = [
  'WEBVTT', '',
  '00:00:00.000 --> 00:00:02.000', 'sprite-1.jpg#xywh=0,0,160,90', '',
  '00:00:02.000 --> 00:00:04.000', 'sprite-1.jpg#xywh=160,0,160,90', '',
  '00:00:04.000 --> 00:00:05.500', 'sprite-2.jpg#xywh=0,0,160,90', '',
].join('\n');

describe('storyboard track (web player)', () => {
  test('given a thumbnails track at a signed URL, when parsed, then cues with times in seconds, sprites under the same prefix, and their rectangles', () => {
    const cues = parseStoryboardTrack(TRACK, 'https://cdn.example/media/signed/1.mac/videos/v1/storyboard/storyboard.vtt');
    assert.deepEqual(cues[1], { start: 2, end: 4, url: 'https://cdn.example/media/signed/1.mac/videos/v1/storyboard/sprite-1.jpg', x: 160, y: 0, w: 160, h: 90 });
    assert.equal(cues.length, 3);
    assert.deepEqual(parseStoryboardTrack('<html>', 'https://x/'), []);
  });
  test('when hovering at t seconds, then the cue covering t; before the first the first, after the last the last', () => {
    const cues = parseStoryboardTrack(TRACK, 'https://x/a/storyboard.vtt');
    assert.equal(cueAt(cues, 3.9)!.x, 160);
    assert.equal(cueAt(cues, 4)!.url, 'https://x/a/sprite-2.jpg');
    assert.equal(cueAt(cues, -1)!.start, 0);
    assert.equal(cueAt(cues, 99)!.start, 4);
    assert.equal(cueAt([], 1), null);
  });
});
