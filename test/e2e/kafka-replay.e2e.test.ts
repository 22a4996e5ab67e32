/**
 * `streamwave replay` on Kafka — the same tool on both logs: a real single-node broker, the
 * `all` cluster role as a child process (`streamwave run all`), data written through the API, then
 * the CLI rebuilds the user-accounts read model into a shadow (its own consumer group), swaps it in,
 * and the API keeps answering with the same data — also after a restart, which must reopen the
 * swapped-in instance from its pointer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { kafkaRequirement, startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.ts';
import { runStreamwave, startClusterRoleProcess, type StandaloneProcess } from '../support/standalone-process.ts';

const PASSWORD = 'correct horse battery';
const USERS = ['alice', 'bob', 'carol'];

const skip = await kafkaRequirement();

describe('streamwave replay against the `all` role on Kafka', { skip }, () => {
  let broker: KafkaBroker | undefined;
  let dataDir: string;
  let server: StandaloneProcess | undefined;
  const start = (port?: number) => startClusterRoleProcess({
    role: 'all',
    kafkaBrokers: broker!.bootstrap,
    dataDir,
    port,
    // A dead member's partitions come back after 6 s (the broker's minimum), not 45 s.
    env: { STREAMWAVE_KAFKA_SESSION_TIMEOUT_MS: '6000', STREAMWAVE_TOPIC_PARTITIONS: '3' },
    timeoutMs: 120_000,
  });

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sw-kafka-replay-'));
    broker = await startKafkaBroker();
    server = await start();
  });
  after(async () => {
    await server?.stop();
    await broker?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('replay user-accounts --from-beginning swaps in a rebuilt read model; the API serves the same data, also after a restart', async () => {
    const url = server!.url;
    for (const n of USERS) await new StreamWaveClient(url).register(n, `${n}@example.com`, PASSWORD);
    const alice = new StreamWaveClient(url);
    await alice.login('alice', PASSWORD);
    const ticket = await alice.createUpload({ filename: 'clip.mp4', size_bytes: 1234, content_type: 'video/mp4', title: 'Replayed on Kafka', tags: ['kafka'] });
    const before = await alice.video(ticket.video_id);
    assert.equal(before.title, 'Replayed on Kafka');

    const denied = await runStreamwave(['replay', 'user-accounts', '--server', url, '--admin-token', 'wrong-token-0123456789']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /401/);

    // The token is found in the role's data dir (<STREAMWAVE_DATA_DIR>/admin.token).
    const r = await runStreamwave(['replay', 'user-accounts', '--from-beginning', '--server', url, '--data-dir', dataDir, '--poll-ms', '100'], {}, 120_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = /swapped user-accounts: instance (replay-\d+) \(consumer group (streamwave\.projection\.user-accounts\.replay-\d+)\).*?; (\d+) log offsets replayed/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const [, instance, group, replayed] = m;
    // The whole users topic, all user-accounts consumes: its registrations, each written in a
    // transaction by the command processor with its commit marker (an offset each).
    const overview = await runStreamwave(['topics', '--json', '--server', url, '--data-dir', dataDir]);
    const users = (JSON.parse(overview.stdout) as { topics: { name: string; records: number }[] }).topics.find((x) => x.name === 'streamwave.users')!;
    assert.equal(Number(replayed), users.records);
    assert.ok(users.records >= USERS.length, `${users.records} offsets for ${USERS.length} registrations`);
    // The `all` role keeps its projections under <dataDir>/projector.
    const ptr = JSON.parse(await readFile(join(dataDir, 'projector', 'projections', 'replays', 'user-accounts', 'current.json'), 'utf8'));
    assert.equal(ptr.instanceId, instance);
    assert.equal(ptr.groupId, group);

    // Login reads the user from the user-accounts read model: the rebuilt one knows every account.
    for (const n of USERS) assert.ok(await new StreamWaveClient(url).login(n, PASSWORD));
    assert.deepEqual(await alice.video(ticket.video_id), before);
    // The shadow is now the live consumer: a write after the swap shows up (read-your-writes).
    await new StreamWaveClient(url).register('dave', 'dave@example.com', PASSWORD);
    assert.ok(await new StreamWaveClient(url).login('dave', PASSWORD));

    // The replay's consumer group is on the broker next to the primary's.
    const topics = await runStreamwave(['topics', '--json', '--server', url, '--data-dir', dataDir]);
    assert.equal(topics.code, 0, topics.stdout + topics.stderr);
    const groups = (JSON.parse(topics.stdout) as { groups: { groupId: string }[] }).groups.map((g) => g.groupId);
    assert.ok(groups.includes(group), groups.join(', '));

    // Restart on the same data dir: the pointer reopens the rebuilt instance (in its own group).
    const port = server!.port;
    await server!.stop();
    server = undefined;
    server = await start(port);
    for (const n of [...USERS, 'dave']) assert.ok(await new StreamWaveClient(url).login(n, PASSWORD));
    const again = new StreamWaveClient(url);
    await again.login('alice', PASSWORD);
    assert.deepEqual(await again.video(ticket.video_id), before);
  });
});
