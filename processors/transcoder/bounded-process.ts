/**
 * A child process with bounds (issue 8, finding 3 "Media limits"): a wall-clock time limit, a
 * stall limit (no progress for too long), an optional address-space cap through util-linux
 * `prlimit --as`, and an abort signal (the processor runtime's, on shutdown). When a bound is hit
 * the child gets SIGTERM, then SIGKILL after a grace period, and the promise rejects with a
 * `BoundedProcessError` saying which bound it was. FFmpeg and ffprobe are run through it.
 *
 * On Linux the child also dies with its parent: it is started through util-linux
 * `setpriv --pdeathsig KILL` (prctl PR_SET_PDEATHSIG), so a transcoder killed with SIGKILL (or by
 * the OOM killer) leaves no FFmpeg behind, burning CPU and disk (each attempt of a job has a working
 * folder of its own, platform/files/attempt-folder.ts, so such an orphan never writes into the
 * folder of the job's next attempt).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Why a bounded process did not succeed. */
export type BoundedProcessFailure =
  /** The wall-clock time limit passed. */
  | 'timeout'
  /** No progress for longer than the stall limit. */
  | 'stalled'
  /** The caller's abort signal fired (e.g. shutdown). */
  | 'aborted'
  /** It exited with a non-zero code. */
  | 'exit'
  /** It was killed by a signal it was not sent by us (e.g. SIGKILL from the kernel's OOM killer). */
  | 'signal'
  /** It could not be started (ENOENT, EACCES…). */
  | 'spawn';

/** A bounded process failed; `kind` says how. */
export class BoundedProcessError extends Error {
  constructor(
    readonly kind: BoundedProcessFailure,
    message: string,
    /** Last lines of stderr (diagnostics for the structured log only: may hold server paths). */
    readonly stderrTail: string,
    readonly details: { exitCode?: number | null; signal?: NodeJS.Signals | null; spawnCode?: string; limitMs?: number } = {},
  ) {
    super(message);
    this.name = 'BoundedProcessError';
  }
}

/** Options of `runBounded`; durations in milliseconds, sizes in bytes. */
export interface BoundedProcessOptions {
  /** Wall-clock limit; none when absent. */
  timeoutMs?: number;
  /** Longest time without progress (see `isProgress`); none when absent. */
  stallMs?: number;
  /** Which stderr lines count as progress for the stall limit; default every line. */
  isProgress?: (line: string) => boolean;
  /** Time between SIGTERM and SIGKILL when a bound is hit. Default 5000. */
  killGraceMs?: number;
  /** Aborting kills the child (SIGTERM then SIGKILL) and rejects with kind `aborted`. */
  signal?: AbortSignal;
  /** Address-space cap (`prlimit --as`), bytes; ignored when `prlimitPath` is null/absent. */
  memoryLimitBytes?: number;
  /** Path of util-linux `prlimit`, from `findPrlimit()`; null: no memory cap. */
  prlimitPath?: string | null;
  /** Every stderr line as it arrives. */
  onStderrLine?: (line: string) => void;
  /** Lines of stderr kept for diagnostics. Default 30. */
  tailLines?: number;
  /** Collect stdout and return it (ffprobe's JSON). Default false (ignored). */
  captureStdout?: boolean;
  /** Stdout bytes kept when captured; more is an `exit` failure. Default 16 MiB. */
  maxStdoutBytes?: number;
}

/**
 * The `prlimit` binary that caps FFmpeg's address space at `memoryLimitBytes` (bytes; 0: no cap,
 * hence null): `configured` when given (null: none), else `findPrlimit()`.
 */
export function prlimitFor(memoryLimitBytes: number, configured?: string | null): string | null {
  if (memoryLimitBytes <= 0) return null;
  return configured === undefined ? findPrlimit() : configured;
}

/** Finds util-linux `prlimit` (`/usr/bin/prlimit`, `/bin/prlimit`); null when absent (macOS…). */
export function findPrlimit(): string | null {
  return findUtilLinux('prlimit');
}

let setpriv: string | null | undefined;
/**
 * Finds util-linux `setpriv` (`/usr/bin/setpriv`, `/bin/setpriv`) that can set a parent-death
 * signal, tried once (`setpriv --pdeathsig KILL -- true` must exit 0: an old util-linux or
 * BusyBox build refuses the option, and a refused one would fail every run, hence every upload);
 * null when absent or refusing (macOS…: there a child may outlive a parent killed with SIGKILL).
 */
export function findSetpriv(): string | null {
  if (setpriv === undefined) {
    const found = findUtilLinux('setpriv');
    setpriv = found && setsParentDeathSignal(found) ? found : null;
  }
  return setpriv;
}

