/**
 * The text of the search benchmark (bench/search.bench.ts): a seeded vocabulary with a Zipf-like
 * word distribution, video metadata drawn from it (titles of 3–8 words, descriptions of 20–60
 * words, 1–5 tags) and the query mix (a common word, a rare word, two words, a prefix while typing,
 * a word with one typo). Deterministic for a given seed, so two runs index and query the same text.
 */
import { prng } from '../../test/support/prng.ts';

export { prng };

/** An integer in [lo, hi] (both inclusive). */
export const between = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

/**
 * The most frequent words, most frequent first: words a video platform's titles and descriptions
 * use a lot (no stop words: "the", "and" … would only make every query match everything). The
 * rest of the vocabulary is made of pronounceable invented words (see `buildVocabulary`).
 */
const HEAD_WORDS = (
  'video music live official new how best guide tutorial game full review part episode day world time love life first ' +
  'easy home make top song travel food recipe cooking beginner learn play story news update week year city night ' +
  'summer winter morning family kids funny fail challenge reaction trailer movie film series season show podcast ' +
  'interview talk lecture course lesson class tips tricks hacks secret real truth inside behind scenes making build ' +
  'project design art drawing painting photography camera drone beach mountain hiking camping forest river lake ocean ' +
  'island road trip tour walk drive car bike train flight hotel restaurant street market festival concert dance band ' +
  'guitar piano drums singer cover acoustic remix mix playlist album vlog daily routine workout fitness yoga running ' +
  'football soccer basketball tennis match highlights goals training coach team player league final championship ' +
  'science space planet earth history ancient war documentary nature animals dogs cats birds garden plants coffee ' +
  'bread pizza pasta chicken vegan dessert cake breakfast dinner kitchen house room cleaning organizing budget money ' +
  'business startup marketing coding programming python javascript web app software computer phone gaming minecraft ' +
  'strategy puzzle speedrun stream setup unboxing test comparison explained simple quick minutes hours complete ' +
  'ultimate perfect amazing beautiful incredible crazy epic classic modern vintage retro future smart healthy natural'
).split(' ');

const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'ch', 'cl', 'dr', 'fl', 'gr', 'pl', 'pr', 'sh', 'st', 'str', 'th', 'tr'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ie', 'oo', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'm', 't', 'nd', 'st', 'ck', 'ng'];

/**
 * `size` distinct lowercase words in rank order (index 0 = most frequent): HEAD_WORDS first, then
 * invented words of 2–4 syllables (4–14 letters) that share prefixes the way real words do, so
 * prefix and fuzzy queries expand to several terms.
 */
export function buildVocabulary(size: number, rand: () => number): string[] {
  const words: string[] = [];
  const seen = new Set<string>();
  for (const w of HEAD_WORDS) {
    if (words.length >= size) break;
    if (!seen.has(w)) { seen.add(w); words.push(w); }
  }
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  while (words.length < size) {
    const syllables = between(rand, 2, 4);
    let w = '';
    for (let s = 0; s < syllables; s++) w += pick(ONSETS) + pick(VOWELS) + (s === syllables - 1 ? pick(CODAS) : '');
    if (w.length < 4 || w.length > 14 || seen.has(w)) continue;
    seen.add(w);
    words.push(w);
  }
  return words;
}

