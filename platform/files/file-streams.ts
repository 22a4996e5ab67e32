import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { discardWriteStream } from '../object-store/s3-rules.ts';

/**
 * Writes `body` to the local file `path` (parent directories created) through a temp file
 * `<path>.<random>.part` renamed into place, so a reader never sees a partial file and a failed
 * download leaves nothing behind. Backpressure is respected (waits for `drain`).
 * @throws whatever reading `body` or writing the file raises; the temp file is removed and `body`
 *         destroyed first.
 */
export async function writeStreamToFile(body: Readable, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.part`;
  const out = createWriteStream(tmp, { flags: 'wx' });
  try {
    for await (const chunk of body) {
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    await rename(tmp, path);
  } catch (err) {
    await discardWriteStream(out);
    body.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Opens the local file `path` for reading as a stream: `body` (it closes the file when it ends or
 * is destroyed; the caller destroys it once done, read or not) and `size`, bytes. Opened before it
 * is returned, so a missing or unreadable file is this call's rejection, never an 'error' event
 * that the stream's reader might not be listening for yet (an unhandled one ends the process).
 * @throws the open's error (ENOENT, EACCES…)
 */
export async function openFileStream(path: string): Promise<{ body: Readable; size: number }> {
  const file = await open(path);
  try {
    const { size } = await file.stat();
    return { body: file.createReadStream(), size };
  } catch (err) {
    await file.close();
    throw err;
  }
}
