/**
 * Earlier releases of StreamWave, extracted from git, for the upgrade checks: they run an earlier
 * commit standalone on a data dir, then the current code on the same data dir.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { get } from './http-answer.ts';

const run = promisify(execFile);

/** The repository root. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Why commit `sha` cannot be extracted (tarball, shallow clone, no git), or null. */
export function releaseMissing(sha: string): string | null {
  try {
    execFileSync('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${sha}^{commit}`], { stdio: 'ignore' });
    return null;
  } catch {
    return `commit ${sha} (the previous release) is not in the git history at ${REPO_ROOT} (a tarball or a shallow clone?)`;
  }
}

/**
 * Extracts commit `sha` into `<tmp>/previous` (`git archive | tar -x`, in two steps so a failure
 * of either is reported) with this checkout's node_modules linked in; returns that directory.
 */
export async function extractRelease(sha: string, tmp: string): Promise<string> {
  const previous = join(tmp, 'previous');
  await mkdir(previous);
  await run('git', ['-C', REPO_ROOT, 'archive', '--format=tar', '-o', join(tmp, 'previous.tar'), sha]);
  await run('tar', ['-xf', join(tmp, 'previous.tar'), '-C', previous]);
  await symlink(join(REPO_ROOT, 'node_modules'), join(previous, 'node_modules'));
  return previous;
}

/** Every numeric leaf of the health JSON's `lag` object as [path, value]; non-numbers are reported as-is. */
function lagLeaves(v: unknown, path = 'lag'): [string, unknown][] {
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => lagLeaves(x, `${path}.${k}`));
  return [[path, v]];
}

/** Waits until `url`/health is 200 and every consumer lag it reports is 0; fails naming what still lags. */
export async function waitCaughtUp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const h = await get(url, '/health');
      const lags = lagLeaves((h.body as { lag?: unknown }).lag);
      const behind = lags.filter(([, v]) => v !== 0);
      if (h.status === 200 && lags.length > 0 && behind.length === 0) return;
      last = h.status !== 200 ? `HTTP ${h.status}` : behind.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) assert.fail(`${url} not caught up after ${timeoutMs / 1000} s; still lagging: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
