import { createHash } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { pino } from 'pino';
import { flushAofRewrite, requestAofRewrite } from '../../platform/redis/aof-rewriter.ts';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import { KeyValueStoreError, parseStoredJson, type JsonValue, type KeyValueEntry, type KeyValueOp, type KeyValueStore, type ScanOptions } from './key-value-store.port.ts';
import pLimit from 'p-limit';

/**
 * KeyValueStore on Redis (cluster mode), through ioredis. Layout of store `name` (all keys share
 * the hash tag `{family}`, so on Redis Cluster they live in one slot and MULTI/EXEC and Lua work):
 *
 * | key | type | content |
 * |---|---|---|
 * | `sw:{family}<suffix>:v` | hash | read-model key → its value as a JSON string |
 * | `sw:{family}<suffix>:k` | sorted set | every read-model key, score 0, for ordered `scan` (ZRANGEBYLEX) |
 * | `sw:{family}<suffix>:cp` | hash | `topic:partition` → offset of the next record to read (decimal) |
 *
 * where `name` = `family` or `family@suffix-name` (`@…` marks a shadow copy of the same read model,
 * e.g. `video-detail@replay`, kept in the same slot so `renameRedisKeyValueStore` can swap it in
 * atomically on a cluster too). Example: `video-detail` → `sw:{video-detail}:v`.
 *
 * Guarantees: `commit` is one MULTI/EXEC (values, key index and checkpoint together), sent only
 * after the previous commit settled, so commits apply in call order and a reader never sees a
 * batch without its checkpoint. Durability is the server's: "durable when the promise resolves"
 * holds with `appendonly yes` + `appendfsync always` (deploy/local/redis.sh `--aof`); with
 * `everysec` up to a second of acknowledged commits can be lost on a server crash (the projector
 * then re-reads them from the log: the checkpoint is lost with them, so nothing is skipped).
 * Reads go to the server every time (nothing is cached in the handle), so a store swapped in by
 * `renameRedisKeyValueStore` is visible to every handle at once.
 *
 * Key order: Redis compares keys as UTF-8 bytes, the port as UTF-16 code units; the two agree for
 * every key without characters above U+FFFF mixed with U+E000–U+FFFF (the projections' keys are ASCII).
 */
export interface RedisKeyValueStoreOptions {
  /** A ready ioredis client (platform/redis/redis-client.ts: `createRedisClient` + `redisReady`) or Cluster. */
  client: Redis | Cluster;
  /** Store name: `[A-Za-z0-9._:-]+`, optionally `@` and a shadow suffix of the same characters. */
  name: string;
  /** `close()` also quits `client` (default false: the client is shared by several stores). */
  ownsClient?: boolean;
  /** Most fields per HSET/HDEL/ZADD/ZREM inside one commit's MULTI (default 1 000; a batch is split, still one MULTI). */
  maxFieldsPerCommand?: number;
  /** For the AOF rewrites `compact()` asks for (default silent). */
  logger?: pino.Logger;
}

const SILENT = pino({ level: 'silent' });

/** The Redis keys of store `name` (see the layout above). @throws KeyValueStoreError `INVALID_KEY` for a bad name. */
export function redisKeyValueStoreKeys(name: string): { values: string; index: string; checkpoint: string } {
  const m = NAME.exec(name);
  if (!m) throw new KeyValueStoreError('INVALID_KEY', `bad store name ${JSON.stringify(name)}: [A-Za-z0-9._:-]+ with an optional @suffix`);
  const base = `sw:{${m[1]}}${m[2] ?? ''}`;
  return { values: `${base}:v`, index: `${base}:k`, checkpoint: `${base}:cp` };
}
const NAME = /^([A-Za-z0-9._:-]+)(@[A-Za-z0-9._:-]+)?$/;

/** A lone surrogate would be sent as U+FFFD, so two distinct keys could collide in Redis. */
const ILL_FORMED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const checkKey = (key: unknown): string => {
  if (typeof key !== 'string') throw new KeyValueStoreError('INVALID_KEY', `key must be a string, got ${typeof key}`);
  if (ILL_FORMED.test(key)) throw new KeyValueStoreError('INVALID_KEY', `key ${JSON.stringify(key)} is not well-formed UTF-16 (lone surrogate)`);
  return key;
};

