/**
 * In-process mutual exclusion by name, for the renames that commit an object or change an upload.
 * Module-level, so two store instances over the same folder in one process (the gateway's and a
 * test's) still agree; other processes are not excluded.
 */
const locks = new Map<string, Promise<void>>();

/** Runs `fn` once every earlier holder of `name` has finished; returns what `fn` returns. */
export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(name) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = previous.then(() => mine);
  locks.set(name, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (locks.get(name) === tail) locks.delete(name);
  }
}
