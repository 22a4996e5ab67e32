/**
 * StreamWave's web app (issue 14): a hash router over the pages. Each page renders into `#app`
 * and returns a cleanup (closing its event stream, stopping its player) called on navigation.
 * Routes: `#/` home, `#/watch/{id}`, `#/search?q=`, `#/channel/{id}`, `#/upload`, `#/signin`,
 * `#/studio` and `#/studio/{id}` (the creator studio, issue 15).
 */
import './style.css';
import { esc, session, signOut, type Cleanup } from './api.ts';
import { authPage } from './pages/auth.ts';
import { channelPage } from './pages/channel.ts';
import { homePage } from './pages/home.ts';
import { searchPage } from './pages/search.ts';
import { studioPage } from './pages/studio.ts';
import { uploadPage } from './pages/upload.ts';
import { watchPage } from './pages/watch.ts';


const app = document.getElementById('app')!;
let cleanup: Cleanup | undefined;
/** Navigations so far: a page still loading when the user moves on is cleaned up, not shown. */
let navigations = 0;

function renderNav(): void {
  const s = session();
  document.getElementById('nav')!.innerHTML = s
    ? `<a href="#/upload">Upload</a> <a href="#/studio" id="studio-link">Studio</a> <a href="#/channel/${encodeURIComponent(s.id)}" id="me">${esc(s.username)}</a> <button id="signout" type="button">Sign out</button>`
    : '<a href="#/signin" id="signin-link">Sign in</a>';
  document.getElementById('signout')?.addEventListener('click', () => {
    signOut();
    location.hash = '#/';
    renderNav();
  });
}

async function route(): Promise<void> {
  const me = ++navigations;
  cleanup?.();
  cleanup = undefined;
  renderNav();
  // Each page renders into its own element, attached only while it is still the current page.
  const page = document.createElement('div');
  app.replaceChildren(page);
  try {
    const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
    const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
    let done: Cleanup | undefined;
    switch (parts[0]) {
      case undefined: done = await homePage(page); break;
      case 'watch': done = await watchPage(page, parts[1]); break;
      case 'search': done = await searchPage(page, new URLSearchParams(query)); break;
      case 'channel': done = await channelPage(page, parts[1]); break;
      case 'upload': done = await uploadPage(page); break;
      case 'studio': done = await studioPage(page, parts[1]); break;
      case 'signin': done = await authPage(page, renderNav); break;
      default: page.innerHTML = '<p class="error">Page not found.</p>';
    }
    if (me === navigations) cleanup = done;
    else done?.(); // the user moved on while it loaded
  } catch (e) {
    if (me === navigations) page.innerHTML = `<p class="error" role="alert">${esc((e as Error).message)}</p>`;
  }
}

document.getElementById('search-form')!.addEventListener('submit', (e) => {
  e.preventDefault();
  const q = (document.getElementById('search-q') as HTMLInputElement).value.trim();
  if (q) location.hash = `#/search?q=${encodeURIComponent(q)}`;
});
window.addEventListener('hashchange', () => void route());
void route();