/**
 * Reads up to ARGV[3] keys of the index in lex range [ARGV[1], ARGV[2]] (reversed when ARGV[4] is
 * '1') and their values, in one atomic step: returns `{k1, v1, k2, v2, …}`. `no-writes` lets it run
 * on a read-only replica and when the server is out of memory (Redis 7 script flags).
 */
const SCAN_SCRIPT = `#!lua flags=no-writes
local ks
if ARGV[4] == '1' then
  ks = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
else
  ks = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
end
local out = {}
local i = 1
while i <= #ks do
  local j = math.min(i + 999, #ks)
  local vs = redis.call('HMGET', KEYS[2], unpack(ks, i, j))
  for n = 1, #vs do
    if vs[n] then
      out[#out + 1] = ks[i + n - 1]
      out[#out + 1] = vs[n]
    end
  end
  i = j + 1
end
return out
`;

/**
 * Moves store KEYS[1..3] onto KEYS[4..6] (values, index, checkpoint), replacing what was there:
 * a missing source key deletes its target, so the target ends up exactly equal to the source.
 */
const RENAME_SCRIPT = `
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 3])
  else
    redis.call('DEL', KEYS[i + 3])
  end
end
return 1
`;

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const SCRIPTS = { scan: { text: SCAN_SCRIPT, sha: sha1(SCAN_SCRIPT) }, rename: { text: RENAME_SCRIPT, sha: sha1(RENAME_SCRIPT) } };

/** EVALSHA, falling back to EVAL once when the server does not know the script (after a restart). */
async function runScript(client: Redis | Cluster, script: { text: string; sha: string }, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (e) {
    if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
    return client.eval(script.text, keys.length, ...keys, ...args);
  }
}

const io = (name: string, what: string, e: unknown): KeyValueStoreError =>
  e instanceof KeyValueStoreError ? e : new KeyValueStoreError('STORE_IO', `redis kv store ${name}: ${what} failed: ${(e as Error)?.message ?? e}`);

const parseValue = <T>(name: string, key: string, json: string): T => parseStoredJson<T>(`redis kv store ${name}`, key, json);

const utf8 = (s: string) => Buffer.from(s, 'utf8');
/** Sorts after every UTF-8 continuation of a prefix (0xFF never occurs in UTF-8). */
const FF = Buffer.from([0xff]);

/**
 * Lex bounds of `scan(prefix, {after, reverse})` for ZRANGEBYLEX: `[x` inclusive, `(x` exclusive,
 * `-`/`+` unbounded. `after` is clamped into the prefix's range (an `after` outside it must not
 * widen the range past the prefix).
 */
function scanBounds(prefix: string, after: string | undefined, reverse: boolean): { min: Buffer | string; max: Buffer | string } {
  const p = utf8(prefix);
  const pEnd = Buffer.concat([p, FF]);
  let min: Buffer | string = prefix === '' ? '-' : Buffer.concat([utf8('['), p]);
  let max: Buffer | string = prefix === '' ? '+' : Buffer.concat([utf8('['), pEnd]);
  if (after !== undefined) {
    const a = utf8(after);
    if (!reverse && Buffer.compare(a, p) >= 0) min = Buffer.concat([utf8('('), a]);
    if (reverse && (prefix === '' || Buffer.compare(a, pEnd) < 0)) max = Buffer.concat([utf8('('), a]);
  }
  return { min, max };
}

/**
 * Opens store `name` on `client` (nothing is read or written until the first call: a store that
 * was never committed to reads as empty with an empty checkpoint).
 * Errors (all KeyValueStoreError): `INVALID_KEY` for a bad store name, a non-string key, a key with
 * a lone surrogate, a value `JSON.stringify` cannot encode, or a non-finite checkpoint offset
 * (the commit is then not sent); `STORE_IO` when Redis is unreachable, times out or refuses
 * (e.g. OOM: the MULTI is then discarded, state unchanged); `STORE_CLOSED` for any call after
 * `close()`; `STORE_CORRUPT` when a stored value is not JSON or a key of the store holds another
 * Redis type (somebody else wrote it; a commit meeting WRONGTYPE may have applied partly).
 */
