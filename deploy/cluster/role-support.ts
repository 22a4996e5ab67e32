/**
 * Pieces of the cluster roles (deploy/cluster/roles.ts) split out for size: which secrets each
 * role needs from configuration, and the admin replay API of a gateway that consumes nothing.
 */
import { randomBytes } from 'node:crypto';
import type { StreamWaveConfig } from '../config/config.ts';
import type { KafkaEventLogOptions } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { READ_MODELS } from '../../projections/read-model.port.ts';
import { ReplayError } from '../../projections/replay/replay.port.ts';

/** The roles `streamwave run <role>` accepts. */
export const CLUSTER_ROLES = ['registry', 'commands', 'projector', 'transcoder', 'gateway', 'all'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

export const isClusterRole = (v: string): v is ClusterRole => (CLUSTER_ROLES as readonly string[]).includes(v);

/**
 * The secrets each split role uses (issue 9: roles share no disk, so none may come from a
 * generated file in the role's own data dir — two gateways would sign with different keys).
 * `all` is one process and keeps standalone's generated secrets.
 */
export const ROLE_SECRETS: Record<Exclude<ClusterRole, 'all'>, readonly string[]> = {
  registry: ['STREAMWAVE_SCHEMA_REGISTRY_PASSWORD'],
  commands: ['STREAMWAVE_SCHEMA_REGISTRY_PASSWORD', 'STREAMWAVE_ADMIN_TOKEN', 'STREAMWAVE_USERNAME_KEY_SECRET'],
  projector: ['STREAMWAVE_SCHEMA_REGISTRY_PASSWORD', 'STREAMWAVE_ADMIN_TOKEN', 'STREAMWAVE_CURSOR_SECRET'],
  transcoder: ['STREAMWAVE_SCHEMA_REGISTRY_PASSWORD', 'STREAMWAVE_ADMIN_TOKEN'],
  gateway: [
    'STREAMWAVE_SCHEMA_REGISTRY_PASSWORD', 'STREAMWAVE_ADMIN_TOKEN', 'STREAMWAVE_CURSOR_SECRET', 'STREAMWAVE_JWT_SECRET',
    'STREAMWAVE_PRESIGN_SECRET', 'STREAMWAVE_MEDIA_URL_SECRET', 'STREAMWAVE_PLAYBACK_SECRET', 'STREAMWAVE_USERNAME_KEY_SECRET',
  ],
};

/** Every secret variable some split role needs (the union of ROLE_SECRETS). */
export const CLUSTER_SECRET_VARIABLES: readonly string[] = [...new Set(Object.values(ROLE_SECRETS).flat())];

/**
 * A fresh value for every CLUSTER_SECRET_VARIABLES entry: 48 random bytes in base64url (64
 * characters), what `cluster:local` and the tests give every role of one cluster.
 */
export function generateClusterSecrets(): Record<string, string> {
  return Object.fromEntries(CLUSTER_SECRET_VARIABLES.map((name) => [name, randomBytes(48).toString('base64url')]));
}

/** The variables `role` needs that were not configured (their value came from the data dir). */
export function secretsFromDataDirOf(role: ClusterRole, config: Pick<StreamWaveConfig, 'secretsFromDataDir'>): string[] {
  if (role === 'all') return [];
  return ROLE_SECRETS[role].filter((name) => config.secretsFromDataDir.includes(name));
}

/** The admin replay API of a gateway that reads the servers: replays run where the projections do (the projector role). */
export const replaysElsewhere = {
  names: () => [...READ_MODELS],
  startReplay(): never {
    throw new ReplayError('NOT_STARTED', 'this gateway consumes no projection: start replays on the projector role (`streamwave replay <read model> --server <projector URL>`)');
  },
  replayStatus: () => undefined,
};

/**
 * The read-model server variables still missing for `role`: the projector and the gateways must
 * agree on where the read models live, so Redis, ClickHouse and Typesense are configured together
 * or not at all (`all` and the roles without read models take any subset).
 */
export function missingReadModelServers(role: ClusterRole, config: Pick<StreamWaveConfig, 'servers'>): string[] {
  if (role !== 'projector' && role !== 'gateway') return [];
  const set = {
    STREAMWAVE_REDIS_URL: config.servers.redisUrl !== undefined,
    STREAMWAVE_CLICKHOUSE_URL: config.servers.clickhouse !== undefined,
    STREAMWAVE_TYPESENSE_URL: config.servers.typesense !== undefined,
  };
  const values = Object.values(set);
  if (values.every(Boolean) || !values.some(Boolean)) return [];
  return Object.entries(set).filter(([, v]) => !v).map(([k]) => k);
}

/** How a cluster process reaches Kafka (STREAMWAVE_KAFKA_*): brokers, replication factor, TLS and SASL. */
export function kafkaConnectionOf(config: StreamWaveConfig): Pick<KafkaEventLogOptions, 'brokers' | 'replicationFactor' | 'ssl' | 'sasl'> {
  return { brokers: config.kafkaBrokers, replicationFactor: config.kafkaReplicationFactor, ssl: config.kafkaSsl, sasl: config.kafkaSasl as KafkaEventLogOptions['sasl'] };
}
