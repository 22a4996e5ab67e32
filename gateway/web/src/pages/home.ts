/** Home: trending, and for a signed-in viewer their uploads (any status). */
import { api, card, esc, session } from '../api.ts';
import type { Cleanup } from '../api.ts';

export async function homePage(app: HTMLElement): Promise<Cleanup> {
  const trending = await api<{ videos: any[] }>('GET', '/api/v1/videos/trending?limit=24');
  const s = session();
  const mine = s ? await api<{ videos: any[] }>('GET', '/api/v1/users/me/videos?limit=12') : undefined;
  app.innerHTML = `
    <h1>Trending</h1>
    <section class="grid" id="trending">${trending.videos.map(card).join('') || '<p class="muted">Nothing trending yet: watch something.</p>'}</section>
    ${mine ? `<h2>Your uploads</h2><ul class="list" id="mine">${mine.videos.map((v) => `<li><a href="#/watch/${encodeURIComponent(v.id)}">${esc(v.title)}</a> <span class="badge">${esc(v.status)}</span> <span class="muted">${esc(v.visibility)}</span></li>`).join('') || '<li class="muted">No uploads yet.</li>'}</ul>` : ''}`;
  return () => {};
}
