/**
 * Local file streams: a body that fails before anyone reads it (its file is gone, as a
 * transcoder's segment deleted under the uploader) is the call's rejection, never an unhandled
 * 'error' event that ends the process.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openFileStream, writeStreamToFile } from './file-streams.ts';

const code = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => (e as NodeJS.ErrnoException).code);

describe('file streams', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sw-file-streams-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('openFileStream: given a file, its size and its bytes; given no file, ENOENT at once', async () => {
    const body = Buffer.from('segment bytes');
    await writeFile(join(dir, 'seg.m4s'), body);
    const file = await openFileStream(join(dir, 'seg.m4s'));
    assert.equal(file.size, body.length);
    const chunks: Buffer[] = [];
    for await (const c of file.body) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), body);
    assert.equal(await code(openFileStream(join(dir, 'gone.m4s'))), 'ENOENT');
    assert.equal(await code(openFileStream(dir)), 'EISDIR');
  });

  test('writeStreamToFile: a body whose file is gone while the folders are being made rejects ENOENT and leaves nothing', async () => {
    const target = join(dir, 'deep', 'er', 'still', 'out.bin');
    assert.equal(await code(writeStreamToFile(createReadStream(join(dir, 'gone.m4s')), target)), 'ENOENT');
    assert.deepEqual(await readdir(join(dir, 'deep', 'er', 'still')), []);
    await writeStreamToFile(createReadStream(Buffer.from(join(dir, 'seg.m4s'))), target);
    assert.equal(await readFile(target, 'utf8'), 'segment bytes');
  });
});
