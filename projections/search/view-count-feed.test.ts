/** The view count feed (issue 14: view counts fed into the search index in batches). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createViewCountFeed } from './view-count-feed.ts';

/** Waits until `ok()` holds (polling every 10 ms, at most 30 s). */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

test('given views of a video, when video detail counts them late, then the late round still brings the count; a failed read is retried', async () => {
  const counts = new Map([['v1', 1]]);
  const reads: string[][] = [];
  const written = new Map<string, number>();
  let failNext = false;
  const feed = createViewCountFeed({
    source: async (ids) => {
      reads.push([...ids]);
      if (failNext) { failNext = false; throw new Error('video detail unreachable'); }
      return new Map(ids.filter((id) => counts.has(id)).map((id) => [id, counts.get(id)!]));
    },
    write: async (c) => { for (const [id, n] of c) written.set(id, n); },
    intervalMs: 10,
    lateMs: 200,
    logger: pino({ level: 'silent' }),
  });
  try {
    feed.viewed('v1');
    feed.viewed('v1');
    feed.viewed('unknown');
    await until(() => written.get('v1') === 1, 'the first count');
    assert.deepEqual(reads[0], ['v1', 'unknown'], 'one read per noted video, however many views');
    // Video detail counts the view only now, after the feed's first two reads.
    await until(() => reads.length >= 2, 'the second read');
    counts.set('v1', 2);
    await until(() => written.get('v1') === 2, 'the late round reads it once more');
    failNext = true;
    feed.viewed('v1');
    counts.set('v1', 3);
    await until(() => written.get('v1') === 3, 'read again after the failure');
  } finally {
    await feed.close();
  }
  const after = reads.length;
  feed.viewed('v1');
  feed.refresh(['v1']);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(reads.length, after, 'nothing is read once closed');
});

test('a noted video is read three times (next run, once more, the late round), then never again until it is viewed again', async () => {
  const reads: string[][] = [];
  const feed = createViewCountFeed({
    source: async (ids) => { reads.push([...ids]); return new Map(ids.map((id) => [id, 1])); },
    write: async () => {},
    intervalMs: 10,
    lateMs: 50,
    logger: pino({ level: 'silent' }),
  });
  try {
    feed.viewed('v1');
    await until(() => reads.length >= 3, 'three reads');
    await new Promise((r) => setTimeout(r, 300)); // six late rounds
    assert.deepEqual(reads, [['v1'], ['v1'], ['v1']]);
    feed.refresh(['a', 'b']);
    await until(() => reads.length >= 4, 'the refresh');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(reads.slice(3), [['a', 'b']], 'a refresh reads once');
  } finally {
    await feed.close();
  }
});
