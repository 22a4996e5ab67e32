import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import MiniSearch from 'minisearch';
import { prng } from '../../test/support/prng.ts';
import { INDEX_OPTIONS } from './search.projection.ts';
import { before, createSearchRanker, type Ranked } from './search-ranker.ts';
import type { SearchDoc } from './search-model.ts';

/** A seeded corpus with skewed word frequencies (a few words in most documents, a long tail) and queries of every kind. */
function corpus(seed: number, size: number) {
  const rand = prng(seed);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const vocabulary = Array.from({ length: 400 }, (_, i) => {
    const len = 2 + (i % 9);
    return Array.from({ length: len }, () => letters[Math.floor(rand() * 26)]).join('');
  });
  const word = () => vocabulary[Math.floor(vocabulary.length * rand() ** 3)]!; // skewed to the first words
  const words = (lo: number, hi: number) => Array.from({ length: lo + Math.floor(rand() * (hi - lo + 1)) }, word);
  const docs: SearchDoc[] = Array.from({ length: size }, (_, i) => ({
    videoId: `v${String(i).padStart(5, '0')}`, ownerId: 'o1', title: words(2, 6).join(' '), description: words(5, 30).join(' '),
    tags: [...new Set(words(0, 3))], ready: true,
  }) as SearchDoc);
  const typo = (w: string) => (w.length < 4 ? w : `${w.slice(0, 1)}${w[2]}${w[1]}${w.slice(3)}`);
  const queries = Array.from({ length: 120 }, (_, i) => {
    switch (i % 6) {
      case 0: return word();
      case 1: return vocabulary[200 + Math.floor(rand() * 200)]!;
      case 2: return `${word()} ${word()}`;
      case 3: return word().slice(0, 3);
      case 4: return typo(word());
      default: return `${word().toUpperCase()}, ${word()} ${word()}!`;
    }
  });
  return { docs, queries };
}

/** MiniSearch's own results in the read model's order (score, then id), with their scores. */
const miniSearchOrder = (index: MiniSearch<SearchDoc>, q: string): Ranked[] =>
  index.search(q).map((r) => ({ id: String(r.id), score: r.score })).sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));

describe('search ranker: the pages of MiniSearch#search without ranking every match', () => {
  test('given an index of 3,000 documents, when 120 queries of every kind are ranked, then each page and each score equal MiniSearch#search', () => {
    const { docs, queries } = corpus(7, 3000);
    const index = new MiniSearch<SearchDoc>(INDEX_OPTIONS);
    index.addAll(docs);
    const ranker = createSearchRanker(index);
    let matched = 0;
    for (const q of queries) {
      const expected = miniSearchOrder(index, q);
      const scored = ranker.score(q);
      assert.equal(scored.count, expected.length, q);
      assert.deepEqual(scored.top(20, () => true), expected.slice(0, 20), q);
      if (expected.length > 0) matched++;
    }
    assert.ok(matched > 100, `most queries match something (${matched})`);
  });

  test('given a page bound and a filter, when pages are taken one after the other, then they join into the filtered MiniSearch order', () => {
    const { docs, queries } = corpus(8, 1500);
    const index = new MiniSearch<SearchDoc>(INDEX_OPTIONS);
    index.addAll(docs);
    const ranker = createSearchRanker(index);
    const hidden = (id: string) => Number(id.slice(1)) % 3 === 0;
    const q = queries.reduce((a, b) => (index.search(b).length > index.search(a).length ? b : a));
    const expected = miniSearchOrder(index, q).filter((r) => !hidden(r.id));
    assert.ok(expected.length > 100, `a common word (${expected.length} visible matches)`);
    const scored = ranker.score(q);
    const pages: Ranked[] = [];
    let last: Ranked | undefined;
    for (let page = scored.top(25, (id) => !hidden(id)); page.length > 0; page = scored.top(25, (id) => !hidden(id), last)) {
      pages.push(...page);
      last = page[page.length - 1];
      assert.equal(scored.scoreOf(last!.id), last!.score);
      assert.equal(scored.countThrough(last!, (id) => !hidden(id)), pages.length, 'the results shown up to the last one');
    }
    assert.deepEqual(pages, expected);
    assert.equal(scored.scoreOf('not-a-video'), undefined);
  });

  test('given discarded and re-added documents not yet vacuumed, when ranked, then the pages equal MiniSearch#search once vacuumed', async () => {
    const { docs, queries } = corpus(9, 2000);
    const index = new MiniSearch<SearchDoc>({ ...INDEX_OPTIONS, autoVacuum: false });
    index.addAll(docs);
    for (let i = 0; i < docs.length; i += 5) index.discard(docs[i]!.videoId);
    for (let i = 0; i < docs.length; i += 10) index.add({ ...docs[i]!, title: `${docs[i]!.title} renamed` });
    assert.ok(index.dirtCount > 0);
    const ranker = createSearchRanker(index);
    const pages = queries.map((q) => ranker.score(q).top(20, () => true));
    await index.vacuum();
    assert.equal(index.dirtCount, 0);
    queries.forEach((q, i) => assert.deepEqual(pages[i], miniSearchOrder(index, q).slice(0, 20), q));
  });

  test('given a query of more distinct terms than the ranker tracks, when ranked, then MiniSearch ranks it and the page is the same', () => {
    const { docs } = corpus(10, 500);
    const index = new MiniSearch<SearchDoc>(INDEX_OPTIONS);
    index.addAll(docs);
    const q = docs.slice(0, 12).map((d) => d.title).join(' ');
    assert.ok(new Set(q.toLowerCase().split(' ')).size > 31);
    assert.deepEqual(createSearchRanker(index).score(q).top(20, () => true), miniSearchOrder(index, q).slice(0, 20));
  });

  test('given a scored query, when another query is scored, then reading the first throws instead of answering from the scratch', () => {
    const { docs, queries } = corpus(11, 300);
    const index = new MiniSearch<SearchDoc>(INDEX_OPTIONS);
    index.addAll(docs);
    const ranker = createSearchRanker(index);
    const first = ranker.score(queries[0]!);
    assert.ok(first.top(5, () => true).length > 0);
    ranker.score(queries[2]!);
    assert.throws(() => first.top(5, () => true), /read after the next score/);
    assert.throws(() => first.scoreOf(docs[0]!.videoId), /read after the next score/);
  });

  test('given search options the ranker does not implement, when it is created, then it refuses', () => {
    assert.throws(() => createSearchRanker(new MiniSearch({ fields: ['title'], searchOptions: { boostDocument: () => 2 } })), /boostDocument/);
    assert.throws(() => createSearchRanker(new MiniSearch({ fields: ['title'], searchOptions: { combineWith: 'AND' } })), /combineWith/);
    assert.throws(() => createSearchRanker({} as MiniSearch), /MiniSearch 7 state/);
  });
});
