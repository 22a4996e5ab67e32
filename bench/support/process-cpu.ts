/**
 * Where a benchmark run's CPU went, from Linux's /proc (proc(5)): the machine's busy share and each
 * named process tree's, over a window, so a figure that misses its goal is printed beside whether
 * the machine was saturated and which process used the cores. Elsewhere (no /proc) it reports
 * nothing.
 *
 * Units: `/proc/stat` and `/proc/<pid>/stat` count clock ticks of the same size (USER_HZ), so a
 * tree's share in cores is its ticks over the machine's total ticks per core; no tick size is
 * assumed. The two readers in seconds below (for the benchmarks that print CPU time, not
 * shares) take USER_HZ as {@link USER_HZ}.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A snapshot of CPU counters: the machine's cores, busy and total ticks, and every process's own ticks, parent and start time. */
export interface CpuSnapshot {
  /** The `cpuN` lines of /proc/stat. */
  cores: number;
  busy: number;
  total: number;
  /** pid → [utime + stime ticks, parent pid, start time in ticks since boot (tells a reused pid apart)]. */
  processes: Map<number, [ticks: number, ppid: number, started: number]>;
}

/** A named set of root processes whose trees (the process and its descendants) are counted together, e.g. `{ name: 'gateway', pids: [p1, p2] }`. */
export interface CpuGroup {
  name: string;
  pids: number[];
}

/** The fields of a /proc/<pid>/stat line after the command (which may contain spaces and parentheses). */
function statFields(line: string): string[] {
  return line.slice(line.lastIndexOf(')') + 2).split(' ');
}

/**
 * The clock ticks per second of /proc's CPU counters (USER_HZ, `getconf CLK_TCK`): 100 on every
 * architecture Linux runs Node on (x86-64, arm64; the kernel fixes it for user space, proc(5)).
 */
const USER_HZ = 100;

/** The machine's counters from /proc/stat: its cores (the `cpuN` lines), busy (user + nice + system + irq + softirq + steal) and total ticks over all cores. @throws when /proc/stat cannot be read */
function machineTicks(): { cores: number; busy: number; total: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length;
  return { cores, busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** `[utime + stime ticks, parent pid, start time in ticks since boot]` of a process. @throws when /proc/<pid>/stat cannot be read (the process is gone) */
function processTicks(pid: number | string): [ticks: number, ppid: number, started: number] {
  // After the command: state(0) ppid(1) … utime(11) stime(12) … starttime(19), proc(5) fields 3, 4, 14, 15 and 22.
  const f = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return [Number(f[11]) + Number(f[12]), Number(f[1]), Number(f[19])];
}

/** The CPU time (user + system) a process has used so far, seconds; NaN when /proc/<pid>/stat cannot be read. */
export function processCpuSeconds(pid: number): number {
  try {
    return processTicks(pid)[0] / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

/**
 * The CPU time the whole machine has used so far (every process and the kernel, all cores: user +
 * nice + system + irq + softirq + steal), seconds; undefined where there is no /proc/stat. Minus
 * a process's own CPU time over a window, it shows how much other processes competed with it.
 */
export function machineBusySeconds(): number | undefined {
  try {
    return machineTicks().busy / USER_HZ;
  } catch {
    return undefined;
  }
}

/**
 * Reads the counters now.
 * @returns the snapshot, or undefined where /proc/stat cannot be read (not Linux)
 */
export function cpuSnapshot(): CpuSnapshot | undefined {
  let machine: ReturnType<typeof machineTicks>;
  let names: string[];
  try {
    machine = machineTicks();
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const processes = new Map<number, [number, number, number]>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      processes.set(Number(name), processTicks(name));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return { ...machine, processes };
}

/**
 * One line: the machine's busy cores between two snapshots and each group's, e.g. `1.98 of 2 cores
 * busy: clickhouse 0.51, gateway ×2 0.47, …, the rest 0.14`; "the rest" is the busy time no group
 * holds (the kernel, other processes, processes that ended in between). A process that started
 * after `before` (or whose pid was reused) counts from zero; one that ended before `after` is
 * missing from every tree. A process is counted once, in the first group whose tree reaches it.
 * Groups whose roots are all gone are left out; `×N` counts the roots still running.
 * @returns undefined when either snapshot is missing or no time passed
 */
export function cpuShares(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined, groups: CpuGroup[]): string | undefined {
  if (!before || !after || after.total <= before.total || after.cores < 1) return undefined;
  const cores = after.cores;
  const perCore = (after.total - before.total) / cores;
  const counted = new Set<number>();
  const children = new Map<number, number[]>();
  for (const [pid, [, ppid]] of after.processes) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  const treeTicks = (root: number): number => {
    let ticks = 0;
    for (const stack = [root]; stack.length;) {
      const pid = stack.pop()!;
      if (counted.has(pid)) continue;
      counted.add(pid);
      const now = after.processes.get(pid);
      const then = before.processes.get(pid);
      if (now) ticks += now[0] - (then && then[2] === now[2] ? then[0] : 0);
      stack.push(...(children.get(pid) ?? []));
    }
    return ticks;
  };
  const busy = (after.busy - before.busy) / perCore;
  const shares = groups
    .map((g) => ({ name: g.name, roots: g.pids.filter((p) => after.processes.has(p)) }))
    .filter((g) => g.roots.length > 0)
    .map((g) => ({ label: g.roots.length > 1 ? `${g.name} ×${g.roots.length}` : g.name, cores: g.roots.reduce((n, p) => n + treeTicks(p), 0) / perCore }))
    .sort((a, b) => b.cores - a.cores);
  const rest = Math.max(0, busy - shares.reduce((n, s) => n + s.cores, 0));
  return `${busy.toFixed(2)} of ${cores} cores busy: ${[...shares, { label: 'the rest', cores: rest }].map((s) => `${s.label} ${s.cores.toFixed(2)}`).join(', ')}`;
}
