/**
 * Waits for a promise at most so long: `p`'s value, or undefined when it rejected or has not
 * settled within `ms` milliseconds (it goes on; nothing cancels it). Never rejects; the timer is
 * cleared as soon as `p` settles, so nothing is left to keep the process alive.
 */
export async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
