import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { buildSchemaRegistryServer } from '../../schemas/registry/schema-registry.routes.ts';
import {
  checkAgainstBaseline, createRegistryHttpClient, diffRecordSchemas, formatFieldChange, hasIncompatible, readDirSchemaFiles, readGitSchemaFiles,
  localSubjectSchemas, readGitSchemaHistory, subjectSchemasOfFiles,
} from './schema-tools.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'sw-schemas-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const USER = 'schemas/user/UserRegistered.avsc';
const USERS_SUBJECT = 'streamwave.users-io.streamwave.user.UserRegistered';

/** A git repo holding a copy of the user and video schemas, committed once. */
function makeRepo(name: string): string {
  const repo = join(tmp, name);
  for (const agg of ['user', 'video']) cpSync(join(root, 'schemas', agg), join(repo, 'schemas', agg), { recursive: true });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe' });
  git('init', '-q');
  git('add', '.');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'baseline');
  return repo;
}

function editUserSchema(repo: string, edit: (fields: Record<string, unknown>[]) => void): void {
  const path = join(repo, USER);
  const j = JSON.parse(readFileSync(path, 'utf8')) as { fields: Record<string, unknown>[] };
  edit(j.fields);
  writeFileSync(path, JSON.stringify(j, null, 2));
}

const check = (repo: string) =>
  checkAgainstBaseline(subjectSchemasOfFiles(readDirSchemaFiles(repo)), subjectSchemasOfFiles(readGitSchemaFiles('HEAD', repo)));

const cli = (repo: string) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli', 'main.ts'), 'schemas', 'check', '--baseline-git', 'HEAD', '--repo', repo], {
  cwd: root, encoding: 'utf8', timeout: 60_000,
});

describe('schema files, read two ways', () => {
  test('the offline reader (files of a working tree or a git ref) sees the same event and command subjects as the codecs', () => {
    const offline = subjectSchemasOfFiles(readDirSchemaFiles(root));
    const loaded = localSubjectSchemas();
    assert.deepEqual(offline, loaded);
    assert.ok(loaded.some((s) => s.subject === 'streamwave.commands-io.streamwave.command.video.StartProcessing'), 'command subjects are listed');
    assert.ok(loaded.some((s) => s.subject === USERS_SUBJECT), 'event subjects are listed');
  });
});

describe('schemas check --baseline-git', () => {
  test('a field added without a default is incompatible (exit 1); with a default it passes (exit 0)', () => {
    const repo = makeRepo('repo1');
    assert.equal(hasIncompatible(check(repo)), false);
    assert.ok(check(repo).every((c) => c.status === 'unchanged'));

    editUserSchema(repo, (f) => f.push({ name: 'country', type: 'string' }));
    const bad = check(repo);
    const users = bad.find((c) => c.subject === USERS_SUBJECT)!;
    assert.equal(users.status, 'incompatible');
    assert.ok(users.messages.some((m) => m.includes('BACKWARD')), users.messages.join('\n'));
    assert.deepEqual(users.changes, [{ kind: 'added', field: 'country', type: 'string' }]);
    assert.equal(hasIncompatible(bad), true);
    const r1 = cli(repo);
    assert.equal(r1.status, 1, r1.stdout + r1.stderr);
    assert.match(r1.stdout, /FAIL streamwave\.users-io\.streamwave\.user\.UserRegistered: incompatible/);

    editUserSchema(repo, (f) => { f.pop(); f.push({ name: 'country', type: 'string', default: '' }); });
    const good = check(repo);
    assert.equal(good.find((c) => c.subject === USERS_SUBJECT)!.status, 'compatible');
    assert.equal(hasIncompatible(good), false);
    const r0 = cli(repo);
    assert.equal(r0.status, 0, r0.stdout + r0.stderr);
  });

  test('a removed event schema fails the check', () => {
    const repo = makeRepo('repo2');
    rmSync(join(repo, USER));
    const checks = check(repo);
    assert.equal(checks.find((c) => c.subject === USERS_SUBJECT)!.status, 'removed');
    assert.equal(hasIncompatible(checks), true);
  });

  test('an unknown ref is a clear error', () => {
    const repo = makeRepo('repo3');
    assert.throws(() => readGitSchemaFiles('no-such-ref', repo), /git ref no-such-ref not found/);
  });
});

const commitAll = (repo: string, message: string) => {
  execFileSync('git', ['add', '.'], { cwd: repo, stdio: 'pipe' });
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', message], { cwd: repo, stdio: 'pipe' });
};
const cliHistory = (repo: string) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli', 'main.ts'), 'schemas', 'check', '--history', '--repo', repo], {
  cwd: root, encoding: 'utf8', timeout: 60_000,
});

