/** A channel: a user's public videos and subscriber count, with the subscribe button. */
import { api, card, esc, session } from '../api.ts';
import type { Cleanup } from '../api.ts';

export async function channelPage(app: HTMLElement, userId: string): Promise<Cleanup> {
  const page = await api<{ channel: { id: string; username: string; subscriber_count: number }; videos: any[] }>('GET', `/api/v1/users/${encodeURIComponent(userId)}/videos?limit=48`);
  const s = session();
  app.innerHTML = `
    <h1>${esc(page.channel.username)}</h1>
    <p><span id="subscribers">${page.channel.subscriber_count}</span> subscribers
      ${s && s.id !== userId ? '<button id="subscribe" type="button">Subscribe</button>' : ''}</p>
    <section class="grid">${page.videos.map(card).join('') || '<p class="muted">No public videos yet.</p>'}</section>`;
  const button = app.querySelector<HTMLButtonElement>('#subscribe');
  if (button) {
    const path = `/api/v1/users/${encodeURIComponent(userId)}/subscription`;
    const show = (st: { subscribed: boolean; subscriber_count: number }) => {
      button.textContent = st.subscribed ? 'Subscribed' : 'Subscribe';
      button.classList.toggle('on', st.subscribed);
      app.querySelector('#subscribers')!.textContent = String(st.subscriber_count);
    };
    let state = await api('GET', path);
    show(state);
    button.addEventListener('click', async () => {
      state = await api(state.subscribed ? 'DELETE' : 'PUT', path);
      show(state);
    });
  }
  return () => {};
}
