/**
 * Manual check (not a unit test): runs the transcoder processor over real media files with the
 * fake object store and a recording command bus, then prints what happened per file.
 *
 *   node --import tsx processors/transcoder/testing/run-on-media.ts [--keep] FILE...
 *
 * Output goes to a temp dir (deleted unless --keep). Prints: the commands sent (progress
 * collapsed), renditions, the master playlist, and an ffprobe of each rendition's first segment.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import pino from 'pino';
import { TOPICS } from '../../../schemas/topics.ts';
import { createJsonEventCodec } from '../../../test/support/json-event-codec.ts';
import { hlsKeys } from '../hls-keys.ts';
import { buildTranscoderProcessor } from '../transcoder.processor.ts';
import { createFsObjectStoreFake, readObjectText } from './fs-object-store.fake.ts';
import { createRecordingCommandBus } from './recording-command-bus.fake.ts';

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const files = args.filter((a) => !a.startsWith('--'));
const codec = createJsonEventCodec();

for (const [i, file] of files.entries()) {
  const root = await mkdtemp(join(tmpdir(), 'sw-transcode-manual-'));
  const store = createFsObjectStoreFake(join(root, 'store'));
  const bus = createRecordingCommandBus();
  const processor = buildTranscoderProcessor({
    commandBus: bus,
    codec,
    objectStore: store,
    workDir: join(root, 'work'),
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  });
  const videoId = `v${i}`;
  await store.putFile(`uploads/${videoId}`, file, 'application/octet-stream');
  const value = await codec.encode(TOPICS.videos, {
    type: 'UploadCompleted',
    data: { videoId, uploadId: 'u', objectKey: `uploads/${videoId}`, sizeBytes: 0, completedAt: 0 },
  });
  const t0 = performance.now();
  let outcome = 'ok';
  try {
    await processor.handle({ topic: TOPICS.videos, partition: 0, offset: i, key: videoId, value, headers: {}, timestamp: 0 });
  } catch (err) {
    outcome = `THROWN ${(err as Error).name}: ${(err as Error).message}`;
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`\n=== ${file} (${seconds} s) ${outcome}`);
  const progress = bus.commands.filter((c) => c.type === 'ReportProcessingProgress').map((c) => (c.data as { progress: number }).progress);
  for (const c of bus.commands) {
    if (c.type === 'ReportProcessingProgress') continue;
    const d = c.data as Record<string, unknown>;
    if (c.type === 'StartProcessing') console.log(`  StartProcessing ladder=${(d.ladder as { name: string; width: number; height: number }[]).map((r) => `${r.name}:${r.width}x${r.height}`).join(' ')} duration=${d.durationSeconds}`);
    else if (c.type === 'RecordRenditionEncoded') console.log(`  RecordRenditionEncoded ${JSON.stringify(d.rendition)}`);
    else console.log(`  ${c.type} ${JSON.stringify({ ...d, videoId: undefined })}`);
  }
  console.log(`  progress: ${progress.join(',')}`);
  if (await store.exists(hlsKeys.master(videoId))) {
    console.log((await readObjectText(store, hlsKeys.master(videoId))).trim().replace(/^/gm, '    '));
    for (const c of bus.effective.filter((x) => x.type === 'RecordRenditionEncoded')) {
      const r = (c.data as { rendition: { name: string } }).rendition.name;
      const playlist = await readObjectText(store, hlsKeys.rendition(videoId, r, 'index.m3u8'));
      const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]).toFixed(2));
      const seg = store.pathOf(hlsKeys.rendition(videoId, r, 'seg-00001.m4s'));
      const init = store.pathOf(hlsKeys.rendition(videoId, r, 'init.mp4'));
      const probe = execFileSync('sh', ['-c', `cat "${init}" "${seg}" | ffprobe -v error -show_entries stream=codec_name,profile,level,width,height,sample_aspect_ratio,channels,sample_rate:stream_side_data=rotation:format_tags -of compact=p=0 -`]).toString().trim();
      console.log(`    ${r}: EXTINF ${durations.join(' ')} | ${probe.replace(/\n/g, ' | ')}`);
    }
  }
  if (keep) console.log(`  kept: ${root}`);
  else await rm(root, { recursive: true, force: true });
}
