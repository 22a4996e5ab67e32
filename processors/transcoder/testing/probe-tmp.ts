import { probeMedia } from '/work/main/processors/transcoder/ffprobe.ts';
for (const f of process.argv.slice(2)) {
  try { const i = await probeMedia(f); console.log(f, JSON.stringify(i)); } catch (e) { console.log(f, 'ERR', (e as any).code, (e as any).reason ?? (e as Error).message); }
}
