#!/usr/bin/env node
// Runs every *.test.ts under the source folders with node's test runner (through tsx).
// `--unit` skips test/e2e and test/integration. Extra args are passed as file filters.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
