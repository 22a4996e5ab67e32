/**
 * Rate limits (issue 8): @fastify/rate-limit over the RateLimitStore port, with the rules of
 * gateway/rate-limit/rate-limit.rules.ts applied to every route they name.
 *
 * - Registers @fastify/rate-limit once (so routes may still use `config.rateLimit`, as uploads do
 *   for uploadsPerHour), its counters in `store` (the port: in memory in standalone mode, Redis
 *   shared by every gateway in cluster mode), or in the plugin's own memory when none is given.
 * - Adds each route's rules from `rulesOf(method, url)`: rules keyed by address run first of all
 *   `onRequest` hooks (a flood is refused before its token is checked or its body read); rules
 *   keyed by account or session run in `preHandler` (after authentication and validation).
 * - Decorates `fastify.rateLimits` for rules a route applies itself (login failures).
 *
 * Over the limit: 429 RATE_LIMITED (`{ statusCode, code, message }`) with `Retry-After` in seconds.
 * `limits: 'off'` switches every limit off, `config.rateLimit` ones included.
 */
import fp from 'fastify-plugin';
import rateLimit, { normalizeIP, type RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import type { RateLimitStore } from '../../platform/rate-limit/rate-limit-store.port.ts';
import { Errors } from '../errors.ts';
import { resolveRateLimits, rulesOf, type RateLimitRuleName, type RateLimitsConfig } from '../rate-limit/rate-limit.rules.ts';

export interface RateLimitsPluginOptions {
  limits: RateLimitsConfig;
  /** Where the counters live (platform/rate-limit: in memory, or Redis shared by every gateway). */
  store?: RateLimitStore;
}

/**
 * Applies one rule to a request; throws 429 RATE_LIMITED (Retry-After set on `reply`) when over it.
 * `pending`: hits the caller knows are on their way (requests in flight for the same key), counted
 * as if already made — so concurrent attempts cannot all pass a check before any of them is counted.
 */
type RuleCheck = (rule: RateLimitRuleName, request: FastifyRequest, reply: FastifyReply, subject: string, pending?: number) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: {
      /** False when STREAMWAVE_RATE_LIMITS=off. */
      readonly enabled: boolean;
      /** Counts one hit of `rule` for `subject` (plus the client address for `account-ip` rules). */
      hit: RuleCheck;
      /** Refuses when `subject` (+ `pending` in-flight hits) is already at the rule's max, without counting (login: before scrypt). */
      check: RuleCheck;
    };
  }
}

/** @fastify/rate-limit's store interface over the port (one store for every route: keys carry the rule name). */
function storeOverPort(port: RateLimitStore): NonNullable<RateLimitPluginOptions['store']> {
  type Cb = (err: Error | null, res?: { current: number; ttl: number }) => void;
  const answer = (p: Promise<{ count: number; resetInMs: number }>, cb: Cb) =>
    p.then((r) => cb(null, { current: r.count, ttl: r.resetInMs }), (err: Error) => cb(err));
  class PortStore {
    incr(key: string, cb: Cb, timeWindow: number) { answer(port.hit(key, timeWindow), cb); }
    read(key: string, cb: Cb, timeWindow: number) { answer(port.read(key, timeWindow), cb); }
    child() { return this; }
  }
  return PortStore as unknown as NonNullable<RateLimitPluginOptions['store']>;
}

const clientAddress = (request: FastifyRequest) => normalizeIP(request.ip);

/** The subject a rule counts for this request, or undefined when the rule does not apply to it. */
function subjectOf(kind: 'ip' | 'account' | 'session', request: FastifyRequest): string | undefined {
  switch (kind) {
    case 'ip':
      return clientAddress(request);
    case 'account':
      return request.principal?.userId;
    case 'session': {
      const id = (request.body as { session_id?: unknown } | undefined)?.session_id;
      return typeof id === 'string' ? id : undefined;
    }
  }
}

const asArray = <T>(h: T | T[] | undefined): T[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);

export const rateLimitsPlugin = fp<RateLimitsPluginOptions>(
  async (fastify, opts) => {
    const enabled = opts.limits !== 'off';
    await fastify.register(rateLimit, {
      global: false,
      ...(opts.store ? { store: storeOverPort(opts.store) } : {}),
      // Off: every limit, route-level `config.rateLimit` ones included, lets everything through.
      ...(!enabled && { allowList: () => true }),
      errorResponseBuilder: (_request, ctx) => new Errors.RateLimited(ctx.after),
    });

    const limits = resolveRateLimits(opts.limits === 'off' ? {} : opts.limits);
    // The key of the call in progress, read back by the limiter's keyGenerator (called synchronously).
    const keys = new WeakMap<FastifyRequest, string>();
    const limiters = new Map(
      Object.entries(limits).map(([rule, l]) => [
        rule as RateLimitRuleName,
        fastify.createRateLimit({ max: l.max, timeWindow: l.windowSeconds * 1000, keyGenerator: (req) => keys.get(req)! }),
      ]),
    );

    const apply = async (increment: boolean, rule: RateLimitRuleName, request: FastifyRequest, reply: FastifyReply, subject: string, pending = 0) => {
      if (!enabled) return;
      keys.set(request, `${rule}|${limits[rule].key === 'account-ip' ? `${subject}|${clientAddress(request)}` : subject}`);
      const r = await limiters.get(rule)!(request, { increment });
      if (r.isAllowed) return;
      // A hit is over the limit past `max`; a check refuses once `max` is reached (the next hit would be over).
      if (increment ? !r.isExceeded : r.remaining - pending > 0) return;
      const retryAfter = Math.max(1, r.ttlInSeconds);
      request.log.info({ rule, retryAfter }, 'rate limited');
      reply.header('retry-after', String(retryAfter));
      throw new Errors.RateLimited(`${retryAfter} seconds`);
    };
    fastify.decorate('rateLimits', {
      enabled,
      hit: (rule, request, reply, subject) => apply(true, rule, request, reply, subject),
      check: (rule, request, reply, subject, pending) => apply(false, rule, request, reply, subject, pending),
    });
    if (!enabled) return;

    fastify.addHook('onRoute', (route) => {
      const methods = asArray(route.method);
      const rules = [...new Set(methods.flatMap((m) => rulesOf(m, route.url)))];
      if (rules.length === 0) return;
      const hookOf = (rule: RateLimitRuleName) => async (request: FastifyRequest, reply: FastifyReply) => {
        // A route serving several methods (S3) limits only the ones the rule names.
        if (!rulesOf(request.method, route.url).includes(rule)) return;
        const kind = limits[rule].key;
        const subject = kind === 'account-ip' ? undefined : subjectOf(kind, request);
        if (subject !== undefined) await apply(true, rule, request, reply, subject);
      };
      const early = rules.filter((r) => limits[r].key === 'ip').map(hookOf);
      const late = rules.filter((r) => limits[r].key === 'account' || limits[r].key === 'session').map(hookOf);
      if (early.length) route.onRequest = [...(early as onRequestHookHandler[]), ...asArray(route.onRequest)];
      if (late.length) route.preHandler = [...asArray(route.preHandler), ...(late as preHandlerHookHandler[])];
    });
  },
  { name: 'streamwave-rate-limits', fastify: '5.x', dependencies: ['streamwave-auth'] },
);
