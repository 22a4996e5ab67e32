/**
 * Issue 8, finding 3 ("Media limits") end to end, on a real standalone process: hostile sources
 * uploaded together with a normal clip. A 16384-pixel-wide source and a 1000:1 sample aspect ratio
 * end `failed` with RESOLUTION_TOO_HIGH and ASPECT_RATIO_UNSUPPORTED, a 1.3 kB MKV whose two frames
 * are ten hours apart ends in a terminal state (DURATION_TOO_LONG: it claims 36,001 s, over the
 * 6 h limit) instead of a ten-hour encode, and the normal clip reaches `ready`. Every failed
 * status carries a stable code and its fixed sentence, free of server paths. The time each took
 * is printed (the issue wants each within 60 s; printed, not asserted).
 *
 * The same tests run against cluster:local (issue 9) with STREAMWAVE_E2E_TARGET=cluster
 * (`npm run test:cluster`, test/support/e2e-target.ts). The hung-FFmpeg test then starts its own
 * cluster with the hung FFmpeg configured on every role, SIGTERMs the transcoder role (not the whole
 * cluster) and starts a new transcoder process in its place: the job must be redelivered to it
 * through its Kafka consumer group. No test is excluded in cluster mode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { PROCESSING_FAILURE_MESSAGES } from '../../domain/video/processing-failure.ts';
import { startClusterRoleProcess, startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';
import { IN_CLUSTER, startE2eTarget, type E2eTarget } from '../support/e2e-target.ts';
import { makeClip, makeHugeFrames, makeTwoFramesApart } from '../support/make-media.ts';
import { ffmpegMissing, requirement } from '../support/requirements.ts';

const run = promisify(execFile);
const skip = requirement('FFmpeg', await ffmpegMissing());
let sw: E2eTarget | undefined;
let tmp = '';
let client: StreamWaveClient;

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(join(tmpdir(), 'sw-media-limits-'));
  sw = await startE2eTarget({ dataDir: join(tmp, 'data'), env: { STREAMWAVE_UPLOADS_PER_HOUR: '1000', STREAMWAVE_RATE_LIMITS: 'off' } });
  client = new StreamWaveClient(sw.url);
  await client.register('limits', 'limits@example.com', 'limits-password');
  await client.login('limits', 'limits-password');
});
after(async () => {
  await sw?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('hostile sources end failed (or terminal) with a clear code while a normal clip uploaded with them reaches ready', { skip }, async (t) => {
  const f = (name: string) => join(tmp, name);
  const cases = [
    { name: 'huge-16384x16000.mkv', make: () => makeHugeFrames(f('huge-16384x16000.mkv'), 16384, 16000), expect: 'RESOLUTION_TOO_HIGH' },
    { name: 'sar-1000x1.mp4', make: () => makeClip(f('sar-1000x1.mp4'), { seconds: 2, width: 256, height: 144, fps: 10, audio: false, sar: '1000:1' }), expect: 'ASPECT_RATIO_UNSUPPORTED' },
    { name: 'two-frames-ten-hours.mkv', make: () => makeTwoFramesApart(f('two-frames-ten-hours.mkv'), 36000), expect: 'terminal' },
    { name: 'normal.mp4', make: () => makeClip(f('normal.mp4'), { seconds: 4, width: 640, height: 360 }), expect: 'ready' },
  ] as const;
  for (const c of cases) await c.make();
  // The ten-hour file is what the issue describes: ~1.3 kB claiming ~36,001 s.
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,size', '-of', 'json', f('two-frames-ten-hours.mkv')]);
  const claimed = JSON.parse(stdout).format as { duration: string; size: string };
  t.diagnostic(`two-frames-ten-hours.mkv: ${claimed.size} bytes claiming ${Number(claimed.duration).toFixed(0)} s`);
  assert.ok(Number(claimed.duration) > 36000);

  // Upload all of them, then watch them together: the transcoder works through its queue meanwhile.
  const started = Date.now();
  const uploads = [];
  for (const c of cases) {
    const up = await uploadFile(client, f(c.name), { title: c.name, tags: ['limits'], resumeFile: join(tmp, 'resume.json') });
    uploads.push({ c, videoId: up.videoId, uploadedAt: Date.now() });
  }
  const results = await Promise.all(uploads.map(async (u) => {
    const final = await waitForProcessing(client, u.videoId, { timeoutMs: 10 * 60_000, intervalMs: 250 });
    return { ...u, final, seconds: (Date.now() - u.uploadedAt) / 1000 };
  }));
  for (const r of results) {
    t.diagnostic(`${r.c.name}: ${r.final.status}${r.final.error_code ? ` ${r.final.error_code}` : ''} (${r.final.error ?? 'no error'}) in ${r.seconds.toFixed(1)} s after its upload`);
  }
  t.diagnostic(`all four terminal ${((Date.now() - started) / 1000).toFixed(1)} s after the first upload started`);

  for (const { c, final } of results) {
    if (c.expect === 'ready') {
      assert.equal(final.status, 'ready', `${c.name}: ${final.error}`);
      assert.ok(final.renditions.length > 0);
    } else if (c.expect === 'terminal') {
      assert.ok(final.status === 'failed' || final.status === 'ready', `${c.name} ended ${final.status}`);
      if (final.status === 'failed') assert.equal(final.error_code, 'DURATION_TOO_LONG');
    } else {
      assert.equal(final.status, 'failed', `${c.name} ended ${final.status}`);
      assert.equal(final.error_code, c.expect);
      assert.equal(final.error, PROCESSING_FAILURE_MESSAGES[c.expect]);
      assert.deepEqual(final.renditions, []);
    }
    // Finding 10: no server path or stderr on the public status.
    const body = JSON.stringify(final);
    assert.equal(body.includes(tmp), false, `${c.name}: status names a server path`);
    assert.doesNotMatch(body, /\/work\/|ffmpeg|ffprobe|@ 0x/i);
  }
});

if (!IN_CLUSTER) test('a hung FFmpeg does not block shutdown: SIGTERM kills it, the process exits by itself, and the job is redelivered on restart, not failed', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sw-media-hung-'));
  const pidFile = join(dir, 'ffmpeg.pid');
  const hung = join(dir, 'ffmpeg-hung.sh');
  // Deaf to SIGTERM, never ends: only SIGKILL stops it. Time limits are far (120 s floor).
  await writeFile(hung, `#!/bin/sh\ntrap '' TERM\necho $$ > '${pidFile}'\nwhile :; do sleep 1; done\n`);
  await chmod(hung, 0o755);
  const env = { STREAMWAVE_FFMPEG_PATH: hung, STREAMWAVE_TRANSCODE_KILL_GRACE_SECONDS: '1', STREAMWAVE_UPLOADS_PER_HOUR: '1000', STREAMWAVE_RATE_LIMITS: 'off' };
  const dataDir = join(dir, 'data');
  const readPid = async (): Promise<number> => Number(await readFile(pidFile, 'utf8').catch(() => '0')) || 0;
  const waitForPid = async (notPid = 0): Promise<number> => {
    for (;;) {
      const pid = await readPid();
      if (pid && pid !== notPid) return pid;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  let server = await startStandaloneProcess({ dataDir, env });
  try {
    const c = new StreamWaveClient(server.url);
    await c.register('hung', 'hung@example.com', 'hung-password');
    await c.login('hung', 'hung-password');
    const clip = await makeClip(join(dir, 'clip.mp4'), { seconds: 2, width: 320, height: 180, audio: false });
    const up = await uploadFile(c, clip, { title: 'hung', resumeFile: join(dir, 'resume.json') });
    const firstPid = await waitForPid();
    const stopping = Date.now();
    await server.stop();
    t.diagnostic(`SIGTERM → exit in ${((Date.now() - stopping) / 1000).toFixed(1)} s with FFmpeg hung (its time limit: 120 s)`);
    assert.notEqual(server.child.signalCode, 'SIGKILL', 'the server exited by itself, not by the test harness SIGKILL');
    assert.equal(alive(firstPid), false, 'the hung FFmpeg was killed on shutdown');

    server = await startStandaloneProcess({ dataDir, env });
    const secondPid = await waitForPid(firstPid);
    t.diagnostic(`after restart the job was redelivered: FFmpeg started again (pid ${firstPid} → ${secondPid})`);
    const owner = new StreamWaveClient(server.url);
    await owner.login('hung', 'hung-password');
    const status = await owner.status(up.videoId);
    assert.equal(status.status, 'processing', 'an interrupted job is not failed');
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

/** The parent, grandparent, … pids of `pid` (Linux /proc), nearest first. */
async function ancestorsOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (let p = pid; p > 1 && out.length < 20;) {
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(p) || p <= 1) break;
    out.push(p);
  }
  return out;
}

