import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LADDER_HEIGHTS, planLadder } from './ladder.ts';

const heights = (w: number, h: number): number[] => planLadder({ displayWidth: w, displayHeight: h }).map((r) => r.height);

describe('planLadder', () => {
  test('1080p 16:9 source gets 144p…1080p, lowest first, widths even and 16:9', () => {
    const plan = planLadder({ displayWidth: 1920, displayHeight: 1080 });
    assert.deepEqual(plan.map((r) => r.name), ['144p', '240p', '360p', '480p', '720p', '1080p']);
    for (const r of plan) {
      assert.equal(r.width % 2, 0);
      assert.equal(r.height % 2, 0);
      assert.ok(Math.abs(r.width / r.height - 16 / 9) < 0.02, `${r.name} aspect ${r.width}/${r.height}`);
    }
    assert.deepEqual(plan.find((r) => r.name === '720p'), { ...plan.find((r) => r.name === '720p')!, width: 1280, height: 720 });
  });

  test('rotated 1920x1080 (display 1080x1920) is portrait; rungs go up to its 1920 display height', () => {
    // The probe swaps the display size for 90°/270°; the planner works on display size.
    const plan = planLadder({ displayWidth: 1080, displayHeight: 1920 });
    assert.deepEqual(plan.map((r) => r.height), [144, 240, 360, 480, 720, 1080, 1440]);
    for (const r of plan) assert.ok(r.width < r.height);
    assert.equal(plan.find((r) => r.height === 1080)!.width, 608); // 1080 × 9/16 = 607.5 → nearest even
  });

  test('portrait 720x1280 keeps rungs up to its 1280 display height', () => {
    const plan = planLadder({ displayWidth: 720, displayHeight: 1280 });
    assert.deepEqual(plan.map((r) => r.height), [144, 240, 360, 480, 720, 1080]);
    assert.deepEqual(
      plan.map((r) => r.width),
      plan.map((r) => 2 * Math.round((r.height * 720) / 1280 / 2)),
    );
  });

  test('anamorphic 2:1 (640x360 coded → 1280x360 display) gets wide renditions with square pixels', () => {
    const plan = planLadder({ displayWidth: 1280, displayHeight: 360 });
    assert.deepEqual(plan.map((r) => [r.width, r.height]), [[512, 144], [854, 240], [1280, 360]]);
  });

  test('2x2 and 10x8 get a single `source` rendition at their own size', () => {
    assert.deepEqual(planLadder({ displayWidth: 2, displayHeight: 2 }).map((r) => [r.name, r.width, r.height]), [['source', 2, 2]]);
    assert.deepEqual(planLadder({ displayWidth: 10, displayHeight: 8 }).map((r) => [r.name, r.width, r.height]), [['source', 10, 8]]);
  });

  test('an odd tiny source is never upscaled', () => {
    const [r] = planLadder({ displayWidth: 101, displayHeight: 61 });
    assert.equal(r!.name, 'source');
    assert.ok(r!.height <= 61 && r!.height % 2 === 0 && r!.width % 2 === 0);
  });

  test('exactly 144 tall gets the 144p rung, not `source`', () => {
    assert.deepEqual(planLadder({ displayWidth: 256, displayHeight: 144 }).map((r) => r.name), ['144p']);
  });

  test('4K gets the full ladder', () => {
    assert.deepEqual(heights(3840, 2160), [...LADDER_HEIGHTS]);
  });

  test('1386 tall (3026x1386) stops at 1080p', () => {
    const plan = planLadder({ displayWidth: 3026, displayHeight: 1386 });
    assert.deepEqual(plan.map((r) => r.height), [144, 240, 360, 480, 720, 1080]);
    assert.equal(plan.at(-1)!.width, 2 * Math.round((1080 * 3026) / 1386 / 2));
  });

  test('bitrate caps grow with the rung and with high frame rates; bufsize is 2 × maxrate', () => {
    const p30 = planLadder({ displayWidth: 1920, displayHeight: 1080, fps: 30 });
    const p60 = planLadder({ displayWidth: 1920, displayHeight: 1080, fps: 60 });
    for (let i = 1; i < p30.length; i++) assert.ok(p30[i]!.maxrate > p30[i - 1]!.maxrate);
    p30.forEach((r, i) => {
      assert.ok(p60[i]!.maxrate > r.maxrate);
      assert.equal(r.bufsize, 2 * r.maxrate);
    });
  });

  test('rejects a non-positive display size', () => {
    assert.throws(() => planLadder({ displayWidth: 0, displayHeight: 100 }), RangeError);
    assert.throws(() => planLadder({ displayWidth: 100, displayHeight: Number.NaN }), RangeError);
  });
});
