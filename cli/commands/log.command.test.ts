/** `streamwave log verify` as a user runs it: per-partition lines, exit 0 on a torn tail, 1 on mid-log corruption. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLEAN_SHUTDOWN_MARKER, createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const verify = (dataDir: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'log', 'verify', '--data-dir', dataDir], { cwd: root, encoding: 'utf8' });

test('log verify: torn tail → exit 0 with torn-tail; corrupted middle → exit 1 naming the byte offset', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-verify-cli-'));
  try {
    const log = await createEmbeddedEventLog({ dataDir: dir });
    await log.createTopic({ name: 'a', partitions: 1 });
    await log.createTopic({ name: 'b', partitions: 1 });
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [m] = await log.append('b', [{ key: 'k', value: Buffer.from(`v${i}`) }]);
      assert.equal(m.offset, i);
      starts.push((await stat(join(dir, 'log', 'topics', 'b', '0.log'))).size);
    }
    await log.append('a', [{ key: 'k', value: Buffer.from('x') }]);
    await log.close();

    let r = verify(dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^a\/0\tok\t1 records/m);
    assert.match(r.stdout, /^b\/0\tok\t5 records/m);

    await rm(join(dir, 'log', CLEAN_SHUTDOWN_MARKER)); // a crash: no clean marker
    await appendFile(join(dir, 'log', 'topics', 'a', '0.log'), Buffer.alloc(13, 1));
    r = verify(dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^a\/0\ttorn-tail\t1 records/m);

    const fh = await open(join(dir, 'log', 'topics', 'b', '0.log'), 'r+');
    await fh.write(Buffer.from([0xee]), 0, 1, starts[1] + 20); // inside record 2's body
    await fh.close();
    r = verify(dir);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^b/0\\tcorrupted\\t2 records\\t\\d+ bytes at byte ${starts[1]} \\(valid record again at byte ${starts[2]}\\)`, 'm'));
    assert.match(r.stdout, /^CORRUPTED: 1 of 2 partitions/m);
    console.log(r.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
