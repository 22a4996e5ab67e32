/**
 * Search results for `q` (typo-tolerant), paged with the API's opaque cursor, with YouTube's
 * filters: sort (relevance, upload date, view count), duration and upload date ranges, and tag
 * chips from the result set's tag facets. The filters live in the URL
 * (`#/search?q=&sort=&duration=&date=&tag=`), so a filtered search can be shared and goes back.
 */
import { api, card, esc } from '../api.ts';
import type { Cleanup } from '../api.ts';

/** Duration ranges (seconds, inclusive), YouTube's: under 4 min, 4–20 min, over 20 min. */
const DURATIONS: Record<string, { label: string; min?: number; max?: number }> = {
  '': { label: 'Any duration' },
  short: { label: 'Under 4 minutes', max: 239.999 },
  medium: { label: '4–20 minutes', min: 240, max: 1200 },
  long: { label: 'Over 20 minutes', min: 1200.001 },
};
/** Upload date ranges: how far back from now, ms. */
const DATES: Record<string, { label: string; ms?: number }> = {
  '': { label: 'Any time' },
  hour: { label: 'Last hour', ms: 3_600_000 },
  today: { label: 'Today', ms: 86_400_000 },
  week: { label: 'This week', ms: 7 * 86_400_000 },
  month: { label: 'This month', ms: 30 * 86_400_000 },
  year: { label: 'This year', ms: 365 * 86_400_000 },
};
const SORTS: Record<string, string> = { relevance: 'Relevance', date: 'Upload date', views: 'View count' };

const options = (choices: Record<string, string>, selected: string) =>
  Object.entries(choices).map(([value, label]) => `<option value="${esc(value)}"${value === selected ? ' selected' : ''}>${esc(label)}</option>`).join('');
const labels = <T extends { label: string }>(m: Record<string, T>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.label]));

export async function searchPage(app: HTMLElement, params: URLSearchParams): Promise<Cleanup> {
  const q = params.get('q') ?? '';
  /** The value of `name` when `known` has it, else `fallback` (a hand-edited URL falls back to no filter). */
  const known = (name: string, choices: object, fallback: string) => {
    const v = params.get(name) ?? fallback;
    return Object.hasOwn(choices, v) ? v : fallback;
  };
  const sort = known('sort', SORTS, 'relevance');
  const duration = known('duration', DURATIONS, '');
  const date = known('date', DATES, '');
  const tags = params.getAll('tag');
  (document.getElementById('search-q') as HTMLInputElement).value = q;
  app.innerHTML = `<h1>Results for “${esc(q)}”</h1>
    <form class="filters" id="filters">
      <select name="sort" aria-label="Sort by">${options(SORTS, sort)}</select>
      <select name="duration" aria-label="Duration">${options(labels(DURATIONS), duration)}</select>
      <select name="date" aria-label="Upload date">${options(labels(DATES), date)}</select>
    </form>
    <div class="chips" id="tags"></div>
    <section class="grid" id="results"></section><button id="more" type="button" hidden>More</button>`;
  const results = app.querySelector('#results')!;
  const more = app.querySelector<HTMLButtonElement>('#more')!;
  /** Navigates to the same search with `change` applied (the router renders it). */
  const go = (change: (p: URLSearchParams) => void) => {
    const next = new URLSearchParams(params);
    change(next);
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/search?${next}`;
  };
  app.querySelector('#filters')!.addEventListener('change', (e) => {
    const { name, value } = e.target as HTMLSelectElement;
    go((p) => p.set(name, value));
  });

  const query = new URLSearchParams({ q, page_size: '24', sort });
  const range = DURATIONS[duration]!;
  if (range.min !== undefined) query.set('min_duration_seconds', String(range.min));
  if (range.max !== undefined) query.set('max_duration_seconds', String(range.max));
  const back = DATES[date]!.ms;
  if (back !== undefined) query.set('published_after', new Date(Date.now() - back).toISOString());
  for (const t of tags) query.append('tag', t);
  let cursor: string | null = null;
  const load = async () => {
    const page = await api<{ videos: any[]; next_cursor: string | null; facets?: { tags: { value: string; count: number }[] } }>(
      'GET', `/api/v1/search/videos?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : '&facets=tags'}`);
    if (page.facets) renderTags(page.facets.tags);
    results.insertAdjacentHTML('beforeend', page.videos.map((v) => card(v)).join(''));
    if (!results.children.length) results.innerHTML = '<p class="muted">No videos match.</p>';
    cursor = page.next_cursor;
    more.hidden = cursor === null;
  };
  /** Tag chips: the chosen tags (click to drop) and the result set's most frequent others (click to add). */
  const renderTags = (facets: { value: string; count: number }[]) => {
    const chosen = new Set(tags.map((t) => t.toLowerCase()));
    const box = app.querySelector('#tags')!;
    box.innerHTML = [
      ...tags.map((t) => `<button type="button" class="chip on" data-tag="${esc(t)}">${esc(t)} ✕</button>`),
      ...facets.filter((f) => !chosen.has(f.value)).slice(0, 12).map((f) => `<button type="button" class="chip" data-tag="${esc(f.value)}">${esc(f.value)} <span class="muted">${f.count}</span></button>`),
    ].join('');
    box.querySelectorAll<HTMLButtonElement>('.chip').forEach((b) => b.addEventListener('click', () => {
      const tag = b.dataset.tag!;
      go((p) => {
        const rest = p.getAll('tag').filter((t) => t.toLowerCase() !== tag.toLowerCase());
        p.delete('tag');
        for (const t of b.classList.contains('on') ? rest : [...rest, tag]) p.append('tag', t);
      });
    }));
  };
  more.addEventListener('click', () => void load());
  await load();
  return () => {};
}
