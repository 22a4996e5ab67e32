/**
 * A request's child logger made only when something is logged (issue 12). Fastify gives every
 * request `logger.child({ reqId })`; with pino and its redaction that costs about 1.4 µs, a
 * twentieth of a cached detail read, for a logger most requests never use (request logging is
 * off, see gateway/app.ts). `lazyChildLoggerFactory` is Fastify's `childLoggerFactory` option:
 * it returns a stand-in that makes the real child on the first enabled log call, `child()` or
 * level change, so a line logged through it is the line the real child would have written.
 */
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

type LogArgs = [unknown, ...unknown[]];

/** See the file comment. Logs exactly like `parent.child(bindings, options)`. */
export class LazyChildLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The real child, made once. */
  private get real(): Logger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  /** The effective level: the child's once made, else the route's level option, else the parent's. */
  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  /** Whether a line at `level` would be written (pino's `isLevelEnabled`), without making the child. */
  isLevelEnabled(level: Level): boolean {
    if (this.made) return this.made.isLevelEnabled(level);
    const values = this.parent.levels.values;
    const v = values[level];
    return v !== undefined && v >= (values[this.level] ?? 0);
  }

  private write(level: Level, args: LogArgs): void {
    if (!this.isLevelEnabled(level)) return;
    (this.real[level] as (...a: LogArgs) => void)(...args);
  }

  fatal(...args: LogArgs): void { this.write('fatal', args); }
  error(...args: LogArgs): void { this.write('error', args); }
  warn(...args: LogArgs): void { this.write('warn', args); }
  info(...args: LogArgs): void { this.write('info', args); }
  debug(...args: LogArgs): void { this.write('debug', args); }
  trace(...args: LogArgs): void { this.write('trace', args); }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.real.child(bindings, options);
  }
}

/**
 * Fastify's `childLoggerFactory` (same arguments): a LazyChildLogger over `logger`.
 * Fastify calls it with `this` bound to the server; it is not used.
 */
export function lazyChildLoggerFactory(logger: unknown, bindings: Bindings, options: ChildLoggerOptions): LazyChildLogger {
  return new LazyChildLogger(logger as Logger, bindings, options);
}
