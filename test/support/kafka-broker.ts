/**
 * A real single-node Apache Kafka broker (KRaft) for tests, driven through
 * `deploy/local/kafka.sh` (which fetches the jars from Maven Central on first use).
 *
 *   const skip = await kafkaRequirement();   // once per file, at module level
 *   test('…', { skip }, async () => {
 *     const broker = await startKafkaBroker();
 *   ... new Kafka({ brokers: [broker.bootstrap] }) ...
 *   await broker.stop();
 *
 * Each broker listens on a free 127.0.0.1 port and keeps its data in `dir` (a fresh temp dir by
 * default, removed by `stop()`). If the test process exits without `stop()`, an exit hook
 * SIGKILLs the broker's pid so no JVM outlives the test run.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { missingCheck, scriptPath, scriptRunner, startLocalServer } from './local-server.ts';
import { requirement } from './requirements.ts';

export { freePort } from './local-server.ts';

export const KAFKA_SCRIPT = scriptPath('kafka');
const LIBS = join(dirname(KAFKA_SCRIPT), '.kafka/libs');

export interface KafkaBroker {
  /** `127.0.0.1:<port>`. */
  bootstrap: string;
  /** Pid of the broker JVM (changes on `restart`). */
  pid: number;
  /** Data directory (server.properties, log dirs, logs/server.log). */
  dir: string;
  /** Stops the broker (SIGTERM, SIGKILL after 30 s) and removes `dir` when it was a temp dir. */
  stop(): Promise<void>;
  /**
   * Stops and starts the same broker: same port, same data and cluster id (broker-restart tests).
   * `signal` 'SIGTERM' (default) is a clean shutdown; 'SIGKILL' kills the JVM outright (a crash:
   * no flush, no clean-shutdown marker, so the broker runs log recovery on start).
   */
  restart(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

const succeeds = (cmd: string, args: string[]) => new Promise<boolean>((res) => {
  execFile(cmd, args, { timeout: 30_000 }, (err) => res(!err));
});

/**
 * Why a broker cannot run here (`java` does not run; the jars are not fetched and `mvn` cannot
 * fetch them; `STREAMWAVE_SKIP_KAFKA=1`), or undefined when it can. Cached per process.
 */
export const kafkaMissing: () => Promise<string | undefined> = missingCheck('STREAMWAVE_SKIP_KAFKA', async () => {
  if (!(await succeeds('java', ['-version']))) return 'java does not run (Java 17+ needed)';
  if (existsSync(LIBS) && readdirSync(LIBS).some((f) => f.startsWith('.fetched-'))) return undefined;
  if (!(await succeeds('mvn', ['-v']))) return 'the Kafka jars are not fetched and mvn does not run';
  return undefined;
});

/** True when a broker can run here (see `kafkaMissing`). */
export async function kafkaAvailable(): Promise<boolean> {
  return (await kafkaMissing()) === undefined;
}

/**
 * The `skip` option for a test or suite that needs a broker: see test/support/requirements.ts
 * (skips locally with the reason; under CI registers a failing test). Call once per test file.
 */
export async function kafkaRequirement(): Promise<string | false> {
  return requirement('a Kafka broker (Java 17+ and Maven)', await kafkaMissing());
}

/**
 * Starts a broker (fetching the jars first if needed; the first fetch takes ~10 s plus download).
 * @throws Error with the script's stderr (and the broker's log tail) when it cannot start.
 */
export async function startKafkaBroker(opts: { dir?: string } = {}): Promise<KafkaBroker> {
  const server = await startLocalServer({
    name: 'kafka', run: scriptRunner('kafka'), keys: ['bootstrap'], dir: opts.dir,
    fetchTimeoutMs: 600_000, startTimeoutMs: 180_000,
  });
  return Object.assign(server, { bootstrap: server.fields.bootstrap });
}
