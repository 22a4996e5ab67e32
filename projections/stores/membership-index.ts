/**
 * A many-to-many membership kept by a key-value projection (issue 14): users who like a video,
 * users subscribed to a channel. For a group `g` (the video, the channel) and a member `m` (the
 * user), under the names given:
 * - `<marker>:<g>:<m>` → true while the membership stands (answers "is m in g"; an event
 *   delivered twice changes nothing);
 * - `<byMember>:<m>:<g>` → when it began (ms): the member's side (their data export, their erasure);
 * - the group's count, kept by the caller (`adjustCount`), e.g. inside a stats document.
 * An erased member (`erasedKey(m)` set, by the caller or by {@link MembershipIndex.erase}) leaves
 * every count, and membership events met after the erasure are ignored: the topics are not
 * ordered with each other, so a replay may meet them after the UserErased and must end the same.
 * Ids are URI-encoded in keys so a `:` inside one cannot break a prefix.
 */
import type { KeyValueBatch } from './key-value-projection.ts';
import type { KeyValueStore } from './key-value-store.port.ts';

const enc = encodeURIComponent;

export interface MembershipIndexOptions {
  /** Key prefix of the `group → member` markers, e.g. `liker`. */
  marker: string;
  /** Key prefix of the `member → group` entries, e.g. `user-like`. */
  byMember: string;
  /** The key whose presence marks a member as erased. */
  erasedKey(member: string): string;
  /** Adds `delta` (±1) to the group's count in the batch. */
  adjustCount(tx: KeyValueBatch, group: string, delta: 1 | -1): Promise<void>;
}

export interface MembershipIndex {
  /** Applies a membership event: `since` (ms) to join, undefined to leave; ignored for an erased member. */
  apply(tx: KeyValueBatch, group: string, member: string, since: number | undefined): Promise<void>;
  /** Marks `member` erased and takes them out of every group (this batch's joins included). */
  erase(tx: KeyValueBatch, member: string): Promise<void>;
  /** Whether `member`'s membership of `group` stands. */
  has(store: KeyValueStore, group: string, member: string): Promise<boolean>;
  /** The groups `member` belongs to, with since when (ms), in group-id order. */
  groupsOf(store: KeyValueStore, member: string): Promise<{ group: string; since: number }[]>;
}

/** Entries of `store` under `prefix`, in key order, read 500 at a time. */
export async function scanAll<T>(store: KeyValueStore, prefix: string): Promise<{ key: string; value: T }[]> {
  const out: { key: string; value: T }[] = [];
  for (let after: string | undefined, page; (page = await store.scan<T>(prefix, { limit: 500, after })).length; after = page[page.length - 1].key) {
    out.push(...page);
  }
  return out;
}

/** See the file comment. */
export function membershipIndex(opts: MembershipIndexOptions): MembershipIndex {
  const markerKey = (group: string, member: string) => `${opts.marker}:${enc(group)}:${enc(member)}`;
  const memberPrefix = (member: string) => `${opts.byMember}:${enc(member)}:`;

  async function set(tx: KeyValueBatch, group: string, member: string, since: number | undefined): Promise<void> {
    const marker = markerKey(group, member);
    if (((await tx.get(marker)) === true) === (since !== undefined)) return; // delivered twice
    if (since !== undefined) {
      tx.put(marker, true);
      tx.put(memberPrefix(member) + enc(group), since);
    } else {
      tx.del(marker);
      tx.del(memberPrefix(member) + enc(group));
    }
    await opts.adjustCount(tx, group, since !== undefined ? 1 : -1);
  }

  return {
    async apply(tx, group, member, since) {
      if (await tx.get(opts.erasedKey(member))) return;
      await set(tx, group, member, since);
    },
    async erase(tx, member) {
      tx.put(opts.erasedKey(member), true);
      const prefix = memberPrefix(member);
      for (const key of await tx.keys(prefix)) await set(tx, decodeURIComponent(key.slice(prefix.length)), member, undefined);
    },
    async has(store, group, member) {
      return (await store.get(markerKey(group, member))) === true;
    },
    async groupsOf(store, member) {
      const prefix = memberPrefix(member);
      return (await scanAll<number>(store, prefix)).map(({ key, value }) => ({ group: decodeURIComponent(key.slice(prefix.length)), since: value }));
    },
  };
}
