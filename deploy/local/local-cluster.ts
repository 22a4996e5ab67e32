/**
 * Cluster mode on one machine (issue 9), the engine of `npm run cluster:local` and of the tests
 * that run against it: starts the servers (Kafka, Redis, ClickHouse, Typesense, SeaweedFS) with the
 * scripts beside this file, then one process per role (`streamwave run registry|projector|
 * transcoder|gateway`), each with its own data directory (no role reads another's files) and with
 * its secrets and server addresses in its environment, as on separate machines.
 *
 * Layout under `dataDir`: `servers/<name>/` (each server's data and logs), `roles/<label>/` (each
 * role's scratch dir and `role.log`), `secrets.env` (generated once, mode 0600, so tokens and
 * server credentials survive a restart of the cluster).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { pino } from 'pino';
import { generateClusterSecrets } from '../cluster/role-support.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

/**
 * A TCP port free on 127.0.0.1 right now, from 20000–32767: below Linux's ephemeral range
 * (32768–60999), so no outgoing connection can hold it between this probe and the server's bind,
 * nor later. A server restarted on its port (a broker killed and started again) would otherwise
 * find it taken by a client's reconnect, whose source port the kernel picked from that range (seen
 * in CI: "port … is already in use"). deploy/local/lib.sh's free_port uses the same range.
 * @throws Error when 200 random picks are all taken
 */
