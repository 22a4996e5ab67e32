/**
 * Secrets for cluster-mode roles in tests (issue 9: split roles share no disk and refuse to start
 * with secrets generated into their data dir). One random set per call; give every role of one
 * cluster the same set.
 */
import { randomBytes } from 'node:crypto';

/** `STREAMWAVE_*` secret variables, each 48 random bytes in base64url (64 characters). */
export function clusterSecretsEnv(): Record<string, string> {
  const s = () => randomBytes(48).toString('base64url');
  return {
    STREAMWAVE_JWT_SECRET: s(),
    STREAMWAVE_PRESIGN_SECRET: s(),
    STREAMWAVE_CURSOR_SECRET: s(),
    STREAMWAVE_MEDIA_URL_SECRET: s(),
    STREAMWAVE_PLAYBACK_SECRET: s(),
    STREAMWAVE_ADMIN_TOKEN: s(),
    STREAMWAVE_SCHEMA_REGISTRY_PASSWORD: s(),
  };
}
