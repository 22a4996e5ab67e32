/** Search results for `q` (typo-tolerant), paged with the API's opaque cursor. */
import { api, card, esc } from '../api.ts';
import type { Cleanup } from '../api.ts';

export async function searchPage(app: HTMLElement, params: URLSearchParams): Promise<Cleanup> {
  const q = params.get('q') ?? '';
  (document.getElementById('search-q') as HTMLInputElement).value = q;
  app.innerHTML = `<h1>Results for “${esc(q)}”</h1><section class="grid" id="results"></section><button id="more" type="button" hidden>More</button>`;
  const results = app.querySelector('#results')!;
  const more = app.querySelector<HTMLButtonElement>('#more')!;
  let cursor: string | null = null;
  const load = async () => {
    const page = await api<{ videos: any[]; next_cursor: string | null }>('GET', `/api/v1/search/videos?q=${encodeURIComponent(q)}&page_size=24${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    results.insertAdjacentHTML('beforeend', page.videos.map((v) => card({ ...v, views: v.views ?? 0 })).join(''));
    if (!results.children.length) results.innerHTML = '<p class="muted">No videos match.</p>';
    cursor = page.next_cursor;
    more.hidden = cursor === null;
  };
  more.addEventListener('click', () => void load());
  await load();
  return () => {};
}
