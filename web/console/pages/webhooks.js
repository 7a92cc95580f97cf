// The webhooks page (#/webhooks), for administrators (MEDIAGATE_ADMIN_USERS):
// the endpoints (GET /media/webhooks), their recent deliveries
// (GET /media/webhooks/deliveries) filtered by endpoint and state, and
// Redeliver (POST /media/webhooks/deliveries/<id>/redeliver). Anyone else
// gets the API's refusal, explained.
import { badge, el, errorText, pageTimers, when } from './widgets.js';

const POLL_MS = 2000;
const STATES = ['pending', 'delivered', 'failed'];
const PAGE = 50;

export async function render(main, params, ctx) {
  const { alive: shown, later } = pageTimers(ctx);

  let endpoints = [];
  let deliveries = [];
  let cursor = null;
  const watching = new Set(); // delivery ids redelivered here, followed until they settle

  const say = el('p', { class: 'msg', role: 'status' });
  const alert = el('p', { class: 'msg msg-error', role: 'alert' });
  const tell = (text, error = false) => {
    (error ? alert : say).textContent = text;
    (error ? say : alert).textContent = '';
  };
  const refresh = el('button', { type: 'button', onclick: () => load(true) }, 'Refresh');
  const endpointsBox = el('div', {});
  const endpointFilter = el('select', { id: 'wh-endpoint', onchange: () => loadDeliveries() },
                            el('option', { value: '' }, 'All endpoints'));
  const stateFilter = el('select', { id: 'wh-state', onchange: () => loadDeliveries() },
                         el('option', { value: '' }, 'Any state'),
                         STATES.map((s) => el('option', { value: s }, s)));
  const deliveriesBox = el('div', {});
  const more = el('button', { type: 'button', hidden: true, onclick: () => loadDeliveries(cursor) }, 'Older deliveries');
  const body = el('div', { hidden: true },
    el('section', { 'aria-labelledby': 'wh-endpoints-h' },
       el('h2', { id: 'wh-endpoints-h' }, 'Endpoints'), endpointsBox),
    el('section', { 'aria-labelledby': 'wh-deliveries-h' },
       el('h2', { id: 'wh-deliveries-h' }, 'Recent deliveries'),
       el('form', { class: 'filters', onsubmit: (ev) => ev.preventDefault() },
          el('label', { for: 'wh-endpoint' }, 'Endpoint'), endpointFilter,
          el('label', { for: 'wh-state' }, 'State'), stateFilter),
       deliveriesBox, more));
  main.append(
    el('div', { class: 'heading-row' }, el('h1', {}, 'Webhooks'), refresh),
    el('p', {}, 'Your app\'s endpoints get every job and stream state change, signed as Standard Webhooks ',
       'asks. Endpoints are added and removed with ', el('code', {}, 'mediagate webhook add'), ' and ',
       el('code', {}, 'remove'), ' on the server.'),
    say, alert, body);

  const endpointUrl = (id) => (endpoints.find((e) => String(e.id) === String(id)) || {}).url || `#${id}`;

  function drawEndpoints() {
    if (!endpoints.length) {
      endpointsBox.replaceChildren(el('p', {}, 'No endpoints. Add one on the server: ',
                                      el('code', {}, 'mediagate webhook add URL'), '.'));
      return;
    }
    endpointsBox.replaceChildren(el('table', { class: 'stack' },
      el('caption', { class: 'visually-hidden' }, 'Webhook endpoints'),
      el('thead', {}, el('tr', {}, ['Id', 'URL', 'Events', 'State', 'Deliveries', 'Added'].map(
        (h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, endpoints.map((e) => el('tr', {},
        el('td', { 'data-label': 'Id' }, String(e.id)),
        el('td', { 'data-label': 'URL', class: 'url' }, e.url),
        el('td', { 'data-label': 'Events' }, e.events && e.events.length ? e.events.join(', ') : 'every event'),
        el('td', { 'data-label': 'State' }, e.enabled ? badge('enabled')
          : el('span', {}, badge('disabled'), ' ', e.disabled_reason || '')),
        el('td', { 'data-label': 'Deliveries' }, counts(e.deliveries)),
        el('td', { 'data-label': 'Added' }, when(e.created_at)))))));
  }

  function counts(byState) {
    const parts = Object.entries(byState || {}).filter(([, n]) => n > 0);
    if (!parts.length) return 'none';
    return el('span', { class: 'counts' }, parts.map(([s, n]) => el('span', {}, `${s} ${n}`)));
  }

  function row(d) {
    const subject = d.job_id
      ? el('a', { href: `#/video/${encodeURIComponent(d.job_id)}` }, `job ${d.job_id}`)
      : d.stream_id ? `stream ${d.stream_id}` : '—';
    const note = el('span', { class: 'row-note', role: 'status' });
    const redeliver = d.state === 'pending' ? el('span', { class: 'hint' }, 'queued')
      : el('button', { type: 'button', 'aria-label': `Redeliver delivery ${d.id} (${d.event})`,
                       onclick: (ev) => redeliverIt(d, ev.currentTarget, note) }, 'Redeliver');
    return el('tr', { 'data-delivery': d.id },
      el('td', { 'data-label': 'Event' }, d.event),
      el('td', { 'data-label': 'Subject' }, subject),
      el('td', { 'data-label': 'Endpoint', class: 'url' }, endpointUrl(d.endpoint_id)),
      el('td', { 'data-label': 'State' }, badge(d.state)),
      el('td', { 'data-label': 'Last HTTP status', class: 'http-status' },
         d.last_status == null ? '—' : String(d.last_status)),
      el('td', { 'data-label': 'Attempts' }, String(d.attempts)),
      el('td', { 'data-label': 'Last error', class: 'error-text' }, d.last_error || '—'),
      el('td', { 'data-label': 'Time' }, when(d.updated_at || d.created_at)),
      el('td', {}, redeliver, note));
  }

  function drawDeliveries() {
    if (!deliveries.length) {
      deliveriesBox.replaceChildren(el('p', {}, 'No deliveries match.'));
      return;
    }
    deliveriesBox.replaceChildren(el('table', { class: 'stack deliveries' },
      el('caption', { class: 'visually-hidden' }, 'Webhook deliveries, newest first'),
      el('thead', {}, el('tr', {}, ['Event', 'Subject', 'Endpoint', 'State', 'Last HTTP status', 'Attempts',
                                    'Last error', 'Time', ''].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, deliveries.map(row))));
  }

  // One row again, in place.
  function redraw(d, message) {
    const i = deliveries.findIndex((x) => x.id === d.id);
    if (i < 0) return;
    deliveries[i] = d;
    const old = deliveriesBox.querySelector(`tr[data-delivery="${CSS.escape(String(d.id))}"]`);
    if (!old) return;
    const fresh = row(d);
    if (message) fresh.querySelector('.row-note').textContent = message;
    old.replaceWith(fresh);
  }

  async function redeliverIt(d, button, note) {
    button.disabled = true;
    note.textContent = 'Sending again…';
    try {
      const a = await ctx.api(`/media/webhooks/deliveries/${encodeURIComponent(d.id)}/redeliver`, { method: 'POST' });
      if (!shown()) return;
      watching.add(a.delivery.id);
      redraw(a.delivery, 'Queued again (the same webhook-id and body).');
      later(follow, POLL_MS);
    } catch (e) {
      if (!shown()) return;
      button.disabled = false;
      note.textContent = errorText(e, 'Not redelivered');
    }
  }

  // The redelivered rows, refreshed until none is pending.
  async function follow() {
    if (!watching.size) return;
    try {
      const found = new Map();
      for (const eid of new Set(deliveries.filter((d) => watching.has(d.id)).map((d) => d.endpoint_id))) {
        const a = await ctx.api(`/media/webhooks/deliveries?endpoint_id=${encodeURIComponent(eid)}&limit=100`);
        for (const d of a.deliveries) if (watching.has(d.id)) found.set(d.id, d);
      }
      if (!shown()) return;
      for (const d of found.values()) {
        if (d.state !== 'pending') watching.delete(d.id);
        redraw(d, d.state === 'pending' ? 'Queued again (the same webhook-id and body).'
          : `Redelivered: ${d.state}${d.last_status != null ? ` (HTTP ${d.last_status})` : ''}.`);
      }
      for (const id of [...watching]) if (!found.has(id)) watching.delete(id);
    } catch (e) {
      if (!shown()) return;
      tell(errorText(e, 'Could not refresh the deliveries'), true);
      watching.clear();
    }
    if (watching.size) later(follow, POLL_MS);
  }

  let asked = 0; // the latest list asked for: an older answer arriving late is dropped
  async function loadDeliveries(from) {
    const mine = ++asked;
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (endpointFilter.value) q.set('endpoint_id', endpointFilter.value);
    if (stateFilter.value) q.set('state', stateFilter.value);
    if (from) q.set('cursor', from);
    try {
      const a = await ctx.api(`/media/webhooks/deliveries?${q}`);
      if (!shown() || mine !== asked) return;
      deliveries = from ? [...deliveries, ...a.deliveries] : a.deliveries;
      cursor = a.next_cursor || null;
      more.hidden = !cursor;
      drawDeliveries();
    } catch (e) {
      if (shown() && mine === asked) tell(errorText(e, 'Could not list the deliveries'), true);
    }
  }

  async function load(announce) {
    refresh.disabled = true;
    try {
      const a = await ctx.api('/media/webhooks');
      if (!shown()) return;
      endpoints = a.endpoints;
      const chosen = endpointFilter.value;
      endpointFilter.replaceChildren(el('option', { value: '' }, 'All endpoints'),
        ...endpoints.map((e) => el('option', { value: String(e.id), selected: String(e.id) === chosen },
                                   `#${e.id} ${e.url}`)));
      drawEndpoints();
      body.hidden = false;
      await loadDeliveries();
      if (shown() && announce) tell('Refreshed.');
    } catch (e) {
      if (!shown()) return;
      body.hidden = true;
      if (e.status === 403)
        tell(`${e.message} Webhook endpoints and deliveries are for the people who run this site: ask ` +
             'them to add your user to MEDIAGATE_ADMIN_USERS, or to look with "mediagate webhook ' +
             'deliveries" on the server.', true);
      else tell(errorText(e, 'Could not list the webhook endpoints'), true);
    } finally {
      refresh.disabled = false;
    }
  }

  await load(false);
}