/** A shell script standing in for FFmpeg that ignores SIGTERM and never ends; writes its pid to `pidFile`. */
async function hungFfmpeg(dir: string) {
  const pidFile = join(dir, 'ffmpeg.pid');
  const path = join(dir, 'ffmpeg-hung.sh');
  await writeFile(path, `#!/bin/sh\ntrap '' TERM\necho $$ > '${pidFile}'\nwhile :; do sleep 1; done\n`);
  await chmod(path, 0o755);
  const readPid = async (): Promise<number> => Number(await readFile(pidFile, 'utf8').catch(() => '0')) || 0;
  const waitForPid = async (notPid = 0): Promise<number> => {
    for (;;) {
      const pid = await readPid();
      if (pid && pid !== notPid) return pid;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { path, waitForPid };
}

if (IN_CLUSTER) test('a hung FFmpeg does not block the transcoder role\'s shutdown: SIGTERM kills it, the role exits by itself, and the job is redelivered to a new transcoder, not failed', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sw-media-hung-'));
  const hung = await hungFfmpeg(dir);
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const env = { STREAMWAVE_FFMPEG_PATH: hung.path, STREAMWAVE_TRANSCODE_KILL_GRACE_SECONDS: '1', STREAMWAVE_UPLOADS_PER_HOUR: '1000', STREAMWAVE_RATE_LIMITS: 'off' };
  const target = await startE2eTarget({ dataDir: join(dir, 'cluster'), env, gateways: 1 });
  let replacement: StandaloneProcess | undefined;
  try {
    const cluster = target.cluster!;
    const c = new StreamWaveClient(target.url);
    await c.register('hung', 'hung@example.com', 'hung-password');
    await c.login('hung', 'hung-password');
    const clip = await makeClip(join(dir, 'clip.mp4'), { seconds: 2, width: 320, height: 180, audio: false });
    const up = await uploadFile(c, clip, { title: 'hung', resumeFile: join(dir, 'resume.json') });
    const firstPid = await hung.waitForPid();
    // The transcoder running it (test:cluster runs two: the job's partition picks one).
    const transcoders = cluster.roles.filter((r) => r.role === 'transcoder');
    const ancestors = await ancestorsOf(firstPid);
    const transcoder = transcoders.find((r) => ancestors.includes(r.process.pid!));
    assert.ok(transcoder, `a transcoder runs FFmpeg pid ${firstPid} (ancestors ${ancestors.join(' ')}; transcoders ${transcoders.map((r) => r.process.pid).join(' ')})`);
    const exited = new Promise<void>((r) => transcoder.process.once('exit', () => r()));
    const stopping = Date.now();
    transcoder.process.kill('SIGTERM');
    await exited;
    t.diagnostic(`transcoder role: SIGTERM → exit ${transcoder.process.exitCode ?? transcoder.process.signalCode} in ${((Date.now() - stopping) / 1000).toFixed(1)} s with FFmpeg hung (its time limit: 120 s)`);
    assert.equal(transcoder.process.signalCode, null, 'the transcoder exited by itself, not by a signal');
    assert.equal(alive(firstPid), false, 'the hung FFmpeg was killed on shutdown');

    replacement = await startClusterRoleProcess({
      role: 'transcoder', kafkaBrokers: cluster.roleEnv.STREAMWAVE_KAFKA_BROKERS!, dataDir: join(dir, 'transcoder-2'),
      env: { ...cluster.roleEnv, ...env }, timeoutMs: 180_000,
    });
    const secondPid = await hung.waitForPid(firstPid);
    t.diagnostic(`a new transcoder took the job over: FFmpeg started again (pid ${firstPid} → ${secondPid})`);
    const status = await c.status(up.videoId);
    assert.equal(status.status, 'processing', 'an interrupted job is not failed');
  } finally {
    await replacement?.stop();
    await target.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
