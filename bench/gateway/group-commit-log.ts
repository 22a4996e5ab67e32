/**
 * An append-only log file with group commit, for the heartbeat baseline of the gateway benchmark
 * (bench/gateway/bare-server.ts): `append(line)` resolves once the line is on disk (fdatasync).
 * One writer loop: take everything pending → one write of the joined lines → one `datasync` →
 * resolve them all; lines appended while that write/fsync is in flight wait in the queue and go
 * together in the next round, so N concurrent appends cost about one fsync, not N.
 */
import { open, type FileHandle } from 'node:fs/promises';

interface Pending { line: string; resolve: () => void; reject: (err: unknown) => void }

export class GroupCommitLog {
  private queue: Pending[] = [];
  private flushing = false;
  /** Lines made durable so far. */
  appends = 0;
  /** Write + fdatasync rounds so far (appends / fsyncs = mean group size). */
  fsyncs = 0;

  private constructor(private readonly file: FileHandle) {}

  /** Opens (creates) `path` for appending. */
  static async open(path: string): Promise<GroupCommitLog> {
    return new GroupCommitLog(await open(path, 'a'));
  }

  /** Appends `line` (a newline is added); resolves once it is fsynced, rejects if the write or fsync failed. */
  append(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line: `${line}\n`, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          // FileHandle.appendFile loops until the whole buffer is written ('a': O_APPEND).
          await this.file.appendFile(Buffer.from(batch.map((p) => p.line).join('')));
          await this.file.datasync();
          this.appends += batch.length;
          this.fsyncs++;
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Waits for the lines already queued, then closes the file. */
  async close(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    await this.file.close();
  }
}
