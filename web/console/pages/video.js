// A video's page (#/video/<id>): GET /media/jobs/<id>; the player (hls.js)
// with its renditions, captions and seek previews (the storyboard) once
// COMPLETE, else the job's progress; its title and ACL (PATCH, its owner);
// its outputs' URLs; its history (GET /media/events); Delete.
import { apiBase, session, el, message } from '../app.js';
import { badge, duration, progressBar, running, time, size } from './library.js';

const POLL_MS = 3000;

// The storyboard's cues: `start --> end` then `<image>#xywh=x,y,w,h`, the
// image relative to the WebVTT file's URL. Returns [{start, end, url, x,
// y, w, h}], in the file's order.
export function parseStoryboard(text, base) {
  const secs = (t) => t.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
  const lines = text.split(/\r?\n/), cues = [];
  const timing = /^\s*((?:\d+:)?\d{1,2}:\d{2}(?:\.\d{1,3})?)\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}(?:\.\d{1,3})?)/;
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(timing);
    if (!m) continue;
    const ref = (lines[i + 1] || '').trim().match(/^(.+)#xywh=(\d+),(\d+),(\d+),(\d+)$/);
    if (!ref) continue;
    cues.push({ start: secs(m[1]), end: secs(m[2]), url: new URL(ref[1], base).href,
                x: +ref[2], y: +ref[3], w: +ref[4], h: +ref[5] });
  }
  return cues;
}

const levelName = (l) => (l.height ? l.height + 'p' : 'audio') +
  (l.bitrate ? ` · ${(l.bitrate / 1e6).toFixed(1)} Mbit/s` : '');

// What a job id looks like (the API's own are UUIDs; imported ones letters,
// digits, '_' and '-').
export const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;

const abs = (job, file) => new URL(job.output_path + file, location.href).href;

