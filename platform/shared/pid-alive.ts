/**
 * True when a process with id `pid` exists on this machine (signal 0, kill(2); EPERM means it
 * exists but belongs to someone else). For lock and temp files left by a process that may have died.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
