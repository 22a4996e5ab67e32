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
  await beforeReading(body, mkdir(dirname(path), { recursive: true }));
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
 * Awaits `work` (the reader's set-up: making folders) before anything reads `body`, listening for
 * the body's error meanwhile: an 'error' nobody listens for ends the process, while one stored on
 * the stream is rethrown by the reader's first read (`for await`). When `work` fails, `body` is
 * destroyed and that failure is thrown.
 */
export async function beforeReading<T>(body: Readable, work: Promise<T>): Promise<T> {
  const early = (): void => {};
  body.on('error', early);
  try {
    return await work;
  } catch (err) {
    body.destroy();
    throw err;
  } finally {
    body.off('error', early);
  }
}

/**
 * Opens the local file `path` for reading as a stream: `body` (it closes the file when it ends or
 * is destroyed; the caller destroys it once done, read or not) and `size`, bytes. Opened before it
 * is returned, so a missing or unreadable file is this call's rejection, never an 'error' event
 * that the stream's reader might not be listening for yet (an unhandled one ends the process).
 * @throws the open's error (ENOENT, EACCES…); EISDIR for a folder (it opens, its reads fail)
 */
export async function openFileStream(path: string): Promise<{ body: Readable; size: number }> {
  const file = await open(path);
  try {
    const stat = await file.stat();
    if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: a folder, not a file: ${path}`), { code: 'EISDIR' });
    return { body: file.createReadStream(), size: stat.size };
  } catch (err) {
    await file.close();
    throw err;
  }
}
