/** Runs dependency-cruiser over the sources: domain/ stays pure, the gateway uses ports only, no cycles. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('dependency rules hold (domain pure, gateway through ports, no cycles)', () => {
  let out = '';
  let code = 0;
  try {
    out = execFileSync(process.execPath, [join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'), '--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'domain', 'commands', 'projections', 'processors', 'schemas', 'gateway', 'platform', 'deploy', 'cli'], { cwd: root, encoding: 'utf8' });
  } catch (e) {
    code = (e as { status: number }).status;
    out = String((e as { stdout: string }).stdout);
  }
  assert.equal(code, 0, out);
});
