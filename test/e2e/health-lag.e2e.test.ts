/**
 * `/health` reports consumer lag from the real wiring (standalone process, embedded log, the six
 * read models and the transcoder): with one transcode at a time, a second upload waits behind the
 * first, and while it provably waits the transcoder's lag is at least 1; once both are ready,
 * every lag (each read model by name, and the transcoder) drains to 0.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamWaveClient } from '../../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../../cli/client/upload-file.ts';
import { READ_MODELS } from '../../projections/read-model.port.ts';
import { makeClip } from '../support/make-media.ts';
import { startStandaloneProcess, type StandaloneProcess } from '../support/standalone-process.ts';

let tmp: string | undefined;
let sw: StandaloneProcess | undefined;
after(async () => {
  await sw?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Health { status: string; lag: Record<string, number> }
const health = async (url: string): Promise<Health> => (await fetch(`${url}/health`)).json() as Promise<Health>;

test('/health: the transcoder lags while an upload waits its turn; every lag drains to 0 after', { timeout: 600_000 }, async (t) => {
  tmp = await mkdtemp(join(tmpdir(), 'sw-health-lag-'));
  sw = await startStandaloneProcess({ dataDir: join(tmp, 'data'), env: { STREAMWAVE_TRANSCODE_CONCURRENCY: '1', STREAMWAVE_UPLOADS_PER_HOUR: '100' } });
  const c = new StreamWaveClient(sw.url);
  await c.register('laggy', 'laggy@example.com', 'laggy-password');
  await c.login('laggy', 'laggy-password');
  const first = await makeClip(join(tmp, 'first.mp4'), { seconds: 12, width: 1280, height: 720 });
  const second = await makeClip(join(tmp, 'second.mp4'), { seconds: 2, width: 320, height: 180 });

  const lagKeys = Object.keys((await health(sw.url)).lag).sort();
  assert.deepEqual(lagKeys, [...READ_MODELS, 'transcoder'].sort(), 'health names every read model and the transcoder');

  const a = await uploadFile(c, first, { title: 'first', resumeFile: join(tmp, 'a.json') });
  const b = await uploadFile(c, second, { title: 'second', resumeFile: join(tmp, 'b.json') });

  // While the second video is still `uploaded` (not yet picked up) after reading /health, it was
  // waiting at that read too (status only moves forward), so its record was behind the transcoder.
  let observedWaiting = 0;
  for (;;) {
    const h = await health(sw.url);
    const [sa, sb] = await Promise.all([c.status(a.videoId), c.status(b.videoId)]);
    if (sb.status !== 'uploaded') break;
    if (sa.status === 'processing') {
      observedWaiting++;
      assert.ok(h.lag.transcoder >= 1, `transcoder lag ${h.lag.transcoder} while ${b.videoId} waits behind ${a.videoId}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(observedWaiting > 0, 'the second upload was seen waiting behind the first (one transcode at a time)');

  for (const id of [a.videoId, b.videoId]) assert.equal((await waitForProcessing(c, id, { timeoutMs: 300_000 })).status, 'ready');
  const deadline = Date.now() + 120_000;
  let h = await health(sw.url);
  while (Object.values(h.lag).some((v) => v !== 0)) {
    if (Date.now() > deadline) assert.fail(`lag never drained: ${JSON.stringify(h.lag)}`);
    await new Promise((r) => setTimeout(r, 200));
    h = await health(sw.url);
  }
  t.diagnostic(`observed the second upload waiting ${observedWaiting} time(s); drained: ${JSON.stringify(h.lag)}`);
  assert.equal(h.status, 'ok');
});