/** Whether the `setpriv` at `path` runs a program with `--pdeathsig KILL` (exits 0 running `true`). */
export function setsParentDeathSignal(path: string): boolean {
  return spawnSync(path, ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

function findUtilLinux(name: string): string | null {
  for (const p of [`/usr/bin/${name}`, `/bin/${name}`]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/**
 * The exit statuses of a util-linux wrapper (`setpriv`, `prlimit`) that could not execute the
 * program it was given (its errexec(): 127 when the program is missing, 126 otherwise), with
 * `<wrapper>: failed to execute <program>: <reason>` as a line of its stderr.
 */
const WRAPPER_EXEC_FAILED: Record<number, string> = { 127: 'ENOENT', 126: 'EACCES' };
const WRAPPER_EXEC_FAILED_LINE = /^(?:setpriv|prlimit): failed to execute .*$/m;

/**
 * The program and arguments that run `command args` under the caps of `opts`: through `prlimit
 * --as` for a memory cap, and through `setpriv --pdeathsig KILL` (outermost, so the signal is set
 * before anything else runs; Linux keeps it across the exec of prlimit and of the command, which
 * are neither set-user-ID nor file-capability binaries). The parent-death signal follows the
 * thread that spawned the child: Node spawns from its main thread, which lives as long as the
 * process (runBounded is not meant for worker threads).
 */
function wrapped(command: string, args: readonly string[], opts: BoundedProcessOptions): [string, string[]] {
  let argv = [command, ...args];
  if (opts.prlimitPath && opts.memoryLimitBytes && opts.memoryLimitBytes > 0) {
    argv = [opts.prlimitPath, `--as=${Math.floor(opts.memoryLimitBytes)}`, '--', ...argv];
  }
  const setprivPath = findSetpriv();
  if (setprivPath) argv = [setprivPath, '--pdeathsig', 'KILL', '--', ...argv];
  return [argv[0]!, argv.slice(1)];
}

/**
 * Runs `command args` within the bounds of `opts`; resolves with the captured stdout ('' unless
 * `captureStdout`) when it exits 0.
 * @throws BoundedProcessError (kind timeout, stalled, aborted, exit, signal or spawn). The child has
 *   exited by the time it rejects (after SIGKILL at worst), so no process is left behind.
 */
export function runBounded(command: string, args: readonly string[], opts: BoundedProcessOptions = {}): Promise<string> {
  const grace = opts.killGraceMs ?? 5_000;
  const tailMax = opts.tailLines ?? 30;
  const maxStdout = opts.maxStdoutBytes ?? 16 * 1024 * 1024;
  const [file, argv] = wrapped(command, args, opts);
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new BoundedProcessError('aborted', `${command} not started: aborted`, ''));
      return;
    }
    const child = spawn(file, argv, { stdio: ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'] });
    const tail: string[] = [];
    let partial = '';
    let stdout = '';
    let stdoutBytes = 0;
    let bound: { kind: 'timeout' | 'stalled' | 'aborted' | 'exit'; message: string; limitMs?: number } | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let stallTimer: NodeJS.Timeout | undefined;

    const stop = (kind: 'timeout' | 'stalled' | 'aborted' | 'exit', message: string, limitMs?: number): void => {
      if (bound || child.exitCode !== null || child.signalCode !== null) return;
      bound = { kind, message, limitMs };
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), grace);
    };
    const armStall = (): void => {
      if (!opts.stallMs) return;
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => stop('stalled', `${command} made no progress for ${opts.stallMs} ms`, opts.stallMs), opts.stallMs);
    };
    const timeoutTimer = opts.timeoutMs
      ? setTimeout(() => stop('timeout', `${command} exceeded its time limit of ${opts.timeoutMs} ms`, opts.timeoutMs), opts.timeoutMs)
      : undefined;
    const onAbort = (): void => stop('aborted', `${command} killed: aborted`);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    armStall();

    const line = (l: string): void => {
      if (!l.trim()) return;
      // FFmpeg's stats lines are progress, not diagnostics: kept out of the tail.
      if (!/^\s*(frame|size)=/.test(l)) {
        tail.push(l);
        if (tail.length > tailMax) tail.shift();
      }
      if (!opts.isProgress || opts.isProgress(l)) armStall();
      opts.onStderrLine?.(l);
    };
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      // FFmpeg ends its stats lines with \r, other lines with \n.
      const parts = (partial + chunk).split(/\r\n|\r|\n/);
      partial = parts.pop() ?? '';
      for (const p of parts) line(p);
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdoutBytes += Buffer.byteLength(chunk);
      if (stdoutBytes > maxStdout) stop('exit', `${command} wrote more than ${maxStdout} bytes to stdout`);
      else stdout += chunk;
    });

    let spawnError: (Error & { code?: string }) | null = null;
    child.once('error', (err: Error & { code?: string }) => {
      spawnError = err;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timeoutTimer);
      clearTimeout(stallTimer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (partial) line(partial);
      const stderrTail = tail.join('\n');
      const wrapperFailed = file !== command && code !== null && WRAPPER_EXEC_FAILED[code] ? WRAPPER_EXEC_FAILED_LINE.exec(stderrTail) : null;
      if (wrapperFailed) spawnError = Object.assign(new Error(wrapperFailed[0]), { code: WRAPPER_EXEC_FAILED[code!] });
      if (spawnError) {
        reject(new BoundedProcessError('spawn', `${command} could not be started: ${spawnError.message}`, stderrTail, { spawnCode: spawnError.code }));
      } else if (bound) {
        reject(new BoundedProcessError(bound.kind, bound.message, stderrTail, { exitCode: code, signal, limitMs: bound.limitMs }));
      } else if (signal) {
        reject(new BoundedProcessError('signal', `${command} was killed with signal ${signal}`, stderrTail, { signal }));
      } else if (code !== 0) {
        reject(new BoundedProcessError('exit', `${command} exited with code ${code}`, stderrTail, { exitCode: code }));
      } else {
        resolve(stdout);
      }
    });
  });
}
