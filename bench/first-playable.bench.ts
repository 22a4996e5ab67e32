/**
 * Time to first playable through the public API (issue 11): a real standalone server
 * (`streamwave start`, as `npm start` runs it), a real multipart upload of a 1080p clip the bench
 * makes itself, then `GET /api/v1/videos/{id}/status` every 50 ms. Printed per clip, seconds from
 * the moment `POST /uploads/{id}/complete` answered 202: until `ready` (playable: the master is
 * published, every rendition has its first segment) and until every rendition is complete.
 *
 *   npm run bench:first-playable -- [--clips 60,600]
 *
 * Goal: first playable ≤ 3 s for every clip (docs/adr/0007). A benchmark, not a test: exits 0 when
 * the goal is missed. The clips are testsrc2 + a tone (easy to encode compared with camera
 * footage), 1080p30 H.264 at 8 Mbit/s with AAC stereo.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StreamWaveClient } from '../cli/client/streamwave-client.ts';
import { uploadFile, waitForProcessing } from '../cli/client/upload-file.ts';
import { startStandaloneProcess } from '../test/support/standalone-process.ts';
import { BINARIES, execFileP } from './transcode/support.ts';

const GOAL_SECONDS = 3;
const POLL_MS = 50;

/** Makes a `seconds` long 1080p30 clip at `path` (progress on stderr). */
async function makeClip(path: string, seconds: number): Promise<void> {
  process.stderr.write(`making a ${seconds} s 1080p clip…\n`);
  await execFileP(BINARIES.ffmpeg, [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '8M', '-maxrate', '8M', '-bufsize', '16M', '-g', '60',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-shortest', path,
  ], { maxBuffer: 16 * 1024 * 1024 });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clips: { type: 'string', default: '60,600' } } });
  const clips = values.clips!.split(',').map(Number).filter((n) => n > 0);
  const dir = await mkdtemp(join(tmpdir(), 'sw-bench-playable-'));
  const server = await startStandaloneProcess({ dataDir: join(dir, 'data'), timeoutMs: 120_000 });
  const rows: string[][] = [];
  try {
    const client = new StreamWaveClient(server.url);
    await client.register('bench', 'bench@example.org', 'correct horse battery staple');
    await client.login('bench', 'correct horse battery staple');
    for (const seconds of clips) {
      const path = join(dir, `clip-${seconds}s.mp4`);
      await makeClip(path, seconds);
      process.stderr.write(`uploading the ${seconds} s clip…\n`);
      const up = await uploadFile(client, path, { title: `bench ${seconds} s`, resumeFile: join(dir, 'resume.json') });
      const completed = performance.now();
      let ready: number | null = null;
      let lastLog = 0;
      const final = await waitForProcessing(client, up.videoId, {
        intervalMs: POLL_MS,
        timeoutMs: 60 * 60_000,
        onStatus: (s) => {
          const t = (performance.now() - completed) / 1000;
          if (ready === null && s.status === 'ready') ready = t;
          if (t - lastLog >= 10) { lastLog = t; process.stderr.write(`  ${seconds} s clip: ${s.status} ${s.progress}% after ${t.toFixed(0)} s\n`); }
        },
      });
      const total = (performance.now() - completed) / 1000;
      rows.push([`${seconds} s 1080p`, final.status, ready === null ? '–' : (ready as number).toFixed(2), total.toFixed(1),
        ready !== null && (ready as number) <= GOAL_SECONDS ? 'met' : 'missed']);
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const header = ['clip', 'status', 'first playable, s', 'all renditions complete, s', `goal ≤ ${GOAL_SECONDS} s`];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(`\nTime to playable through the public API (standalone, status polled every ${POLL_MS} ms; from the 202 of complete-upload)`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

await main();
