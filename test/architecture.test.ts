/**
 * The architecture, checked (docs/adr/0003-platform-wing-and-one-write-side.md):
 * - the dependency rules between the wings hold, with no per-path exception (dependency-cruiser,
 *   rules in .dependency-cruiser.cjs);
 * - no source file outside tests and benches is over 400 lines;
 * - the lock file records what every supported platform needs, so `npm ci` works on each;
 * - everything type-checks (tsx runs the tests without checking types, so this is where a type
 *   error or an unused local fails `npm test`; tsconfig.json sets strict and noUnused*).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The source wings (the top-level layout); tests, test helpers and benches are not sources. */
const WINGS = ['domain', 'platform', 'schemas', 'commands', 'processors', 'projections', 'gateway', 'deploy', 'cli'];
const MAX_LINES = 400;
const isSource = (path: string) => /\.(ts|mts|mjs|cjs|js)$/.test(path) && !/\.test\.ts$/.test(path) && !/\.contract\.ts$/.test(path) && !/(^|\/)testing\//.test(path);

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      if (e === 'node_modules' || e.startsWith('.')) continue;
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (isSource(relative(root, p))) out.push(relative(root, p));
    }
  };
  for (const w of WINGS) walk(join(root, w));
  return out.sort();
}

test('dependency rules hold: each wing imports only the wings it may, the gateway through ports, adapters only in composition roots, no cycles', () => {
  let out = '';
  let code = 0;
  try {
    out = execFileSync(process.execPath, [join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'), '--config', '.dependency-cruiser.cjs', '--output-type', 'err', ...WINGS], { cwd: root, encoding: 'utf8' });
  } catch (e) {
    code = (e as { status: number }).status;
    out = String((e as { stdout: string }).stdout);
  }
  assert.equal(code, 0, out);
});

/** Runs tsc with `args`; its exit code and output. */
function tsc(...args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--pretty', 'false', ...args], { cwd: root, encoding: 'utf8' }) };
  } catch (e) {
    return { code: (e as { status: number }).status, out: String((e as { stdout: string }).stdout) };
  }
}

test('the whole project type-checks (tsc --noEmit with tsconfig.json: strict, no unused locals or parameters)', () => {
  const { code, out } = tsc();
  assert.equal(code, 0, out);
});

test('the web app type-checks (gateway/web/tsconfig.json: strict, DOM)', () => {
  const { code, out } = tsc('-p', 'gateway/web');
  assert.equal(code, 0, out);
});

test(`no source file is over ${MAX_LINES} lines (tests and benches aside)`, () => {
  const files = sourceFiles();
  assert.ok(files.length > 100, `found only ${files.length} source files: is the walk right?`);
  const tooLong = files
    .map((f) => ({ f, lines: readFileSync(join(root, f), 'utf8').split('\n').length - 1 }))
    .filter((x) => x.lines > MAX_LINES)
    .map((x) => `${x.f}: ${x.lines} lines`);
  assert.deepEqual(tooLong, []);
});

test('the lock file records every platform package of the native dependencies, so `npm ci` works on each supported platform', () => {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { optionalDependencies?: Record<string, string>; version?: string }> };
  const missing: string[] = [];
  for (const [path, pkg] of Object.entries(lock.packages)) {
    for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
      // Platform packages of native addons (chdb's @chdb/lib-<os>-<cpu>) must all be in the lock.
      if (!/[-/](darwin|linux|win32)-/.test(name)) continue;
      const entry = lock.packages[`node_modules/${name}`] ?? lock.packages[`${path}/node_modules/${name}`];
      if (!entry) missing.push(`${name}@${version} (optional dependency of ${path || 'the root'})`);
    }
  }
  assert.deepEqual(missing, [], 'regenerate the lock on a machine whose registry serves every platform, or add the entries');
});
