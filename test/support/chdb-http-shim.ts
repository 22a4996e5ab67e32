/**
 * The part of ClickHouse's HTTP interface that @clickhouse/client uses, served by chDB (ClickHouse
 * 26.x in process), for testing the ClickHouse server adapter's `modern` dialect end to end
 * through the real client when no ClickHouse ≥ 23 server is at hand (Debian ships 18.16).
 *
 * Supported: `GET /ping`; a query or command in the POST body, with server-side parameters as
 * `param_<name>` URL entries (bound by chDB's queryBind, so `{name:Type}` is parsed by ClickHouse
 * itself, as on a server); an insert as `?query=INSERT … FORMAT …` with the rows in the body.
 * Errors answer 500 with ClickHouse's message, as a server does. Everything else of the HTTP
 * interface (settings, sessions, compression, auth) is ignored. Test use only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Session } from 'chdb';

export interface ChdbHttpShim {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every statement received, in order, with its `param_` entries (for assertions on what the client sent). */
  requests: { query: string; params: Record<string, string>; insertRows?: number }[];
  close(): Promise<void>;
}

const body = (req: IncomingMessage) => new Promise<string>((res, rej) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
  req.on('error', rej);
});

const TSV_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f', v: '\v', a: '\x07' };

/**
 * A `param_` value as the server reads it: in the TSV "escaped" format (the client writes `'` as
 * `\'`, `\` as `\\`, tab/newline/CR as `\t` `\n` `\r`); chDB's queryBind takes raw values.
 */
function unescapeTsv(v: string): string {
  return v.replace(/\\([\s\S])/g, (_m, c: string) => TSV_ESCAPES[c] ?? c);
}

/**
 * Serves chDB's directory `path` over HTTP on a free 127.0.0.1 port. libchdb binds one data
 * directory per process: `path` must be the one every other chDB user of the process uses.
 */
export async function startChdbHttpShim(path: string): Promise<ChdbHttpShim> {
  const session = new Session(path);
  const requests: ChdbHttpShim['requests'] = [];
  // A server takes URLs up to 1 MiB (query_params travel in it); Node's default is 16 KiB of headers.
  const server: Server = createServer({ maxHeaderSize: 1 << 20 }, async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/ping') {
        res.end('Ok.\n');
        return;
      }
      const params: Record<string, string> = {};
      for (const [k, v] of url.searchParams) if (k.startsWith('param_')) params[k.slice('param_'.length)] = unescapeTsv(v);
      const text = await body(req);
      const inUrl = url.searchParams.get('query');
      let query: string;
      if (inUrl) {
        // Insert: the statement in the URL, its data in the body (inline data after FORMAT, as clickhouse-local takes it).
        query = `${inUrl}\n${text}`;
        requests.push({ query: inUrl, params, insertRows: text.split('\n').filter(Boolean).length });
      } else {
        query = text;
        requests.push({ query, params });
      }
      // A plain `INSERT INTO t FORMAT f` goes through chDB's insert, as the adapter's do: inline data
      // counts against max_query_size (256 KiB), which a server's streamed body does not.
      const insert = inUrl ? /^INSERT INTO ([\w.]+) FORMAT (\w+)\s*$/i.exec(inUrl) : null;
      if (insert && !Object.keys(params).length) {
        await session.insert({ table: insert[1]!, values: Buffer.from(text, 'utf8'), format: insert[2] as "JSONEachRow" });
        res.end('');
        return;
      }
      const r = Object.keys(params).length ? await session.queryBindAsync(query, params) : await session.queryAsync(query);
      res.setHeader('Content-Type', 'text/plain; charset=UTF-8');
      res.end(r.text());
    } catch (e) {
      res.statusCode = 500;
      res.end(String((e as Error).message ?? e));
    }
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
      session.close();
    },
  };
}
