/**
 * The one way StreamWave opens an ioredis connection (cluster mode: key-value read models, shared
 * rate limits). The options are chosen for a read model and a rate limiter, where a fast, honest
 * failure beats a late answer: while Redis is down a request must fail at once (the gateway
 * answers 503 with Retry-After, a projector pauses and retries its batch), never wait in a queue.
 *
 * | option | value | why |
 * |---|---|---|
 * | `enableOfflineQueue` | false | a command issued while disconnected rejects at once instead of waiting, unbounded, for a reconnect (ioredis' default queues it forever) |
 * | `maxRetriesPerRequest` | 0 | a command in flight when the connection drops rejects at that moment (ioredis' default re-sends it on up to 20 reconnects) |
 * | `autoResendUnfulfilledCommands` | false | a command that rejected is never sent later behind the caller's back: a commit reported as failed must not land minutes after the projector moved on |
 * | `commandTimeout` | 2 000 ms | a server that accepts the connection but does not answer (paused, swapping, black-holed network) rejects too |
 * | `connectTimeout` | 2 000 ms | a SYN into the void does not hold the reconnect loop for ioredis' default 10 s |
 * | `retryStrategy` | 50·2ⁿ ms capped at 1 s, + jitter, forever | the client comes back on its own after an outage, within a second of the server |
 * | `enableReadyCheck` | true | after a restart, commands wait (rejecting) until Redis has loaded its AOF, instead of meeting `-LOADING` |
 *
 * Consequences: a command whose reply was lost (connection dropped or timed out after it was
 * sent) has an unknown outcome; the adapters only send commands that are safe to repeat (a commit
 * re-applies the same puts and the same checkpoint; a rate-limit hit counted twice errs on the
 * strict side). And a client must be `ready` before its first command: await `redisReady(client)`
 * at startup (commands issued earlier reject like during an outage).
 *
 * Redis Cluster: the adapters accept an ioredis `Cluster` as well (every key of one store shares a
 * hash tag); create it with `new Cluster(nodes, { redisOptions: redisClientOptions(...) })`.
 */
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisClientOptions {
  /** Ms a command may wait for its reply (default 2 000). */
  commandTimeoutMs?: number;
  /** Ms a connection attempt may take (default 2 000). */
  connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts, ms (default 1 000). */
  maxReconnectDelayMs?: number;
  /** `CLIENT SETNAME` (shows in `CLIENT LIST`), e.g. `gateway` or `projector:video-detail`. */
  connectionName?: string;
  /** Connection state changes (down, back up) and errors; default: none. pino-compatible. */
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * The ioredis options described above, for `new Redis(url, …)` or a Cluster's `redisOptions`.
 * @param opts timeouts in milliseconds
 */
export function redisClientOptions(opts: RedisClientOptions = {}): RedisOptions {
  const maxDelay = opts.maxReconnectDelayMs ?? 1_000;
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: opts.commandTimeoutMs ?? 2_000,
    connectTimeout: opts.connectTimeoutMs ?? 2_000,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 10), maxDelay) + Math.floor(Math.random() * 50),
    ...(opts.connectionName ? { connectionName: opts.connectionName } : {}),
  };
}

/**
 * Opens a client on `url` (`redis://[user:password@]host:port[/db]`, or `rediss://` for TLS) with
 * the options above. It connects in the background and reconnects forever until `quit()` /
 * `disconnect()`; await `redisReady` before the first command.
 * @throws TypeError when `url` is not a redis:// or rediss:// URL.
 */
export function createRedisClient(url: string, opts: RedisClientOptions = {}): Redis {
  let parsed: URL;
  try { parsed = new URL(url); } catch { throw new TypeError(`not a Redis URL: ${url}`); }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new TypeError(`not a Redis URL (redis:// or rediss://): ${url}`);
  const client = new Redis(url, redisClientOptions(opts));
  const where = `${parsed.hostname}:${parsed.port || 6379}`;
  let up = false;
  let lastError = '';
  // Without an 'error' listener ioredis prints every failed reconnect to stderr.
  client.on('error', (err: Error) => {
    if (err.message !== lastError) opts.logger?.warn({ redis: where, err: err.message }, 'redis: connection error');
    lastError = err.message;
  });
  client.on('ready', () => {
    up = true;
    lastError = '';
    opts.logger?.info({ redis: where }, 'redis: connected');
  });
  client.on('close', () => {
    if (up) opts.logger?.warn({ redis: where }, 'redis: connection lost; reconnecting');
    up = false;
  });
  return client;
}

/**
 * Resolves once `client` is ready for commands (connected, AOF loaded); at once if it already is.
 * @param timeoutMs give up after this many ms (default 10 000)
 * @throws Error `redis not ready after <n> ms` on timeout, or when the client was closed.
 */
export function redisReady(client: Redis, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new Error('redis client is closed'));
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (err) reject(err); else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error('redis client is closed'));
    const timer = setTimeout(() => done(new Error(`redis not ready after ${timeoutMs} ms (${client.status})`)), timeoutMs);
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}