export async function createRedisKeyValueStore(opts: RedisKeyValueStoreOptions): Promise<KeyValueStore> {
  const { client, name } = opts;
  const keys = redisKeyValueStoreKeys(name);
  const maxFields = Math.max(1, Math.floor(opts.maxFieldsPerCommand ?? 1_000));
  let closed = false;
  // One at a time, in call order; a failure does not stop the next.
  const serial = pLimit(1);
  const assertOpen = () => { if (closed) throw new KeyValueStoreError('STORE_CLOSED', `redis kv store ${name} is closed`); };

  const store: KeyValueStore = {
    async get<T = JsonValue>(key: string): Promise<T | undefined> {
      assertOpen();
      checkKey(key);
      let json: string | null;
      try { json = await client.hget(keys.values, key); } catch (e) { throw io(name, 'get', e); }
      return json === null ? undefined : parseValue<T>(name, key, json);
    },

    async getMany<T = JsonValue>(ks: string[]): Promise<(T | undefined)[]> {
      const jsons = await store.getManyJson(ks);
      return jsons.map((j, i) => (j === undefined ? undefined : parseValue<T>(name, ks[i], j)));
    },

    async getManyJson(ks: string[]): Promise<(string | undefined)[]> {
      assertOpen();
      ks.forEach(checkKey);
      if (ks.length === 0) return [];
      let jsons: (string | null)[];
      try { jsons = await client.hmget(keys.values, ...ks); } catch (e) { throw io(name, 'getManyJson', e); }
      return jsons.map((j) => j ?? undefined);
    },

    async scan<T = JsonValue>(prefix: string, o: ScanOptions): Promise<KeyValueEntry<T>[]> {
      assertOpen();
      checkKey(prefix);
      if (o.after !== undefined) checkKey(o.after);
      const limit = Math.floor(o.limit);
      if (!(limit >= 1)) return [];
      const { min, max } = scanBounds(prefix, o.after, !!o.reverse);
      let flat: string[];
      try {
        flat = (await runScript(client, SCRIPTS.scan, [keys.index, keys.values], [min, max, Number.isFinite(limit) ? String(limit) : '-1', o.reverse ? '1' : '0'])) as string[];
      } catch (e) { throw io(name, 'scan', e); }
      const out: KeyValueEntry<T>[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ key: flat[i], value: parseValue<T>(name, flat[i], flat[i + 1]) });
      return out;
    },

    commit(ops: KeyValueOp[], cp: OffsetMap): Promise<void> {
      // Checked at call time: a commit called before close() still runs (close waits for it).
      if (closed) return Promise.reject(new KeyValueStoreError('STORE_CLOSED', `redis kv store ${name} is closed`));
      return serial(async () => {
        // Ops on different keys commute, so only each key's last op matters: the batch becomes
        // one HSET + ZADD of the puts and one HDEL + ZREM of the deletes (order kept per key).
        const last = new Map<string, string | null>();
        for (const o of ops) {
          const key = checkKey(o?.key);
          let json: string | null = null;
          if (o.op === 'put') {
            try { json = JSON.stringify(o.value) ?? null; } catch (e) { throw new KeyValueStoreError('INVALID_KEY', `value of ${key} is not JSON: ${(e as Error).message}`); }
            if (json === null) throw new KeyValueStoreError('INVALID_KEY', `value of ${key} is not JSON`);
          } else if (o.op !== 'delete') {
            throw new KeyValueStoreError('INVALID_KEY', `unknown op ${JSON.stringify((o as { op?: unknown }).op)} for ${key}`);
          }
          last.delete(key);
          last.set(key, json);
        }
        const cpFields: string[] = [];
        for (const [tp, offset] of cp) {
          if (typeof tp !== 'string' || !Number.isFinite(offset)) throw new KeyValueStoreError('INVALID_KEY', `bad checkpoint entry ${String(tp)} → ${String(offset)}`);
          cpFields.push(tp, String(offset));
        }
        const puts: string[] = [];
        const dels: string[] = [];
        for (const [k, json] of last) {
          if (json === null) dels.push(k); else puts.push(k, json);
        }
        if (puts.length === 0 && dels.length === 0 && cpFields.length === 0) return;

        const tx = client.multi();
        for (let i = 0; i < puts.length; i += 2 * maxFields) {
          const chunk = puts.slice(i, i + 2 * maxFields);
          tx.hset(keys.values, ...chunk);
          const members: (string | number)[] = [];
          for (let j = 0; j < chunk.length; j += 2) members.push(0, chunk[j]);
          tx.zadd(keys.index, ...members);
        }
        for (let i = 0; i < dels.length; i += maxFields) {
          const chunk = dels.slice(i, i + maxFields);
          tx.hdel(keys.values, ...chunk);
          tx.zrem(keys.index, ...chunk);
        }
        if (cpFields.length) tx.hset(keys.checkpoint, ...cpFields);

        let results: [Error | null, unknown][] | null;
        try { results = await tx.exec(); } catch (e) { throw io(name, 'commit', e); }
        if (results === null) throw new KeyValueStoreError('STORE_IO', `redis kv store ${name}: commit: transaction discarded`);
        const failed = results.find(([err]) => err);
        if (failed) {
          throw new KeyValueStoreError('STORE_CORRUPT', `redis kv store ${name}: commit failed inside EXEC (possibly applied in part): ${failed[0]!.message}`);
        }
      });
    },

    async checkpoint(): Promise<OffsetMap> {
      assertOpen();
      let raw: Record<string, string>;
      try { raw = await client.hgetall(keys.checkpoint); } catch (e) { throw io(name, 'checkpoint', e); }
      return new Map(Object.entries(raw).map(([tp, v]) => [tp, Number(v)]));
    },

    /**
     * Issue 13: values a commit deleted or overwrote leave the server's memory at once but stay in
     * its append-only file until the file is rewritten: ask for a rewrite (shared per client,
     * at most one per 10 s, sent on close at the latest; platform/redis/aof-rewriter.ts). Not done
     * on a Redis Cluster (each node's file would need its own rewrite): there, old values stay in
     * the nodes' files until their own rewrites.
     */
    async compact() {
      assertOpen();
      if (client instanceof Redis) requestAofRewrite(client, opts.logger ?? SILENT);
    },

    close() {
      // Lets commits already called finish first; later calls see STORE_CLOSED.
      const wasClosed = closed;
      closed = true;
      return serial(async () => {
        if (wasClosed) return;
        if (client instanceof Redis) await flushAofRewrite(client).catch(() => undefined);
        if (!opts.ownsClient) return;
        // QUIT resolves on the server's OK; the socket closes just after ('end').
        const ended = client.status === 'end' ? Promise.resolve() : new Promise<void>((r) => client.once('end', () => r()));
        await client.quit().catch(() => client.disconnect());
        await ended;
      });
    },
  };
  return store;
}

