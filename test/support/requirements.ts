/**
 * What a test file needs from the machine (a Kafka broker, FFmpeg, the git history) and what
 * happens when it is missing: a local run skips the suite and says why (the summary table at the
 * end of `npm test` lists every skip with its reason); a CI run (`CI` set and not `false`/`0`)
 * registers a failing test instead, because a suite that cannot run in CI is a broken CI machine,
 * not a pass.
 *
 *   describe('…', { skip: requirement('FFmpeg', await ffmpegMissing()) }, () => { … });
 */
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { test } from 'node:test';
import { resolveFfmpegBinaries } from '../../processors/transcoder/ffmpeg-binaries.ts';

/** True in CI: `CI` is set to anything but `false` or `0` (GitHub Actions, GitLab and `.ci/run` set `CI=true`). */
export const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/**
 * The `skip` option of a suite that needs `what`: `false` when `missing` is undefined (it runs);
 * otherwise a skip reason, and under CI also a failing test named `requires <what>` with the reason.
 * @param what what the suite needs, e.g. `a Kafka broker (Java 17+ and Maven)`
 * @param missing why it is not there (e.g. `java not found`), or undefined when it is
 */
export function requirement(what: string, missing: string | undefined): string | false {
  if (missing === undefined) return false;
  if (IN_CI) {
    // Each test file runs in its own process (node --test), so argv[1] names the file that needs `what`.
    const file = relative(process.cwd(), process.argv[1] ?? '?');
    test(`${file} requires ${what}`, () => {
      assert.fail(`CI=true and ${what} is not available here: ${missing}. A suite that cannot run in CI fails it rather than skipping.`);
    });
  }
  return `${what}: ${missing}`;
}

/** Resolves to true when `cmd args` runs and exits 0. */
export function succeeds(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((res) => execFile(cmd, args, (err) => res(!err)));
}

let ffmpeg: Promise<string | undefined> | undefined;
/** Why FFmpeg/ffprobe cannot run here (not installed, or not runnable), or undefined when both can. Cached per process. */
export function ffmpegMissing(): Promise<string | undefined> {
  ffmpeg ??= (async () => {
    const bins = resolveFfmpegBinaries();
    if (!(await succeeds(bins.ffmpeg, ['-version']))) return `${bins.ffmpeg} does not run (apt-get install ffmpeg)`;
    if (!(await succeeds(bins.ffprobe, ['-version']))) return `${bins.ffprobe} does not run (apt-get install ffmpeg)`;
    return undefined;
  })();
  return ffmpeg;
}
