import { createInMemoryKeyValueStore } from './in-memory-key-value-store.adapter.ts';
import { keyValueStoreContract } from './key-value-store.contract.ts';
import { KeyValueStoreError, type KeyValueStore } from './key-value-store.port.ts';

// The contract reopens a store by name to check durability; in memory, "reopen" is a new handle on
// the same data (within the process), closed independently of the data.
const stores = new Map<string, KeyValueStore>();
keyValueStoreContract('in-memory', async (name) => {
  let data = stores.get(name);
  if (!data) stores.set(name, data = createInMemoryKeyValueStore());
  const inner = data;
  let closed = false;
  return {
    get: (k) => inner.get(k),
    getMany: (ks) => inner.getMany(ks),
    getManyJson: (ks) => inner.getManyJson(ks),
    scan: (p, o) => inner.scan(p, o),
    checkpoint: () => inner.checkpoint(),
    async commit(ops, cp) {
      if (closed) throw new KeyValueStoreError('STORE_CLOSED', 'closed');
      return inner.commit(ops, cp);
    },
    async close() { closed = true; },
  } as KeyValueStore;
});
