/**
 * Upgrade check, through the public HTTP API only: the previous release (`PREVIOUS`, extracted
 * from git) runs standalone on a fresh data directory and is given users, videos (one edited, one
 * deleted), comments with a reply over several pages, view heartbeats (signed in and anonymous)
 * and everything it answers is recorded. Then it stops gracefully and the CURRENT code starts on
 * the same data directory. The test proves that the current code catches up (every consumer lag
 * in /health reaches 0, bounded) and then answers exactly as before — every video, status, comment
 * page, watch history, view counter, analytics figure, search result and HLS file — that every
 * account still logs in, and that new writes on the old data work (a comment, a view, and the
 * username uniqueness the write side rebuilds from the log).
 * Internals (read-model names, stores, checkpoints, consumer groups) are deliberately not looked at.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { heartbeat, startPlayback } from '../support/playback.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';
import { makeClip } from '../support/make-media.ts';
import { parseMaster } from '../support/media-check.ts';
import { FIELDS_NEW_IN_ISSUE_8, FIELDS_NEW_IN_ISSUE_14, FIELDS_NEW_IN_ISSUE_15, get, withoutAddedFields, type Answer } from '../support/http-answer.ts';
import { extractRelease, releaseMissing, waitCaughtUp } from '../support/previous-release.ts';

/**
 * The previous version: the last release before the read models were renamed and split (the
 * "video-detail" read model becoming video detail, comments, user accounts and watch history).
 * Move this constant forward to the last release before a later change of the on-disk layout
 * (read models, checkpoints, consumer groups, log format) when that change needs its own upgrade check.
 */
const PREVIOUS = 'dae6ddee42a97e63e0e75ff1e63dfffb010eccbf';
const CATCH_UP_MS = 120_000;

/**
 * The current answer without the fields added since PREVIOUS (additive API changes, in the
 * README), after checking their value for what the previous release wrote: the status route's
 * `renditions[].complete` (issue 11, progressive publishing) is true for every rendition the
 * previous release encoded (it listed complete ones only).
 */
function withoutIncompleteFlag(key: string, a: Answer | undefined): Answer | undefined {
  const body = a?.body as { renditions?: { complete?: boolean }[] } | undefined;
  if (!a || !key.endsWith('/status') || !Array.isArray(body?.renditions)) return a;
  for (const r of body.renditions) assert.equal(r.complete, true, `${key}: a rendition of the previous release reads as complete`);
  return { ...a, body: { ...body, renditions: body.renditions.map(({ complete: _complete, ...r }) => r) } };
}
type Snapshot = Map<string, Answer>;
interface User { name: string; email: string; password: string; id: string; client: StreamWaveClient }

const missing = releaseMissing(PREVIOUS);
if (missing && process.env.CI && process.env.CI !== 'false') {
  test('upgrade from the previous release', () => {
    assert.fail(`${missing}. CI checkouts must have the full history (e.g. actions/checkout with fetch-depth: 0): ` +
      'without it the upgrade check cannot run, which is a CI misconfiguration, not a pass.');
  });
}

