/**
 * `npm run cluster:local` (issue 9): cluster mode on this machine, in one command. Starts the
 * servers (Kafka, Redis, ClickHouse, Typesense, SeaweedFS) with the scripts beside this file, then
 * one process per role (`streamwave run registry|projector|transcoder|gateway`), each with its own
 * data directory (no role reads another's files), secrets and server addresses from the
 * environment as on separate machines. The gateway serves the public API on STREAMWAVE_PORT
 * (default 8080). Ctrl-C (SIGINT) or SIGTERM stops the roles, then the servers.
 *
 * Data lives under `STREAMWAVE_DATA_DIR` (default ./data/cluster-local): `servers/<name>/`,
 * `roles/<role>/`, and `secrets.env` (generated once, mode 0600, so tokens survive a restart).
 *
 * Environment: STREAMWAVE_PORT (gateway, default 8080); CLUSTER_LOCAL_PORT_BASE (default 19000:
 * the servers and the other roles take the ports from there up); CLUSTER_LOCAL_GATEWAYS (default 1:
 * more gateways on the ports after STREAMWAVE_PORT); CLUSTER_LOCAL_PROJECTORS, CLUSTER_LOCAL_TRANSCODERS (default 1).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const log = pino({ name: 'cluster:local', transport: undefined });

/** One server started by its script: key=value lines of its `start` output (pid=…, url=…, bootstrap=…). */
interface StartedServer { name: string; info: Record<string, string>; stop(): Promise<void> }

