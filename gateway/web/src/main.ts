/**
 * StreamWave's web app (issue 14): a hash router over the pages. Each page renders into `#app`
 * and returns a cleanup (closing its event stream, stopping its player) called on navigation.
 * Routes: `#/` home, `#/watch/{id}`, `#/search?q=`, `#/channel/{id}`, `#/upload`, `#/signin`.
 */
import './style.css';
import { esc, session, signOut, type Cleanup } from './api.ts';
import { authPage } from './pages/auth.ts';
import { channelPage } from './pages/channel.ts';
import { homePage } from './pages/home.ts';
import { searchPage } from './pages/search.ts';
import { uploadPage } from './pages/upload.ts';
import { watchPage } from './pages/watch.ts';


const app = document.getElementById('app')!;
let cleanup: Cleanup | undefined;

function renderNav(): void {
  const s = session();
  document.getElementById('nav')!.innerHTML = s
    ? `<a href="#/upload">Upload</a> <a href="#/channel/${encodeURIComponent(s.id)}" id="me">${esc(s.username)}</a> <button id="signout" type="button">Sign out</button>`
    : '<a href="#/signin" id="signin-link">Sign in</a>';
  document.getElementById('signout')?.addEventListener('click', () => {
    signOut();
    location.hash = '#/';
    renderNav();
  });
}

async function route(): Promise<void> {
  cleanup?.();
  cleanup = undefined;
  renderNav();
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
  app.innerHTML = '';
  try {
    switch (parts[0]) {
      case undefined: cleanup = await homePage(app); break;
      case 'watch': cleanup = await watchPage(app, parts[1]); break;
      case 'search': cleanup = await searchPage(app, new URLSearchParams(query)); break;
      case 'channel': cleanup = await channelPage(app, parts[1]); break;
      case 'upload': cleanup = await uploadPage(app); break;
      case 'signin': cleanup = await authPage(app, renderNav); break;
      default: app.innerHTML = '<p class="error">Page not found.</p>';
    }
  } catch (e) {
    app.innerHTML = `<p class="error" role="alert">${esc((e as Error).message)}</p>`;
  }
}

document.getElementById('search-form')!.addEventListener('submit', (e) => {
  e.preventDefault();
  const q = (document.getElementById('search-q') as HTMLInputElement).value.trim();
  if (q) location.hash = `#/search?q=${encodeURIComponent(q)}`;
});
window.addEventListener('hashchange', () => void route());
void route();
