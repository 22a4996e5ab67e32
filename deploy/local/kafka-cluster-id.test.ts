/**
 * deploy/local/kafka.sh formats a new broker's storage with a random cluster id. An id starting
 * with '-' is read by kafka-storage's argument parser as an option ("--cluster-id/-t: expected one
 * argument") and the broker does not start: seen in `npm run test:cluster` (issue 9). 3,000 ids
 * drawn from the script's own function: none starts with '-' (before the fix about 47 would),
 * each is 22 URL-safe base64 characters (16 bytes, as `kafka-storage random-uuid` prints).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'kafka.sh');

test('kafka.sh random_cluster_id never starts with "-" and is 22 URL-safe base64 characters', async () => {
  // Only the function, not the script's command dispatch.
  const { stdout } = await promisify(execFile)('bash', ['-c', `source <(sed -n '/^random_cluster_id()/,/^}/p' "$0"); for i in $(seq 1 3000); do random_cluster_id; done`, SCRIPT]);
  const ids = stdout.trim().split('\n');
  assert.equal(ids.length, 3000);
  assert.deepEqual(ids.filter((id) => id.startsWith('-')), []);
  assert.deepEqual(ids.filter((id) => !/^[A-Za-z0-9_-]{22}$/.test(id)), []);
});
