/** Helpers of the transcode benchmark: the FFmpeg binaries, a timestamped log, a CPU clock, medians, text tables. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { resolveFfmpegBinaries } from '../../processors/transcoder/ffmpeg-binaries.ts';

/** `execFile` as a promise of `{ stdout, stderr }`. */
export const execFileP = promisify(execFile);
/** The FFmpeg binaries both sides of the benchmark run. */
export const BINARIES = resolveFfmpegBinaries();

const START = performance.now();
/** ms since the benchmark started. */
export const elapsedMs = (): number => performance.now() - START;

/** Prints `msg` with the seconds since the benchmark started. */
export const log = (msg: string): void => {
  const t = (elapsedMs() / 1000).toFixed(1).padStart(6);
  console.log(`[${t}s] ${msg}`);
};
/** ms → seconds with two decimals. */
export const sec = (ms: number): string => (ms / 1000).toFixed(2);

/** Kernel clock ticks per second (`getconf CLK_TCK`), the unit of /proc/<pid>/stat times. */
let clockTicks = 100;

/** Reads the kernel's clock ticks per second (100 when `getconf` is unavailable); call once before measuring. */
export async function readClockTicks(): Promise<void> {
  clockTicks = Number((await execFileP('getconf', ['CLK_TCK']).catch(() => ({ stdout: '100' }))).stdout.trim()) || 100;
}

/**
 * CPU time, ms: this process (user+system) plus every child it has reaped (cutime+cstime from
 * /proc/self/stat, Linux). Children = ffprobe/ffmpeg runs, so this is the work done, which a busy
 * shared machine distorts far less than wall time. NaN where /proc is unavailable.
 */
export function cpuNowMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after "(comm)": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const children = ((Number(f[13]) + Number(f[14])) * 1000) / clockTicks;
    const self = process.cpuUsage();
    return children + (self.user + self.system) / 1000;
  } catch {
    return NaN;
  }
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Left-pads/right-pads cells into an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
