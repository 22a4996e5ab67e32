/**
 * Timeouts for the HTTP servers that are not the gateway (issue 8, finding 9): the cluster
 * registry role's REST API and the ops servers (`/health`, `/metrics`, admin) of the projector and
 * transcoder roles. Their requests are small JSON, so the whole request (headers and body) must
 * arrive within STREAMWAVE_BODY_TIMEOUT_SECONDS. The gateway sets its own (gateway/app.ts), with a
 * longer bound for S3 part uploads.
 */
import type { Server } from 'node:http';
import type { StreamWaveConfig } from '../config/config.ts';

/** Sets node's request, headers, idle-socket and keep-alive timeouts from the config (seconds → ms). Call before `listen`. */
export function applyServerTimeouts(
  server: Server,
  config: Pick<StreamWaveConfig, 'bodyTimeoutSeconds' | 'headersTimeoutSeconds' | 'connectionTimeoutSeconds' | 'keepAliveTimeoutSeconds'>,
): void {
  server.requestTimeout = config.bodyTimeoutSeconds * 1000;
  // Node requires headersTimeout ≤ requestTimeout.
  server.headersTimeout = Math.min(config.headersTimeoutSeconds, config.bodyTimeoutSeconds) * 1000;
  server.keepAliveTimeout = config.keepAliveTimeoutSeconds * 1000;
  server.setTimeout(config.connectionTimeoutSeconds * 1000);
}
