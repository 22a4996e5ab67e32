/**
 * The gateway's rate-limit rules (issue 8, findings 2, 4, 6 and 9): which public routes are
 * limited, by what key, how much. Every rule is a fixed window (RateLimitStore) with a `max` and a
 * `windowSeconds`; a request over the limit gets 429 RATE_LIMITED with `Retry-After` (RFC 6585 §4,
 * RFC 9110 §10.2.3: seconds until the window closes).
 *
 * Keys: `ip` is the client address (`request.ip`, IPv6 grouped by /64 like @fastify/rate-limit;
 * behind a proxy only with `trustProxy`), `account` the authenticated user (rules keyed by account
 * skip anonymous requests: their `ip` rule covers them), `account-ip` a username together with the
 * client address, `session` the playback session of a heartbeat.
 *
 * Login is limited per account AND address (`login.failures`): ten wrong passwords for one
 * account from one address block that pair for the window, while the owner logging in from
 * elsewhere is not locked out (a per-account lock would let anyone lock any account: OWASP
 * Authentication Cheat Sheet, "account lockout"). Guessing one account from many addresses is
 * slowed by `login.ip` per address only; see README "Rate limits".
 */

/** What a rule counts by (see the file comment). */
export type RateLimitKeyKind = 'ip' | 'account' | 'account-ip' | 'session';

/** A limit: at most `max` requests per `windowSeconds` (seconds) per key. */
export interface RateLimit {
  max: number;
  windowSeconds: number;
}

interface RuleSpec extends RateLimit {
  key: RateLimitKeyKind;
  /** What it protects (for the docs and the `STREAMWAVE_RATE_LIMITS` error message). */
  what: string;
}

/** Every rule with its default limit. Names are stable: they appear in STREAMWAVE_RATE_LIMITS. */
export const RATE_LIMIT_RULES = {
  'register.ip': { key: 'ip', max: 10, windowSeconds: 3600, what: 'account registrations per address' },
  'login.ip': { key: 'ip', max: 100, windowSeconds: 900, what: 'login attempts per address (every account)' },
  'login.failures': { key: 'account-ip', max: 10, windowSeconds: 900, what: 'wrong passwords per account and address' },
  'write.ip': { key: 'ip', max: 600, windowSeconds: 60, what: 'API writes and presigning per address' },
  'write.account': { key: 'account', max: 120, windowSeconds: 60, what: 'API writes and presigning per account' },
  'heartbeat.ip': { key: 'ip', max: 600, windowSeconds: 60, what: 'view heartbeats per address' },
  'heartbeat.session': { key: 'session', max: 30, windowSeconds: 60, what: 'view heartbeats per playback session' },
  'playback.ip': { key: 'ip', max: 600, windowSeconds: 60, what: 'playback event reports per address' },
  'playback.session': { key: 'session', max: 30, windowSeconds: 60, what: 'playback event reports per playback session' },
  'stream.ip': { key: 'ip', max: 300, windowSeconds: 60, what: 'playback sessions issued per address' },
  'search.ip': { key: 'ip', max: 300, windowSeconds: 60, what: 'searches per address' },
  'analytics.ip': { key: 'ip', max: 300, windowSeconds: 60, what: 'analytics queries per address' },
  's3.ip': { key: 'ip', max: 1200, windowSeconds: 60, what: 'S3 writes (part uploads) per address' },
  'registry.ip': { key: 'ip', max: 600, windowSeconds: 60, what: 'schema registry POST/PUT/DELETE per address (registrations, lookups and compatibility checks: a `schemas register` or `schemas check` run sends one per subject)' },
} as const satisfies Record<string, RuleSpec>;

export type RateLimitRuleName = keyof typeof RATE_LIMIT_RULES;
export const RATE_LIMIT_RULE_NAMES = Object.keys(RATE_LIMIT_RULES) as RateLimitRuleName[];

/**
 * The gateway's rate-limit setting: `'off'` (benchmarks, trusted networks: every limit off,
 * uploadsPerHour included), or per-rule overrides of the defaults (missing rules keep theirs).
 */
