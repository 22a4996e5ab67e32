import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { audioSampleRate, buildFfmpegInvocation, outputFps, planThumbnail, toArgv } from './ffmpeg-args.ts';
import type { HlsLadderJob } from './ffmpeg-args.ts';
import { planLadder } from './ladder.ts';

/** Value following `flag` in an option list. */
const valueOf = (opts: string[], flag: string): string | undefined => {
  const i = opts.indexOf(flag);
  return i >= 0 ? opts[i + 1] : undefined;
};

const plans = planLadder({ displayWidth: 1280, displayHeight: 720 });
const job = (over: Partial<HlsLadderJob> = {}): HlsLadderJob => ({
  type: 'hls-ladder',
  input: '/work/src',
  videoStreamIndex: 1,
  audio: { streamIndex: 0, sampleRate: 44_100 },
  interlaced: false,
  fps: { num: 30, den: 1 },
  segmentSeconds: 4,
  renditions: [{ plan: plans[0]!, outputDir: '/out/144p' }],
  ...over,
});

describe('buildFfmpegInvocation: hls-ladder', () => {
  test('one rung: no split, maps the probed stream indexes, HLS fMP4 flags, keyframes on 4 s boundaries', () => {
    const inv = buildFfmpegInvocation(job());
    assert.equal(inv.outputs.length, 1);
    assert.doesNotMatch(inv.complexFilter!, /split/);
    assert.match(inv.complexFilter!, /^\[0:1\]/);
    assert.match(inv.complexFilter!, new RegExp(`scale=${plans[0]!.width}:${plans[0]!.height}[^;]*setsar=1`));
    const o = inv.outputs[0]!.options;
    assert.equal(inv.outputs[0]!.target, '/out/144p/index.m3u8');
    assert.equal(valueOf(o, '-f'), 'hls');
    assert.equal(valueOf(o, '-hls_segment_type'), 'fmp4');
    assert.equal(valueOf(o, '-hls_playlist_type'), 'vod');
    assert.equal(valueOf(o, '-hls_time'), '4');
    assert.equal(valueOf(o, '-hls_flags'), 'independent_segments');
    assert.equal(valueOf(o, '-hls_segment_filename'), '/out/144p/seg-%05d.m4s');
    assert.equal(valueOf(o, '-hls_fmp4_init_filename'), 'init.mp4');
    assert.equal(valueOf(o, '-force_key_frames'), 'expr:gte(t,n_forced*4)');
    assert.equal(valueOf(o, '-sc_threshold'), '0');
    assert.equal(valueOf(o, '-c:v'), 'libx264');
    assert.equal(valueOf(o, '-preset'), 'veryfast');
    assert.equal(valueOf(o, '-pix_fmt'), 'yuv420p');
    assert.equal(valueOf(o, '-maxrate'), String(plans[0]!.maxrate));
    assert.equal(valueOf(o, '-bufsize'), String(plans[0]!.bufsize));
    assert.equal(valueOf(o, '-map_metadata'), '-1');
    assert.equal(valueOf(o, '-map_chapters'), '-1');
    assert.deepEqual(o.filter((_, i) => o[i - 1] === '-map'), ['[v0]', '0:0']);
    assert.equal(valueOf(o, '-c:a'), 'aac');
    assert.equal(valueOf(o, '-ac'), '2');
    assert.equal(valueOf(o, '-ar'), '44100');
    assert.equal(valueOf(inv.inputOptions, '-protocol_whitelist'), 'file');
  });

  test('n rungs: one decode split n ways, one HLS output per rung in its own directory', () => {
    const renditions = plans.slice(1).map((plan) => ({ plan, outputDir: `/out/${plan.name}` }));
    const inv = buildFfmpegInvocation(job({ renditions: renditions as HlsLadderJob['renditions'] }));
    assert.match(inv.complexFilter!, new RegExp(`split=${renditions.length}`));
    assert.equal(inv.outputs.length, renditions.length);
    renditions.forEach((r, i) => {
      const o = inv.outputs[i]!;
      assert.equal(o.target, `${r.outputDir}/index.m3u8`);
      assert.equal(valueOf(o.options, '-map'), `[v${i}]`);
      assert.equal(valueOf(o.options, '-hls_segment_filename'), `${r.outputDir}/seg-%05d.m4s`);
      assert.match(inv.complexFilter!, new RegExp(`\\[s${i}\\]scale=${r.plan.width}:${r.plan.height}`));
    });
    const argv = toArgv(inv);
    assert.equal(argv.filter((a) => a === '-i').length, 1, 'a single input, decoded once');
  });

  test('no audio: video-only outputs', () => {
    const o = buildFfmpegInvocation(job({ audio: null })).outputs[0]!.options;
    assert.equal(o.includes('-c:a'), false);
    assert.deepEqual(o.filter((_, i) => o[i - 1] === '-map'), ['[v0]']);
  });

  test('interlaced sources are deinterlaced before scaling; fps is forced constant', () => {
    const f = buildFfmpegInvocation(job({ interlaced: true, fps: { num: 30000, den: 1001 } })).complexFilter!;
    assert.ok(f.indexOf('bwdif') >= 0 && f.indexOf('bwdif') < f.indexOf('scale='));
    assert.match(f, /fps=30000\/1001/);
    assert.doesNotMatch(buildFfmpegInvocation(job()).complexFilter!, /bwdif|yadif/);
  });

  test('a custom segment length flows into -hls_time, keyframe expression and GOP', () => {
    const o = buildFfmpegInvocation(job({ segmentSeconds: 6, fps: { num: 25, den: 1 } })).outputs[0]!.options;
    assert.equal(valueOf(o, '-hls_time'), '6');
    assert.equal(valueOf(o, '-force_key_frames'), 'expr:gte(t,n_forced*6)');
    assert.equal(valueOf(o, '-g'), '150');
  });
});

