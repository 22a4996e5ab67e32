#!/usr/bin/env node
// Runs every *.test.ts under the source folders with node's test runner (through tsx).
// `--unit` skips test/e2e and test/integration. Extra args are passed as file filters.
// At the end it prints a table of what ran and what was skipped and why (test/support/summary-reporter.mjs).
// Under CI (`CI` set, not `false`/`0`) a skipped test fails the run: in CI every suite must run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));
const roots = ['domain', 'commands', 'projections', 'processors', 'schemas', 'gateway', 'platform', 'deploy', 'cli', 'test'];
const files = [];
const walk = (dir) => {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.ts')) files.push(p);
  }
};
roots.forEach(walk);
let selected = files.sort();
if (unitOnly) selected = selected.filter((f) => !f.startsWith('test/'));
if (filters.length) selected = selected.filter((f) => filters.some((x) => f.includes(x)));
// Unit tests first, the long end-to-end suite last.
selected.sort((a, b) => Number(a.startsWith('test/')) - Number(b.startsWith('test/')) || a.localeCompare(b));
const summaryDir = mkdtempSync(join(tmpdir(), 'streamwave-test-summary-'));
const summaryFile = join(summaryDir, 'summary.txt');
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=1',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=./test/support/summary-reporter.mjs', `--test-reporter-destination=${summaryFile}`,
  ...selected,
], { stdio: 'inherit' });
let status = r.status ?? 1;
let summary = '';
try { summary = readFileSync(summaryFile, 'utf8'); } catch { summary = '\n(no summary: the test runner wrote none)\n'; }
rmSync(summaryDir, { recursive: true, force: true });
const totals = /^SUMMARY_JSON (.*)$/m.exec(summary);
process.stdout.write(summary.replace(/^SUMMARY_JSON .*\n/m, ''));
const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
if (inCi && totals && JSON.parse(totals[1]).skipped > 0) {
  process.stdout.write('CI: tests were skipped (see the table); in CI every suite must run.\n');
  if (status === 0) status = 1;
}
process.exit(status);
