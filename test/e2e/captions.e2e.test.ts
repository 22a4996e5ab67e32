/**
 * Captions end to end, over real HTTP, against `streamwave start` in a child process (or
 * cluster:local with STREAMWAVE_E2E_TARGET=cluster): a clip is transcoded for real, the owner PUTs
 * WebVTT captions once processing completed, and the caption writer (started with the transcoder)
 * rewrites the master playlist with a subtitles group whose media playlist wraps the file
 * (RFC 8216 §4.3.4.1); the caption file plays through the same media delivery as the segments.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { startE2eTarget, type E2eTarget } from '../support/e2e-target.ts';
import { makeClip } from '../support/make-media.ts';
import { eventually } from '../support/eventually.ts';

let sw: E2eTarget;
let tmp: string;
let alice: StreamWaveClient;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-captions-e2e-'));
  sw = await startE2eTarget({ dataDir: join(tmp, 'data') });
  alice = new StreamWaveClient(sw.url);
  await alice.register('alice', 'alice@example.com', 'alice-password-1');
  await alice.login('alice', 'alice-password-1');
});

after(async () => {
  await sw?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const VTT = 'WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello from the captions\n';

test('PUT captions → the master lists a subtitles group on every variant, and its playlist and file play', async () => {
  const clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 3, width: 640, height: 360, audio: true });
  const { videoId } = await uploadFile(alice, clip, { title: 'Captioned', description: '', tags: [] });
  const final = await waitForProcessing(alice, videoId, { timeoutMs: 240_000 });
  assert.equal(final.status, 'ready', final.error ?? '');
  const put = () => fetch(`${sw.url}/api/v1/videos/${videoId}/captions/en`, {
    method: 'PUT', body: VTT, headers: { 'content-type': 'text/vtt', authorization: `Bearer ${alice.accessToken}` },
  });
  // 409 VIDEO_NOT_READY until VideoProcessingCompleted reaches the read model.
  const res = await eventually(put, (r) => r.status !== 409, 'PUT captions');
  const body = await res.json() as { captions: { language: string; url: string }[] };
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.captions[0]!.language, 'en');

  const { manifest_url } = await alice.stream(videoId);
  const master = await eventually(async () => (await fetch(manifest_url)).text(), (t) => t.includes('TYPE=SUBTITLES'), 'master with subtitles');
  assert.match(master, /^#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="captions\/en\.m3u8"$/m);
  const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  assert.ok(variants.length > 0);
  for (const v of variants) assert.match(v, /,SUBTITLES="subs"$/);
  const playlist = await fetch(new URL('captions/en.m3u8', manifest_url));
  assert.equal(playlist.status, 200);
  const text = await playlist.text();
  assert.match(text, /#EXT-X-PLAYLIST-TYPE:VOD\n/);
  assert.match(text, /#EXT-X-ENDLIST\n$/);
  const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)![1]);
  assert.ok(target >= 3 && target <= 4, `TARGETDURATION ${target}`);
  const vttUri = text.split('\n').find((l) => l.endsWith('.vtt'))!;
  const file = await fetch(new URL(vttUri, playlist.url));
  assert.equal(file.status, 200);
  assert.equal(await file.text(), VTT);
  assert.equal(file.headers.get('content-type'), 'text/vtt');
});
