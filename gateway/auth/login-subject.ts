import { createHmac } from 'node:crypto';
import { usernameKey } from '../../domain/user/user.decider.ts';

/**
 * The subject under which failed logins of `username` are counted (`login.failures`): an HMAC of
 * the normalised name under the gateway's token secret, never the name itself, because rate-limit
 * keys outlive an erasure in the rate-limit store (Redis' append-only file; issue 13). Every
 * gateway with the same secret counts the same name under the same subject.
 */
export function loginSubject(secret: string, username: string): string {
  return createHmac('sha256', `login-subject:${secret}`).update(usernameKey(username)).digest('base64url');
}
