/**
 * Group commit: calls that arrive while a send for the same key is in flight (or within its
 * linger) go together in the next send, each caller settled with its own share of the result.
 * The shared mechanism behind the gateways' coalesced log appends (platform/log/coalesced-appends.ts,
 * Kafka's `linger.ms` / `batch.size`) and the ClickHouse analytics inserts (one INSERT for the
 * batches of several input partitions; ClickHouse advises few, large inserts).
 *
 * Without `lingerMs` a call on an idle key goes at once; batching happens only under load, so it
 * costs no latency beyond the send in flight. With `lingerMs` a batch also waits until its oldest
 * call has waited that long or it holds `maxItems`; a call that fills the batch ends the wait.
 * A caller's items stay contiguous and in order in its batch; a caller with more than `maxItems`
 * items still goes whole, alone. A key's queue stays in the map once used (meant for a handful
 * of keys: topics, tables).
 */
import { performance } from 'node:perf_hooks';
import { sleep } from './sleep.ts';

/** Options of `groupCommit`. */
export interface GroupCommitOptions {
  /** Most items one send carries (a single caller with more goes alone). Default 1,000. */
  maxItems?: number;
  /**
   * How long a batch's oldest call may wait for company before the batch goes, ms; a full batch
   * goes at once. Default 0 (no wait beyond the send in flight). Capped at 2^31 - 1 (a Node timer's limit).
   */
  lingerMs?: number;
  /**
   * When a send of several callers' items fails with an error this returns true for, each
   * caller's items are sent again alone (all at once), so only a caller whose own items fail gets
   * the error: for sends a bad item fails whole, e.g. an INSERT the server refuses. Return false
   * for errors every caller would meet again (a timeout, a refused connection, an overloaded
   * server): re-sending would only hold the callers longer. Default: never (every caller of the
   * batch gets the error).
   */
  retryAlone?: (err: unknown) => boolean;
  /** Called as each send succeeds, after its callers are settled: its key and how many callers it carried (≥ 1). For metrics; what it throws is ignored. */
  onSend?: (key: string, callers: number) => void;
}

/** One caller waiting for its key's next send. */
interface Waiting<T, R> {
  items: T[];
  /** When it was queued (performance.now(), ms): the linger counts from the oldest waiting. */
  at: number;
  resolve(results: R[]): void;
  reject(err: unknown): void;
}

/** What waits for one key's next send. */
interface KeyQueue<T, R> {
  waiting: Waiting<T, R>[];
  /** Items in `waiting`, summed. */
  items: number;
  /** Set while `drain` runs for the key. */
  busy: boolean;
  /** Set while a batch lingers; aborting it ends the wait (a caller filled the batch). */
  linger?: AbortController;
}

/** Sends per key with group commit; see the file comment. */
export interface GroupCommit<T, R> {
  /**
   * Sends `items` under `key` with whatever else waits for it; resolves with this caller's share
   * of the send's results (`results[i]` for `items[i]`; empty when the send returns none).
   * @throws whatever `send` throws, for every caller of the failed batch (see `retryAlone`)
   */
  submit(key: string, items: T[]): Promise<R[]>;
  /** Sends made so far, failed and re-sent ones included (fewer than callers under load; a submit of no items is not counted). */
  sends(): number;
}

/**
 * Group commit over `send(key, items)`, which returns one result per item (or none at all).
 * `submit` with no items calls `send` directly.
 */
export function groupCommit<T, R>(send: (key: string, items: T[]) => Promise<R[] | void>, opts: GroupCommitOptions = {}): GroupCommit<T, R> {
  const maxItems = opts.maxItems ?? 1_000;
  const lingerMs = Math.min(2 ** 31 - 1, Math.max(0, opts.lingerMs ?? 0));
  const keys = new Map<string, KeyQueue<T, R>>();
  let made = 0;

  /** Sends `batch` as one; settles every caller in it. */
  async function sendBatch(key: string, batch: Waiting<T, R>[]): Promise<void> {
    made++;
    let results: R[];
    try {
      results = (await send(key, batch.flatMap((w) => w.items))) ?? [];
    } catch (err) {
      if (batch.length > 1 && opts.retryAlone?.(err)) await Promise.all(batch.map((w) => sendBatch(key, [w])));
      else for (const w of batch) w.reject(err);
      return;
    }
    let at = 0;
    for (const w of batch) {
      w.resolve(results.slice(at, at + w.items.length));
      at += w.items.length;
    }
    try {
      opts.onSend?.(key, batch.length);
    } catch { /* a metrics callback must not fail the callers it counted */ }
  }

  /** Sends what waits for `key`, batch after batch, until nothing does. */
  async function drain(key: string, q: KeyQueue<T, R>): Promise<void> {
    q.busy = true;
    try {
      while (q.waiting.length) {
        const wait = lingerMs > 0 && q.items < maxItems ? q.waiting[0]!.at + lingerMs - performance.now() : 0;
        if (wait > 0) {
          q.linger = new AbortController();
          await sleep(wait, q.linger.signal);
          q.linger = undefined;
        }
        const batch = [q.waiting.shift()!];
        let n = batch[0]!.items.length;
        while (q.waiting.length && n + q.waiting[0]!.items.length <= maxItems) {
          const next = q.waiting.shift()!;
          n += next.items.length;
          batch.push(next);
        }
        q.items -= n;
        await sendBatch(key, batch);
      }
    } finally {
      q.busy = false;
    }
  }

  return {
    async submit(key, items) {
      if (!items.length) return (await send(key, items)) ?? [];
      return new Promise<R[]>((resolve, reject) => {
        let q = keys.get(key);
        if (!q) keys.set(key, (q = { waiting: [], items: 0, busy: false }));
        q.waiting.push({ items, at: performance.now(), resolve, reject });
        q.items += items.length;
        if (!q.busy) void drain(key, q);
        else if (q.items >= maxItems) q.linger?.abort();
      });
    },
    sends: () => made,
  };
}