export async function render(main, params, ctx) {
  const id = params[0] || '';
  let gone = false, timer = null, hls = null, job = null, outRows = null;
  const stopPlayer = () => { if (hls) { hls.destroy(); hls = null; } };
  ctx.cleanup.push(() => { gone = true; clearTimeout(timer); stopPlayer(); });

  const back = el('p', { className: 'back' }, el('a', { href: '#/library' }, '← Library'));
  const status = el('p', { className: 'status', id: 'video-status', role: 'status' });
  main.append(back, el('h1', { id: 'title' }, 'Video'), status);

  const unknown = 'No such video here: it does not exist, or it is not yours.';
  // Only a job id's shape is asked for: a link's "..%2Fsession" never
  // makes the page fetch another route with the session's token.
  if (!JOB_ID.test(id)) {
    status.className = 'status error';
    status.textContent = unknown;
    return;
  }
  try {
    job = await ctx.api('/media/jobs/' + encodeURIComponent(id));
  } catch (e) {
    if (gone) return;
    status.className = 'status error';
    status.textContent = e.status === 422 ? unknown
      : 'The video could not be loaded (' + message(e) + ').';
    return;
  }
  if (gone) return;
  show();

  // The whole page for job; again when its status changes.
  function show() {
    stopPlayer();
    document.title = (job.name || job.job_id) + ' · mediagate console';
    const parts = [back, titleBlock(), status, stateBlock()];
    if (job.job_status === 'COMPLETE' && job.output_path) parts.push(playerBlock());
    parts.push(detailsBlock());
    if (job.mine) parts.push(aclBlock());
    if (job.job_status === 'COMPLETE' && job.output_path) parts.push(outputsBlock());
    if (job.mine || (ctx.me && ctx.me.admin)) parts.push(historyBlock());
    if (job.mine) parts.push(deleteBlock());
    main.replaceChildren(...parts);
    poll();
  }

  function poll() {
    clearTimeout(timer);
    if (gone || !running(job.job_status)) return;
    timer = setTimeout(async () => {
      let next;
      try {
        next = await ctx.api('/media/jobs/' + encodeURIComponent(id));
      } catch (e) {
        if (gone) return;
        status.className = 'status error';
        status.textContent = 'Could not follow the job (' + message(e) + ').';
        if (e.status !== 401 && e.status !== 422) poll();
        return;
      }
      if (gone) return;
      const changed = next.job_status !== job.job_status;
      job = next;
      if (changed) { show(); return; }
      const bar = main.querySelector('#job-progress');
      if (bar && typeof job.progress_rate === 'number') bar.value = job.progress_rate;
      const pct = main.querySelector('#job-pct');
      if (pct) pct.textContent = (job.progress_rate ?? 0) + '%';
      poll();
    }, POLL_MS);
  }

  // --- title ---------------------------------------------------------------------
  function titleBlock() {
    const h = el('h1', { id: 'title' }, job.name || job.job_id);
    if (!job.mine) return h;
    const input = el('input', { id: 'title-input', value: job.name || '', maxLength: 200,
      autocomplete: 'off' });
    const say = el('span', { className: 'status', role: 'status' });
    const form = el('form', { className: 'inline', hidden: true, onsubmit: save,
      onkeydown: (e) => { if (e.key === 'Escape') close(); } },
      el('label', { for: 'title-input', className: 'visually-hidden' }, 'Title'), input,
      el('button', { type: 'submit', className: 'primary' }, 'Save'),
      el('button', { type: 'button', onclick: close }, 'Cancel'), say);
    const edit = el('button', { type: 'button', id: 'rename', className: 'small', onclick: () => {
      form.hidden = false; edit.hidden = true; input.focus(); input.select();
    } }, 'Rename');
    function close() { form.hidden = true; edit.hidden = false; say.textContent = ''; edit.focus(); }
    async function save(ev) {
      ev.preventDefault();
      const title = input.value.trim();
      if (!title) { say.className = 'status error'; say.textContent = 'A title cannot be empty.'; return; }
      try {
        const r = await ctx.api('/media/jobs/' + encodeURIComponent(id), { method: 'PATCH', body: { title } });
        job.name = r.title || title;
        h.firstChild.textContent = job.name;
        document.title = job.name + ' · mediagate console';
        close();
      } catch (e) {
        say.className = 'status error';
        say.textContent = 'Not saved (' + message(e) + ').';
      }
    }
    h.append(' ', edit);
    return el('div', { className: 'title-row' }, h, form);
  }

  // --- status or progress ----------------------------------------------------
  function stateBlock() {
    const box = el('div', { className: 'job-state' }, badge(job.job_status));
    if (running(job.job_status)) {
      const bar = progressBar(job.progress_rate, 'Encoding progress');
      bar.id = 'job-progress';
      box.append(el('span', { id: 'job-pct', className: 'pct' }, (job.progress_rate ?? 0) + '%'), bar,
        el('span', { className: 'help' }, 'It plays here once COMPLETE.'));
    } else if (job.job_status === 'ERROR') {
      box.append(el('span', { className: 'error' },
        (job.error_code ? job.error_code + ': ' : '') + (job.error_message || 'The encode failed.')));
    } else if (job.job_status === 'CANCELED') {
      box.append(el('span', {}, 'This job was canceled.'));
    }
    if (job.missing && job.missing.length) {
      box.append(el('ul', { className: 'missing' }, job.missing.map((m) =>
        el('li', {}, `No ${m.output}: ${m.reason}`))));
    }
    return box;
  }

  // --- the player --------------------------------------------------------------
  function playerBlock() {
    const master = abs(job, (job.playlists && job.playlists['.m3u8']) || 'master.m3u8');
    const video = el('video', { id: 'player', controls: true, playsInline: true, preload: 'metadata',
      poster: job.poster ? abs(job, job.poster.file) : undefined });
    const say = el('p', { className: 'status', id: 'player-status', role: 'status' });
    const levels = el('select', { id: 'renditions', disabled: true },
      el('option', { value: '-1' }, 'Auto'));
    const subs = el('select', { id: 'captions', disabled: true },
      el('option', { value: '-1' }, 'Off'));
    const scrub = el('input', { type: 'range', id: 'scrub', min: 0, step: 0.1, value: 0,
      max: (job.duration_ms || 0) / 1000 || 1, 'aria-label': 'Seek (with previews)' });
    const tile = el('div', { className: 'tile' });
    const tileTime = el('span', { className: 'tile-time' });
    const preview = el('div', { className: 'preview', id: 'preview', hidden: true, 'aria-hidden': 'true' },
      tile, tileTime);
    const controls = el('div', { className: 'player-controls' },
      el('label', { for: 'renditions' }, 'Quality'), levels,
      el('label', { for: 'captions' }, 'Captions'), subs);
    const block = el('section', { className: 'player', 'aria-label': 'Player' },
      el('div', { className: 'screen' }, video),
      el('div', { className: 'scrubber' }, preview, scrub), controls, say);

    const token = (session() || {}).token;
    const keyPrefix = new URL(apiBase + '/media/key/', location.href).href;
    if (window.Hls && Hls.isSupported()) {
      hls = new Hls({
        // An encrypted job's key is fetched with the caller's credential;
        // nothing else carries it (segments may be on another origin).
        xhrSetup: token ? (xhr, url) => {
          if (!url.startsWith(keyPrefix)) return;
          xhr.open('GET', url, true);
          xhr.setRequestHeader('Authorization', 'Bearer ' + token);
        } : undefined,
      });
      hls.on(Hls.Events.ERROR, (_, d) => {
        if (!d.fatal) return;
        say.className = 'status error';
        say.textContent = `Playback failed: ${d.details}` +
          (d.response && d.response.code ? ` (HTTP ${d.response.code})` : '') + '.';
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        levels.replaceChildren(el('option', { value: '-1' }, 'Auto'), ...hls.levels.map((l, i) =>
          el('option', { value: String(i) }, levelName(l))));
        levels.disabled = hls.levels.length < 2;
        addRenditions(hls.levels);
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => {
        const l = hls.levels[d.level];
        levels.options[0].textContent = hls.autoLevelEnabled && l ? `Auto (${levelName(l)})` : 'Auto';
      });
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
        subs.replaceChildren(el('option', { value: '-1' }, 'Off'), ...hls.subtitleTracks.map((t, i) =>
          el('option', { value: String(i) }, t.name || t.lang || 'Track ' + (i + 1))));
        subs.disabled = hls.subtitleTracks.length === 0;
      });
      levels.addEventListener('change', () => { hls.currentLevel = Number(levels.value); });
      subs.addEventListener('change', () => {
        hls.subtitleTrack = Number(subs.value);
        hls.subtitleDisplay = Number(subs.value) >= 0;
      });
      hls.loadSource(master);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = master;   // Safari's own HLS: its menus are the player's
    } else {
      say.className = 'status error';
      say.textContent = 'This browser cannot play HLS.';
    }

    // The scrub slider follows the video, seeks it, and shows the
    // storyboard's tile of the time under the pointer or being chosen.
    let cues = [], dragging = false;
    video.addEventListener('loadedmetadata', () => { if (isFinite(video.duration)) scrub.max = video.duration; });
    video.addEventListener('timeupdate', () => { if (!dragging) scrub.value = video.currentTime; });
    scrub.addEventListener('input', () => { dragging = true; peek(Number(scrub.value)); });
    scrub.addEventListener('change', () => {
      dragging = false;
      video.currentTime = Number(scrub.value);
    });
    scrub.addEventListener('pointermove', (e) => {
      const r = scrub.getBoundingClientRect();
      peek(Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)) * Number(scrub.max));
    });
    scrub.addEventListener('focus', () => peek(Number(scrub.value)));
    for (const ev of ['pointerleave', 'blur']) scrub.addEventListener(ev, () => { preview.hidden = true; });
    scrub.addEventListener('keydown', (e) => { if (e.key === 'Escape') preview.hidden = true; });
    function peek(t) {
      const c = cues.find((q) => t >= q.start && t < q.end) || cues[cues.length - 1];
      if (!c) return;
      tile.style.width = c.w + 'px';
      tile.style.height = c.h + 'px';
      tile.style.backgroundImage = `url("${c.url}")`;
      tile.style.backgroundPosition = `-${c.x}px -${c.y}px`;
      tileTime.textContent = duration(t * 1000);
      const r = scrub.getBoundingClientRect(), frac = t / (Number(scrub.max) || 1);
      const left = Math.min(Math.max(0, frac * r.width - c.w / 2), Math.max(0, r.width - c.w));
      preview.style.left = left + 'px';
      preview.dataset.start = String(c.start);
      preview.hidden = false;
    }
    if (job.storyboard && job.storyboard.vtt) {
      const url = abs(job, job.storyboard.vtt);
      fetch(url, { cache: 'no-cache' }).then(async (r) => {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        cues = parseStoryboard(await r.text(), url);
        scrub.dataset.cues = String(cues.length);
      }).catch((e) => {
        if (gone) return;
        say.className = 'status error';
        say.textContent = 'No seek previews: the storyboard could not be read (' + e.message + ').';
      });
    }
    return block;
  }

  // --- the details ---------------------------------------------------------------
  function detailsBlock() {
    const row = (k, v) => (v || v === 0 ? [el('dt', {}, k), el('dd', {}, v)] : []);
    return el('section', { className: 'details', 'aria-labelledby': 'details-h' },
      el('h2', { id: 'details-h' }, 'Details'),
      el('dl', {},
        row('Job', el('code', {}, job.job_id)),
        row('Status', job.job_status),
        row('Encoder', job.backend),
        row('Duration', duration(job.duration_ms)),
        row('Size', job.width_px && job.height_px ? `${job.width_px}×${job.height_px}` : ''),
        row('Encryption', job.encryption ? job.encryption.method : ''),
        row('Created', time(job.created_at)),
        row('Updated', time(job.updated_at))));
  }

  // --- who may watch ---------------------------------------------------------------
  function aclBlock() {
    const input = el('input', { id: 'acl', value: job.acl || '', placeholder: 'everyone',
      autocomplete: 'off', spellcheck: false, 'aria-describedby': 'acl-help' });
    const say = el('p', { className: 'status', id: 'acl-status', role: 'status' });
    const form = el('form', { className: 'acl', onsubmit: async (ev) => {
      ev.preventDefault();
      const acl = input.value.trim() || null;
      say.className = 'status';
      say.textContent = 'Saving…';
      try {
        const r = await ctx.api('/media/jobs/' + encodeURIComponent(id), { method: 'PATCH', body: { acl } });
        job.acl = r.acl ?? null;
        input.value = job.acl || '';
        say.textContent = job.acl ? 'Saved: only ' + job.acl + ' may watch.' : 'Saved: everyone may watch.';
      } catch (e) {
        say.className = 'status error';
        say.textContent = 'Not saved (' + message(e) + ').';
      }
    } },
      el('label', { for: 'acl' }, 'Who may watch (ACL)'),
      el('div', { className: 'inline' }, input, el('button', { type: 'submit', className: 'primary' }, 'Save')),
      el('p', { className: 'help', id: 'acl-help' },
        'Comma-separated USER_<name>, GROUP_<name>, INST_<name> (WORLD or CAM: everyone); empty: everyone.'),
      say);
    return el('section', { 'aria-labelledby': 'acl-h' }, el('h2', { id: 'acl-h' }, 'Access'), form);
  }

  // --- outputs ---------------------------------------------------------------
  function outputsBlock() {
    outRows = el('tbody', {});
    const add = (label, file) => { if (file) outRows.append(outputRow(label, abs(job, file))); };
    for (const [ext, file] of Object.entries(job.playlists || {})) {
      add(ext === '.m3u8' ? 'Master playlist (HLS)' : `Playlist (${ext})`, file);
    }
    if (job.audio_only) add('Audio only', job.audio_only.playlist);
    for (const m of job.mp4 || []) add(`MP4 ${m.height}p (${size(m.size)})`, m.file);
    if (job.poster) add('Poster', job.poster.file);
    if (job.storyboard) {
      add('Storyboard (WebVTT)', job.storyboard.vtt);
      for (const img of job.storyboard.images || []) add('Storyboard image', img);
    }
    for (const c of job.captions || []) {
      add(`Captions ${c.label || c.language} (WebVTT)`, c.file);
      add(`Captions ${c.label || c.language} (playlist)`, c.playlist);
    }
    for (const s of job.sources || []) outRows.append(outputRow(`Source (${s.type})`, s.file));
    return el('section', { className: 'outputs', 'aria-labelledby': 'outputs-h' },
      el('h2', { id: 'outputs-h' }, 'Outputs'),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Output'),
        el('th', { scope: 'col' }, 'URL'), el('th', { scope: 'col' }, el('span', { className: 'visually-hidden' }, 'Copy')))),
      outRows));
  }
  function addRenditions(list) {
    if (!outRows) return;
    const master = outRows.querySelector('tr');
    let after = master;
    list.forEach((l) => {
      const url = Array.isArray(l.url) ? l.url[0] : l.url;
      if (!url) return;
      const tr = outputRow('Rendition ' + levelName(l), url);
      (after ? after.after(tr) : outRows.append(tr));
      after = tr;
    });
  }
  function outputRow(label, url) {
    const say = el('span', { className: 'copied', role: 'status' });
    return el('tr', { data: { output: label } },
      el('th', { scope: 'row' }, label),
      el('td', { className: 'url' }, el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url)),
      el('td', {}, el('button', { type: 'button', className: 'small', 'aria-label': 'Copy the URL of ' + label,
        onclick: () => copy(url, say) }, 'Copy'), say));
  }
  async function copy(text, say) {
    try {
      await navigator.clipboard.writeText(text);
      say.textContent = 'Copied';
    } catch (e) {
      say.textContent = 'Copy failed: select the URL (' + e.name + ')';
    }
    setTimeout(() => { say.textContent = ''; }, 3000);
  }

  // --- history ---------------------------------------------------------------
  function historyBlock() {
    const list = el('ol', { className: 'timeline', id: 'timeline' });
    const say = el('p', { className: 'status', role: 'status' }, 'Loading…');
    ctx.api('/media/events?job_id=' + encodeURIComponent(id)).then((r) => {
      if (gone) return;
      const events = r.events || [];
      say.textContent = events.length ? '' : 'Nothing happened to it yet.';
      list.replaceChildren(...events.map((ev) => el('li', { data: { kind: ev.kind } },
        time(ev.at), el('span', { className: 'kind' }, ev.kind), el('span', { className: 'summary' }, ev.summary))));
    }, (e) => {
      if (gone) return;
      say.className = 'status error';
      say.textContent = 'The history could not be loaded (' + message(e) + ').';
    });
    return el('section', { className: 'history', 'aria-labelledby': 'history-h' },
      el('h2', { id: 'history-h' }, 'History'), say, list);
  }

  // --- delete ---------------------------------------------------------------
  function deleteBlock() {
    const say = el('p', { className: 'status', role: 'status' });
    const dialog = el('dialog', { id: 'confirm-delete', 'aria-labelledby': 'confirm-h' },
      el('form', { method: 'dialog' },
        el('h2', { id: 'confirm-h' }, 'Delete this video?'),
        el('p', {}, `“${job.name || job.job_id}”, its outputs and uploads are removed` +
          (running(job.job_status) ? ' and its encode is canceled' : '') + '. This cannot be undone.'),
        el('div', { className: 'actions' },
          el('button', { value: 'cancel', autofocus: true }, 'Cancel'),
          el('button', { value: 'delete', className: 'danger', id: 'confirm-delete-yes' }, 'Delete'))));
    const open = el('button', { type: 'button', className: 'danger', id: 'delete',
      onclick: () => { dialog.returnValue = ''; dialog.showModal(); } }, 'Delete video');
    dialog.addEventListener('close', async () => {
      if (dialog.returnValue !== 'delete') { open.focus(); return; }
      open.disabled = true;
      say.textContent = 'Deleting…';
      try {
        await ctx.api('/media/jobs/' + encodeURIComponent(id), { method: 'DELETE' });
        ctx.notice = `Deleted “${job.name || job.job_id}”.`;
        location.hash = '#/library';
      } catch (e) {
        open.disabled = false;
        say.className = 'status error';
        say.textContent = 'Not deleted (' + message(e) + ').';
      }
    });
    return el('section', { className: 'danger-zone', 'aria-label': 'Delete' }, open, say, dialog);
  }
}
