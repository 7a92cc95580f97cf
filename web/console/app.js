// The console's shell: the session, the API helper and the pages' router.
// Each page is a module of pages/ exporting render(main, params, ctx).

const SESSION_KEY = 'mediagate.session';

// The API's base: the site's root (the console lives at <base>/console/).
export const apiBase = new URL('..', document.baseURI).pathname.replace(/\/$/, '');

export function session() {
  try { return JSON.parse(sessionStorage.getItem(SESSION_KEY)); } catch { return null; }
}

// fetch() on the API with the session's token; JSON in and out. Throws an
// Error whose .status and .body are the answer's on anything but 2xx.
export async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const s = session();
  const h = { ...headers };
  if (s && s.token) h.Authorization = 'Bearer ' + s.token;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  const res = await fetch(apiBase + path, { method, headers: h, body });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!res.ok) {
    const e = new Error((data && data.message) || res.statusText);
    e.status = res.status;
    e.body = data;
    throw e;
  }
  return data;
}

const pages = {
  library: () => import('./pages/library.js'),
  video: () => import('./pages/video.js'),
  live: () => import('./pages/live.js'),
  webhooks: () => import('./pages/webhooks.js'),
  signin: () => import('./pages/signin.js'),
};

export const ctx = { api, session, apiBase, me: null, cleanup: [] };

async function route() {
  for (const f of ctx.cleanup.splice(0)) { try { f(); } catch (e) { console.warn(e); } }
  const [name, ...params] = (location.hash.replace(/^#\/?/, '') || 'library').split('/');
  const load = pages[name] || pages.library;
  const main = document.getElementById('main');
  main.replaceChildren();
  const mod = await load();
  await mod.render(main, params.map(decodeURIComponent), ctx);
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', route);