export type RateLimitsConfig = 'off' | Partial<Record<RateLimitRuleName, RateLimit>>;

/** The limit of every rule once overrides are applied. */
export function resolveRateLimits(config: Exclude<RateLimitsConfig, 'off'> = {}): Record<RateLimitRuleName, RateLimit & { key: RateLimitKeyKind }> {
  const out = {} as Record<RateLimitRuleName, RateLimit & { key: RateLimitKeyKind }>;
  for (const name of RATE_LIMIT_RULE_NAMES) {
    const { key, max, windowSeconds } = RATE_LIMIT_RULES[name];
    const o = config[name];
    out[name] = { key, max: o?.max ?? max, windowSeconds: o?.windowSeconds ?? windowSeconds };
  }
  return out;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses the `STREAMWAVE_RATE_LIMITS` value: `on` or empty (defaults), `off`, or a comma list of
 * `<rule>=<max>/<window>` overrides with the window in s, m, h or d, e.g.
 * `register.ip=20/1h,search.ip=600/1m`.
 * @throws Error naming the bad entry and listing the rule names.
 */
export function parseRateLimits(value: string | undefined): RateLimitsConfig {
  const v = (value ?? '').trim();
  if (v === '' || v === 'on') return {};
  if (v === 'off') return 'off';
  const out: Partial<Record<RateLimitRuleName, RateLimit>> = {};
  for (const entry of v.split(',').map((e) => e.trim()).filter(Boolean)) {
    const m = /^([a-z0-9.-]+)=(\d{1,9})\/(\d{1,6})([smhd])$/.exec(entry);
    const name = m?.[1] as RateLimitRuleName | undefined;
    if (!m || !name || !(name in RATE_LIMIT_RULES)) {
      throw new Error(`bad rate limit "${entry}": expected off, on, or <rule>=<max>/<window>[s|m|h|d] with a rule among ${RATE_LIMIT_RULE_NAMES.join(', ')}`);
    }
    const windowSeconds = Number(m[3]) * UNIT_SECONDS[m[4]!]!;
    if (windowSeconds < 1) throw new Error(`bad rate limit "${entry}": the window must be at least 1s`);
    out[name] = { max: Number(m[2]), windowSeconds };
  }
  return out;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The rules of one request, by method and route URL (Fastify's `routeOptions.url`, prefix
 * included). Kept here, in one table, rather than on each route, so every limited route is
 * visible at a glance. Reads of read models (video, status, comments, history) are cheap and
 * unlimited; `/media` (HLS segments) is meant for a CDN and unlimited; long-lived streams added
 * later get rules of their own.
 */
export function rulesOf(requestMethod: string, url: string): RateLimitRuleName[] {
  // Fastify answers HEAD with the GET handler (the body is dropped, the work is done): same rules.
  const method = requestMethod === 'HEAD' ? 'GET' : requestMethod;
  if (url.startsWith('/s3')) return WRITE_METHODS.has(method) ? ['s3.ip'] : [];
  if (url.startsWith('/registry')) return WRITE_METHODS.has(method) ? ['registry.ip'] : [];
  if (!url.startsWith('/api/')) return [];
  if (method === 'POST' && url === '/api/v1/users') return ['register.ip'];
  if (method === 'POST' && url === '/api/v1/auth/token') return ['login.ip']; // + login.failures in the route
  if (method === 'POST' && url.endsWith('/views')) return ['heartbeat.ip', 'heartbeat.session'];
  if (method === 'POST' && url.endsWith('/playback-events')) return ['playback.ip', 'playback.session'];
  if (method === 'GET' && url.endsWith('/stream')) return ['stream.ip'];
  if (method === 'GET' && url.startsWith('/api/v1/search')) return ['search.ip'];
  if (method === 'GET' && url.endsWith('/analytics')) return ['analytics.ip'];
  // Resuming an upload presigns up to 10,000 part URLs: as costly as a write.
  if (WRITE_METHODS.has(method) || (method === 'GET' && url.startsWith('/api/v1/uploads/'))) return ['write.ip', 'write.account'];
  return [];
}
