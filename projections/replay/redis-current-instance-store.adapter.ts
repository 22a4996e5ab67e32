/**
 * CurrentInstanceStore on Redis (cluster mode, issue 9): which instance of each read model serves
 * queries, shared by the projector that swaps it and every gateway that follows it. One hash
 * `<prefix>current-instance` with a field per read model holding the CurrentInstance as JSON; HSET
 * of one field is atomic, so a reader sees the old pointer or the new one, never a mix.
 */
import type { Redis } from 'ioredis';
import type { CurrentInstance, CurrentInstanceStore } from './replay.port.ts';

/**
 * @param redis a connected ioredis client (not closed by the store)
 * @param prefix key prefix shared with the read models' stores (default `sw:`)
 * @throws from `load`: Error `malformed current instance of <name>` for a field that is not a
 *   CurrentInstance; ioredis errors when the server is unreachable.
 */
export function createRedisCurrentInstanceStore(redis: Redis, prefix = 'sw:'): CurrentInstanceStore {
  const key = `${prefix}current-instance`;
  return {
    async load(name) {
      const raw = await redis.hget(key, name);
      if (raw === null) return undefined;
      const j = JSON.parse(raw) as CurrentInstance;
      if (typeof j?.instanceId !== 'string' || typeof j.groupId !== 'string') throw new Error(`malformed current instance of ${name} in Redis key ${key}`);
      return j;
    },
    async save(name, current) {
      await redis.hset(key, name, JSON.stringify(current));
    },
  };
}
