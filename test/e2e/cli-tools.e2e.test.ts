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

/** Runs `streamwave <args>` (bounded: killed after `timeoutMs`); `input` is written to its standard input. */
function streamwave(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli', 'main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, STREAMWAVE_ADMIN_TOKEN: '', STREAMWAVE_PASSWORD: '', STREAMWAVE_SCHEMA_REGISTRY_PASSWORD: '', ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
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

  test('issue 8: a password as an argument is refused (exit 2, no account); --password-stdin and STREAMWAVE_PASSWORD work', async () => {
    const refused = await streamwave(['register', 'erin', 'erin@example.com', 'visible in ps', '--server', server.url]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /not accepted as arguments/);
    await assert.rejects(new StreamWaveClient(server.url).login('erin', 'visible in ps'));
    const refusedUpload = await streamwave(['upload', 'x.mp4', '-t', 'x', '-u', 'erin', '-p', 'visible in ps', '--server', server.url]);
    assert.equal(refusedUpload.code, 2, refusedUpload.stdout + refusedUpload.stderr);
    assert.match(refusedUpload.stderr, /not accepted as arguments/);
    const none = await streamwave(['register', 'erin', 'erin@example.com', '--server', server.url]);
    assert.equal(none.code, 2, none.stdout + none.stderr);
    assert.match(none.stderr, /--password-stdin/);

    const viaStdin = await streamwave(['register', 'erin', 'erin@example.com', '--password-stdin', '--server', server.url], {}, 60_000, 'piped password 1\n');
    assert.equal(viaStdin.code, 0, viaStdin.stdout + viaStdin.stderr);
    assert.ok(await new StreamWaveClient(server.url).login('erin', 'piped password 1'));
    const viaEnv = await streamwave(['register', 'frank', 'frank@example.com', '--server', server.url], { STREAMWAVE_PASSWORD: 'env password 22' });
    assert.equal(viaEnv.code, 0, viaEnv.stdout + viaEnv.stderr);
    assert.ok(await new StreamWaveClient(server.url).login('frank', 'env password 22'));
  });

  test('issue 8: registry writes need credentials; `schemas register` sends them (generated password file, env or stdin)', async () => {
    const registry = `${server.url}/registry`;
    // The reported attack against the real server: no credentials → 401, nothing changed.
    const attack = await fetch(`${registry}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ compatibility: 'NONE' }) });
    assert.equal(attack.status, 401);
    assert.match(attack.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal((await attack.json()).error_code, 40101);
    assert.deepEqual(await (await fetch(`${registry}/config`)).json(), { compatibilityLevel: 'BACKWARD_TRANSITIVE' });

    const emptyDir = await mkdtemp(join(tmpdir(), 'sw-no-password-'));
    try {
      const anonymous = await streamwave(['schemas', 'register', '--registry', registry, '--data-dir', emptyDir]);
      assert.equal(anonymous.code, 1, anonymous.stdout + anonymous.stderr);
      assert.match(anonymous.stderr, /Unauthorized/);
      const wrong = await streamwave(['schemas', 'register', '--registry', registry, '--data-dir', emptyDir, '--password-stdin'], {}, 60_000, 'wrong\n');
      assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
    } finally { await rm(emptyDir, { recursive: true, force: true }); }

    const password = (await readFile(join(dataDir, 'schema-registry.password'), 'utf8')).trim();
    const fromFile = await streamwave(['schemas', 'register', '--registry', registry, '--data-dir', dataDir]);
    assert.equal(fromFile.code, 0, fromFile.stdout + fromFile.stderr);
    assert.match(fromFile.stdout, /^streamwave\.users-io\.streamwave\.user\.UserRegistered: id \d+$/m);
    const fromEnv = await streamwave(['schemas', 'register', '--registry', registry], { STREAMWAVE_SCHEMA_REGISTRY_PASSWORD: password, STREAMWAVE_DATA_DIR: '/nonexistent' });
    assert.equal(fromEnv.code, 0, fromEnv.stdout + fromEnv.stderr);
    const fromStdin = await streamwave(['schemas', 'register', '--registry', registry, '--password-stdin'], {}, 60_000, `${password}\n`);
    assert.equal(fromStdin.code, 0, fromStdin.stdout + fromStdin.stderr);
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