/** Draws ranks 0..n-1 with P(rank r) ∝ 1 / (r + 1)^s (Zipf). */
export function zipfSampler(n: number, s: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / (r + 1) ** s;
  return () => {
    const u = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** What a video's metadata is made of. */
export interface VideoText {
  title: string;
  description: string;
  tags: string[];
}

/** The text generator of one benchmark run. */
export interface Corpus {
  /** Distinct words, most frequent first. */
  readonly vocabulary: readonly string[];
  /** The next video's title (3–8 words, capitalised), description (20–60 words in sentences) and 1–5 distinct tags. */
  nextVideo(): VideoText;
}

/** Default vocabulary size and Zipf exponent of the benchmark. */
export const VOCABULARY_SIZE = 6000;
export const ZIPF_EXPONENT = 1.0;

/** A corpus over a `VOCABULARY_SIZE`-word Zipf vocabulary, seeded with `seed`. */
export function createCorpus(seed: number, vocabularySize = VOCABULARY_SIZE, exponent = ZIPF_EXPONENT): Corpus {
  const rand = prng(seed);
  const vocabulary = buildVocabulary(vocabularySize, rand);
  const rank = zipfSampler(vocabulary.length, exponent, rand);
  const word = () => vocabulary[rank()]!;
  const cap = (w: string) => w[0]!.toUpperCase() + w.slice(1);
  return {
    vocabulary,
    nextVideo() {
      const title = Array.from({ length: between(rand, 3, 8) }, (_, i) => (i === 0 || rand() < 0.6 ? cap(word()) : word())).join(' ');
      const total = between(rand, 20, 60);
      const sentences: string[] = [];
      for (let done = 0; done < total;) {
        const n = Math.min(total - done, between(rand, 6, 15));
        const words = Array.from({ length: n }, word);
        sentences.push(`${cap(words.join(' '))}${rand() < 0.15 ? '!' : '.'}`);
        done += n;
      }
      const tagCount = between(rand, 1, 5);
      const tags = new Set<string>();
      for (let guard = 0; tags.size < tagCount && guard < 50; guard++) tags.add(word());
      return { title, description: sentences.join(' '), tags: [...tags] };
    },
  };
}

/** The kinds of query of the mix, in the order the report lists them. */
export const QUERY_KINDS = ['common word', 'rare word', 'two words', 'prefix (typing)', 'one typo'] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

export interface BenchQuery {
  kind: QueryKind;
  q: string;
}

/**
 * `count` queries, the kinds in equal shares, shuffled (seeded):
 * - common word: one of the 50 most frequent words (in 10–100 % of the videos);
 * - rare word: a word from the less frequent half of the vocabulary (a few dozen videos in 100 000);
 * - two words: two distinct words drawn by frequency (MiniSearch ORs them);
 * - prefix (typing): the first 3 to len−1 letters of a word of ≥ 5 letters drawn by frequency, e.g. `vide`;
 * - one typo: a word of ≥ 5 letters drawn by frequency with one letter replaced, dropped or added
 *   (Levenshtein distance 1, within the engine's fuzzy 0.2), never another vocabulary word.
 */
export function buildQueries(vocabulary: readonly string[], count: number, seed: number): BenchQuery[] {
  const rand = prng(seed);
  const rank = zipfSampler(vocabulary.length, ZIPF_EXPONENT, rand);
  const known = new Set(vocabulary);
  const longWord = (): string => {
    for (;;) {
      const w = vocabulary[rank()]!;
      if (w.length >= 5) return w;
    }
  };
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const letter = () => letters[Math.floor(rand() * letters.length)]!;
  const typo = (w: string): string => {
    for (;;) {
      const i = between(rand, 1, w.length - 1); // people rarely miss the first letter
      const op = Math.floor(rand() * 3);
      const t = op === 0 ? w.slice(0, i) + letter() + w.slice(i + 1) : op === 1 ? w.slice(0, i) + w.slice(i + 1) : w.slice(0, i) + letter() + w.slice(i);
      if (t !== w && !known.has(t)) return t;
    }
  };
  const make: Record<QueryKind, () => string> = {
    'common word': () => vocabulary[Math.floor(rand() * Math.min(50, vocabulary.length))]!,
    'rare word': () => vocabulary[between(rand, Math.floor(vocabulary.length / 2), vocabulary.length - 1)]!,
    'two words': () => {
      const a = vocabulary[rank()]!;
      let b = a;
      while (b === a) b = vocabulary[rank()]!;
      return `${a} ${b}`;
    },
    'prefix (typing)': () => {
      const w = longWord();
      return w.slice(0, between(rand, 3, w.length - 1));
    },
    'one typo': () => typo(longWord()),
  };
  const out: BenchQuery[] = Array.from({ length: count }, (_, i) => {
    const kind = QUERY_KINDS[i % QUERY_KINDS.length]!;
    return { kind, q: make[kind]() };
  });
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
