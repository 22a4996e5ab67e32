/**
 * The benchmarks' HTTP client: node:http on a caller's keep-alive `Agent`, lighter on the CPU the
 * benchmark shares with the system it measures than fetch.
 */
import { request, type Agent } from 'node:http';

/**
 * `method url` on `agent`, with `json` as the body when given; resolves with the status and the
 * body once it has been read whole.
 * @param opts.timeoutMs gives up (rejects) when no answer came in that long; none by default.
 * @throws (rejects) on a socket error, a reset while the body is read, or the timeout.
 */
export function httpText(url: string, agent: Agent, opts: { method?: string; json?: unknown; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = opts.json === undefined ? undefined : JSON.stringify(opts.json);
    const headers = data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
    const req = request(url, { agent, method: opts.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    const { timeoutMs } = opts;
    if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer in ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(data);
  });
}
