/**
 * Scrubbing Typesense's Raft log after the search read model forgot something (issue 13: a deleted
 * video's title, description and tags, an erased user's videos among them).
 *
 * Typesense records every write request in its Raft log (`<data dir>/state/log/`), the indexing of
 * a title included, and removes a log segment only when a snapshot is taken after the segment was
 * closed; braft (Typesense's Raft library) closes a segment once it holds 8 MiB, and a quiet server
 * may take weeks to fill one. Measured on Typesense 0.24.1:
 * - padding writes of 9 MiB close the segment that holds the deleted document;
 * - of two snapshots after that (`POST /operations/snapshot`, each after a write), the second
 *   truncates the log up to the first, and the closed segment's file is deleted.
 * The snapshot endpoint also copies the whole database to `snapshot_path` on the Typesense host,
 * copies that would themselves keep data a later erasure must remove; the scrub therefore names a
 * path that cannot be created (`/dev/null/…`): Typesense takes its own snapshot, fails the copy,
 * and still answers success.
 *
 * RocksDB keeps a deleted document's bytes in its files until a compaction, so the scrub asks for
 * one (`/operations/db/compact`) before the snapshots.
 *
 * Cost per scrub: ~9 MiB written to one padding document (overwritten each time, so the database
 * keeps 1 MiB of it) and two snapshots (RocksDB checkpoints: hard links). A multi-node Typesense
 * cluster snapshots each node on its own schedule; the endpoint only snapshots the node asked.
 */
import type { Client } from 'typesense';
import { ensureCollection, wrap } from './typesense-search-store.ts';

/** Bytes of one padding write (Typesense accepts documents far larger). */
const PAD_BYTES = 1 << 20;
/** Padding writes per scrub: 9 MiB, more than braft's 8 MiB segment. */
const PAD_WRITES = 9;
/** Attempts per scrub. */
const ATTEMPTS = 3;
/** A snapshot path that cannot be created, so Typesense makes no copy of its database. */
const NO_COPY_PATH = '/dev/null/streamwave-no-snapshot-copy';

let padding: string | undefined;

/**
 * Closes Typesense's open Raft-log segment and has the closed ones truncated (see the file
 * comment). The collection `<prefix>_raft_scrub` holds the padding.
 * @throws SearchIndexError when Typesense fails a write or a snapshot.
 */
export async function scrubTypesenseRaftLog(client: Client, prefix: string): Promise<void> {
  const collection = `${prefix}_raft_scrub`;
  await ensureCollection(client, collection, [{ name: 'padding', type: 'string', index: false, optional: true }]);
  padding ??= 'x'.repeat(PAD_BYTES);
  const docs = client.collections(collection).documents();
  for (let attempt = 1; ; attempt++) {
    try {
      for (let i = 0; i < PAD_WRITES; i++) await docs.upsert({ id: 'padding', padding });
      // Deleted documents also linger in RocksDB's files until a compaction rewrites them.
      await client.operations.perform('db/compact');
      for (let i = 0; i < 2; i++) {
        await docs.upsert({ id: 'tick', padding: String(Date.now()) });
        await client.operations.perform('snapshot', { snapshot_path: NO_COPY_PATH });
      }
      return;
    } catch (err) {
      // Another instance's scrub may be snapshotting the same server: wait and try again.
      if (attempt >= ATTEMPTS) throw wrap(err, 'scrub the Raft log');
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}
