/** Helpers of the transcode benchmark: the FFmpeg binaries, a timestamped stderr log, a CPU clock, an FFmpeg spawn with progress, medians, text tables. */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { parseStatsTime } from '../../processors/transcoder/ffmpeg-runner.ts';
import { resolveFfmpegBinaries } from '../../processors/transcoder/ffmpeg-binaries.ts';
import { median, table } from '../support/table.ts';

/** Shared with the other benchmarks (bench/support/table.ts). */
export { median, table };

/** `execFile` as a promise of `{ stdout, stderr }`. */
export const execFileP = promisify(execFile);
/** The FFmpeg binaries both sides of the benchmark run. */
export const BINARIES = resolveFfmpegBinaries();

const START = performance.now();
/** ms since the benchmark started. */
export const elapsedMs = (): number => performance.now() - START;

/** Prints a progress line on stderr with the seconds since the benchmark started (stdout holds the report). */
export const log = (msg: string): void => {
  const t = (elapsedMs() / 1000).toFixed(1).padStart(7);
  console.error(`[${t}s] ${msg}`);
};
/** ms → seconds with two decimals. */
export const sec = (ms: number): string => (ms / 1000).toFixed(2);

/** The 1-minute load average, two decimals. */
export const load1 = (): string => loadavg()[0]!.toFixed(2);

/** Seconds between two progress lines of a long run. */
const TICK_MS = 10_000;

/**
 * Logs `<what>: <elapsed> s elapsed<status()>` every 10 s until the returned function is called
 * (the timer does not keep the process alive).
 */
export function ticker(what: string, status: () => string = () => ''): () => void {
  const t0 = performance.now();
  const timer = setInterval(() => log(`  … ${what}: ${Math.round((performance.now() - t0) / 1000)} s elapsed${status()}, load ${load1()}`), TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Kernel clock ticks per second (`getconf CLK_TCK`), the unit of /proc/<pid>/stat times. */
let clockTicks = 100;

/** Reads the kernel's clock ticks per second (100 when `getconf` is unavailable); call once before measuring. */
export async function readClockTicks(): Promise<void> {
  clockTicks = Number((await execFileP('getconf', ['CLK_TCK']).catch(() => ({ stdout: '100' }))).stdout.trim()) || 100;
}

/** CPU time so far, ms, split into this node process and the children it has reaped. */
export interface CpuTime {
  /** This process, every thread (user+system, `process.cpuUsage()`). */
  self: number;
  /** Every child process waited for (cutime+cstime of /proc/self/stat, i.e. getrusage(RUSAGE_CHILDREN)). */
  children: number;
}

/**
 * CPU time now (see CpuTime). The one clock both sides of the benchmark are measured with: a
 * child counts once it has exited and been reaped (node reaps before its `exit` event), so a
 * delta around whole runs is exact; NaN where /proc is unavailable. Children = ffprobe/ffmpeg
 * runs, so this is the work done, which a busy shared machine distorts far less than wall time.
 */
export function cpuNow(): CpuTime {
  const self = process.cpuUsage();
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after "(comm)": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { self: (self.user + self.system) / 1000, children: ((Number(f[13]) + Number(f[14])) * 1000) / clockTicks };
  } catch {
    return { self: (self.user + self.system) / 1000, children: NaN };
  }
}

/** `b − a`, field by field. */
export const cpuSince = (a: CpuTime, b: CpuTime = cpuNow()): CpuTime => ({ self: b.self - a.self, children: b.children - a.children });

/** self + children, ms. */
export const cpuTotal = (c: CpuTime): number => c.self + c.children;

/**
 * Runs ffmpeg with a plain spawn (stdout ignored); `onTime` receives the output time reached,
 * seconds, from its stats lines. Resolves with the wall time, ms. @throws Error on a non-zero exit
 */
export function spawnFfmpeg(argv: string[], onTime?: (seconds: number) => void): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const t = performance.now();
    const child = spawn(BINARIES.ffmpeg, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-4000);
      if (!onTime) return;
      const lines = (partial + text).split(/[\r\n]/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const s = parseStatsTime(line);
        if (s !== null) onTime(s);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t;
      if (code === 0) resolvePromise(ms);
      else reject(new Error(`ffmpeg exited ${code ?? signal}: ${tail.split('\n').filter((l) => l && !/^\s*frame=/.test(l)).slice(-5).join(' | ')}`));
    });
  });
}

