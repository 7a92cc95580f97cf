// The sign-in page: an API key, pasted once, makes a short-lived console
// session (POST /media/session with the key as Bearer); the page keeps the
// session's token in sessionStorage, never the key, and clears the field.
import { api, saveSession, el, message } from '../app.js';

export async function render(main, params, ctx) {
  const key = el('input', {
    id: 'apikey', type: 'password', name: 'apikey', autocomplete: 'off', spellcheck: false,
    required: true, placeholder: 'mgk_…', 'aria-describedby': 'apikey-help',
  });
  const status = el('p', { className: 'status', role: 'status', id: 'signin-status' });
  const go = el('button', { type: 'submit', className: 'primary' }, 'Sign in');
  const form = el('form', { className: 'signin card-box', onsubmit: submit },
    el('label', { for: 'apikey' }, 'API key'),
    key,
    el('p', { className: 'help', id: 'apikey-help' },
      'The key makes a console session that ends by itself; the key is not kept in this page. ' +
      'A key comes from ', el('code', {}, 'mediagate apikey create <name>'), '.'),
    go, status);
  main.append(el('h1', {}, 'Sign in'), form);
  if (ctx.notice) {
    status.textContent = ctx.notice;
    status.className = 'status notice';
    ctx.notice = null;
  }
  key.focus();

  async function submit(ev) {
    ev.preventDefault();
    const secret = key.value.trim();
    key.value = '';
    if (!secret) return;
    go.disabled = true;
    status.className = 'status';
    status.textContent = 'Signing in…';
    try {
      const s = await api('/media/session', {
        method: 'POST', headers: { Authorization: 'Bearer ' + secret }, signin: true,
      });
      saveSession(s);
      ctx.signedIn({ user: s.user, admin: !!s.admin, kind: 'session', expires_at: s.expires_at });
    } catch (e) {
      status.className = 'status error';
      status.textContent = e.status === 401 ? 'That API key was refused (' + message(e) + ').'
        : 'Sign-in failed (' + message(e) + ').';
      go.disabled = false;
      key.focus();
    }
  }
}
