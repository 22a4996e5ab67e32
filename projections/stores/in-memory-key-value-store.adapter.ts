import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import { KeyValueStoreError, type JsonValue, type KeyValueOp, type KeyValueStore } from './key-value-store.port.ts';
import { SortedJsonMap } from './sorted-json-map.ts';

/**
 * KeyValueStore in memory, with the port's semantics (atomic commits with the checkpoint, copies
 * on read) and no durability: for the topology test driver and the gateway's tests. Not for
 * production: use the embedded store (standalone) or Redis (cluster).
 * @throws KeyValueStoreError `STORE_CLOSED` after close, `INVALID_KEY` for a non-string key or a non-JSON value.
 */
export function createInMemoryKeyValueStore(): KeyValueStore {
  const map = new SortedJsonMap();
  const checkpoint: OffsetMap = new Map();
  let closed = false;
  return {
    async get<T = JsonValue>(key: string) { return map.get<T>(key); },
    async getMany<T = JsonValue>(keys: string[]) { return keys.map((k) => map.get<T>(k)); },
    async getManyJson(keys: string[]) { return keys.map((k) => map.getJson(k)); },
    async scan(prefix, options) { return map.scan(prefix, options); },
    async commit(ops: KeyValueOp[], cp: OffsetMap) {
      if (closed) throw new KeyValueStoreError('STORE_CLOSED', 'in-memory kv store is closed');
      // Serialise everything first, so a bad op leaves the store unchanged (all-or-nothing).
      const staged = ops.map((o) => {
        if (typeof o.key !== 'string') throw new KeyValueStoreError('INVALID_KEY', `key must be a string, got ${typeof o.key}`);
        if (o.op === 'delete') return { key: o.key, json: undefined };
        const json = JSON.stringify(o.value);
        if (json === undefined) throw new KeyValueStoreError('INVALID_KEY', `value of ${o.key} is not JSON`);
        return { key: o.key, json };
      });
      for (const { key, json } of staged) {
        if (json === undefined) map.delete(key); else map.putJson(key, json);
      }
      for (const [k, v] of cp) checkpoint.set(k, v);
    },
    async checkpoint() { return new Map(checkpoint); },
    async close() { closed = true; },
  };
}
