// The console's shell: the session, the API helper and the pages' router.
// Each page is a module of pages/ exporting render(main, params, ctx):
// main is the page's own element (a fresh one per visit), ctx the shell's
// (below). Pages push functions onto ctx.cleanup to stop their timers and
// players when they are left.

const SESSION_KEY = 'mediagate.session';

// The API's base: the site's root (the console lives at <base>/console/).
export const apiBase = new URL('..', document.baseURI).pathname.replace(/\/$/, '');

// The stored console session: {token, expires_at, user, admin}, never the
// API key it was made from; null when there is none.
export function session() {
  try { return JSON.parse(sessionStorage.getItem(SESSION_KEY)); } catch { return null; }
}

export function saveSession(s) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    token: s.token, expires_at: s.expires_at, user: s.user, admin: !!s.admin,
  }));
}

// What the session leaves behind is forgotten with it: pages register
// functions (the library stops its uploads) run when the session is cleared
// here (signed out, or ended: a 401); tus-js-client's resume entries
// ("tus::…", each an upload's URL with its token) go too.
const onEnd = [];
export function onSessionEnd(f) { onEnd.push(f); }

export function clearSession() {
  for (const f of onEnd) { try { f(); } catch { /* the rest still runs */ } }
  sessionStorage.removeItem(SESSION_KEY);
  for (const st of [sessionStorage, localStorage]) {
    for (let i = st.length - 1; i >= 0; i--) {
      const k = st.key(i);
      if (k && k.startsWith('tus::')) st.removeItem(k);
    }
  }
}

// fetch() on the API with the session's token; JSON in and out. Throws an
// Error whose .status and .body are the answer's on anything but 2xx (a
// failed connection: .status 0). A 401 means the session ended (expired,
// signed out elsewhere, its key revoked): the shell goes to the sign-in
// page, saying so, unless opts.signin (the sign-in page's own calls).
export async function api(path, { method = 'GET', body, headers = {}, signin = false } = {}) {
  const s = session();
  const h = { ...headers };
  if (s && s.token && !h.Authorization) h.Authorization = 'Bearer ' + s.token;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(apiBase + path, { method, headers: h, body, cache: 'no-store' });
  } catch (err) {
    const e = new Error('The server could not be reached (' + err.message + ').');
    e.status = 0;
    throw e;
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    // Only an API answer's own message is shown; anything else (a proxy's
    // HTML error page, say) is its status line and a short word on it.
    const own = data && typeof data.message === 'string' && data.message;
    const e = new Error(own || (res.status >= 500 ? 'the server is unavailable; retry later'
      : 'not an answer of the API'));
    if (!own) e.statusLine = `${res.status} ${res.statusText}`.trim();
    e.status = res.status;
    e.body = data;
    if (res.status === 401 && !signin) sessionEnded();
    throw e;
  }
  return data;
}

// message(e): what to show for an error api() threw: "<status>: <reason>",
// or "<status> <status text>: <short word>" when the answer was not the
// API's JSON (a proxy's HTML page is never shown).
export function message(e) {
  const text = String((e && e.message) || e).replace(/\.$/, '');
  if (e && e.statusLine) return `${e.statusLine}: ${text}`;
  return e && e.status ? `${e.status}: ${text}` : text;
}

// el(tag, attrs, ...children): a new element. attrs: properties (className,
// href, type, …), 'on<event>' handlers, dataset via data; children: nodes
// or strings (text, never HTML).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'data') Object.assign(e.dataset, v);
    else if (k.startsWith('aria-') || k === 'role' || k === 'for' || k === 'list') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

const pages = {
  library: () => import('./pages/library.js'),
  video: () => import('./pages/video.js'),
  live: () => import('./pages/live.js'),
  webhooks: () => import('./pages/webhooks.js'),
  signin: () => import('./pages/signin.js'),
};

