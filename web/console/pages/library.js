// The library: the caller's jobs (GET /media/jobs) as cards, newest first,
// with search, filters and keyset paging; live progress while any job runs;
// drag-and-drop (or "Choose files") uploads through tus, several at once,
// each with its own progress bar and errors.
import { session, el, message, onSessionEnd } from '../app.js';

export const STATUSES = ['SUBMITTED', 'PROGRESSING', 'COMPLETE', 'ERROR', 'CANCELED'];
const BACKENDS = ['local', 'mediaconvert', 'zencoder', 'tencent', 'mux', 'jwplatform'];
const PAGE = 24;
const POLL_MS = 3000;
const CHUNK = 8 * 1024 * 1024;   // nginx buffers each chunk; never the whole file at once
// Uploads sent at a time (a server with 4 threads stores 2 chunks at once,
// a third is refused 503); the others wait, "Queued".
const AT_ONCE = 2;

// Kept across visits: the filters and the page shown, and the uploads
// (they go on while another page is open).
const state = { q: '', status: '', backend: '', cursor: null, back: [] };
const uploads = [];
let uploadSeq = 0;

// tus-js-client's resume entries (an upload's URL, whose token is its only
// credential) are kept in this tab's sessionStorage, never localStorage:
// they end with the tab, and with the session (app.js clears "tus::" keys).
const tabStorage = {
  async findAllUploads() { return entries('tus::'); },
  async findUploadsByFingerprint(fp) { return entries(`tus::${fp}::`); },
  async removeUpload(key) { sessionStorage.removeItem(key); },
  async addUpload(fp, upload) {
    const key = `tus::${fp}::${Math.round(Math.random() * 1e12)}`;
    sessionStorage.setItem(key, JSON.stringify(upload));
    return key;
  },
};

function entries(prefix) {
  const out = [];
  for (let i = 0; i < sessionStorage.length; i++) {
    const key = sessionStorage.key(i);
    if (!key || !key.startsWith(prefix)) continue;
    try { out.push({ ...JSON.parse(sessionStorage.getItem(key)), urlStorageKey: key }); } catch { /* skipped */ }
  }
  return out;
}

// Signed out (or the session ended): running uploads stop, none waits, and
// the list (its file names) is forgotten.
onSessionEnd(() => {
  for (const u of uploads.splice(0)) {
    const was = u.state;
    u.state = 'error';
    u.error = 'Signed out.';
    if (u.upload && was === 'uploading') u.upload.abort(false).catch(() => {});
  }
});

export const running = (s) => s === 'SUBMITTED' || s === 'PROGRESSING';

// duration(ms): "1:02:03", "2:03", or '' when unknown.
export function duration(ms) {
  if (typeof ms !== 'number' || ms < 0) return '';
  const s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return el('time', { dateTime: iso, title: iso }, isNaN(d) ? iso : when.format(d));
}

export function badge(status) {
  return el('span', { className: 'badge s-' + String(status).toLowerCase() }, status || 'UNKNOWN');
}

// progressBar(rate): a <progress> of 0..100 (indeterminate while unknown).
export function progressBar(rate, label) {
  const p = el('progress', { max: 100, 'aria-label': label || 'Progress' });
  if (typeof rate === 'number') p.value = rate;
  return p;
}

function posterURL(job) {
  return job.output_path && job.poster && job.poster.file
    ? new URL(job.output_path + job.poster.file, location.href).href : null;
}

function card(job) {
  const poster = posterURL(job);
  const thumb = el('div', { className: 'thumb' },
    poster ? el('img', { src: poster, alt: '', loading: 'lazy', decoding: 'async' })
      : el('span', { className: 'placeholder', 'aria-hidden': 'true' }, job.audio_only && !job.width_px ? '♪' : '▶'),
    job.duration_ms ? el('span', { className: 'duration' }, duration(job.duration_ms)) : null);
  const meta = el('div', { className: 'meta' },
    el('span', { className: 'title' }, job.name || job.job_id),
    el('span', { className: 'line' }, badge(job.job_status),
      running(job.job_status) ? el('span', { className: 'pct' }, (job.progress_rate ?? 0) + '%') : null,
      job.backend ? el('span', { className: 'backend' }, job.backend) : null),
    running(job.job_status) ? progressBar(job.progress_rate, 'Progress of ' + (job.name || job.job_id)) : null,
    job.job_status === 'ERROR' && job.error_message
      ? el('span', { className: 'error small' }, job.error_message) : null,
    el('span', { className: 'when' }, time(job.created_at)));
  return el('li', { data: { job: job.job_id } },
    el('a', { className: 'card', href: '#/video/' + encodeURIComponent(job.job_id),
              data: { job: job.job_id, status: job.job_status } }, thumb, meta));
}

