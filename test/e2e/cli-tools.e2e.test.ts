/**
 * The ops CLI against a real standalone process: `streamwave replay`, `topics` and `schemas list`
 * run as child processes, exactly as an operator runs them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs `streamwave <args>` (bounded: killed after `timeoutMs`). */
function streamwave(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli', 'main.ts'), ...args], {
      cwd: root, env: { ...process.env, STREAMWAVE_ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

describe('ops CLI against standalone', () => {
  let dataDir: string;
  let server: StandaloneProcess;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sw-cli-tools-'));
    server = await startStandaloneProcess({ dataDir });
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('replay user-accounts --from-beginning swaps in a rebuilt read model that still serves the API', async () => {
    const client = new StreamWaveClient(server.url);
    for (const n of ['alice', 'bob', 'carol']) await client.register(n, `${n}@example.com`, 'correct horse battery');

    const denied = await streamwave(['replay', 'user-accounts', '--server', server.url, '--admin-token', 'wrong-token-0123456789']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /401/);

    const r = await streamwave(['replay', 'user-accounts', '--from-beginning', '--server', server.url, '--data-dir', dataDir, '--poll-ms', '100']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /swapped user-accounts: instance (replay-\d+) \(consumer group streamwave\.projection\.user-accounts\.replay-\d+\)/);
    const instance = /instance (replay-\d+)/.exec(r.stdout)![1];
    const ptr = JSON.parse(await readFile(join(dataDir, 'projections', 'replays', 'user-accounts', 'current.json'), 'utf8'));
    assert.equal(ptr.instanceId, instance);

    // Login reads the user from the user-accounts read model: the rebuilt one knows every account.
    for (const n of ['alice', 'bob', 'carol']) assert.ok(await new StreamWaveClient(server.url).login(n, 'correct horse battery'));
    await client.register('dave', 'dave@example.com', 'correct horse battery');
    assert.ok(await new StreamWaveClient(server.url).login('dave', 'correct horse battery'));
  });

  test('topics lists topics with end offsets and consumer-group lag', async () => {
    const r = await streamwave(['topics', '--server', server.url, '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^TOPIC\s+PARTITIONS\s+RECORDS/m);
    assert.match(r.stdout, /^streamwave\.users\s+\d+\s+[1-9]\d*\s/m);
    assert.match(r.stdout, /^CONSUMER GROUP\s+TOPIC\s+LAG/m);
    assert.match(r.stdout, /^streamwave\.projection\.user-accounts\.replay-\d+\s+streamwave\.users\s+\d+/m);
    const json = await streamwave(['topics', '--json', '--server', server.url, '--data-dir', dataDir]);
    const o = JSON.parse(json.stdout) as { topics: { name: string; endOffsets: number[] }[] };
    const users = o.topics.find((t) => t.name === 'streamwave.users')!;
    assert.equal(users.endOffsets.reduce((a, b) => a + b, 0), 4);
  });

  test('schemas list --registry <server>/registry shows every registered subject', async () => {
    const r = await streamwave(['schemas', 'list', '--registry', `${server.url}/registry`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^streamwave\.users-io\.streamwave\.user\.UserRegistered\s+1\s+\d+$/m);
    assert.match(r.stdout, /\d+ subject\(s\)/);
  });
});

describe('streamwave uploads reap against standalone (issue 8)', () => {
  let dataDir: string;
  let server: StandaloneProcess;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sw-cli-reap-'));
    server = await startStandaloneProcess({ dataDir });
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('removes an orphaned temp file older than the expiry, keeps a fresh one and a fresh upload', async () => {
    const client = new StreamWaveClient(server.url);
    await client.register('alice', 'alice@example.com', 'correct horse battery');
    await client.login('alice', 'correct horse battery');
    const fresh = await client.createUpload({ filename: 'x.mp4', size_bytes: 1000, content_type: 'video/mp4', title: 'fresh' });
    const work = join(dataDir, 'work');
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'orphan.ts'), 'x');
    await writeFile(join(work, 'fresh.ts'), 'x');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(join(work, 'orphan.ts'), twoDaysAgo, twoDaysAgo);

    const denied = await streamwave(['uploads', 'reap', '--server', server.url, '--admin-token', 'wrong-token-0123456789']);
    assert.equal(denied.code, 1);
    const r = await streamwave(['uploads', 'reap', '--json', '--server', server.url, '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { abandoned_uploads: unknown[]; removed_temp_entries: number; errors: unknown[] };
    console.log('reap report', r.stdout.replace(/\s+/g, ' '));
    assert.deepEqual(report.abandoned_uploads, []);
    assert.equal(report.removed_temp_entries, 1);
    assert.deepEqual(report.errors, []);
    assert.deepEqual((await readdir(work)).sort(), ['fresh.ts']);
    assert.equal((await client.status(fresh.video_id)).status, 'pending_upload');
  });
});