export async function freePort(): Promise<number> {
  const bindable = (port: number) => new Promise<boolean>((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port in 20000-32767');
}

/** The servers in start order, with their script under deploy/local/. */
export const LOCAL_SERVERS = ['kafka', 'redis', 'clickhouse', 'typesense', 'seaweedfs'] as const;
export type LocalServer = (typeof LOCAL_SERVERS)[number];

export interface LocalClusterOptions {
  /** Absolute directory for the servers' data, the roles' scratch dirs and the secrets. */
  dataDir: string;
  /** Port of the first gateway; further gateways take the ports `port()` hands out. */
  gatewayPort: number;
  /** Hands out a free TCP port on 127.0.0.1 for each server and role. */
  port: () => Promise<number>;
  /** Replicas per scalable role (default 1 each). The registry is single-writer: always one. */
  gateways?: number;
  /** Command processors (ADR 0006): the group spreads the commands partitions. */
  commandProcessors?: number;
  projectors?: number;
  transcoders?: number;
  /** Extra `STREAMWAVE_*` variables for every role (e.g. `STREAMWAVE_RATE_LIMITS=off` in tests). */
  env?: Record<string, string>;
  /** Roles' stdout/stderr: `inherit` prefixes each line with the role and writes it to this process's output; `file` (default) only to `roles/<label>/role.log`. */
  roleOutput?: 'inherit' | 'file';
  logger: pino.Logger;
}

/** A role process of the local cluster. */
export interface LocalRole {
  label: string;
  role: 'registry' | 'commands' | 'projector' | 'transcoder' | 'gateway';
  url: string;
  process: ChildProcess;
  /** `roles/<label>/role.log`. */
  logFile: string;
}

export interface LocalCluster {
  /** The gateways' base URLs (the public API), first = `gatewayPort`. */
  gatewayUrls: string[];
  roles: LocalRole[];
  /** key=value lines each server's `start` printed (url=, bootstrap=, pid=, …). */
  servers: Record<LocalServer, Record<string, string>>;
  /** The `STREAMWAVE_*` environment every role got (secrets included: keep it to the test or the operator). */
  roleEnv: Record<string, string>;
  /** Stops the roles (SIGTERM, SIGKILL after 40 s), then the servers. Idempotent. */
  stop(): Promise<void>;
}

/** The secrets every role shares (generateClusterSecrets) plus the servers' credentials, created once. */
function loadOrCreateSecrets(file: string): Record<string, string> {
  if (existsSync(file)) {
    return Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
  const secrets = {
    ...generateClusterSecrets(),
    TYPESENSE_API_KEY: randomBytes(48).toString('base64url'),
    S3_ACCESS_KEY_ID: `SW${randomBytes(9).toString('hex').toUpperCase()}`,
    S3_SECRET_ACCESS_KEY: randomBytes(30).toString('hex'),
  };
  writeFileSync(file, Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  return secrets;
}

/**
 * Runs `bash deploy/local/<name>.sh <args>` and resolves with its stdout.
 * @param opts.timeoutMs the script is killed after this long (ms); `env` is added to this process's;
 *   `progress` receives its stderr as it runs (fetch progress); `maxBuffer` caps stdout/stderr (bytes, default 8 MiB)
 * @throws Error `<name>.sh <args> failed: <reason>` with the tail of its stderr, on a non-zero exit or the timeout
 */
export function runLocalScript(name: string, args: string[], opts: { timeoutMs: number; env?: Record<string, string>; progress?: NodeJS.WritableStream; maxBuffer?: number }): Promise<string> {
  return new Promise((res, rej) => {
    const child = execFile('bash', [join(HERE, `${name}.sh`), ...args], { timeout: opts.timeoutMs, maxBuffer: opts.maxBuffer ?? 8 << 20, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${name}.sh ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-4000)}`));
      else res(stdout);
    });
    if (opts.progress) child.stderr?.pipe(opts.progress, { end: false });
  });
}

/** The `key=value` lines a script printed (`pid=…`, `url=…`, `bootstrap=…`), by key. */
export function scriptFields(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.split('\n').filter((l) => /^[a-z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

const script = async (name: LocalServer, args: string[], opts: Parameters<typeof runLocalScript>[2]) => scriptFields(await runLocalScript(name, args, opts));

/** Resolves once GET `${url}/health/live` answers 200; rejects when `child` exits first or after `timeoutMs`. */
async function waitLive(url: string, child: ChildProcess, label: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited (${child.exitCode ?? child.signalCode}) before it was live`);
    try {
      if ((await fetch(`${url}/health/live`)).ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${label} was not live at ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A listener on 127.0.0.1:`port` that keeps others from taking it, or undefined when it is taken already. */
function holdPort(port: number): Promise<ReturnType<typeof createServer> | undefined> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(undefined));
    srv.listen(port, '127.0.0.1', () => res(srv));
  });
}

/** `waitLive` for `r`; on failure the error carries the tail of the role's log (why it exited: a taken port, a server not reachable, …). */
async function waitLiveWithTail(r: LocalRole, timeoutMs: number): Promise<void> {
  await waitLive(r.url, r.process, r.label, timeoutMs).catch((err: Error) => {
    const tail = existsSync(r.logFile) ? readFileSync(r.logFile, 'utf8').slice(-3000) : '';
    throw new Error(`${err.message}\n--- ${r.logFile} (tail) ---\n${tail}`);
  });
}

/**
 * Starts the servers, then the roles (registry first: the others register their schemas with it),
 * and resolves once every role answers `/health/live`. On failure everything started is stopped.
 * @throws Error naming the server script or role that failed (with the tail of its output).
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const log = opts.logger;
  mkdirSync(join(opts.dataDir, 'servers'), { recursive: true });
  const secrets = loadOrCreateSecrets(join(opts.dataDir, 'secrets.env'));
  const started: Array<{ name: LocalServer; dir: string }> = [];
  const roles: LocalRole[] = [];
  let stopping: Promise<void> | undefined;

  const stop = () => (stopping ??= (async () => {
    await Promise.all(roles.map((r) => new Promise<void>((res) => {
      const c = r.process;
      if (c.exitCode !== null || c.signalCode !== null) return res();
      c.once('exit', () => res());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 40_000).unref();
    })));
    for (const s of started.reverse()) {
      await script(s.name, ['stop', '--dir', s.dir], { timeoutMs: 120_000 }).catch((err: unknown) => log.warn({ err, server: s.name }, 'server stop failed'));
    }
  })());

  // The caller chose the first gateway's port before any server ran; the servers' scripts pick
  // their internal ports from the same range, so it is held until that role starts (CI saw a
  // gateway exit with EADDRINUSE on a port Kafka or SeaweedFS had taken meanwhile).
  const held = await holdPort(opts.gatewayPort);
  try {
    const servers = {} as Record<LocalServer, Record<string, string>>;
    const serverEnv: Partial<Record<LocalServer, Record<string, string>>> = {
      typesense: { TYPESENSE_API_KEY: secrets.TYPESENSE_API_KEY! },
      seaweedfs: { SEAWEEDFS_ACCESS_KEY: secrets.S3_ACCESS_KEY_ID!, SEAWEEDFS_SECRET_KEY: secrets.S3_SECRET_ACCESS_KEY! },
    };
    for (const name of LOCAL_SERVERS) {
      const dir = join(opts.dataDir, 'servers', name);
      log.info({ server: name }, `fetching ${name} (the first run downloads or builds it)`);
      await script(name, ['fetch'], { timeoutMs: 30 * 60_000, progress: process.stderr });
      const port = await opts.port();
      log.info({ server: name, port }, `starting ${name}`);
      // Redis with the append-only file fsynced on every write: a read model's checkpoint must survive a Redis restart.
      const extra = name === 'redis' ? ['--aof'] : [];
      servers[name] = await script(name, ['start', '--port', String(port), '--dir', dir, ...extra], { timeoutMs: 5 * 60_000, env: serverEnv[name] });
      started.push({ name, dir });
      log.info({ server: name, ...servers[name] }, `${name} is up`);
    }

    const registryPort = await opts.port();
    const s3 = servers.seaweedfs;
    const roleEnv: Record<string, string> = {
      ...Object.fromEntries(Object.entries(secrets).filter(([k]) => k.startsWith('STREAMWAVE_'))),
      STREAMWAVE_HOST: '127.0.0.1',
      STREAMWAVE_KAFKA_BROKERS: servers.kafka.bootstrap!,
      STREAMWAVE_SCHEMA_REGISTRY_URL: `http://127.0.0.1:${registryPort}`,
      STREAMWAVE_REDIS_URL: servers.redis.url!,
      STREAMWAVE_CLICKHOUSE_URL: servers.clickhouse.url!,
      STREAMWAVE_TYPESENSE_URL: servers.typesense.url!,
      STREAMWAVE_TYPESENSE_API_KEY: secrets.TYPESENSE_API_KEY!,
      STREAMWAVE_S3_ENDPOINT: s3.url!,
      STREAMWAVE_S3_ACCESS_KEY_ID: s3.access_key_id ?? secrets.S3_ACCESS_KEY_ID!,
      STREAMWAVE_S3_SECRET_ACCESS_KEY: s3.secret_access_key ?? secrets.S3_SECRET_ACCESS_KEY!,
      ...(s3.region && { STREAMWAVE_S3_REGION: s3.region }),
      STREAMWAVE_PUBLIC_URL: `http://127.0.0.1:${opts.gatewayPort}`,
      ...opts.env,
    };

    const plan: Array<{ role: LocalRole['role']; label: string; port: number }> = [{ role: 'registry', label: 'registry', port: registryPort }];
    const n = (v: number | undefined) => Math.max(1, v ?? 1);
    for (let i = 0; i < n(opts.commandProcessors); i++) plan.push({ role: 'commands', label: `commands-${i + 1}`, port: await opts.port() });
    for (let i = 0; i < n(opts.projectors); i++) plan.push({ role: 'projector', label: `projector-${i + 1}`, port: await opts.port() });
    for (let i = 0; i < n(opts.transcoders); i++) plan.push({ role: 'transcoder', label: `transcoder-${i + 1}`, port: await opts.port() });
    for (let i = 0; i < n(opts.gateways); i++) plan.push({ role: 'gateway', label: `gateway-${i + 1}`, port: i === 0 ? opts.gatewayPort : await opts.port() });

    await new Promise<void>((res) => (held ? held.close(() => res()) : res()));
    for (const p of plan) {
      const roleDir = join(opts.dataDir, 'roles', p.label);
      mkdirSync(roleDir, { recursive: true });
      const logFile = join(roleDir, 'role.log');
      const out = createWriteStream(logFile, { flags: 'a' });
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), 'run', p.role], {
        cwd: ROOT, env: { ...process.env, ...roleEnv, STREAMWAVE_PORT: String(p.port), STREAMWAVE_DATA_DIR: roleDir }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.pipe(out, { end: false });
        if (opts.roleOutput === 'inherit') stream.on('data', (c: Buffer) => process.stdout.write(c.toString().split('\n').filter(Boolean).map((l) => `[${p.label}] ${l}\n`).join('')));
      }
      child.on('exit', (code, signal) => { if (!stopping) log.error({ role: p.label, code, signal, logFile }, 'role exited'); });
      const role: LocalRole = { label: p.label, role: p.role, url: `http://127.0.0.1:${p.port}`, process: child, logFile };
      roles.push(role);
      log.info({ role: p.label, url: role.url }, `starting ${p.label}`);
      if (p.role === 'registry') await waitLiveWithTail(role, 180_000);
    }
    await Promise.all(roles.map((r) => waitLiveWithTail(r, 300_000)));
    return { gatewayUrls: roles.filter((r) => r.role === 'gateway').map((r) => r.url), roles, servers, roleEnv, stop };
  } catch (err) {
    held?.close(() => undefined); // still open when a server failed to start
    await stop();
    throw err;
  }
}