describe('buildFfmpegInvocation: thumbnail', () => {
  test('seeks on input, one frame, scaled, metadata stripped', () => {
    const inv = buildFfmpegInvocation({
      type: 'thumbnail', input: '/src', videoStreamIndex: 2, interlaced: false, atSeconds: 1, width: 640, height: 360, output: '/out/t.jpg',
    });
    const argv = toArgv(inv);
    assert.ok(argv.indexOf('-ss') < argv.indexOf('-i'));
    assert.equal(valueOf(argv, '-frames:v'), '1');
    assert.equal(valueOf(argv, '-map'), '0:2');
    assert.match(valueOf(argv, '-vf')!, /scale=640:360/);
    assert.equal(valueOf(argv, '-map_metadata'), '-1');
    assert.equal(argv.at(-1), '/out/t.jpg');
  });
});

describe('helpers', () => {
  test('outputFps caps at 60, floors at 1, keeps exact rationals, defaults to 30', () => {
    assert.deepEqual(outputFps({ num: 120, den: 1 }), { num: 60, den: 1 });
    assert.deepEqual(outputFps({ num: 30000, den: 1001 }), { num: 30000, den: 1001 });
    assert.deepEqual(outputFps({ num: 1, den: 4 }), { num: 1, den: 1 });
    assert.deepEqual(outputFps({ num: 0, den: 1 }), { num: 30, den: 1 });
  });

  test('audioSampleRate keeps 44.1/48 kHz, resamples the rest to 48 kHz', () => {
    assert.equal(audioSampleRate(44_100), 44_100);
    assert.equal(audioSampleRate(48_000), 48_000);
    assert.equal(audioSampleRate(22_050), 48_000);
    assert.equal(audioSampleRate(96_000), 48_000);
  });

  test('planThumbnail: 1 s, or mid-point of short videos; ≤ 640 wide, never upscaled, aspect kept', () => {
    assert.deepEqual(planThumbnail(10, 1920, 1080), { atSeconds: 1, width: 640, height: 360 });
    assert.equal(planThumbnail(1.5, 1920, 1080).atSeconds, 0.75);
    assert.deepEqual(planThumbnail(10, 320, 568), { atSeconds: 1, width: 320, height: 568 });
    const t = planThumbnail(3, 10, 8);
    assert.ok(t.width <= 10 && t.width % 2 === 0 && t.height % 2 === 0);
  });
});

describe('buildFfmpegInvocation: storyboard', () => {
  test('one frame every N s, scaled to the tile, tiled columns x rows into sprite-%d.jpg from 1, video only, no metadata', () => {
    const inv = buildFfmpegInvocation({
      type: 'storyboard', input: '/work/src', videoStreamIndex: 2, interlaced: true, intervalSeconds: 3,
      tileWidth: 160, tileHeight: 90, columns: 10, rows: 4, outputDir: '/out/storyboard',
    });
    const o = inv.outputs[0]!.options;
    assert.equal(inv.outputs[0]!.target, '/out/storyboard/sprite-%d.jpg');
    assert.equal(valueOf(o, '-map'), '0:2');
    assert.match(valueOf(o, '-vf')!, /^bwdif=[^,]*,fps=1\/3,scale=160:90:flags=bicubic,setsar=1,tile=10x4$/);
    assert.equal(valueOf(o, '-start_number'), '1');
    assert.equal(valueOf(o, '-map_metadata'), '-1');
    assert.ok(o.includes('-an'));
  });
});
