/** Home: trending, and for a signed-in viewer new videos from their subscriptions and their own uploads (any status). */
import { api, card, esc, session } from '../api.ts';
import type { Cleanup } from '../api.ts';

export async function homePage(app: HTMLElement): Promise<Cleanup> {
  const trending = await api<{ videos: any[] }>('GET', '/api/v1/videos/trending?limit=24');
  const s = session();
  const mine = s ? await api<{ videos: any[] }>('GET', '/api/v1/users/me/videos?limit=12') : undefined;
  const feed = s ? await api<{ videos: any[] }>('GET', '/api/v1/users/me/feed?limit=12') : undefined;
  app.innerHTML = `
    <h1>Trending</h1>
    <section class="grid" id="trending">${trending.videos.map(card).join('') || '<p class="muted">Nothing trending yet: watch something.</p>'}</section>
    ${feed ? `<h2>From your subscriptions</h2><section class="grid" id="feed">${feed.videos.map(card).join('') || '<p class="muted">Subscribe to channels to see their new videos here.</p>'}</section>` : ''}
    ${mine ? `<h2>Your uploads</h2><ul class="list" id="mine">${mine.videos.map((v) => `<li><a href="#/watch/${encodeURIComponent(v.id)}">${esc(v.title)}</a> <span class="badge">${esc(v.status)}</span> <span class="muted">${esc(v.visibility)}</span></li>`).join('') || '<li class="muted">No uploads yet.</li>'}</ul>` : ''}`;
  return () => {};
}
