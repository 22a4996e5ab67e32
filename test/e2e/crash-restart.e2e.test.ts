/**
 * kill -9 of standalone mode at awkward moments (mid-transcode, right after acknowledged writes
 * while projections are still applying them), then a restart on the same data dir: nothing
 * acknowledged is lost, and no read model skips or double-applies an event.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { heartbeat, startPlayback } from '../support/playback.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';
import { makeClip } from '../support/make-media.ts';
import { eventually } from '../support/eventually.ts';

let tmp: string;
let sw: StandaloneProcess | undefined;
after(async () => {
  await sw?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('kill -9 mid-transcode and mid-projection loses nothing and counts nothing twice', async (t) => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-crash-'));
  const dataDir = join(tmp, 'data');
  const env = { STREAMWAVE_UPLOADS_PER_HOUR: '100' };
  sw = await startStandaloneProcess({ dataDir, env });
  const c = new StreamWaveClient(sw.url);
  await c.register('crash', 'crash@example.com', 'crash-password');
  await c.login('crash', 'crash-password');
  const clip = await makeClip(join(tmp, 'clip.mp4'), { seconds: 12, width: 1280, height: 720 });
  const up = await uploadFile(c, clip, { title: 'crash test', resumeFile: join(tmp, 'resume.json') });

  // 1. Crash while the transcoder is working.
  await eventually(() => c.status(up.videoId), (s) => s.status === 'processing' || s.status === 'ready', 'processing started', { retryErrors: true });
  await sw.kill9();
  sw = await startStandaloneProcess({ dataDir, env, port: sw.port });
  const final = await waitForProcessing(c, up.videoId, { timeoutMs: 240_000 });
  assert.equal(final.status, 'ready', final.error ?? '');
  assert.equal(final.progress, 100);
  assert.equal(new Set(final.renditions.map((r) => r.name)).size, final.renditions.length, 'no duplicate rendition');

  // 2. Acknowledged writes, then an immediate crash while projections are still applying them.
  const sessions = 120;
  const comments = 40;
  const playbacks = await Promise.all(Array.from({ length: sessions }, () => startPlayback(c, up.videoId)));
  await Promise.all(playbacks.map((p) => heartbeat(c, p, 11)));
  // Repeated heartbeats must not count twice.
  await Promise.all(playbacks.map((p) => heartbeat(c, p, 12)));
  for (let i = 0; i < comments; i++) await c.postComment(up.videoId, `comment ${i}`);
  await sw.kill9();
  sw = await startStandaloneProcess({ dataDir, env, port: sw.port });

  const detail = await eventually(() => c.video(up.videoId), (d) => d.views === sessions && d.comment_count === comments, 'video detail after restart', { retryErrors: true });
  const a = await eventually(() => c.analytics(up.videoId), (x) => x.views === sessions, 'analytics after restart', { retryErrors: true });
  t.diagnostic(`after kill -9: views ${detail.views}/${sessions}, comments ${detail.comment_count}/${comments}, analytics views ${a.views}, watch time ${a.watch_time_seconds} s`);
  assert.equal(a.watch_time_seconds, sessions * 12);
  assert.equal(a.unique_viewers, 1);
  let listed = 0;
  let cursor: string | undefined;
  do {
    const page = await c.listComments(up.videoId, cursor);
    listed += page.comments.length;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  assert.equal(listed, comments);
});
