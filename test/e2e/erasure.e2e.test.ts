/**
 * Issue 13, the erasure proof, over real HTTP against `streamwave start` in a child process (and
 * against cluster:local with STREAMWAVE_E2E_TARGET=cluster: Kafka, Redis, ClickHouse, Typesense,
 * SeaweedFS; test/support/e2e-target.ts):
 * 1. Erin (to be erased) and Frank (the control) register; each uploads a clip; Erin comments on
 *    Frank's video and watches it; Frank comments too. Erin's export lists all of it.
 * 2. Erin erases her account: a wrong password is 401, the right one 204; her token is refused on
 *    the very next request, her video goes, her comment becomes a `[deleted]` placeholder.
 * 3. Once the erasure settled, everything is stopped and every byte the target wrote — the log's
 *    segments, every read model's files, the object store, the servers' data dirs and the roles'
 *    logs — is scanned for Erin's email, username, comment text and video title: 0 hits, printed
 *    with what was scanned.
 * 4. Restarted, every read model is replayed from offset 0 and swapped in, and the same scan finds
 *    0 hits again. Frank's data is intact after the replays and a restart, and Erin's username is
 *    free for a newcomer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { filesUnder, IN_CLUSTER, startE2eTarget, type E2eTarget } from '../support/e2e-target.ts';
import { makeClip } from '../support/make-media.ts';
import { READ_MODELS } from '../../projections/read-model.port.ts';
import { eventually } from '../support/eventually.ts';

const ADMIN_TOKEN = `erasure-admin-${randomBytes(8).toString('hex')}`;
const tag = randomBytes(5).toString('hex');
const erin = { username: `erin_${tag}`, email: `erin.${tag}@erasure.example`, password: `erin-password-${tag}`, comment: `Erin lives at 42 Kestrel Lane ${tag}` };
const frank = { username: `frank_${tag}`, email: `frank.${tag}@control.example`, password: `frank-password-${tag}`, comment: `Frank's own words ${tag}` };
/** What must not be found anywhere once Erin is erased. */
/** A word only Erin's video title has: search indexes hold titles as lower-case terms, so the needle is one. */
const erinTitleWord = `lake${randomBytes(5).toString('hex')}`;
const NEEDLES = { email: erin.email, username: erin.username, comment: erin.comment, 'video title': erinTitleWord };

let sw: E2eTarget;
let tmp: string;
let clip: string;
const clients = { erin: undefined as unknown as StreamWaveClient, frank: undefined as unknown as StreamWaveClient };
const ids = { erin: '', frank: '', erinVideo: '', frankVideo: '', frankComment: '', erinComment: '' };

const status = async (p: Promise<unknown>): Promise<number> => p.then(() => 200, (e: unknown) => (e instanceof ApiError ? e.status : -1));

async function upload(c: StreamWaveClient, title: string): Promise<string> {
  const up = await uploadFile(c, clip, { title, visibility: 'public', resumeFile: join(tmp, `resume-${title}.json`) });
  assert.equal((await waitForProcessing(c, up.videoId, { timeoutMs: 180_000 })).status, 'ready');
  return up.videoId;
}

function admin(): { url: string; headers: Record<string, string> } {
  const url = IN_CLUSTER ? sw.cluster!.roles.find((r) => r.role === 'projector')!.url : sw.url;
  const token = IN_CLUSTER ? sw.cluster!.roleEnv.STREAMWAVE_ADMIN_TOKEN! : ADMIN_TOKEN;
  return { url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } };
}

/** A restart on the same data dir (the servers keep their data in cluster mode). */
const restart = () => startE2eTarget({ dataDir: join(tmp, 'data'), env: { STREAMWAVE_UPLOADS_PER_HOUR: '50', STREAMWAVE_ADMIN_TOKEN: ADMIN_TOKEN } });

/**
 * Stops the target (so every file is flushed and closed) and scans every file under its dir and
 * its process output for NEEDLES; prints what it scanned; asserts 0 hits. Returns the files.
 */
