/**
 * Opt-in CPU profile of each replay window of bench:replay (replay start → swap), to see what
 * limits a projection's rate: `BENCH_CPU_PROFILE_DIR=/tmp/prof npm run bench:replay` writes
 * `replay-<projection>-<time>.cpuprofile` files (Chrome DevTools opens them). Off by default: the
 * sampling profiler costs a few percent.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
let session: Session | undefined;

/** Starts the profiler when BENCH_CPU_PROFILE_DIR is set. */
export async function profileBegin(): Promise<void> {
  if (!PROFILE_DIR) return;
  session ??= new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}

/** Stops the profiler (if started) and writes `<BENCH_CPU_PROFILE_DIR>/<label>-<time>.cpuprofile`; returns the path. */
export async function profileEnd(label: string): Promise<string | undefined> {
  if (!PROFILE_DIR || !session) return undefined;
  const { profile } = await session.post('Profiler.stop');
  const path = join(PROFILE_DIR, `${label}-${Date.now().toString(36)}.cpuprofile`);
  await writeFile(path, JSON.stringify(profile));
  session.disconnect();
  session = undefined;
  return path;
}
