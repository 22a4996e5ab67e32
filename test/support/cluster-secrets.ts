/**
 * Secrets for cluster-mode roles in tests (issue 9: split roles share no disk and refuse to start
 * with secrets generated into their data dir). One random set per call; give every role of one
 * cluster the same set.
 */
import { generateClusterSecrets } from '../../deploy/cluster/role-support.ts';

/** `STREAMWAVE_*` secret variables (deploy/cluster/role-support.ts CLUSTER_SECRET_VARIABLES), each 64 random characters. */
export const clusterSecretsEnv = (): Record<string, string> => generateClusterSecrets();
