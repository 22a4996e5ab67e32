/**
 * Issue 8, findings 7 and 8 on a real standalone process:
 * - a free-disk floor above the disk's free space (set through the environment) makes
 *   `/health/ready` and `/health` answer 503 DISK_SPACE_LOW while `/health/live` answers 200; the
 *   same data dir restarted with the default floor is ready again;
 * - after a `kill -9`, a torn tail is cut and the server starts; a byte flipped in the middle of a
 *   partition stops start-up with LOG_CORRUPTED naming the file and byte offset, and
 *   `streamwave log verify` exits 1 naming the same partition.
 *
 * Against cluster:local (issue 9; STREAMWAVE_E2E_TARGET=cluster, `npm run test:cluster`) the
 * disk-floor test runs on every role (each checks its own disk) and restarts the whole cluster on
 * the same data dir. Not registered in cluster mode: the log-integrity test (standalone only: it
 * tears and corrupts the embedded log's segment files on disk; in cluster mode the log is Kafka's).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { runStreamwave, startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';
import { IN_CLUSTER, startE2eTarget, type E2eTarget } from '../support/e2e-target.ts';

let tmp: string | undefined;
let sw: StandaloneProcess | undefined;
let target: E2eTarget | undefined;
after(async () => {
  await sw?.stop();
  await target?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Ready { status: string; reasons?: Array<{ check: string; code: string; message: string }>; lag?: Record<string, number> }
const get = async (url: string) => { const r = await fetch(url); return { status: r.status, body: (await r.json()) as Ready }; };

/** The largest partition segment of the embedded log (the one holding the most records). */
async function largestSegment(dataDir: string): Promise<{ file: string; size: number }> {
  let best = { file: '', size: -1 };
  const topics = join(dataDir, 'log', 'topics');
  for (const t of await readdir(topics)) {
    for (const f of await readdir(join(topics, t))) {
      const { size } = await stat(join(topics, t, f));
      if (size > best.size) best = { file: join(topics, t, f), size };
    }
  }
  return best;
}

if (!IN_CLUSTER) test('ready goes 503 DISK_SPACE_LOW below the free-disk floor and back; live stays 200', { timeout: 300_000 }, async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-health-ready-'));
  const dataDir = join(tmp, 'data');
  sw = await startStandaloneProcess({ dataDir, waitFor: 'live', env: { STREAMWAVE_MIN_FREE_DISK_BYTES: String(2 ** 52) } });
  assert.deepEqual(await get(`${sw.url}/health/live`), { status: 200, body: { status: 'ok' } });
  for (const path of ['/health/ready', '/health']) {
    const { status, body } = await get(`${sw.url}${path}`);
    assert.equal(status, 503, path);
    assert.equal(body.status, 'unavailable');
    assert.deepEqual(body.reasons!.map((r) => [r.check, r.code]), [['disk', 'DISK_SPACE_LOW']]);
    assert.ok(body.lag, 'the lag fields stay in the answer');
    assert.doesNotMatch(JSON.stringify(body), new RegExp(tmp), 'no server path in the public answer');
    console.log(`${path} → ${status} ${body.reasons![0].code}: ${body.reasons![0].message}`);
  }
  await sw.stop();
  sw = await startStandaloneProcess({ dataDir });
  const back = await get(`${sw.url}/health/ready`);
  assert.equal(back.status, 200);
  assert.equal(back.body.status, 'ok');
  console.log(`same data dir, default floor: /health/ready → ${back.status}`);
  await sw.stop();
  sw = undefined;
});

if (!IN_CLUSTER) test('log integrity on a real data dir: torn tail after kill -9 is cut; a corrupted middle stops start-up; verify agrees', { timeout: 300_000 }, async () => {
  tmp ??= await mkdtemp(join(tmpdir(), 'sw-health-ready-'));
  const dataDir = join(tmp, 'integrity');
  sw = await startStandaloneProcess({ dataDir });
  const c = new StreamWaveClient(sw.url);
  for (let i = 0; i < 4; i++) await c.register(`user${i}`, `user${i}@example.com`, `password-of-user-${i}`);
  await sw.kill9();
  sw = undefined;

  const seg = await largestSegment(dataDir);
  await appendFile(seg.file, Buffer.from([0x40, 0, 0, 0, 1, 2, 3])); // a torn, unacknowledged write
  let v = await runStreamwave(['log', 'verify', '--data-dir', dataDir]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /\ttorn-tail\t/);
  sw = await startStandaloneProcess({ dataDir });
  assert.equal((await stat(seg.file)).size, seg.size, 'the torn tail was cut, nothing more');
  const c2 = new StreamWaveClient(sw.url);
  await c2.login('user3', 'password-of-user-3'); // the acknowledged records are all there
  await sw.stop();
  sw = undefined;

  const fh = await open(seg.file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, 30); // inside the body of the partition's first record
  b[0] ^= 0xff;
  await fh.write(b, 0, 1, 30);
  await fh.close();
  await assert.rejects(startStandaloneProcess({ dataDir, timeoutMs: 60_000 }), (err: Error) => {
    assert.match(err.message, /exited early/);
    assert.match(err.message, /LOG_CORRUPTED|is corrupted at byte offset 0/);
    assert.ok(err.message.includes(seg.file), 'names the file');
    console.log(err.message.split('\n').find((l) => l.includes('corrupted')));
    return true;
  });
  assert.equal((await stat(seg.file)).size, seg.size, 'nothing was cut');
  v = await runStreamwave(['log', 'verify', '--data-dir', dataDir]);
  assert.equal(v.code, 1, v.stdout + v.stderr);
  assert.match(v.stdout, /\tcorrupted\t0 records\t\d+ bytes at byte 0 \(valid record again at byte \d+\)/);
  console.log(v.stdout.split('\n').filter((l) => /corrupted|CORRUPTED/.test(l)).join('\n'));
});

if (IN_CLUSTER) test('cluster:local: every role\'s ready goes 503 DISK_SPACE_LOW below the free-disk floor and back after a restart; live stays 200', { timeout: 600_000 }, async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-health-ready-'));
  const dataDir = join(tmp, 'cluster');
  target = await startE2eTarget({ dataDir, waitFor: 'live', gateways: 1, env: { STREAMWAVE_MIN_FREE_DISK_BYTES: String(2 ** 52) } });
  for (const role of target.cluster!.roles) {
    assert.deepEqual(await get(`${role.url}/health/live`), { status: 200, body: { status: 'ok' } }, role.label);
    for (const path of ['/health/ready', '/health']) {
      const { status, body } = await get(`${role.url}${path}`);
      assert.equal(status, 503, `${role.label} ${path}`);
      assert.equal(body.status, 'unavailable');
      assert.deepEqual(body.reasons!.map((r) => [r.check, r.code]), [['disk', 'DISK_SPACE_LOW']], `${role.label} ${path}: ${JSON.stringify(body)}`);
      assert.doesNotMatch(JSON.stringify(body), new RegExp(tmp), 'no server path in the public answer');
      console.log(`${role.label} ${path} → ${status} ${body.reasons![0].code}: ${body.reasons![0].message}`);
    }
  }
  await target.stop();
  target = await startE2eTarget({ dataDir: target.dir, gateways: 1 });
  for (const role of target.cluster!.roles) {
    const back = await get(`${role.url}/health/ready`);
    assert.equal(back.status, 200, `${role.label}: ${JSON.stringify(back.body)}`);
    assert.equal(back.body.status, 'ok');
  }
  console.log(`same data dir, default floor: /health/ready → 200 on ${target.cluster!.roles.map((r) => r.label).join(', ')}`);
  await target.stop();
  target = undefined;
});