describe('upgrade from the previous release', { skip: missing ? `${missing}; run from a full git clone to check the upgrade` : false }, () => {
  let tmp: string;
  let old: StandaloneProcess | undefined;
  let cur: StandaloneProcess | undefined;
  const users: User[] = [];
  const videos: { id: string; owner: User; title: string }[] = [];
  let deletedId: string;
  let recorded: Snapshot;
  let catchUpMs: number;
  const fresh = new Map<string, string>(); // username → token issued by the current code

  /**
   * Everything the API answers about the data set, keyed by request. Excluded from the comparison,
   * by normalisation:
   * - the origin `http://127.0.0.1:<port>` inside URLs (manifest_url, thumbnail_url): each process
   *   listens on its own free port, and the origin is configuration, not data (→ `<origin>`);
   * - `next_cursor` values: opaque tokens whose encoding is not part of the API and may change with
   *   the read-model layout; whether a next page exists is kept, and the cursor is followed, so
   *   every page's content is compared;
   * - HLS segments by sha256 rather than bytes (same check, shorter diff).
   */
  async function snapshot(sw: StandaloneProcess, tokenOf: (u: User) => string): Promise<Snapshot> {
    const snap: Snapshot = new Map();
    const norm = (a: Answer): Answer => JSON.parse(JSON.stringify(withoutAddedFields(a, FIELDS_NEW_IN_ISSUE_8, FIELDS_NEW_IN_ISSUE_14, FIELDS_NEW_IN_ISSUE_15)).replaceAll(sw.url, '<origin>'));
    const put = (key: string, a: Answer) => snap.set(key, norm(a));
    const pages = async (key: string, path: string, token?: string) => {
      let cursor: string | null = null;
      let n = 0;
      do {
        const a = await get(sw.url, cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path, token);
        const body = a.body as { next_cursor?: string | null };
        cursor = a.status === 200 ? (body.next_cursor ?? null) : null;
        if (cursor) body.next_cursor = '<cursor>';
        put(`${key} page ${++n}`, a);
        assert.ok(n < 50, `${key}: runaway paging`);
      } while (cursor);
    };
    for (const v of videos) {
      const p = `/api/v1/videos/${v.id}`;
      for (const sub of ['', '/status', '/stream']) put(`GET ${p}${sub}`, await get(sw.url, p + sub));
      put(`GET ${p}/analytics (owner)`, await get(sw.url, `${p}/analytics`, tokenOf(v.owner)));
      await pages(`GET ${p}/comments?limit=5`, `${p}/comments?limit=5`);
      await pages(`GET ${p}/comments (default page size)`, `${p}/comments?`);
      const stream = snap.get(`GET ${p}/stream`)!;
      if (stream.status !== 200) continue;
      // The master playlist, the first media playlist, its init segment and first media segment.
      const master = await fetch((stream.body as { manifest_url: string }).manifest_url.replace('<origin>', sw.url));
      const masterText = await master.text();
      put(`HLS ${v.id} master`, { status: master.status, body: masterText });
      const media = parseMaster(masterText, master.url)[0];
      const mediaRes = await fetch(media.url);
      const mediaText = await mediaRes.text();
      put(`HLS ${v.id} first media playlist`, { status: mediaRes.status, body: mediaText });
      const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(mediaText)?.[1];
      const seg = mediaText.split(/\r?\n/).find((l) => l && !l.startsWith('#'));
      for (const [what, rel] of [['init segment', init], ['first segment', seg]] as const) {
        assert.ok(rel, `${what} in ${media.url}`);
        const r = await fetch(new URL(rel, media.url));
        const sha256 = createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex');
        put(`HLS ${v.id} ${what}`, { status: r.status, body: { sha256, content_type: r.headers.get('content-type') } });
      }
    }
    for (const u of users) put(`GET /api/v1/users/me/history as ${u.name}`, await get(sw.url, '/api/v1/users/me/history', tokenOf(u)));
    for (const q of ['harbour', 'sunrse', 'mountain', 'trail', 'pasta', 'clip']) {
      await pages(`search ${q}`, `/api/v1/search/videos?q=${encodeURIComponent(q)}&page_size=1`);
    }
    return snap;
  }

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sw-upgrade-'));
    const previous = await extractRelease(PREVIOUS, tmp);
    const dataDir = join(tmp, 'data');
    // 3 s, 4 s and 2 s: distinct HLS files per video, and the whole-video view threshold at three lengths.
    const clips = await Promise.all([3, 4, 2].map((seconds, i) => makeClip(join(tmp, `clip${i}.mp4`), { seconds, width: 426, height: 240 })));

    // --- The previous release writes the data set.
    old = await startStandaloneProcess({ dataDir, checkout: previous, timeoutMs: 120_000 });
    for (const name of ['alice', 'bob', 'carol']) {
      const u: User = { name, email: `${name}@example.com`, password: `${name}-password-1`, id: '', client: new StreamWaveClient(old.url) };
      u.id = (await u.client.register(u.name, u.email, u.password)).id;
      await u.client.login(u.name, u.password);
      users.push(u);
    }
    const [alice, bob, carol] = users;
    const plan = [
      { owner: alice, title: 'Harbour sunrise timelapse', description: 'A short clip of the harbour at dawn', tags: ['harbour', 'sunrise'] },
      { owner: alice, title: 'Mountain bike', description: 'A short clip of a ride', tags: ['bike'] },
      { owner: bob, title: 'Cooking pasta at home', description: 'A short clip from the kitchen', tags: ['food', 'pasta'] },
    ];
    for (const [i, p] of plan.entries()) {
      const up = await uploadFile(p.owner.client, clips[i], { title: p.title, description: p.description, tags: p.tags, resumeFile: join(tmp, 'resume.json') });
      videos.push({ id: up.videoId, owner: p.owner, title: p.title });
    }
    for (const v of videos) {
      const s = await waitForProcessing(v.owner.client, v.id, { timeoutMs: 180_000, intervalMs: 250 });
      assert.equal(s.status, 'ready', `${v.title}: ${s.error}`);
    }
    const [harbour, bike, pasta] = videos;
    await alice.client.request('PATCH', `/api/v1/videos/${bike.id}`, { title: 'Mountain bike trail, the long cut', tags: ['bike', 'mountain', 'trail'] });

    // 12 comments and a reply on one video (3 pages of 5), one on each of the others.
    const posted: string[] = [];
    for (let i = 0; i < 12; i++) posted.push((await users[i % 3].client.postComment(harbour.id, `harbour comment ${i}`)).id);
    await alice.client.postComment(harbour.id, 'thanks, glad you liked it', posted[3]);
    await bob.client.postComment(bike.id, 'nice trail');
    await carol.client.postComment(pasta.id, 'looks tasty');

    // Heartbeats. The clips are shorter than 10 s: a session is a view once it has watched the
    // whole video (≥ duration − 0.5 s, docs/view-rule.md).
    const anon = new StreamWaveClient(old.url);
    const beats: [StreamWaveClient, string, string, number[]][] = [
      [bob.client, harbour.id, 'b1', [1, 2, 3]], // view, signed in
      [carol.client, harbour.id, 'c1', [1.5]], // no view, still in carol's history
      [anon, harbour.id, 'a1', [1, 3]], // anonymous view
      [anon, harbour.id, 'a2', [2]], // anonymous, no view
      [alice.client, harbour.id, 'o1', [3]], // the owner watching
      [bob.client, bike.id, 'b2', [4]], // two sessions of one viewer: 2 views, 1 unique viewer
      [bob.client, bike.id, 'b3', [2, 4, 4]], // a repeated heartbeat counts once
      [carol.client, bike.id, 'c2', [4]],
      [carol.client, pasta.id, 'c3', [2]], // on the video deleted next
    ];
    for (const [c, id, session, ws] of beats) {
      for (const w of ws) await c.recordView(id, { session_id: session, watched_seconds: w, position_seconds: w });
    }
    await bob.client.request('DELETE', `/api/v1/videos/${pasta.id}`);
    deletedId = pasta.id;

    await waitCaughtUp(old.url, CATCH_UP_MS);
    const oldTokens = new Map(users.map((u) => [u.name, u.client.accessToken!]));
    recorded = await snapshot(old, (u) => oldTokens.get(u.name)!);
    // Not vacuous: the recorded answers hold the data set.
    const ans = (k: string) => recorded.get(k)!;
    assert.deepEqual(
      [ans(`GET /api/v1/videos/${harbour.id}`).body, ans(`GET /api/v1/videos/${bike.id}`).body].map((b: any) => [b.status, b.views, b.comment_count]),
      [['ready', 3, 13], ['ready', 3, 1]],
    );
    assert.equal(ans(`GET /api/v1/videos/${deletedId}`).status, 404);
    assert.ok(recorded.has(`GET /api/v1/videos/${harbour.id}/comments?limit=5 page 3`), 'three pages of comments');
    assert.ok(users.every((u) => (ans(`GET /api/v1/users/me/history as ${u.name}`).body as any).history.length > 0), 'every user has a watch history');
    assert.ok((ans('search harbour page 1').body as any).videos.some((v: any) => v.id === harbour.id), 'search finds the harbour video');
    assert.equal(ans(`HLS ${harbour.id} first segment`).status, 200);

    await old.stop();
    assert.equal(old.child.exitCode, 0, `the previous release stops gracefully on SIGTERM:\n${old.output().slice(-2000)}`);

    // --- The current code takes over the same data directory.
    const t0 = Date.now();
    cur = await startStandaloneProcess({ dataDir, timeoutMs: CATCH_UP_MS });
    await waitCaughtUp(cur.url, CATCH_UP_MS - (Date.now() - t0));
    catchUpMs = Date.now() - t0;
  });

  after(async () => {
    await old?.stop();
    await cur?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('every account logs in with its password; tokens issued before the upgrade (no kid, iss, aud) are refused once', async () => {
    for (const u of users) {
      const c = new StreamWaveClient(cur!.url);
      fresh.set(u.name, await c.login(u.name, u.password));
      assert.ok(await c.request('GET', '/api/v1/users/me/history'), `${u.name}'s new token`);
      // Issue 8 (finding 11): tokens now carry kid, iss and aud, and a token without them is refused;
      // the previous release's tokens are therefore refused, and clients log in again (README).
      const signedInBefore = new StreamWaveClient(cur!.url, u.client.accessToken);
      await assert.rejects(signedInBefore.request('GET', '/api/v1/users/me/history'), (e: { status?: number; code?: string }) => e.status === 401 && e.code === 'INVALID_TOKEN');
    }
  });

  test('every video, status, comment page, history, view counter, analytics figure, search result and HLS file is unchanged', async (t) => {
    assert.equal(fresh.size, users.length, 'logins succeeded');
    // No retries: once every lag is 0 the read models must answer in full (that is what lag 0 promises).
    const now = await snapshot(cur!, (u) => fresh.get(u.name)!);
    const mismatches: string[] = [];
    for (const key of new Set([...recorded.keys(), ...now.keys()])) {
      try {
        assert.deepEqual(withoutIncompleteFlag(key, now.get(key)), recorded.get(key));
      } catch (e) {
        mismatches.push(`${key}:\n${(e as Error).message}`);
      }
    }
    assert.equal(mismatches.length, 0, `${mismatches.length} answer(s) differ after the upgrade (actual: current code, expected: previous release):\n\n${mismatches.slice(0, 8).join('\n\n')}`);
    const live = videos.filter((v) => v.id !== deletedId).map((v) => recorded.get(`GET /api/v1/videos/${v.id}`)!.body as { views: number; comment_count: number });
    t.diagnostic(
      `videos ${videos.length} (1 deleted), comments ${live.reduce((n, v) => n + v.comment_count, 0)}, users ${users.length}, ` +
        `views ${live.reduce((n, v) => n + v.views, 0)}, ${recorded.size} answers compared, current code caught up in ${(catchUpMs / 1000).toFixed(1)} s`,
    );
  });

  test('the comments the previous release wrote are in the analytics\' new comments_over_time and engagement_rate (issue 15): the new table is backfilled from the start of its topics', async () => {
    const [harbour] = videos;
    const a = (await get(cur!.url, `/api/v1/videos/${harbour.id}/analytics?interval=day`, fresh.get(harbour.owner.name))).body as {
      views: number; comments_over_time: { points: { comments: number; deleted: number }[] }; engagement_rate: number;
    };
    const posted = a.comments_over_time.points.reduce((n, p) => n + p.comments - p.deleted, 0);
    const detail = recorded.get(`GET /api/v1/videos/${harbour.id}`)!.body as { views: number; comment_count: number };
    assert.equal(posted, detail.comment_count, '12 comments and a reply');
    assert.equal(a.views, detail.views);
    assert.equal(a.engagement_rate, detail.comment_count / detail.views, 'no likes before issue 14: comments ÷ views');
  });

  test('new writes on the old data: a comment, a view, and a username taken in another case', async () => {
    const [alice, , carol] = users;
    const [harbour, bike] = videos;
    const c = new StreamWaveClient(cur!.url, fresh.get(carol.name));
    const commentCount = (recorded.get(`GET /api/v1/videos/${harbour.id}`)!.body as { comment_count: number }).comment_count;
    const { id } = await c.postComment(harbour.id, 'first comment after the upgrade');
    const page = await c.listComments(harbour.id);
    assert.equal(page.comments[0]?.id, id, 'the new comment is listed first');
    assert.equal((await c.video(harbour.id)).comment_count, commentCount + 1);

    const bikeViews = (recorded.get(`GET /api/v1/videos/${bike.id}`)!.body as { views: number }).views;
    // After the upgrade heartbeats need a signed playback session (issue 8); a made-up id is refused.
    const viewer = new StreamWaveClient(cur!.url);
    await assert.rejects(viewer.recordView(bike.id, { session_id: 'after-upgrade', watched_seconds: 4, position_seconds: 4 }), (e: unknown) => e instanceof ApiError && e.status === 400);
    await heartbeat(viewer, await startPlayback(viewer, bike.id), 4);
    await waitCaughtUp(cur!.url, 30_000);
    assert.equal((await c.video(bike.id)).views, bikeViews + 1);

    await assert.rejects(
      new StreamWaveClient(cur!.url).register(alice.name.toUpperCase(), 'another-alice@example.com', 'another-password'),
      (e: unknown) => e instanceof ApiError && e.status === 409 && e.code === 'USERNAME_TAKEN',
    );
  });
});
