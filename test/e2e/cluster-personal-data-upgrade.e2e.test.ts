/**
 * The personal-data upgrade of a Kafka cluster written by the last release before crypto-shredding
 * (issue 13), through the API, the CLI and the broker's bytes: that release (`PLAINTEXT_RELEASE`,
 * extracted from git) runs as the `all` cluster role on a real broker and is given two users, a
 * video and comments — the broker's log segments then hold their emails, usernames, title and
 * comment text in plaintext (checked). The role stops; `streamwave migrate personal-data` runs;
 * the current code's `all` role starts on the same broker and data dir. It proves that every
 * answer is what the previous release answered, every account signs in, and once the broker has
 * removed the deleted topics' files, none of those values is left anywhere in its data dir.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { needleHits } from '../support/e2e-target.ts';
import { FIELDS_NEW_IN_ISSUE_14, FIELDS_NEW_IN_ISSUE_15, answersAt, withoutAddedFields, type Answer } from '../support/http-answer.ts';
import { kafkaRequirement, startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.ts';
import { makeClip } from '../support/make-media.ts';
import { extractRelease, releaseMissing, waitCaughtUp } from '../support/previous-release.ts';
import { runStreamwave, startClusterRoleProcess, type StandaloneProcess } from '../support/standalone-process.ts';

/** The last commit before personal fields were encrypted (as in personal-data-upgrade.e2e.test.ts). */
const PLAINTEXT_RELEASE = 'fa10d9bf3bde8009ff68511520d05a103de3f1ca';
const TIMEOUT_MS = 120_000;
const ADMIN_TOKEN = `upgrade-admin-${randomBytes(8).toString('hex')}`;

const tag = randomBytes(4).toString('hex');
const ivy = { name: `ivy_${tag}`, email: `ivy.${tag}@cluster-upgrade.example`, password: `ivy-password-${tag}`, comment: `Ivy wrote from 3 Heron Way ${tag}`, title: `heron${tag} estuary` };
const jon = { name: `jon_${tag}`, email: `jon.${tag}@cluster-upgrade.example`, password: `jon-password-${tag}`, comment: `Jon answers from Pier Lane ${tag}` };
const PLAINTEXT = {
  'ivy email': ivy.email, 'ivy username': ivy.name, 'ivy comment': ivy.comment, 'ivy title': `heron${tag}`,
  'jon email': jon.email, 'jon username': jon.name, 'jon comment': jon.comment,
};

const kafkaSkip = await kafkaRequirement();
const missing = releaseMissing(PLAINTEXT_RELEASE);
if (!kafkaSkip && missing && process.env.CI && process.env.CI !== 'false') {
  test('cluster personal-data upgrade', () => assert.fail(`${missing}. CI checkouts must have the full history.`));
}

describe('personal-data upgrade of a Kafka cluster written before crypto-shredding (issue 13)', { skip: kafkaSkip || (missing ? `${missing}; run from a full git clone` : false) }, () => {
  let broker: KafkaBroker | undefined;
  let tmp: string;
  let dataDir: string;
  let role: StandaloneProcess | undefined;
  let videoId: string;
  const recorded = new Map<string, Answer>();
  const start = (checkout?: string) => startClusterRoleProcess({
    role: 'all', kafkaBrokers: broker!.bootstrap, dataDir, checkout, timeoutMs: TIMEOUT_MS,
    env: { STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: '6000', STREAMWAVE_TOPIC_PARTITIONS: '3', STREAMWAVE_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  const answers = (url: string) => answersAt(url, [`/api/v1/videos/${videoId}`, `/api/v1/videos/${videoId}/comments`, `/api/v1/search/videos?q=heron${tag}`]);

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sw-cluster-pd-upgrade-'));
    dataDir = join(tmp, 'data');
    broker = await startKafkaBroker();
    const previous = await extractRelease(PLAINTEXT_RELEASE, tmp);
    const clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 2, width: 320, height: 180, audio: false });
    role = await start(previous);
    try {
      const clients: Record<string, StreamWaveClient> = {};
      for (const u of [ivy, jon]) {
        clients[u.name] = new StreamWaveClient(role.url);
        await clients[u.name].register(u.name, u.email, u.password);
        await clients[u.name].login(u.name, u.password);
      }
      videoId = (await uploadFile(clients[ivy.name], clip, { title: ivy.title, description: `Estuary ${tag}`, tags: ['birds'], resumeFile: join(tmp, 'resume.json') })).videoId;
      assert.equal((await waitForProcessing(clients[ivy.name], videoId, { timeoutMs: TIMEOUT_MS, intervalMs: 250 })).status, 'ready');
      const { id } = await clients[ivy.name].postComment(videoId, ivy.comment);
      await clients[jon.name].postComment(videoId, jon.comment, id);
      await waitCaughtUp(role.url, TIMEOUT_MS);
      for (const [k, v] of await answers(role.url)) recorded.set(k, v);
    } finally {
      await role.stop();
      role = undefined;
    }
  });

  after(async () => {
    await role?.stop();
    await broker?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('the previous release left the personal fields in plaintext on the broker (the test is not vacuous)', async () => {
    const { hits } = await needleHits(join(broker!.dir, 'data'), PLAINTEXT);
    for (const what of Object.keys(PLAINTEXT)) assert.ok(hits.some((h) => h.startsWith(`${what} in `)), `${what} in plaintext on the broker`);
  });

  test('migrate personal-data, then the current role: same answers, every account signs in, 0 plaintext bytes on the broker', async (t) => {
    const env = { STREAMWAVE_KAFKA_BROKERS: broker!.bootstrap, STREAMWAVE_DATA_DIR: dataDir, STREAMWAVE_ADMIN_TOKEN: ADMIN_TOKEN, STREAMWAVE_LOG_LEVEL: 'warn' };
    const migrated = await runStreamwave(['migrate', 'personal-data'], env, 300_000);
    assert.equal(migrated.code, 0, migrated.stdout + migrated.stderr);
    assert.match(migrated.stdout, /streamwave\.commands, streamwave\.comments, streamwave\.users, streamwave\.videos rewritten/);
    role = await start();
    try {
      await waitCaughtUp(role.url, TIMEOUT_MS);
      const now = await answers(role.url);
      for (const [k, v] of recorded) assert.deepEqual(withoutAddedFields(now.get(k), FIELDS_NEW_IN_ISSUE_14, FIELDS_NEW_IN_ISSUE_15), v, `${k} answers as before the upgrade (fields added since allowed)`);
      assert.equal((recorded.get(`/api/v1/videos/${videoId}`)!.body as { title: string }).title, ivy.title);
      for (const u of [ivy, jon]) await new StreamWaveClient(role.url).login(u.name, u.password);
    } finally {
      await role.stop();
      role = undefined;
    }
    // The broker deletes the replaced topics' files after log.segment.delete.delay.ms (1 s here),
    // on its first clean-up pass at the latest 30 s after it started.
    const from = Date.now();
    let { hits } = await needleHits(join(broker!.dir, 'data'), PLAINTEXT);
    while (hits.length && Date.now() - from < 90_000) {
      await new Promise((r) => setTimeout(r, 1000));
      ({ hits } = await needleHits(join(broker!.dir, 'data'), PLAINTEXT));
    }
    t.diagnostic(`${migrated.stdout.trim()}; broker data dir ${((Date.now() - from) / 1000).toFixed(0)} s later: ${hits.length} hits of ${Object.keys(PLAINTEXT).length} plaintext values`);
    assert.deepEqual(hits, []);
  });
});
