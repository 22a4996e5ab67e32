/**
 * How the ops commands (`replay`, `topics`) reach a running server's admin API: server URL and
 * admin token resolution, and a small JSON client with bearer auth.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** File name of the generated admin token in the data dir (deploy/config/config.ts ADMIN_TOKEN_FILE). */
const ADMIN_TOKEN_FILE = 'admin.token';

/** An error answer of the admin API (`{statusCode, code, message}`) or an unreachable server. */
class AdminApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(status ? `${status} ${code}: ${message}` : `${code}: ${message}`);
    this.name = 'AdminApiError';
  }
}

/**
 * The admin token: `--admin-token`, else STREAMWAVE_ADMIN_TOKEN, else `<data dir>/admin.token`
 * (data dir: `dataDir` or STREAMWAVE_DATA_DIR or ./data). Undefined when none is found.
 */
export function resolveAdminToken(opts: { adminToken?: string; dataDir?: string }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (opts.adminToken) return opts.adminToken;
  if (env.STREAMWAVE_ADMIN_TOKEN) return env.STREAMWAVE_ADMIN_TOKEN;
  const dir = resolve(opts.dataDir ?? env.STREAMWAVE_DATA_DIR ?? './data');
  try {
    return readFileSync(join(dir, ADMIN_TOKEN_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** JSON client for `/admin/*` with `Authorization: Bearer <token>`. */
export function createAdminClient(serverUrl: string, token: string | undefined) {
  const base = serverUrl.replace(/\/$/, '');
  return {
    /** @throws AdminApiError (status 0, code UNREACHABLE when the server cannot be reached). */
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        throw new AdminApiError(0, 'UNREACHABLE', `cannot reach ${base} (${(e as Error).cause ?? (e as Error).message}); is the server running? (for a stopped standalone server use --offline --data-dir)`);
      }
      const text = await res.text();
      let json: unknown;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      if (!res.ok) {
        const j = (json ?? {}) as { code?: string; message?: string };
        const hint = res.status === 401 ? ' (pass --admin-token, set STREAMWAVE_ADMIN_TOKEN, or point --data-dir at the server\'s data dir)' : '';
        throw new AdminApiError(res.status, j.code ?? 'HTTP_ERROR', (j.message ?? text.slice(0, 200)) + hint);
      }
      return json as T;
    },
  };
}