// The shell's context, handed to every page:
//   api, session, apiBase: above; el, message: the DOM and error helpers;
//   me: GET /media/session's answer ({user, kind, admin, expires_at}) once
//   signed in, else null; notice: a one-shot message for the next page
//   (the sign-in page shows why the session ended; the library says a
//   job was deleted); cleanup: functions run when the page is left;
//   signedIn(me): what the sign-in page calls with the new session.
export const ctx = {
  api, session, apiBase, el, message, me: null, notice: null, cleanup: [], signedIn, signOut,
};

function showWho() {
  const me = ctx.me;
  document.getElementById('sections').hidden = !me;
  document.getElementById('who').textContent = me ? me.user : '';
  for (const a of document.querySelectorAll('[data-admin]')) a.hidden = !(me && me.admin);
  // A session made here can be ended here; a site's own sign-in
  // (REMOTE_USER) is ended by the site.
  document.getElementById('signout').hidden = !(me && me.kind === 'session');
}

function sessionEnded() {
  const had = ctx.me || session();
  clearSession();
  ctx.me = null;
  showWho();
  if (had) ctx.notice = 'Your session ended: sign in again.';
  if (location.hash !== '#/signin') location.hash = '#/signin';
}

function signedIn(me) {
  ctx.me = me;
  showWho();
  location.hash = '#/library';
}

async function signOut() {
  for (const f of onEnd) { try { f(); } catch { /* the rest still runs */ } }
  try {
    await api('/media/session', { method: 'DELETE', signin: true });
    ctx.notice = 'Signed out.';
  } catch (e) {
    // Dead already (401) is signed out too; anything else is said.
    ctx.notice = e.status === 401 ? 'Signed out.' : 'Sign-out failed (' + message(e) + '); the session was forgotten here.';
  }
  clearSession();
  ctx.me = null;
  showWho();
  location.hash = '#/signin';
}

// Who the caller is: the stored session's token, or the site's own sign-in
// (REMOTE_USER: GET /media/session answers without a token). Sets ctx.me,
// or leaves it null (and says why in ctx.notice when it is not just "not
// signed in").
async function whoAmI() {
  const had = session();
  try {
    ctx.me = await api('/media/session', { signin: true });
  } catch (e) {
    ctx.me = null;
    if (e.status === 401) {
      if (had) { clearSession(); ctx.notice = 'Your session ended: sign in again.'; }
    } else {
      ctx.notice = 'The server did not answer who you are (' + message(e) + ').';
    }
  }
  showWho();
}

let visit = 0;
async function route() {
  // Only #/… names a page (the skip link's #main, say, does not).
  if (location.hash && !location.hash.startsWith('#/')) return;
  const mine = ++visit;
  for (const f of ctx.cleanup.splice(0)) { try { f(); } catch (e) { ctx.notice = String(e); } }
  let [name, ...params] = (location.hash.replace(/^#\/?/, '') || 'library').split('/');
  if (!pages[name]) name = 'library';
  if (!ctx.me && name !== 'signin') await whoAmI();
  if (mine !== visit) return;
  if (!ctx.me && name !== 'signin') {
    location.hash = '#/signin';
    return;
  }
  if (ctx.me && name === 'signin') {
    location.hash = '#/library';
    return;
  }
  const main = document.getElementById('main');
  const page = el('div', { className: 'page', data: { page: name } });
  main.replaceChildren(page);
  for (const a of document.querySelectorAll('#sections a')) {
    if (a.getAttribute('href') === '#/' + name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const mod = await load(pages[name]);
  if (mine !== visit || !mod) return;
  try {
    await mod.render(page, params.map(decode), ctx);
  } catch (e) {
    page.append(el('p', { className: 'error', role: 'alert' }, 'This page failed: ' + message(e)));
  }
}

// A hash part decoded; a malformed one ("%") as it is (pages refuse it).
function decode(p) {
  try { return decodeURIComponent(p); } catch { return p; }
}

async function load(f) {
  try {
    return await f();
  } catch (e) {
    document.getElementById('main').replaceChildren(
      el('p', { className: 'error', role: 'alert' }, 'The page could not be loaded: ' + message(e)));
    return null;
  }
}

document.getElementById('signout').addEventListener('click', signOut);
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', route);
if (document.readyState === 'loading') window.addEventListener('DOMContentLoaded', route);
else route();
