/**
 * The transcode metrics, scraped from the real registry text while the real transcoder encodes
 * generated clips (testing/transcoder-world.ts): jobs by outcome, encode durations per rung, the
 * jobs running and the queue depth while a job is held at its probe.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { makeClip } from '../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../test/support/requirements.ts';
import { sampleValue, samplesOf } from '../../test/support/prometheus-text.ts';
import { within } from '../../projections/testing/projection-test-kit.ts';
import { runProcessor } from '../runtime/processor.runtime.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { createTranscoderWorld } from './testing/transcoder-world.ts';

const skip = requirement('FFmpeg', await ffmpegMissing());
let media = '';
const src = (name: string): string => join(media, name);

/** Polls `check` (bounded), for states reached by a background consumer. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  await within((async () => { while (!(await check())) await new Promise((r) => setTimeout(r, 20)); })(), 60_000, what);
}

describe('transcoder metrics', { skip }, () => {
  before(async () => {
    media = await mkdtemp(join(tmpdir(), 'sw-transcoder-metrics-'));
    await makeClip(src('clip.mp4'), { seconds: 2, width: 640, height: 360, fps: 15 });
    await writeFile(src('text.mp4'), 'this is not a video\n'.repeat(20));
  });
  after(() => rm(media, { recursive: true, force: true }));

  test('a published video counts one ready job and one encode duration per rung; a rejected source counts a failed job', async () => {
    const registry = new Registry();
    const world = await createTranscoderWorld({ transcoder: { registry } });
    try {
      let text = await registry.metrics();
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_total', { outcome: 'ready' }), 0);
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_total', { outcome: 'failed' }), 0);
      assert.equal(samplesOf(text, 'streamwave_transcode_duration_seconds_count').length, 0);

      await world.upload('vid-ok', src('clip.mp4'));
      await world.process();
      const rungs = (await world.video('vid-ok')).renditions.map((r) => r.name);
      assert.ok(rungs.length >= 2, `rungs: ${rungs.join(', ')}`); // the lowest alone, the others in one run
      text = await registry.metrics();
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_total', { outcome: 'ready' }), 1);
      assert.deepEqual(samplesOf(text, 'streamwave_transcode_duration_seconds_count').map((s) => s.labels.rung).sort(), [...rungs].sort());
      for (const rung of rungs) {
        assert.equal(sampleValue(text, 'streamwave_transcode_duration_seconds_count', { rung }), 1);
        assert.ok((sampleValue(text, 'streamwave_transcode_duration_seconds_sum', { rung }) ?? 0) > 0);
      }
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_running'), 0);

      await world.upload('vid-text', src('text.mp4'));
      await world.process();
      assert.equal((await world.video('vid-text')).status, 'failed');
      text = await registry.metrics();
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_total', { outcome: 'failed' }), 1);
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_total', { outcome: 'ready' }), 1);
      for (const rung of rungs) assert.equal(sampleValue(text, 'streamwave_transcode_duration_seconds_count', { rung }), 1);
    } finally {
      await world.close();
    }
  });

  test('while a job is held at its probe: one job running, both uploads in the queue depth; both drain to 0', async () => {
    const registry = new Registry();
    const gateDir = await mkdtemp(join(tmpdir(), 'sw-transcoder-gate-'));
    const gate = join(gateDir, 'open');
    // ffprobe that waits for the gate file, then runs the real ffprobe.
    const heldProbe = join(gateDir, 'ffprobe');
    await writeFile(heldProbe, `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.05; done\nexec '${resolveFfmpegBinaries().ffprobe}' "$@"\n`);
    await chmod(heldProbe, 0o755);
    const world = await createTranscoderWorld({ transcoder: { registry, ffprobePath: heldProbe } });
    const scrape = () => registry.metrics();
    let processor: Awaited<ReturnType<typeof runProcessor>> | undefined;
    try {
      await world.upload('vid-a', src('clip.mp4'));
      await world.upload('vid-b', src('clip.mp4'));
      // The real processor runtime on the world's log (the world's test driver is not run here).
      processor = await runProcessor(world.driver.log, world.transcoder, { registry });
      await until(async () => sampleValue(await scrape(), 'streamwave_transcode_jobs_running') === 1, 'a job running');
      let text = await scrape();
      assert.ok((sampleValue(text, 'streamwave_transcode_queue_depth') ?? 0) >= 2, `queue depth: ${sampleValue(text, 'streamwave_transcode_queue_depth')}`);
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_total', { outcome: 'ready' }), 0);

      await writeFile(gate, '');
      await until(async () => sampleValue(await scrape(), 'streamwave_transcode_jobs_total', { outcome: 'ready' }) === 2, 'both jobs ready');
      await within(processor.caughtUp(), 60_000, 'transcoder caught up');
      text = await scrape();
      assert.equal(sampleValue(text, 'streamwave_transcode_jobs_running'), 0);
      assert.equal(sampleValue(text, 'streamwave_transcode_queue_depth'), 0);
    } finally {
      await access(gate).catch(() => writeFile(gate, ''));
      await processor?.stop();
      await world.close();
      await rm(gateDir, { recursive: true, force: true });
    }
  });
});
