/**
 * Manual check (not a unit test): runs the transcoder on the real wiring (transcoder-world.ts)
 * over real media files, one world per file, then prints what happened per file.
 *
 *   node --import tsx processors/transcoder/testing/run-on-media.ts [--keep] FILE...
 *
 * Each world lives in a temp dir (deleted unless --keep; objects under `<dir>/objects`). Prints:
 * the commands the transcoder sent (progress collapsed), the video's status, the master
 * playlist, and per rendition its segment durations and an ffprobe of its first segment.
 * LOG_LEVEL=debug shows the transcoder's log (FFmpeg command lines included).
 */
import { execFileSync } from 'node:child_process';
import pino from 'pino';
import { resolveFfmpegBinaries } from '../ffmpeg-binaries.ts';
import { hlsKeys } from '../hls-keys.ts';
import { createTranscoderWorld } from './transcoder-world.ts';

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const files = args.filter((a) => !a.startsWith('--'));
const { ffprobe } = resolveFfmpegBinaries();

for (const [i, file] of files.entries()) {
  const world = await createTranscoderWorld({ transcoder: { logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }) } });
  const videoId = `v${i}`;
  await world.upload(videoId, file);
  const uploadCommands = world.sent.length;
  const t0 = performance.now();
  await world.process();
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const video = await world.video(videoId);
  const dead = await world.deadLetters();
  const outcome = `${video.status}${video.errorCode ? ` ${video.errorCode}: ${video.error}` : ''}${dead.length ? ` (dead-lettered ${dead.length}×)` : ''}`;
  console.log(`\n=== ${file} (${seconds} s) ${outcome}`);
  const sent = world.sent.slice(uploadCommands);
  const progress = sent.flatMap((c) => (c.type === 'ReportProcessingProgress' ? [c.data.progress] : []));
  for (const c of sent) {
    if (c.type === 'ReportProcessingProgress') continue;
    if (c.type === 'StartProcessing') console.log(`  StartProcessing ladder=${c.data.ladder.map((r) => `${r.name}:${r.width}x${r.height}`).join(' ')} duration=${c.data.durationSeconds}`);
    else if (c.type === 'RecordRenditionEncoded') console.log(`  RecordRenditionEncoded ${JSON.stringify(c.data.rendition)}`);
    else console.log(`  ${c.type} ${JSON.stringify({ ...c.data, videoId: undefined })}`);
  }
  console.log(`  progress: ${progress.join(',')}`);
  if (await world.objectStore.exists(hlsKeys.master(videoId))) {
    console.log((await world.read(hlsKeys.master(videoId))).toString('utf8').trim().replace(/^/gm, '    '));
    for (const r of video.renditions) {
      const key = (f: string) => hlsKeys.rendition(videoId, r.name, f);
      const playlist = (await world.read(key('index.m3u8'))).toString('utf8');
      const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]).toFixed(2));
      const firstSegment = Buffer.concat([await world.read(key('init.mp4')), await world.read(key('seg-00001.m4s'))]);
      const probe = execFileSync(ffprobe, [
        '-v', 'error', '-show_entries',
        'stream=codec_name,profile,level,width,height,sample_aspect_ratio,channels,sample_rate:stream_side_data=rotation:format_tags',
        '-of', 'compact=p=0', '-',
      ], { input: firstSegment }).toString().trim();
      console.log(`    ${r.name}: EXTINF ${durations.join(' ')} | ${probe.replace(/\n/g, ' | ')}`);
    }
  }
  if (keep) {
    await world.driver.close();
    console.log(`  kept: ${world.dir}`);
  } else {
    await world.close();
  }
}
