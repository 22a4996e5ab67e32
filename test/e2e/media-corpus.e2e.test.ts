/**
 * Every file of the real-media corpus through the HTTP API (when the corpus folder is present;
 * point STREAMWAVE_TEST_MEDIA at another folder to use your own). Each upload must end `ready`
 * with a correct ladder (checked with ffprobe: heights ≤ the source's display height, H.264/AAC,
 * segment durations; master and media playlists and a segment fetched) or `failed` with a
 * reason — never stuck.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';
import { checkHls, sourceFacts } from '../support/media-check.ts';

const here = dirname(fileURLToPath(import.meta.url));
const mediaDir = process.env.STREAMWAVE_TEST_MEDIA ?? join(here, '..', '..', '..', 'shared', 'media');
const present = existsSync(mediaDir);

function listMedia(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/\.(md|json)$/i.test(e)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Clean, well-formed videos that must come out playable (not merely "ready or failed"). */
const MUST_BE_READY = [
  /peertube\/video_short(_[1-9]\d*p?)?\.(mp4|webm|mkv|ogv|avi)$/,
  /peertube\/video_short_no_audio\.mp4$/,
  /peertube\/60fps_720p_small\.mp4$/,
  /mediabunny\/rotate-buck-bunny\.mp4$/,
  /mediabunny\/sar_2x1\.mp4$/,
  /mediabunny\/video-h265\.mp4$/,
  /mediabunny\/frames\.webm$/,
  /jsonize-ffmpeg-task\/iphone_rotated\.mov$/,
  /file-type\/fixture-raw\.mts$/,
  /shaka-player\/hls-ts-h265\/0\.ts$/,
];

let sw: StandaloneProcess;
let tmp: string;
let client: StreamWaveClient;

before(async () => {
  if (!present) return;
  tmp = await mkdtemp(join(tmpdir(), 'sw-corpus-'));
  sw = await startStandaloneProcess({ dataDir: join(tmp, 'data'), env: { STREAMWAVE_UPLOADS_PER_HOUR: '1000' } });
  client = new StreamWaveClient(sw.url);
  await client.register('corpus', 'corpus@example.com', 'corpus-password');
  await client.login('corpus', 'corpus-password');
});

after(async () => {
  await sw?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('every file of the media corpus ends ready with a correct ladder or failed with a reason', { skip: !present && 'media corpus not present' }, async (t) => {
  const files = listMedia(mediaDir);
  assert.ok(files.length > 0);
  // Upload everything first: the transcoder works through its queue while we upload.
  const uploads: { file: string; name: string; videoId: string }[] = [];
  for (const file of files) {
    const name = relative(mediaDir, file);
    const up = await uploadFile(client, file, { title: `corpus ${basename(file)}`, tags: ['corpus'], resumeFile: join(tmp, 'resume.json') });
    uploads.push({ file, name, videoId: up.videoId });
  }
  let ready = 0;
  let failed = 0;
  const problems: string[] = [];
  for (const u of uploads) {
    const final = await waitForProcessing(client, u.videoId, { timeoutMs: 15 * 60_000, intervalMs: 250 });
    const facts = await sourceFacts(u.file);
    try {
      assert.ok(final.status === 'ready' || final.status === 'failed', `ended ${final.status}`);
      if (final.status === 'failed') {
        failed++;
        assert.ok(final.error && final.error.length > 5, 'failed without a reason');
        assert.ok(!MUST_BE_READY.some((re) => re.test(u.name)), `a clean video failed: ${final.error}`);
        t.diagnostic(`failed  ${u.name}: ${final.error}`);
        continue;
      }
      ready++;
      assert.ok(facts.displayHeight !== null, 'ready although the source has no video stream');
      assert.equal(final.progress, 100);
      const { manifest_url } = await client.stream(u.videoId);
      const hls = await checkHls(manifest_url);
      assert.ok(hls.renditions.length >= 1);
      const maxH = Math.max(...hls.renditions.map((r) => r.height));
      if (facts.displayHeight! < 144) assert.equal(hls.renditions.length, 1, 'a source under 144p gets one rendition');
      else assert.ok(maxH <= Math.ceil(facts.displayHeight!) + 1, `rendition ${maxH}p above the source's ${facts.displayHeight}p`);
      for (const r of hls.renditions) {
        assert.equal(r.videoCodec, 'h264');
        if (r.audioCodec) assert.equal(r.audioCodec, 'aac');
        assert.equal(r.width % 2, 0);
        assert.equal(r.height % 2, 0);
        for (const d of r.segmentDurations.slice(0, -1)) assert.ok(d <= 6.05, `segment of ${d} s`);
      }
      t.diagnostic(`ready   ${u.name}: ${hls.renditions.map((r) => r.resolution).join(' ')}`);
    } catch (e) {
      problems.push(`${u.name}: ${(e as Error).message}`);
    }
  }
  t.diagnostic(`corpus: ${uploads.length} files, ${ready} ready, ${failed} failed, ${problems.length} problems`);
  assert.deepEqual(problems, []);
});