async function scanEverything(when: string): Promise<string[]> {
  const output = sw.output();
  await sw.stop();
  const files = await filesUnder(sw.dir);
  const hits: string[] = [];
  let bytes = 0;
  for (const file of files) {
    const content = await readFile(file).catch(() => Buffer.alloc(0));
    bytes += content.length;
    for (const [what, needle] of Object.entries(NEEDLES)) if (content.includes(Buffer.from(needle))) hits.push(`${what} in ${file}`);
  }
  for (const [what, needle] of Object.entries(NEEDLES)) if (output.includes(needle)) hits.push(`${what} in the process output`);
  console.log(`# erasure proof (${sw.mode}, ${when}): scanned ${files.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB, and ${output.length} characters of process output for ${Object.keys(NEEDLES).join(', ')}: ${hits.length} hits`);
  assert.deepEqual(hits, []);
  return files;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-e2e-erasure-'));
  sw = await startE2eTarget({ dataDir: join(tmp, 'data'), env: { STREAMWAVE_UPLOADS_PER_HOUR: '50', STREAMWAVE_ADMIN_TOKEN: ADMIN_TOKEN } });
  for (const who of ['erin', 'frank'] as const) {
    const u = who === 'erin' ? erin : frank;
    const c = new StreamWaveClient(sw.url);
    ids[who] = (await c.register(u.username, u.email, u.password)).id;
    await c.login(u.username, u.password);
    clients[who] = c;
  }
  clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 2, width: 320, height: 180, audio: false });
});

