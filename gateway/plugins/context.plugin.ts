/**
 * Decorates the root instance with `fastify.gateway` (ports + config with defaults applied), so
 * every encapsulated route plugin reads its dependencies from one place.
 */
import fp from 'fastify-plugin';
import type { GatewayContext } from '../gateway.types.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Ports and resolved config of the gateway (see gateway.types.ts). */
    gateway: GatewayContext;
  }
}

export const contextPlugin = fp<{ context: GatewayContext }>(
  async (fastify, opts) => {
    fastify.decorate('gateway', opts.context);
  },
  { name: 'streamwave-context', fastify: '5.x' },
);
