/** Sign in / sign up: one form, a checkbox for a new account. */
import { esc, signIn } from '../api.ts';
import type { Cleanup } from '../api.ts';

export async function authPage(app: HTMLElement, signedIn: () => void): Promise<Cleanup> {
  app.innerHTML = `
    <h1>Sign in</h1>
    <form id="auth" class="form">
      <label>Username <input name="username" autocomplete="username" required minlength="3" /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required minlength="8" /></label>
      <label class="inline"><input name="new" type="checkbox" id="new-account" /> I am new here: create my account</label>
      <label id="email-row" hidden>Email <input name="email" type="email" autocomplete="email" /></label>
      <button type="submit">Continue</button>
      <p id="auth-error" class="error" role="alert"></p>
    </form>`;
  const form = app.querySelector<HTMLFormElement>('#auth')!;
  const emailRow = app.querySelector<HTMLElement>('#email-row')!;
  form.new.addEventListener('change', () => { emailRow.hidden = !form.new.checked; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    try {
      await signIn(String(f.get('username')), String(f.get('password')), form.new.checked ? String(f.get('email')) : undefined);
      signedIn();
      location.hash = '#/';
    } catch (err) {
      app.querySelector('#auth-error')!.innerHTML = esc((err as Error).message);
    }
  });
  return () => {};
}
