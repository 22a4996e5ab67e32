/**
 * Checks shared by the deploy files' tests (deploy/compose/compose.test.ts, deploy/k8s/k8s.test.ts):
 * the environment a deploy file hands one role must start that role — the same checks
 * `startRole` makes before it connects anywhere (deploy/cluster/roles.ts), plus the servers each
 * role uses in cluster mode and the variables loadConfig knows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VARIABLES, loadConfig, type StreamWaveConfig } from '../config/config.ts';
import { CLUSTER_ROLES, missingReadModelServers, ROLE_SECRETS, secretsFromDataDirOf, type ClusterRole } from '../cluster/role-support.ts';

/** The roles a deployment runs as separate processes (`all` is the one-process trial mode). */
export type SplitRole = Exclude<ClusterRole, 'all'>;
export const SPLIT_ROLES = CLUSTER_ROLES.filter((r): r is SplitRole => r !== 'all');

/**
 * The servers each role works with in cluster mode (issue 9): the projector writes the read models
 * (Redis, ClickHouse, Typesense), the gateways read them and hand out S3 URLs, the transcoder reads
 * sources from and writes renditions to S3, the command processors' upload reaper aborts abandoned
 * multipart uploads on S3, the registry needs Kafka only.
 */
export const ROLE_SERVERS: Record<SplitRole, ReadonlyArray<keyof StreamWaveConfig['servers']>> = {
  registry: [],
  commands: ['s3'],
  projector: ['redisUrl', 'clickhouse', 'typesense'],
  transcoder: ['s3'],
  gateway: ['redisUrl', 'clickhouse', 'typesense', 's3'],
};

/**
 * What is wrong with `env` as the whole environment of `role` (empty: it would start): unknown
 * `STREAMWAVE_*` variables (a typo is silently ignored by loadConfig), a value loadConfig refuses,
 * a secret of ROLE_SECRETS left to the data dir, missing servers, no brokers or registry URL, a
 * listen address other than all interfaces (probes and peers come from outside the container).
 */
export function roleEnvProblems(role: SplitRole, env: Record<string, string>): string[] {
  const problems: string[] = [];
  const known = new Set(CONFIG_VARIABLES);
  for (const k of Object.keys(env)) {
    if (k.startsWith('STREAMWAVE_') && !known.has(k)) problems.push(`${k} is not a StreamWave variable (deploy/config/config.ts)`);
  }
  for (const s of ROLE_SECRETS[role]) if (!env[s]) problems.push(`secret ${s} is not set (ROLE_SECRETS.${role})`);
  // loadConfig creates the data dir: point it at a temp dir, whatever the deploy file says.
  const dataDir = mkdtempSync(join(tmpdir(), `streamwave-deploy-${role}-`));
  try {
    let config: StreamWaveConfig;
    try {
      config = loadConfig({ ...env, STREAMWAVE_DATA_DIR: dataDir });
    } catch (e) {
      return [...problems, `loadConfig refuses it: ${(e as Error).message}`];
    }
    const fromDisk = secretsFromDataDirOf(role, config);
    if (fromDisk.length) problems.push(`secrets would come from the data dir: ${fromDisk.join(', ')}`);
    const missing = missingReadModelServers(role, config);
    if (missing.length) problems.push(`read-model servers incomplete (SERVERS_INCOMPLETE): also set ${missing.join(', ')}`);
    for (const s of ROLE_SERVERS[role]) if (config.servers[s] === undefined) problems.push(`server ${s} is not configured`);
    if (config.kafkaBrokers.length === 0) problems.push('STREAMWAVE_KAFKA_BROKERS is not set');
    if (role !== 'registry' && !config.schemaRegistryUrl) problems.push('STREAMWAVE_SCHEMA_REGISTRY_URL is not set');
    if (config.host !== '0.0.0.0' && config.host !== '::') problems.push(`STREAMWAVE_HOST is ${config.host}: probes and peers cannot reach the role`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return problems;
}

/** The listen port loadConfig would use for `env` (STREAMWAVE_PORT, default 8080). */
export function rolePort(env: Record<string, string>): number {
  return Number(env.STREAMWAVE_PORT ?? 8080);
}

/** Secret values of the example files: placeholders only, never something that looks real. */
export const PLACEHOLDER = /^replace-me/;