// What a card shows: a card whose signature is unchanged is left alone
// (its focus, its loaded poster).
const signature = (j) => JSON.stringify([j.name, j.job_status, j.progress_rate, j.duration_ms,
  posterURL(j), j.error_message, j.backend]);

export async function render(main, params, ctx) {
  let gone = false, timer = null, seq = 0, shown = new Map(), items = [], debounce = null;
  ctx.cleanup.push(() => {
    gone = true;
    clearTimeout(timer);
    clearTimeout(debounce);
    window.removeEventListener('dragover', stopDrop);
    window.removeEventListener('drop', stopDrop);
  });

  // --- upload --------------------------------------------------------------
  const files = el('input', { type: 'file', id: 'files', multiple: true, accept: 'video/*,audio/*',
    className: 'visually-hidden', tabIndex: -1, 'aria-hidden': 'true',
    onchange: () => { startUploads(files.files); files.value = ''; } });
  const choose = el('button', { type: 'button', id: 'choose', onclick: () => files.click() }, 'Choose files');
  const drop = el('div', { className: 'drop', id: 'drop' },
    el('span', {}, 'Drop video files here, or '), choose, files);
  const upList = el('ul', { className: 'uploads', id: 'uploads', 'aria-label': 'Uploads' });
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); });
  }
  drop.addEventListener('dragleave', (e) => {
    if (!drop.contains(e.relatedTarget)) drop.classList.remove('over');
  });
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer && e.dataTransfer.files.length) startUploads(e.dataTransfer.files);
  });
  // A file dropped beside the zone must not replace the console with it.
  function stopDrop(e) { if (!drop.contains(e.target)) e.preventDefault(); }
  window.addEventListener('dragover', stopDrop);
  window.addEventListener('drop', stopDrop);

  // --- filters ---------------------------------------------------------------
  const q = el('input', { type: 'search', id: 'q', value: state.q, placeholder: 'Search titles',
    autocomplete: 'off', oninput: () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => { state.q = q.value.trim(); first(); }, 300);
    } });
  const select = (id, label, values, cur, set) => {
    const s = el('select', { id, onchange: () => { set(s.value); first(); } },
      el('option', { value: '' }, 'Any ' + label),
      values.map((v) => el('option', { value: v, selected: v === cur }, v)));
    return [el('label', { for: id, className: 'visually-hidden' }, label), s];
  };
  const filters = el('form', { className: 'filters', role: 'search', onsubmit: (e) => {
    e.preventDefault(); clearTimeout(debounce); state.q = q.value.trim(); first();
  } },
    el('label', { for: 'q', className: 'visually-hidden' }, 'Search'), q,
    select('status', 'status', STATUSES, state.status, (v) => { state.status = v; }),
    select('backend', 'encoder', BACKENDS, state.backend, (v) => { state.backend = v; }));

  // --- the list and paging -----------------------------------------------------
  const status = el('p', { className: 'status', id: 'list-status', role: 'status' });
  const list = el('ul', { className: 'cards', id: 'jobs', 'aria-label': 'Videos' });
  const prev = el('button', { type: 'button', id: 'prev', onclick: () => {
    state.cursor = state.back.pop() ?? null; load(true);
  } }, '← Previous');
  const next = el('button', { type: 'button', id: 'next' }, 'Next →');
  const pager = el('nav', { className: 'pager', 'aria-label': 'Pages' }, prev, next);

  main.append(el('h1', {}, 'Library'),
    el('section', { className: 'upload', 'aria-label': 'Upload' }, drop, upList),
    filters, status, list, pager);
  // A notice (a video deleted) stays until the next change of page.
  let keepNotice = !!ctx.notice;
  if (ctx.notice) {
    status.textContent = ctx.notice;
    ctx.notice = null;
  }
  for (const u of uploads) upList.append(uploadRow(u));

  function first() {
    state.cursor = null;
    state.back = [];
    load(true);
  }

  async function load(fresh) {
    const mine = ++seq;
    clearTimeout(timer);
    const qs = new URLSearchParams({ limit: String(PAGE) });
    if (state.q) qs.set('q', state.q);
    if (state.status) qs.set('status', state.status);
    if (state.backend) qs.set('backend', state.backend);
    if (state.cursor) qs.set('cursor', state.cursor);
    let data;
    try {
      data = await ctx.api('/media/jobs?' + qs);
    } catch (e) {
      if (gone || mine !== seq) return;
      status.className = 'status error';
      status.textContent = 'The library could not be loaded (' + message(e) + ').';
      list.setAttribute('aria-busy', 'false');
      if (e.status !== 401) schedule(true);
      return;
    }
    if (gone || mine !== seq) return;
    if (keepNotice) {
      keepNotice = false;
      fresh = false;
    } else if (status.classList.contains('error') || fresh) {
      status.className = 'status';
      status.textContent = '';
    }
    items = data.items || [];
    show(items);
    prev.disabled = state.back.length === 0;
    next.disabled = !data.next_cursor;
    next.onclick = () => {
      state.back.push(state.cursor);
      state.cursor = data.next_cursor;
      load(true);
    };
    if (items.length && /^No video/.test(status.textContent)) status.textContent = '';
    if (!items.length) {
      status.textContent = state.q || state.status || state.backend
        ? 'No video matches.' : 'No videos yet: drop some above.';
    } else if (fresh) {
      status.textContent = items.length + (data.next_cursor ? '+' : '') + (items.length === 1 ? ' video' : ' videos');
    }
    schedule();
  }

  // show(items): the cards, each replaced only when what it shows changed.
  function show(jobs) {
    const focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest('.card') : null;
    const focusJob = focused && focused.dataset.job;
    const ids = jobs.map((j) => j.job_id).join('\n');
    if (ids !== [...shown.keys()].join('\n')) {
      shown = new Map();
      list.replaceChildren(...jobs.map((j) => {
        const li = card(j);
        shown.set(j.job_id, { li, sig: signature(j) });
        return li;
      }));
    } else {
      for (const j of jobs) {
        const was = shown.get(j.job_id), sig = signature(j);
        if (was.sig === sig) continue;
        const li = card(j);
        was.li.replaceWith(li);
        shown.set(j.job_id, { li, sig });
      }
    }
    if (focusJob && shown.has(focusJob) && !list.contains(focused)) {
      shown.get(focusJob).li.querySelector('.card').focus();
    }
  }

  // Polls while a job on the page runs or an upload goes on; a failed
  // load is tried again at the same pace.
  function schedule(again) {
    clearTimeout(timer);
    if (gone) return;
    if (again || items.some((j) => running(j.job_status)) || uploads.some((u) => u.state === 'uploading' || u.state === 'queued')) {
      timer = setTimeout(() => load(false), POLL_MS);
    }
  }

  // --- uploads ---------------------------------------------------------------
  function startUploads(fileList) {
    for (const file of fileList) {
      const u = { id: ++uploadSeq, file, sent: 0, state: 'queued', error: '', job: null };
      uploads.unshift(u);
      upList.prepend(uploadRow(u));
    }
    pump();
    schedule();
  }

  // Starts the oldest queued uploads while fewer than AT_ONCE are sent.
  function pump() {
    for (const u of uploads.slice().reverse()) {
      if (uploads.filter((x) => x.state === 'uploading').length >= AT_ONCE) return;
      if (u.state !== 'queued') continue;
      u.state = 'uploading';
      paint(u);
      if (u.upload) u.upload.start();   // a retry: resumes at the server's offset
      else start(u);
    }
  }

  function start(u) {
    if (!window.tus || !tus.isSupported) {
      u.state = 'error';
      u.error = 'This browser cannot upload with tus.';
      paint(u);
      return;
    }
    const s = session();
    const up = new tus.Upload(u.file, {
      // The upload locations are the site's own, never under MEDIAGATE_PREFIX.
      endpoint: new URL('/uploads/tus', location.href).href,
      headers: s && s.token ? { Authorization: 'Bearer ' + s.token } : {},
      metadata: { filename: u.file.name, filetype: u.file.type || 'application/octet-stream' },
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      urlStorage: tabStorage,
      onAfterResponse: (req, res) => {
        if (req.getMethod() !== 'POST' || res.getStatus() !== 201) return;
        try { u.job = JSON.parse(res.getBody()).job_id || null; } catch { u.job = null; }
        paint(u);
        if (!gone && !state.cursor) load(false);   // the new job, on the first page
      },
      onProgress: (sent, total) => { u.sent = sent; u.total = total; paint(u); },
      onSuccess: () => {
        u.state = 'done';
        u.sent = u.file.size;
        paint(u);
        pump();
        if (!gone) load(false);
      },
      onError: (err) => {
        if (u.state !== 'uploading') return;   // signed out meanwhile
        u.state = 'error';
        u.error = tusReason(err);
        u.canRetry = true;
        paint(u);
        pump();
      },
    });
    u.upload = up;
    up.findPreviousUploads().then((previous) => {
      if (previous.length) up.resumeFromPreviousUpload(previous[0]);
      up.start();
    }, (err) => { u.state = 'error'; u.error = String(err.message || err); paint(u); pump(); });
  }

  function uploadRow(u) {
    const bar = progressBar(0, 'Upload of ' + u.file.name);
    const text = el('span', { className: 'up-status' });
    const cancel = el('button', { type: 'button', className: 'small', onclick: () => {
      if (u.state === 'uploading' || u.state === 'queued') {
        const was = u.state;
        u.state = 'error';
        u.error = 'Canceled.';
        u.canRetry = false;
        if (u.upload && was === 'uploading') u.upload.abort(true).catch(() => {});
        paint(u);
        pump();
      }
    } }, 'Cancel');
    // A failed upload goes on from where the server has it (tus HEAD).
    const retry = el('button', { type: 'button', className: 'small', onclick: () => {
      if (u.state !== 'error' || !u.canRetry) return;
      u.state = 'queued';
      u.error = '';
      paint(u);
      pump();
      schedule();
    } }, 'Retry');
    const link = el('a', { className: 'up-job', hidden: true }, 'Open');
    u.row = el('li', { className: 'upload-row', data: { upload: String(u.id), name: u.file.name } },
      el('span', { className: 'up-name' }, u.file.name), bar, text, link, retry, cancel);
    u.parts = { bar, text, cancel, retry, link };
    paint(u);
    return u.row;
  }

  function paint(u) {
    if (!u.parts) return;
    const { bar, text, cancel, retry, link } = u.parts;
    const total = u.total || u.file.size || 1;
    bar.value = Math.floor((u.sent / total) * 100);
    u.row.dataset.state = u.state;
    text.className = 'up-status' + (u.state === 'error' ? ' error' : '');
    text.textContent = u.state === 'error' ? u.error
      : u.state === 'done' ? 'Uploaded'
      : u.state === 'queued' ? 'Queued'
      : `${size(u.sent)} of ${size(total)}`;
    cancel.hidden = u.state !== 'uploading' && u.state !== 'queued';
    retry.hidden = !(u.state === 'error' && u.canRetry);
    if (u.job) {
      link.hidden = false;
      link.href = '#/video/' + encodeURIComponent(u.job);
      link.setAttribute('aria-label', 'Open ' + u.file.name);
    }
  }
  load(true);
}

// tusReason(err): why an upload stopped. A 4xx is a refusal, with the
// API's reason ("Upload refused (413: …)"); a 5xx or no answer at all is
// the server or the network being away (Retry goes on from there).
function tusReason(err) {
  const res = err && err.originalResponse;
  const st = res ? res.getStatus() : 0;
  if (st) {
    let why = '';
    try { why = JSON.parse(res.getBody()).message || ''; } catch { why = ''; }
    const line = why ? `${st}: ${why.replace(/\.$/, '')}` : `${st}`;
    return st >= 500 ? `Upload stopped: the server is unavailable (${line}).`
      : `Upload refused (${line}).`;
  }
  return 'Upload stopped: the network failed (' + String((err && err.message) || err).split('\n')[0] + ').';
}

export function size(n) {
  if (!(n >= 0)) return '';
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(n < 10 ? 1 : 0) : String(n)) + ' ' + u[i];
}
