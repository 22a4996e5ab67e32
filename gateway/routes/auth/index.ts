/**
 * Auth resource (prefix `/api/v1/auth`):
 * - `POST /token` {username, password, grant_type?} → 200 `{ access_token, token_type: 'Bearer', expires_in }`
 *   (RFC 6749 §5.1 successful response, with `Cache-Control: no-store`); bad credentials → 401
 *   INVALID_CREDENTIALS. Accepts JSON or `application/x-www-form-urlencoded` (the encoding
 *   RFC 6749 §4.3.2 prescribes for token requests).
 *   Rate limits (issue 8, finding 6): `login.ip` per address, and `login.failures` per account +
 *   address: after 10 wrong passwords in the window that pair gets 429 RATE_LIMITED with
 *   Retry-After — before any scrypt work — while the same account from another address still logs in.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { loginSubject } from '../../auth/login-subject.ts';
import { decoyPasswordHash, verifyPassword } from '../../auth/password.ts';
import { Errors } from '../../errors.ts';
import { tokenSchema } from './auth.schemas.ts';

export const authRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readModels } = fastify.gateway;

  // Encapsulated: only this plugin parses form bodies.
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  /**
   * Logins in flight per account + address (this process). They count against `login.failures`
   * before they finish, so twenty guesses sent at once cannot all pass the check while none has
   * failed yet.
   */
  const inFlight = new Map<string, number>();

  fastify.post('/token', { schema: tokenSchema }, async (request, reply) => {
    const { username, password } = request.body;
    const subject = loginSubject(fastify.gateway.config.jwtSecret, username);
    const pair = `${subject}|${request.ip}`;
    // Reserved synchronously, before the first await, so concurrent requests see each other.
    const others = inFlight.get(pair) ?? 0;
    inFlight.set(pair, others + 1);
    let ok = false;
    let account: Awaited<ReturnType<typeof readModels['user-accounts']['findUserByUsername']>>;
    try {
      await fastify.rateLimits.check('login.failures', request, reply, subject, others);
      account = await readModels['user-accounts'].findUserByUsername(username);
      // Same scrypt work whether or not the user exists (no enumeration by timing).
      ok = await verifyPassword(password, account?.passwordHash ?? (await decoyPasswordHash()));
      if (!account || !ok) await fastify.rateLimits.hit('login.failures', request, reply, subject);
    } finally {
      const n = (inFlight.get(pair) ?? 1) - 1;
      if (n > 0) inFlight.set(pair, n);
      else inFlight.delete(pair);
    }
    if (!account || !ok) throw new Errors.InvalidCredentials();
    const { accessToken, expiresIn } = fastify.issueAccessToken(account.userId);
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return { access_token: accessToken, token_type: 'Bearer' as const, expires_in: expiresIn };
  });
};
