/**
 * Bearer-token authentication (RFC 6750) with HS256 JWTs (RFC 7519) issued by POST /api/v1/auth/token.
 *
 * Decorates:
 * - `fastify.issueAccessToken(userId)` → `{ accessToken, expiresIn }` (seconds).
 * - `fastify.authenticate` (onRequest hook): requires a valid token; sets `request.principal`.
 *   Missing header → 401 UNAUTHORIZED; malformed/bad signature/expired → 401 INVALID_TOKEN.
 * - `fastify.optionalAuthenticate` (onRequest hook): no header → anonymous (`principal` null);
 *   a header that is present but invalid is still a 401 INVALID_TOKEN (the client believes it
 *   is signed in; silently downgrading it would hide the problem).
 */
import fp from 'fastify-plugin';
import fastifyJwt from '@fastify/jwt';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.ts';

/** The authenticated caller. */
export interface Principal {
  userId: string;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    /** `sub` = user id (RFC 7519 §4.1.2). */
    payload: { sub: string };
    user: { sub: string };
  }
}

type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: AuthHook;
    optionalAuthenticate: AuthHook;
    issueAccessToken(userId: string): { accessToken: string; expiresIn: number };
  }
  interface FastifyRequest {
    /** Set by `authenticate`/`optionalAuthenticate`; null for anonymous requests. */
    principal: Principal | null;
  }
}

export interface AuthPluginOptions {
  jwtSecret: string;
  /** Token lifetime, seconds. */
  tokenTtlSeconds: number;
}

/** The authenticated user id; throws 401 UNAUTHORIZED when the route ran without `authenticate`. */
export function requireUserId(request: FastifyRequest): string {
  if (!request.principal) throw new Errors.Unauthorized();
  return request.principal.userId;
}

export const authPlugin = fp<AuthPluginOptions>(
  async (fastify, opts) => {
    await fastify.register(fastifyJwt, {
      secret: opts.jwtSecret,
      // A number here is seconds (@fastify/jwt converts it, jsonwebtoken-style).
      sign: { algorithm: 'HS256', expiresIn: opts.tokenTtlSeconds },
      // Pin the algorithm: never let the token header choose it (RFC 8725 §3.1).
      verify: { algorithms: ['HS256'] },
    });

    fastify.decorateRequest('principal', null);

    fastify.decorate('issueAccessToken', (userId: string) => ({
      accessToken: fastify.jwt.sign({ sub: userId }),
      expiresIn: opts.tokenTtlSeconds,
    }));

    const verify = (request: FastifyRequest, header: string): void => {
      const m = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header);
      if (!m) throw new Errors.InvalidToken();
      let payload: { sub?: unknown };
      try {
        payload = fastify.jwt.verify<{ sub?: unknown }>(m[1]!);
      } catch {
        throw new Errors.InvalidToken();
      }
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new Errors.InvalidToken();
      request.principal = { userId: payload.sub };
    };

    fastify.decorate('authenticate', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      if (!header) throw new Errors.Unauthorized();
      verify(request, header);
    });

    fastify.decorate('optionalAuthenticate', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      if (header) verify(request, header);
    });
  },
  { name: 'streamwave-auth', fastify: '5.x' },
);
