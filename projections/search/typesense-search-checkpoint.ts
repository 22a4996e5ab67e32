/**
 * The search read model's checkpoint on Typesense (typesense-search.adapter.ts): one document per
 * input partition in the shared `<prefix>_checkpoints` collection, beside the older whole-map
 * document earlier versions wrote.
 */
import type { Client } from 'typesense';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import { isNotFound, removeDocs, upsertDocs, wrap } from './typesense-search-store.ts';

/**
 * Id of the checkpoint document of search collection `search`'s partition `tp` (`topic:partition`):
 * `<search>@<topic>:<partition>` ('@' is in no collection name, so no other collection's ids
 * start the same way).
 */
const partitionCheckpointId = (search: string, tp: string) => `${search}@${tp}`;

/** Ids and offsets of every checkpoint document of `search`: its partitions' and the older whole-map one. */
async function checkpointDocs(client: Client, checkpoints: string, search: string): Promise<{ id: string; offsets: Record<string, number> }[]> {
  let text: string;
  try {
    // The collection holds a few documents per instance and partition: read whole.
    text = await client.collections(checkpoints).documents().export();
  } catch (err) {
    if (isNotFound(err)) return [];
    throw wrap(err, `read checkpoint ${search}`);
  }
  try {
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: string; offsets: string })
      .filter((d) => d.id === search || d.id.startsWith(`${search}@`))
      .map((d) => ({ id: d.id, offsets: JSON.parse(d.offsets) as Record<string, number> }));
  } catch (err) {
    throw wrap(err, `read checkpoint ${search}: not JSON`);
  }
}

/**
 * Reads the checkpoint of search collection `search` (empty map when none): one document per
 * partition (`partitionCheckpointId`, written by whichever projector owns the partition), merged
 * with the single whole-map document (id `search`) that earlier versions wrote, the highest
 * offset of each partition winning (offsets only grow within an instance).
 * @throws SearchIndexError SEARCH_UNAVAILABLE / SEARCH_IO.
 */
export async function readCheckpoint(client: Client, checkpoints: string, search: string): Promise<OffsetMap> {
  const out: OffsetMap = new Map();
  for (const { offsets } of await checkpointDocs(client, checkpoints, search)) {
    for (const [tp, next] of Object.entries(offsets)) out.set(tp, Math.max(out.get(tp) ?? 0, next));
  }
  return out;
}

/**
 * Stores the next offsets `offsets` (`topic:partition` → next offset) of search collection
 * `search`, one document per partition, in one import. Only the given partitions are written: in
 * cluster mode every projector runs the same instance, each owning some partitions, and one shared
 * document written whole by each would lose the others' progress (read-modify-write, no lock).
 * @throws SearchIndexError SEARCH_UNAVAILABLE / SEARCH_IO.
 */
export async function writeCheckpoint(client: Client, checkpoints: string, search: string, fields: { readModel: string; schemaVersion: number }, offsets: OffsetMap): Promise<void> {
  const updatedAt = Date.now();
  await upsertDocs(client, checkpoints, [...offsets].map(([tp, next]) => ({
    id: partitionCheckpointId(search, tp), ...fields, offsets: JSON.stringify({ [tp]: next }), updatedAt,
  })));
}

/** Deletes every checkpoint document of search collection `search` (none is fine). @throws SearchIndexError. */
export async function deleteCheckpoint(client: Client, checkpoints: string, search: string): Promise<void> {
  await removeDocs(client, checkpoints, (await checkpointDocs(client, checkpoints, search)).map((d) => d.id));
}
