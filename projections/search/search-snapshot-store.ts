import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Durable home of an in-memory read model that is persisted whole (the MiniSearch index with its
 * checkpoint): one file replaced atomically (write temp → fsync → rename → fsync directory), so
 * a reader sees either the previous or the new snapshot, never a mix.
 */
export interface SnapshotStore {
  /** The last saved snapshot text, or undefined when none was saved yet. */
  load(): Promise<string | undefined>;
  /** Durable when resolved. */
  save(text: string): Promise<void>;
}

/** File-backed SnapshotStore at `path` (its directory is created if missing). */
export function createFileSnapshotStore(opts: { path: string }): SnapshotStore {
  const { path } = opts;
  return {
    async load() {
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async save(text) {
      const dir = dirname(path);
      await mkdir(dir, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } catch (e) {
        await fh.close();
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
      await fh.close();
      await rename(tmp, path);
      const d = await open(dir, 'r');
      try { await d.sync(); } finally { await d.close(); }
    },
  };
}
