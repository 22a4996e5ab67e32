/**
 * `npm run cluster:local` (issue 9): cluster mode on this machine in one command — Kafka, Redis,
 * ClickHouse, Typesense and SeaweedFS, then one process per role (deploy/local/local-cluster.ts).
 * The gateway serves the public API of standalone mode on STREAMWAVE_PORT (default 8080).
 * Ctrl-C (SIGINT) or SIGTERM stops the roles, then the servers.
 *
 * Environment: STREAMWAVE_PORT (first gateway, default 8080); STREAMWAVE_DATA_DIR (default
 * ./data/cluster-local); CLUSTER_LOCAL_GATEWAYS, CLUSTER_LOCAL_COMMAND_PROCESSORS, CLUSTER_LOCAL_PROJECTORS,
 * CLUSTER_LOCAL_TRANSCODERS (replicas, default 1 each); CLUSTER_LOCAL_QUIET=1 keeps role output in
 * `roles/<role>/role.log` only. Any other STREAMWAVE_* variable set here reaches every role.
 */
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { freePort, startLocalCluster, type LocalCluster } from './local-cluster.ts';

const logger = pino({ name: 'cluster:local' });

async function main(): Promise<void> {
  const dataDir = resolve(process.env.STREAMWAVE_DATA_DIR ?? join('data', 'cluster-local'));
  const count = (v: string | undefined) => Math.max(1, Number(v ?? 1) || 1);
  const passThrough = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('STREAMWAVE_') && !['STREAMWAVE_DATA_DIR', 'STREAMWAVE_PORT'].includes(k))) as Record<string, string>;
  let cluster: LocalCluster | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping the roles, then the servers');
    await cluster?.stop();
    logger.info('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    cluster = await startLocalCluster({
      dataDir,
      gatewayPort: Number(process.env.STREAMWAVE_PORT ?? 8080),
      port: freePort,
      gateways: count(process.env.CLUSTER_LOCAL_GATEWAYS),
      commandProcessors: count(process.env.CLUSTER_LOCAL_COMMAND_PROCESSORS),
      projectors: count(process.env.CLUSTER_LOCAL_PROJECTORS),
      transcoders: count(process.env.CLUSTER_LOCAL_TRANSCODERS),
      env: passThrough,
      roleOutput: process.env.CLUSTER_LOCAL_QUIET === '1' ? 'file' : 'inherit',
      logger,
    });
  } catch (err) {
    logger.error({ err }, 'cluster:local could not start');
    process.exit(1);
  }
  const pad = (s: string) => s.padEnd(12);
  process.stdout.write([
    '',
    'StreamWave cluster:local is up',
    ...Object.entries(cluster.servers).map(([name, info]) => `  ${pad(name)} ${Object.entries(info).filter(([k]) => !/secret|api_key/.test(k)).map(([k, v]) => `${k}=${v}`).join(' ')}`),
    ...cluster.roles.map((r) => `  ${pad(r.label)} ${r.url}  (log: ${r.logFile})`),
    `  API          ${cluster.gatewayUrls[0]}/api/v1  (docs at ${cluster.gatewayUrls[0]}/docs)`,
    `  secrets      ${join(dataDir, 'secrets.env')} (admin token: STREAMWAVE_ADMIN_TOKEN)`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n'));
}

void main();