/**
 * Deletes store `name` (values, key index and checkpoint) in one DEL: a read-model rebuild starts
 * from nothing, or a shadow is dropped. Handles open on it then read an empty store.
 * @throws KeyValueStoreError `INVALID_KEY` (bad name), `STORE_IO` (Redis unreachable).
 */
export async function deleteRedisKeyValueStore(client: Redis | Cluster, name: string): Promise<void> {
  const k = redisKeyValueStoreKeys(name);
  try { await client.del(k.values, k.index, k.checkpoint); } catch (e) { throw io(name, 'delete', e); }
}

/**
 * Replaces store `to` with store `from` atomically (one Lua script: RENAME of each of the three
 * keys), so `from` disappears and every handle on `to` reads `from`'s data and checkpoint from its
 * next call. This is the swap after a replay into a shadow:
 *
 *   replay into `video-detail@replay` (a store of its own, same slot) until caught up, stop its
 *   projector, then `renameRedisKeyValueStore(redis, 'video-detail@replay', 'video-detail')`.
 *
 * On Redis Cluster both names must share a family (the part before `@`), else Redis refuses the
 * script with CROSSSLOT (→ STORE_IO); on a single server any two names work.
 * @throws KeyValueStoreError `INVALID_KEY` (bad name, or `from` = `to`), `STORE_IO` (Redis unreachable or refused).
 */
export async function renameRedisKeyValueStore(client: Redis | Cluster, from: string, to: string): Promise<void> {
  if (from === to) throw new KeyValueStoreError('INVALID_KEY', `cannot rename store ${from} onto itself`);
  const a = redisKeyValueStoreKeys(from);
  const b = redisKeyValueStoreKeys(to);
  try {
    await runScript(client, SCRIPTS.rename, [a.values, a.index, a.checkpoint, b.values, b.index, b.checkpoint], []);
  } catch (e) { throw io(from, `rename to ${to}`, e); }
}