after(async () => {
  await sw?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe(`erasure and export (issue 13, ${IN_CLUSTER ? 'cluster:local' : 'standalone'})`, () => {
  test('export: the account, videos, comments and watch history of the caller, in the documented shape', async () => {
    ids.frankVideo = await upload(clients.frank, `frank-clip-${tag}`);
    ids.erinVideo = await upload(clients.erin, `Holiday at ${erinTitleWord}`);
    ids.erinComment = (await clients.erin.postComment(ids.frankVideo, erin.comment)).id;
    ids.frankComment = (await clients.frank.postComment(ids.frankVideo, frank.comment)).id;
    const { session_id } = await clients.erin.stream(ids.frankVideo);
    await clients.erin.recordView(ids.frankVideo, { session_id, watched_seconds: 1, position_seconds: 1 });
    // Issue 14: her like and her subscription are hers too.
    assert.equal((await clients.erin.like(ids.frankVideo)).like_count, 1);
    assert.equal((await clients.erin.subscription(ids.frank)).subscriber_count, 1);

    const doc = await eventually(() => clients.erin.exportMe(), (d) => Array.isArray(d.watch_history) && d.watch_history.length === 1, 'export with the watch history', { retryErrors: true }) as Record<string, any>;
    assert.equal(doc.format, 'streamwave.user-export/1');
    assert.deepEqual(doc.account, { id: ids.erin, username: erin.username, email: erin.email });
    assert.deepEqual(doc.videos.map((v: { id: string }) => v.id), [ids.erinVideo]);
    assert.equal(doc.videos[0].title, `Holiday at ${erinTitleWord}`);
    assert.ok((await clients.frank.search(erinTitleWord)).videos.some((v) => v.id === ids.erinVideo), 'her video is searchable before the erasure');
    assert.deepEqual(doc.comments.map((c: { id: string; body: string; video_id: string }) => [c.id, c.body, c.video_id]), [[ids.erinComment, erin.comment, ids.frankVideo]]);
    assert.equal(doc.watch_history[0].video_id, ids.frankVideo);
    assert.equal(doc.views.videos_watched, 1);
    assert.deepEqual(doc.likes.map((l: { video_id: string }) => l.video_id), [ids.frankVideo]);
    assert.deepEqual(doc.subscriptions.map((x: { channel_id: string }) => x.channel_id), [ids.frank]);
    assert.equal(JSON.stringify(doc).includes(frank.comment), false, 'nothing of another user');
  });

  test('erasure: a wrong password is 401; then 204, the token is refused at once, the video goes, the comment becomes a placeholder', async () => {
    const wrong = await clients.erin.eraseMe('not-her-password').catch((e: unknown) => e as ApiError);
    assert.ok(wrong instanceof ApiError);
    assert.deepEqual([wrong.status, wrong.code], [401, 'INVALID_CREDENTIALS']);
    assert.equal(await status(clients.erin.exportMe()), 200, 'still signed in after the wrong password');

    await clients.erin.eraseMe(erin.password);
    assert.equal(await status(clients.erin.exportMe()), 401, 'the token is refused on the next request');
    assert.equal(await status(new StreamWaveClient(sw.url).login(erin.username, erin.password)), 401);

    await eventually(() => status(clients.frank.video(ids.erinVideo)), (s) => s === 404, 'her video is deleted', { retryErrors: true });
    const thread = await eventually(() => clients.frank.listComments(ids.frankVideo), (p) => p.comments.some((c) => c.id === ids.erinComment && c.body === '[deleted]'), 'her comment is a placeholder', { retryErrors: true });
    const placeholder = thread.comments.find((c) => c.id === ids.erinComment) as unknown as Record<string, unknown>;
    assert.deepEqual([placeholder.author_id, placeholder.deleted], [null, true]);
    assert.ok(thread.comments.some((c) => c.id === ids.frankComment && c.body === frank.comment), 'Frank\'s comment is untouched');
    assert.equal(thread.comments.length, 2, 'the thread keeps its shape');
    await eventually(() => clients.frank.search(erinTitleWord), (r) => r.videos.length === 0, 'her video is out of search', { retryErrors: true });
    // Issue 14: her like and her subscription leave Frank's counts.
    await eventually(async () => (await clients.frank.video(ids.frankVideo)).like_count, (n) => n === 0, 'her like leaves the count', { retryErrors: true });
    await eventually(async () => (await clients.frank.subscription(ids.frank, 'GET')).subscriber_count, (n) => n === 0, 'her subscription leaves the count', { retryErrors: true });
  });

  test('proof, live: once the erasure settled, everything stopped and every byte written scanned: 0 hits', async () => {
    await scanEverything('after the erasure');
    sw = await restart();
    // The restarted target may listen elsewhere: Frank signs in again there.
    clients.frank = new StreamWaveClient(sw.url);
    await clients.frank.login(frank.username, frank.password);
  });

  test('proof, replayed: every read model replayed from offset 0, then every byte written scanned: 0 hits; Frank intact after a restart', async () => {
    const { url, headers } = admin();
    for (const projection of READ_MODELS) {
      const started = await fetch(`${url}/admin/replays`, { method: 'POST', headers, body: JSON.stringify({ projection, from_beginning: true }) });
      assert.equal(started.status, 202, await started.clone().text());
      const { replay_id } = await started.json() as { replay_id: string };
      const done = await eventually(async () => (await (await fetch(`${url}/admin/replays/${replay_id}`, { headers })).json()) as { status: string },
        (v) => v.status !== 'running', `replay of ${projection}`, { timeoutMs: 180_000, retryErrors: true });
      assert.equal(done.status, 'swapped', JSON.stringify(done));
    }
    // After the replays the API still shows the placeholder and Frank's data.
    const thread = await eventually(() => clients.frank.listComments(ids.frankVideo), (p) => p.comments.length === 2, 'comments after the replays', { retryErrors: true });
    assert.deepEqual(thread.comments.map((c) => c.body).sort(), ['[deleted]', frank.comment].sort());
    assert.equal(await status(clients.frank.video(ids.erinVideo)), 404);
    assert.equal((await clients.frank.video(ids.frankVideo)).like_count, 0, 'her like stays out of the count after a replay');
    assert.equal((await clients.frank.subscription(ids.frank, 'GET')).subscriber_count, 0, 'her subscription too');
    const files = await scanEverything('after replaying every read model');
    // The control: Frank's data and login survive the replays and a restart.
    assert.ok(files.some((f) => f.includes(ids.frankVideo)) || IN_CLUSTER, 'Frank\'s media are still stored');

    sw = await restart();
    const f = new StreamWaveClient(sw.url);
    await f.login(frank.username, frank.password);
    assert.equal((await f.video(ids.frankVideo)).title, `frank-clip-${tag}`);
    const doc = await f.exportMe() as Record<string, any>;
    assert.deepEqual(doc.account, { id: ids.frank, username: frank.username, email: frank.email });
    assert.deepEqual(doc.comments.map((c: { body: string }) => c.body), [frank.comment]);
    // An erased username is free at once for anyone (after the scan: it is someone else's name now).
    const newcomer = new StreamWaveClient(sw.url);
    await newcomer.register(erin.username, `someone.else.${tag}@example.org`, `newcomer-password-${tag}`);
    await newcomer.login(erin.username, `newcomer-password-${tag}`);
  });
});
