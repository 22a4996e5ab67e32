/**
 * Committed offsets of the embedded log's consumer groups: one file `<groupsDir>/<groupId>.json`
 * per group (`{"<topic>:<partition>": nextOffset}`, group id URI-encoded in the file name),
 * replaced atomically on every commit. An offset is that of the *next* record to read, as in
 * Kafka's OffsetCommit.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OffsetMap } from '../event-log.port.ts';
import { writeFileAtomic } from '../../files/atomic-file.ts';

interface GroupState {
  offsets: OffsetMap;
  /** A queued (not yet started) write; later commits join it. */
  pending: Promise<void> | null;
  /** The writes of this group, one after the other. */
  chain: Promise<void>;
}

export class ConsumerGroups {
  private constructor(
    private readonly dir: string,
    private readonly fsync: boolean,
    private readonly groups: Map<string, GroupState>,
  ) {}

  /**
   * Loads every group file of `dir` (which must exist), deleting the temp files of commits a crash
   * interrupted. @param fsync fsync each commit (and its directory) before it resolves.
   * @throws fs errors, or a SyntaxError for a group file that is not JSON.
   */
  static async load(dir: string, fsync: boolean): Promise<ConsumerGroups> {
    const groups = new Map<string, GroupState>();
    for (const file of await readdir(dir)) {
      if (file.startsWith('.')) { await rm(join(dir, file), { force: true }); continue; }
      if (!file.endsWith('.json')) continue;
      const groupId = decodeURIComponent(file.slice(0, -'.json'.length));
      const data = JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, number>;
      groups.set(groupId, { offsets: new Map(Object.entries(data)), pending: null, chain: Promise.resolve() });
    }
    return new ConsumerGroups(dir, fsync, groups);
  }

  get size(): number { return this.groups.size; }

  /** Group ids, sorted. */
  ids(): string[] {
    return [...this.groups.keys()].sort();
  }

  /** A copy of the group's committed offsets (empty for an unknown group). */
  committed(groupId: string): OffsetMap {
    return new Map(this.groups.get(groupId)?.offsets ?? []);
  }

  /**
   * Merges `offsets` into the group's and resolves once they are on disk. Commits arriving while
   * a write runs are coalesced into the next one.
   */
  async commit(groupId: string, offsets: OffsetMap): Promise<void> {
    let g = this.groups.get(groupId);
    if (!g) this.groups.set(groupId, g = { offsets: new Map(), pending: null, chain: Promise.resolve() });
    for (const [k, v] of offsets) g.offsets.set(k, v);
    await this.persist(groupId, g);
  }

  /** Resolves when every started write has finished. */
  async idle(): Promise<void> {
    for (const g of this.groups.values()) await g.chain;
  }

  private persist(groupId: string, g: GroupState): Promise<void> {
    if (g.pending) return g.pending;
    const path = join(this.dir, `${encodeURIComponent(groupId)}.json`);
    const p = g.chain.then(() => {
      g.pending = null;
      return writeFileAtomic(path, JSON.stringify(Object.fromEntries(g.offsets)), this.fsync);
    });
    g.pending = p;
    g.chain = p.catch(() => {});
    return p;
  }
}
