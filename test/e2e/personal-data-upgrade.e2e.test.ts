/**
 * The personal-data upgrade (issue 13), through the public API and the data dir's bytes: the last
 * release before crypto-shredding (`PLAINTEXT_RELEASE`, extracted from git) runs standalone and is
 * given two users, a video and comments — its log segments hold their emails, usernames, title and
 * comment text in plaintext (checked, so the test is not vacuous). Then the current code starts on
 * the same data dir. It proves that:
 * - the log holds none of that plaintext any more (every segment scanned), and no shadow or
 *   plaintext segment is left behind;
 * - every answer (video, comments, search, sign-in) is what the previous release answered;
 * - the migrated data is now erasable: erasing one user leaves 0 hits of their data in every file
 *   of the data dir, while the other user's data reads as before;
 * - a second start does not migrate again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { filesUnder, needleHits } from '../support/e2e-target.ts';
import { FIELDS_NEW_IN_ISSUE_14, FIELDS_NEW_IN_ISSUE_15, answersAt, withoutAddedFields, get, type Answer } from '../support/http-answer.ts';
import { makeClip } from '../support/make-media.ts';
import { extractRelease, releaseMissing, waitCaughtUp } from '../support/previous-release.ts';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';

/** The last commit before personal fields were encrypted (the data key store came next). */
const PLAINTEXT_RELEASE = 'fa10d9bf3bde8009ff68511520d05a103de3f1ca';
const CATCH_UP_MS = 120_000;

const tag = randomBytes(4).toString('hex');
const gina = { name: `gina_${tag}`, email: `gina.${tag}@upgrade.example`, password: `gina-password-${tag}`, comment: `Gina wrote this at 7 Wren Street ${tag}`, title: `wren${tag} harbour walk` };
const hugo = { name: `hugo_${tag}`, email: `hugo.${tag}@upgrade.example`, password: `hugo-password-${tag}`, comment: `Hugo replies from Quay Road ${tag}` };
/** What the previous release wrote in plaintext and the upgrade must encrypt. */
const PLAINTEXT = {
  'gina email': gina.email, 'gina username': gina.name, 'gina comment': gina.comment, 'gina title': `wren${tag}`,
  'hugo email': hugo.email, 'hugo username': hugo.name, 'hugo comment': hugo.comment,
};
const GINA = Object.fromEntries(Object.entries(PLAINTEXT).filter(([k]) => k.startsWith('gina'))) as Record<string, string>;

const missing = releaseMissing(PLAINTEXT_RELEASE);
if (missing && process.env.CI && process.env.CI !== 'false') {
  test('personal-data upgrade', () => assert.fail(`${missing}. CI checkouts must have the full history: without it the upgrade check cannot run.`));
}

