/**
 * Visibility and deletion end to end (issue 8, finding 5), over real HTTP against `streamwave
 * start` in a child process: after the owner's DELETE (204) the master playlist, media playlist,
 * init and media segments and the thumbnail answer 404 on the very next request (the ms between
 * the 204 and the first 404 are printed, not asserted), and the media collector removes the raw
 * upload and the renditions; a private video is 404 to another user and to anonymous callers on
 * detail, status, stream and media, the owner plays it through signed URLs, never cacheable publicly.
 *
 * The same tests run against cluster:local (issue 9) with STREAMWAVE_E2E_TARGET=cluster
 * (`npm run test:cluster`, test/support/e2e-target.ts): the media is then served by the gateway
 * from the S3 server, and the collector's work is checked on the bucket's keys instead of the
 * data dir's files. No test is excluded in cluster mode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { IN_CLUSTER, startE2eTarget, storedObjectsWith, type E2eTarget } from '../support/e2e-target.ts';
import { makeClip } from '../support/make-media.ts';
import { eventually } from '../support/eventually.ts';

let sw: E2eTarget;
let tmp: string;
let clip: string;
const alice = { client: undefined as unknown as StreamWaveClient, token: '' };
const bob = { client: undefined as unknown as StreamWaveClient, token: '' };

async function get(url: string, token?: string) {
  const r = await fetch(url.startsWith('http') ? url : `${sw.url}${url}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await r.text();
  return { status: r.status, text, cacheControl: r.headers.get('cache-control') ?? '' };
}

/** Stored objects whose name contains `part`: files under the standalone data dir, keys in the cluster's S3 bucket. */
const filesWith = (part: string): Promise<string[]> => storedObjectsWith(sw, part);

/** Every media URL of a published video: master, first media playlist, its init and first segment, thumbnail. */
async function mediaUrls(manifestUrl: string, thumbnailUrl: string, token?: string): Promise<string[]> {
  const master = await get(manifestUrl, token);
  assert.equal(master.status, 200, 'master playlist');
  const variant = new URL(master.text.split('\n').find((l) => l && !l.startsWith('#'))!, manifestUrl).href;
  const media = await get(variant, token);
  assert.equal(media.status, 200, 'media playlist');
  const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(media.text)?.[1];
  const segment = media.text.split('\n').find((l) => l && !l.startsWith('#'))!;
  return [manifestUrl, variant, ...(init ? [new URL(init, variant).href] : []), new URL(segment, variant).href, thumbnailUrl];
}

async function upload(title: string, visibility: 'public' | 'private'): Promise<string> {
  const up = await uploadFile(alice.client, clip, { title, visibility, resumeFile: join(tmp, `resume-${title}.json`) });
  const final = await waitForProcessing(alice.client, up.videoId, { timeoutMs: 180_000 });
  assert.equal(final.status, 'ready');
  return up.videoId;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-e2e-vis-'));
  sw = await startE2eTarget({ dataDir: join(tmp, 'data'), env: { STREAMWAVE_UPLOADS_PER_HOUR: '50' } });
  for (const [who, name] of [[alice, 'alice'], [bob, 'bob']] as const) {
    who.client = new StreamWaveClient(sw.url);
    await who.client.register(name, `${name}@example.com`, `${name}-password-1`);
    who.token = await who.client.login(name, `${name}-password-1`);
  }
  clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 3, width: 320, height: 180, audio: false });
});

after(async () => {
  await sw?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe(`visibility and deletion (${IN_CLUSTER ? 'cluster:local' : 'standalone process'})`, () => {
  test('DELETE: playlists, segments and thumbnail 404 on the next request; the collector removes the raw upload and renditions', async () => {
    const id = await upload('Doomed clip', 'public');
    const detail = await get(`/api/v1/videos/${id}`);
    const stream = JSON.parse((await get(`/api/v1/videos/${id}/stream`)).text);
    const urls = await mediaUrls(stream.manifest_url, JSON.parse(detail.text).thumbnail_url);
    for (const u of urls) assert.equal((await get(u)).status, 200, `before: ${u}`);
    assert.ok((await filesWith(`uploads/${id}/`)).length > 0, 'raw upload stored');
    assert.ok((await filesWith(`videos/${id}/`)).length > 0, 'renditions stored (so the collector check below is not vacuous)');

    const del = await fetch(`${sw.url}/api/v1/videos/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(del.status, 204);
    const t204 = performance.now();
    const firstStatuses: number[] = [];
    const ms: number[] = [];
    for (const u of urls) {
      firstStatuses.push((await get(u)).status);
      ms.push(performance.now() - t204);
    }
    console.log(`DELETE 204 → first 404: ${ms.map((m, i) => `${new URL(urls[i]!).pathname.split('/').slice(-2).join('/')} ${m.toFixed(1)} ms`).join(', ')}`);
    assert.deepEqual(firstStatuses, urls.map(() => 404), 'every media URL is 404 on the first request after the 204');

    const tCollect = performance.now();
    await eventually(async () => [...(await filesWith(`uploads/${id}/`)), ...(await filesWith(`videos/${id}/`))], (f) => f.length === 0, 'collector removed the objects');
    console.log(`media collector removed raw upload + renditions ${(performance.now() - tCollect).toFixed(0)} ms after the first 404 check`);
  });

  test('private: 404 to another user and anonymous on detail, status, stream and media; the owner plays through signed URLs, private no-store', async () => {
    const id = await upload('Secret clip', 'private');
    for (const token of [undefined, bob.token]) {
      for (const path of [`/api/v1/videos/${id}`, `/api/v1/videos/${id}/status`, `/api/v1/videos/${id}/stream`]) {
        assert.equal((await get(path, token)).status, 404, `${token ? 'bob' : 'anonymous'} ${path}`);
      }
      for (const key of ['hls/master.m3u8', 'thumbnail.jpg']) {
        assert.equal((await get(`/media/videos/${id}/${key}`, token)).status, 404, `${token ? 'bob' : 'anonymous'} plain media ${key}`);
      }
    }
    const detail = JSON.parse((await get(`/api/v1/videos/${id}`, alice.token)).text);
    assert.equal(detail.visibility, 'private');
    const stream = JSON.parse((await get(`/api/v1/videos/${id}/stream`, alice.token)).text);
    assert.match(new URL(stream.manifest_url).pathname, /^\/media\/signed\//);
    const urls = await mediaUrls(stream.manifest_url, detail.thumbnail_url);
    for (const u of urls) {
      const r = await get(u); // a signed URL needs no token: it is the capability
      assert.equal(r.status, 200, u);
      assert.equal(r.cacheControl, 'private, no-store', u);
    }
    console.log(`private video: ${urls.length} media URLs played through signed URLs, all private, no-store`);
  });
});
