// What the live and webhooks pages share: building elements, state badges,
// times, the text of an API error, and a read-only field with a Copy button.

// el('p', {class: 'x', onclick: f}, 'text', child...): an element. Attributes
// starting with "on" are listeners; false/null attributes are left out.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A state (STARTED, LIVE, delivered, failed...) as a badge whose class names
// its colour in pages.css.
export function badge(state) {
  return el('span', { class: `badge badge-${String(state).toLowerCase()}` }, state);
}

// An API time ("2026-12-07 18:45:00" UTC, or RFC 3339) for people: the
// browser's locale and time zone, the UTC original in the title.
export function when(t) {
  if (!t) return el('span', {}, '—');
  const d = new Date(/Z$|[+-]\d\d:?\d\d$/.test(t) ? t : t.replace(' ', 'T') + 'Z');
  if (Number.isNaN(d.getTime())) return el('span', {}, t);
  return el('time', { datetime: d.toISOString(), title: d.toISOString() },
            d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
}

// What to tell the user about a failed api() call.
export function errorText(e, what) {
  if (e && e.status === 401) return `${what}: not signed in (or the session expired). Sign in again.`;
  if (e && e.status) return `${what}: ${e.message} (HTTP ${e.status})`;
  return `${what}: ${(e && e.message) || e} (the server could not be reached)`;
}

let fields = 0;

// A labelled read-only field holding value, with a Copy button: the
// clipboard when the browser allows it, else the text is selected for the
// user to copy, and the status line says which.
export function copyField(label, value) {
  const id = `copy-${++fields}`;
  const input = el('input', { id, type: 'text', readonly: true, value, spellcheck: 'false',
                              autocomplete: 'off', class: 'copy-value' });
  input.value = value;
  const said = el('span', { class: 'copy-said', role: 'status' });
  const button = el('button', { type: 'button', 'aria-label': `Copy ${label}`, onclick: async () => {
    try {
      await navigator.clipboard.writeText(value);
      said.textContent = 'Copied.';
    } catch {
      input.focus();
      input.select();
      said.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  } }, 'Copy');
  return el('div', { class: 'copy' }, el('label', { for: id }, label),
            el('div', { class: 'copy-row' }, input, button), said);
}

// A page's timers: later(f, ms) runs f after ms unless the page was left
// meanwhile; alive() says whether it is still shown. Leaving the page
// (ctx.cleanup) clears every pending timer.
export function pageTimers(ctx) {
  let shown = true;
  const timers = new Set();
  ctx.cleanup.push(() => { shown = false; for (const t of timers) clearTimeout(t); timers.clear(); });
  return {
    alive: () => shown,
    later(f, ms) {
      const t = setTimeout(() => { timers.delete(t); if (shown) f(); }, ms);
      timers.add(t);
    },
  };
}