/** The secrets every role shares (ROLE_SECRETS in deploy/cluster/roles.ts), created once. */
function loadOrCreateSecrets(file: string): Record<string, string> {
  if (existsSync(file)) {
    return Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
  const s = () => randomBytes(48).toString('base64url');
  const secrets = {
    STREAMWAVE_JWT_SECRET: s(), STREAMWAVE_PRESIGN_SECRET: s(), STREAMWAVE_CURSOR_SECRET: s(), STREAMWAVE_MEDIA_URL_SECRET: s(),
    STREAMWAVE_PLAYBACK_SECRET: s(), STREAMWAVE_ADMIN_TOKEN: s(), STREAMWAVE_SCHEMA_REGISTRY_PASSWORD: s(),
    TYPESENSE_API_KEY: s(), S3_ACCESS_KEY_ID: `sw${randomBytes(8).toString('hex')}`, S3_SECRET_ACCESS_KEY: s(),
  };
  writeFileSync(file, Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  return secrets;
}

/** Runs `bash deploy/local/<script> <args>`; resolves with the key=value lines it printed. */
function script(name: string, args: string[], timeoutMs = 20 * 60_000, env: Record<string, string> = {}): Promise<Record<string, string>> {
  return new Promise((res, rej) => {
    const child = execFile('bash', [join(HERE, name), ...args], { timeout: timeoutMs, maxBuffer: 8 << 20, env: { ...process.env, ...env } }, (err, stdout) => {
      if (err) rej(new Error(`${name} ${args.join(' ')} failed: ${err.message}`));
      else res(Object.fromEntries(stdout.split('\n').filter((l) => /^[a-z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
    });
    // Fetch progress (downloads, the SeaweedFS build) goes to stderr: pass it through.
    child.stderr?.pipe(process.stderr);
  });
}

async function startServer(name: string, file: string, port: number, dir: string, extra: string[] = [], env: Record<string, string> = {}): Promise<StartedServer> {
  log.info({ server: name }, `fetching ${name} (first run downloads or builds it)`);
  await script(file, ['fetch']);
  log.info({ server: name, port }, `starting ${name}`);
  const info = await script(file, ['start', '--port', String(port), '--dir', dir, ...extra], 5 * 60_000, env);
  log.info({ server: name, ...info }, `${name} is up`);
  return { name, info, stop: async () => { await script(file, ['stop', '--dir', dir], 120_000).catch((err: unknown) => log.warn({ err, server: name }, 'stop failed')); } };
}

/** `streamwave run <role>` as a child process; its output is prefixed with the role. */
function startRole(role: string, env: Record<string, string>, label: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), 'run', role], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).map((l) => `[${label}] ${l}\n`).join('');
  child.stdout!.on('data', (c: Buffer) => process.stdout.write(prefix(c)));
  child.stderr!.on('data', (c: Buffer) => process.stderr.write(prefix(c)));
  child.on('exit', (code, signal) => { if (!stopping) log.error({ role: label, code, signal }, 'role exited'); });
  return child;
}

async function waitHealthy(url: string, label: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/health/live`);
      if (r.ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${label} did not become live at ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

let stopping = false;

async function main(): Promise<void> {
  const dataDir = resolve(process.env.STREAMWAVE_DATA_DIR ?? join(ROOT, 'data', 'cluster-local'));
  const gatewayPort = Number(process.env.STREAMWAVE_PORT ?? 8080);
  const base = Number(process.env.CLUSTER_LOCAL_PORT_BASE ?? 19000);
  const count = (v: string | undefined) => Math.max(1, Number(v ?? 1) || 1);
  const gateways = count(process.env.CLUSTER_LOCAL_GATEWAYS);
  mkdirSync(join(dataDir, 'servers'), { recursive: true });
  const secrets = loadOrCreateSecrets(join(dataDir, 'secrets.env'));
  const servers: StartedServer[] = [];
  const roles: ChildProcess[] = [];

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping the roles, then the servers');
    await Promise.all(roles.map((c) => new Promise<void>((res) => {
      if (c.exitCode !== null || c.signalCode !== null) return res();
      c.once('exit', () => res());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 40_000).unref();
    })));
    for (const s of servers.reverse()) await s.stop();
    log.info('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    const dir = (n: string) => join(dataDir, 'servers', n);
    servers.push(await startServer('kafka', 'kafka.sh', base, dir('kafka')));
    servers.push(await startServer('redis', 'redis.sh', base + 1, dir('redis'), ['--aof']));
    servers.push(await startServer('clickhouse', 'clickhouse.sh', base + 2, dir('clickhouse')));
    servers.push(await startServer('typesense', 'typesense.sh', base + 3, dir('typesense'), [], { TYPESENSE_API_KEY: secrets.TYPESENSE_API_KEY! }));
    servers.push(await startServer('seaweedfs', 'seaweedfs.sh', base + 4, dir('seaweedfs'), ['--access-key', secrets.S3_ACCESS_KEY_ID!, '--secret-key', secrets.S3_SECRET_ACCESS_KEY!]));
    const info = Object.fromEntries(servers.map((s) => [s.name, s.info]));
    const { TYPESENSE_API_KEY, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, ...roleSecrets } = secrets;
    const registryPort = base + 10;
    const common: Record<string, string> = {
      ...roleSecrets,
      STREAMWAVE_HOST: '127.0.0.1',
      STREAMWAVE_KAFKA_BROKERS: info.kafka!.bootstrap!,
      STREAMWAVE_SCHEMA_REGISTRY_URL: `http://127.0.0.1:${registryPort}`,
      STREAMWAVE_REDIS_URL: info.redis!.url!,
      STREAMWAVE_CLICKHOUSE_URL: info.clickhouse!.url!,
      STREAMWAVE_TYPESENSE_URL: info.typesense!.url!,
      STREAMWAVE_TYPESENSE_API_KEY: TYPESENSE_API_KEY!,
      STREAMWAVE_S3_ENDPOINT: info.seaweedfs!.endpoint ?? info.seaweedfs!.url!,
      STREAMWAVE_S3_ACCESS_KEY_ID: S3_ACCESS_KEY_ID!,
      STREAMWAVE_S3_SECRET_ACCESS_KEY: S3_SECRET_ACCESS_KEY!,
      STREAMWAVE_PUBLIC_URL: process.env.STREAMWAVE_PUBLIC_URL ?? `http://127.0.0.1:${gatewayPort}`,
    };
    const plan: Array<{ role: string; label: string; port: number }> = [{ role: 'registry', label: 'registry', port: registryPort }];
    for (let i = 0; i < count(process.env.CLUSTER_LOCAL_PROJECTORS); i++) plan.push({ role: 'projector', label: `projector-${i + 1}`, port: base + 20 + i });
    for (let i = 0; i < count(process.env.CLUSTER_LOCAL_TRANSCODERS); i++) plan.push({ role: 'transcoder', label: `transcoder-${i + 1}`, port: base + 40 + i });
    for (let i = 0; i < gateways; i++) plan.push({ role: 'gateway', label: `gateway-${i + 1}`, port: gatewayPort + i });
    for (const p of plan) {
      const roleDir = join(dataDir, 'roles', p.label);
      mkdirSync(roleDir, { recursive: true });
      log.info({ role: p.label, port: p.port }, `starting ${p.label}`);
      roles.push(startRole(p.role, { ...common, STREAMWAVE_PORT: String(p.port), STREAMWAVE_DATA_DIR: roleDir }, p.label));
      // The registry first: the others register their schemas with it on start.
      if (p.role === 'registry') await waitHealthy(`http://127.0.0.1:${p.port}`, p.label);
    }
    await Promise.all(plan.map((p) => waitHealthy(`http://127.0.0.1:${p.port}`, p.label)));
    const lines = [
      'StreamWave cluster:local is up',
      ...servers.map((s) => `  ${s.name.padEnd(11)} ${Object.entries(s.info).map(([k, v]) => `${k}=${v}`).join(' ')}`),
      ...plan.map((p) => `  ${p.label.padEnd(11)} http://127.0.0.1:${p.port}`),
      `  API:        http://127.0.0.1:${gatewayPort}/api/v1 (docs at /docs); admin token in ${join(dataDir, 'secrets.env')}`,
      'Ctrl-C stops everything.',
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } catch (err) {
    log.error({ err }, 'cluster:local could not start');
    await shutdown(1);
  }
}

void main();