describe('schemas check --history (every released version, what CI runs)', () => {
  test('a change compatible with the previous commit but not with an older one fails (compatibility is not transitive)', () => {
    const repo = makeRepo('hist1');
    // v1 (baseline commit) writes no `tier`; v2 adds `tier: string` with a default; v3 drops it (compatible with v2)...
    editUserSchema(repo, (f) => f.push({ name: 'tier', type: 'string', default: 'free' }));
    commitAll(repo, 'v2: tier string');
    editUserSchema(repo, (f) => { f.pop(); });
    commitAll(repo, 'v3: no tier');
    // ...and the working tree brings `tier` back as an int: fine against v3 (the default fills it), not against v2's strings.
    editUserSchema(repo, (f) => f.push({ name: 'tier', type: 'int', default: 0 }));
    const previousOnly = checkAgainstBaseline(subjectSchemasOfFiles(readDirSchemaFiles(repo)), subjectSchemasOfFiles(readGitSchemaFiles('HEAD', repo)));
    assert.equal(hasIncompatible(previousOnly), false, 'against the previous commit alone the change passes');
    const history = readGitSchemaHistory(repo);
    assert.equal(history.commits.length, 3);
    const all = checkAgainstBaseline(subjectSchemasOfFiles(readDirSchemaFiles(repo)), history.schemas);
    assert.equal(all.find((c) => c.subject === USERS_SUBJECT)!.status, 'incompatible');
    const r = cliHistory(repo);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL streamwave\.users-io\.streamwave\.user\.UserRegistered: incompatible/);
    assert.match(r.stdout, /3 commit\(s\)/);

    editUserSchema(repo, (f) => { f.pop(); f.push({ name: 'tier', type: 'string', default: 'free' }); });
    const r0 = cliHistory(repo);
    assert.equal(r0.status, 0, r0.stdout + r0.stderr);
  });

  test('without a baseline the gate fails: a shallow clone, or a history with no schemas', () => {
    const repo = makeRepo('hist2');
    editUserSchema(repo, (f) => f.push({ name: 'tier', type: 'string', default: 'free' }));
    commitAll(repo, 'v2');
    const shallow = join(tmp, 'hist2-shallow');
    execFileSync('git', ['clone', '-q', '--depth', '1', `file://${repo}`, shallow], { stdio: 'pipe' });
    assert.throws(() => readGitSchemaHistory(shallow), /shallow clone/);
    const r = cliHistory(shallow);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /no baseline: .*shallow clone/);

    const empty = join(tmp, 'hist2-empty');
    execFileSync('git', ['init', '-q', empty], { stdio: 'pipe' });
    writeFileSync(join(empty, 'README'), 'no schemas');
    commitAll(empty, 'no schemas');
    assert.throws(() => readGitSchemaHistory(empty), /no commit .* has event schemas/);
  });
});

describe('schema diff', () => {
  test('reports added, removed and changed fields readably', () => {
    const from = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }, { name: 'c', type: ['null', 'string'], default: null }] });
    const to = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'long' }, { name: 'c', type: ['null', 'string'] }, { name: 'd', type: 'string', default: 'x' }] });
    const lines = diffRecordSchemas(from, to).map(formatFieldChange).sort();
    assert.deepEqual(lines, [
      '+ d: string (default "x")',
      '- b: int',
      '~ a: type string → long',
      '~ c: default null → (none)',
    ]);
  });
});

describe('registry HTTP client (against the built-in Confluent-compatible registry)', () => {
  test('register, list latest, check compatibility', async () => {
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    const server = buildSchemaRegistryServer({ registry });
    await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
      const client = createRegistryHttpClient(url);
      const v1 = JSON.stringify({ type: 'record', name: 'E', namespace: 'io.t', fields: [{ name: 'a', type: 'string' }] });
      assert.deepEqual(await client.subjects(), []);
      assert.equal(await client.latest('t-io.t.E'), undefined);
      assert.deepEqual(await client.checkLatest('t-io.t.E', v1), { compatible: true, messages: [] });
      const id = await client.register('t-io.t.E', v1);
      assert.deepEqual(await client.subjects(), ['t-io.t.E']);
      const latest = await client.latest('t-io.t.E');
      assert.equal(latest?.id, id);
      assert.equal(latest?.version, 1);
      const v2bad = JSON.stringify({ type: 'record', name: 'E', namespace: 'io.t', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }] });
      const r = await client.checkLatest('t-io.t.E', v2bad);
      assert.equal(r.compatible, false);
      assert.ok(r.messages.length > 0);
      await assert.rejects(client.register('t-io.t.E', v2bad), { status: 409 });
    } finally {
      await server.close();
      await registry.stop();
    }
  });
});