describe('personal-data upgrade of a data dir written before crypto-shredding (issue 13)', { skip: missing ? `${missing}; run from a full git clone` : false }, () => {
  let tmp: string;
  let dataDir: string;
  let sw: StandaloneProcess | undefined;
  let videoId: string;
  const recorded = new Map<string, Answer>();
  const answers = (url: string) => answersAt(url, [`/api/v1/videos/${videoId}`, `/api/v1/videos/${videoId}/comments`, `/api/v1/search/videos?q=wren${tag}`]);

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sw-pd-upgrade-'));
    dataDir = join(tmp, 'data');
    const previous = await extractRelease(PLAINTEXT_RELEASE, tmp);
    const clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 2, width: 320, height: 180, audio: false });
    sw = await startStandaloneProcess({ dataDir, checkout: previous, timeoutMs: CATCH_UP_MS });
    const clients: Record<string, StreamWaveClient> = {};
    for (const u of [gina, hugo]) {
      clients[u.name] = new StreamWaveClient(sw.url);
      await clients[u.name].register(u.name, u.email, u.password);
      await clients[u.name].login(u.name, u.password);
    }
    videoId = (await uploadFile(clients[gina.name], clip, { title: gina.title, description: `Walk ${tag}`, tags: ['walk'], resumeFile: join(tmp, 'resume.json') })).videoId;
    assert.equal((await waitForProcessing(clients[gina.name], videoId, { timeoutMs: 120_000, intervalMs: 250 })).status, 'ready');
    const { id } = await clients[gina.name].postComment(videoId, gina.comment);
    await clients[hugo.name].postComment(videoId, hugo.comment, id);
    await waitCaughtUp(sw.url, CATCH_UP_MS);
    for (const [k, v] of await answers(sw.url)) recorded.set(k, v);
    await sw.stop();
    sw = undefined;
  });

  after(async () => {
    await sw?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('the previous release wrote the personal fields in plaintext into its log (the test is not vacuous)', async () => {
    const { hits } = await needleHits(join(dataDir, 'log'), PLAINTEXT);
    for (const what of Object.keys(PLAINTEXT)) assert.ok(hits.some((h) => h.startsWith(`${what} in `)), `${what} in plaintext in the previous release's log`);
  });

  test('the current code rewrites them encrypted: 0 hits in the log, same answers, and every account signs in', async (t) => {
    let output = '';
    sw = await startStandaloneProcess({ dataDir, timeoutMs: CATCH_UP_MS, env: { STREAMWAVE_LOG_LEVEL: 'info' } });
    try {
      await waitCaughtUp(sw.url, CATCH_UP_MS);
      const now = await answers(sw.url);
      for (const [k, v] of recorded) assert.deepEqual(withoutAddedFields(now.get(k), FIELDS_NEW_IN_ISSUE_14, FIELDS_NEW_IN_ISSUE_15), v, `${k} answers as before the upgrade (fields added since allowed)`);
      assert.equal((recorded.get(`/api/v1/videos/${videoId}`)!.body as { title: string }).title, gina.title, 'the recorded answer holds the title');
      for (const u of [gina, hugo]) await new StreamWaveClient(sw.url).login(u.name, u.password);
    } finally {
      output = sw.output();
      await sw.stop();
      sw = undefined;
    }
    assert.match(output, /personal-data upgrade: copying/, 'the copy shows its progress');
    const marker = JSON.parse(await readFile(join(dataDir, 'migrations', 'personal-data-1.json'), 'utf8')) as { status: string; copied: number; rewritten: number; partitions: unknown[] };
    assert.equal(marker.status, 'migrated');
    assert.ok(marker.rewritten > 0 && marker.rewritten <= marker.copied, `rewritten ${marker.rewritten} of ${marker.copied}`);
    const { hits, files } = await needleHits(join(dataDir, 'log'), PLAINTEXT);
    t.diagnostic(`upgrade: ${marker.partitions.length} partitions, ${marker.copied} records copied, ${marker.rewritten} rewritten encrypted; log after it: ${files} files scanned for ${Object.keys(PLAINTEXT).length} plaintext values: ${hits.length} hits`);
    assert.deepEqual(hits, []);
    assert.deepEqual((await filesUnder(dataDir)).filter((f) => f.endsWith('.plaintext') || f.includes(`${join(dataDir, 'migration')}/`)), [], 'no shadow or plaintext segment left');
    assert.ok(!Object.values(PLAINTEXT).some((v) => output.includes(v)), 'no personal value in the process output');
  });

  test('the migrated data is erasable: 0 hits of the erased user anywhere in the data dir; the other user is intact; no second migration', async (t) => {
    const markerBefore = await readFile(join(dataDir, 'migrations', 'personal-data-1.json'), 'utf8');
    sw = await startStandaloneProcess({ dataDir, timeoutMs: CATCH_UP_MS });
    try {
      const g = new StreamWaveClient(sw.url);
      await g.login(gina.name, gina.password);
      await g.eraseMe(gina.password);
      const deadline = Date.now() + 60_000;
      while ((await get(sw.url, `/api/v1/videos/${videoId}`)).status !== 404) {
        assert.ok(Date.now() < deadline, 'the erased user\'s video is deleted');
        await new Promise((r) => setTimeout(r, 250));
      }
      await waitCaughtUp(sw.url, CATCH_UP_MS);
      const h = new StreamWaveClient(sw.url);
      await h.login(hugo.name, hugo.password);
      const hugoExport = JSON.stringify(await h.exportMe());
      for (const v of [hugo.email, hugo.comment]) assert.ok(hugoExport.includes(v), `hugo's export still holds ${v}`);
    } finally {
      // Stop so every file is flushed and closed (pending store compactions run on close).
      await sw.stop();
      sw = undefined;
    }
    assert.equal(await readFile(join(dataDir, 'migrations', 'personal-data-1.json'), 'utf8'), markerBefore, 'no second migration');
    const { hits, files } = await needleHits(dataDir, GINA);
    t.diagnostic(`data dir after erasing the migrated user: ${files} files scanned for ${Object.keys(GINA).join(', ')}: ${hits.length} hits`);
    assert.deepEqual(hits, []);
  });
});
