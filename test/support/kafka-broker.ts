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
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirement } from './requirements.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KAFKA_SCRIPT = join(ROOT, 'deploy/local/kafka.sh');
const LIBS = join(ROOT, 'deploy/local/.kafka/libs');

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

const run = (args: string[], timeoutMs: number) => new Promise<string>((res, rej) => {
  execFile('bash', [KAFKA_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
    if (err) rej(new Error(`kafka.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
    else res(stdout);
  });
});

const succeeds = (cmd: string, args: string[]) => new Promise<boolean>((res) => {
  execFile(cmd, args, { timeout: 30_000 }, (err) => res(!err));
});

let missing: Promise<string | undefined> | undefined;

/**
 * Why a broker cannot run here (`java` does not run; the jars are not fetched and `mvn` cannot
 * fetch them; `STREAMWAVE_SKIP_KAFKA=1`), or undefined when it can. Cached per process.
 */
export function kafkaMissing(): Promise<string | undefined> {
  if (process.env.STREAMWAVE_SKIP_KAFKA === '1') return Promise.resolve('STREAMWAVE_SKIP_KAFKA=1 is set');
  missing ??= (async () => {
    if (!(await succeeds('java', ['-version']))) return 'java does not run (Java 17+ needed)';
    if (existsSync(LIBS) && readdirSync(LIBS).some((f) => f.startsWith('.fetched-'))) return undefined;
    if (!(await succeeds('mvn', ['-v']))) return 'the Kafka jars are not fetched and mvn does not run';
    return undefined;
  })();
  return missing;
}

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

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

const livePids = new Set<number>();
let hooked = false;
const hookExit = () => {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pid of livePids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
  });
};

/**
 * Starts a broker (fetching the jars first if needed; the first fetch takes ~10 s plus download).
 * @throws Error with the script's stderr (and the broker's log tail) when it cannot start.
 */
export async function startKafkaBroker(opts: { dir?: string } = {}): Promise<KafkaBroker> {
  const ownDir = !opts.dir;
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'streamwave-kafka-'));
  hookExit();
  await run(['fetch'], 600_000);
  let port = 0;
  let out = '';
  // A free port can be taken between the probe and the bind; retry a few times.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      out = await run(['start', '--port', String(port), '--dir', dir], 180_000);
      break;
    } catch (e) {
      if (attempt >= 2) {
        if (ownDir) await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  const parse = (text: string) => {
    const pid = Number(/^pid=(\d+)$/m.exec(text)?.[1]);
    const bootstrap = /^bootstrap=(\S+)$/m.exec(text)?.[1];
    if (!pid || !bootstrap) throw new Error(`unexpected kafka.sh output: ${text}`);
    return { pid, bootstrap };
  };
  const first = parse(out);
  livePids.add(first.pid);
  const broker: KafkaBroker = {
    bootstrap: first.bootstrap,
    pid: first.pid,
    dir,
    async stop() {
      await run(['stop', '--dir', dir], 60_000);
      livePids.delete(broker.pid);
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
    async restart({ signal = 'SIGTERM' } = {}) {
      if (signal === 'SIGKILL') {
        try { process.kill(broker.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      // After a SIGKILL this only waits for the pid to be gone and removes the pid file.
      await run(['stop', '--dir', dir], 60_000);
      livePids.delete(broker.pid);
      const next = parse(await run(['start', '--port', String(port), '--dir', dir], 180_000));
      broker.pid = next.pid;
      livePids.add(next.pid);
    },
  };
  return broker;
}
