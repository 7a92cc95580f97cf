// The live page (#/live): the caller's broadcasts (GET /stream/list); start
// one (POST /stream/start) and see its ingest credentials once; its state
// followed every 2 s (GET /stream/status) while the page is open; a preview
// (hls.js on playback.hls) while it is LIVE; stop it (POST /stream/stop);
// then its recording's VOD job (GET /media/status) and a link to its page.
import { badge, copyField, el, errorText, pageTimers, when } from './widgets.js';

const POLL_MS = 2000;
const HELP = {
  STARTED: 'Waiting for the broadcaster to connect.',
  LIVE: 'The broadcaster is connected: the stream is on air.',
  IDLE: 'The broadcaster disconnected; it may connect again with the same key.',
  STOPPED: 'Ended: no broadcaster may connect any more.',
};
const FINAL = new Set(['COMPLETE', 'ERROR', 'CANCELED']);

export async function render(main, params, ctx) {
  const { alive: shown, later } = pageTimers(ctx);
  let streams = [];              // the list, as GET /stream/list answered
  const playbacks = new Map();   // stream id -> its HLS URL
  let current = null;            // the stream followed: {id, stream, panel parts}
  let player = null;             // {hls, video} of the preview

  const dropPlayer = () => {
    if (!player) return;
    if (player.hls) player.hls.destroy();
    player.video.removeAttribute('src');
    player.video.load();
    player.video.remove();
    player = null;
  };
  ctx.cleanup.push(dropPlayer);

  const say = el('p', { class: 'msg', role: 'status' });
  const alert = el('p', { class: 'msg msg-error', role: 'alert' });
  const tell = (text, error = false) => {
    (error ? alert : say).textContent = text;
    (error ? say : alert).textContent = '';
  };

  // --- start a broadcast ---------------------------------------------------------------------
  const name = el('input', { id: 'live-name', name: 'name', maxlength: 200, autocomplete: 'off',
                             placeholder: 'e.g. Friday town hall' });
  const startButton = el('button', { type: 'submit', class: 'primary' }, 'Start a broadcast');
  const form = el('form', { class: 'live-start', onsubmit: (ev) => { ev.preventDefault(); start(); } },
                  el('label', { for: 'live-name' }, 'Name'), name, startButton);
  const creds = el('section', { class: 'card live-creds', 'aria-labelledby': 'live-creds-h', hidden: true });
  const panel = el('section', { class: 'card live-current', 'aria-labelledby': 'live-current-h', hidden: true });
  const refresh = el('button', { type: 'button', onclick: () => loadList(true) }, 'Refresh');
  const listBox = el('div', { class: 'live-list' });

  main.append(
    el('h1', {}, 'Live broadcasts'),
    el('section', { class: 'card', 'aria-labelledby': 'live-start-h' },
       el('h2', { id: 'live-start-h' }, 'Start a broadcast'),
       el('p', {}, 'A new broadcast gets an RTMP URL and stream key (for OBS or ffmpeg) and, where the ',
          'site has it, an HTTP upload URL. Its recording becomes a video of the library once it stops.'),
       form),
    say, alert, creds, panel,
    el('section', { 'aria-labelledby': 'live-list-h' },
       el('div', { class: 'heading-row' }, el('h2', { id: 'live-list-h' }, 'Your broadcasts'), refresh),
       listBox));

  async function start() {
    startButton.disabled = true;
    tell('Starting…');
    try {
      const a = await ctx.api('/stream/start', {
        method: 'POST', body: new URLSearchParams({ type: 'hls', name: name.value.trim() }) });
      if (!shown()) return;
      if (a.playback && a.playback.hls) playbacks.set(a.stream.id, a.playback.hls);
      showCredentials(a);
      name.value = '';
      tell(`Broadcast "${a.stream.name || a.stream.id}" started.`);
      follow(a.stream);
      streams = [a.stream, ...streams.filter((s) => s.id !== a.stream.id)];
      drawList();
    } catch (e) {
      if (shown()) tell(errorText(e, 'Could not start the broadcast'), true);
    } finally {
      startButton.disabled = false;
    }
  }

  // The ingest credentials, shown once: nothing can fetch them again.
  function showCredentials(a) {
    const ep = a.endpoint || {};
    const parts = [
      el('h2', { id: 'live-creds-h', tabindex: -1 }, `Ingest credentials for "${a.stream.name || a.stream.id}"`),
      el('p', { class: 'warn' }, el('strong', {}, 'Shown only now. '),
         'The stream key and the upload token are not stored readable and cannot be fetched again: ',
         'copy them before leaving this page. Without them, start a new broadcast.'),
    ];
    if (ep.RTMP) {
      parts.push(el('h3', {}, 'RTMP (OBS, ffmpeg)'),
                 copyField('RTMP URL', ep.RTMP.url),
                 copyField('Stream key', ep.RTMP.stream_key),
                 el('p', { class: 'hint' }, 'In OBS: Settings, Stream, Service "Custom…", Server = the RTMP ',
                    'URL, Stream Key = the key. With ffmpeg: publish to the RTMP URL, a slash, then the key.'));
    }
    if (ep.HTTP) {
      parts.push(el('h3', {}, 'HTTP PUT (HLS segments)'),
                 copyField('Upload URL', ep.HTTP.url),
                 copyField('Authorization header', ep.HTTP.headers.Authorization),
                 el('p', { class: 'hint' }, 'PUT the segments and the playlist (as index.m3u8) under the ',
                    'upload URL with this header, until ', when(new Date(ep.HTTP.expires * 1000).toISOString()),
                    '.'));
    }
    if (!ep.RTMP && !ep.HTTP)
      parts.push(el('p', {}, 'This site has no ingest configured (MEDIAGATE_RTMP_URL, MEDIAGATE_UPLOAD_URL).'));
    parts.push(el('button', { type: 'button', onclick: () => { creds.replaceChildren(); creds.hidden = true; } },
                  'I have copied them: hide'));
    creds.replaceChildren(...parts);
    creds.hidden = false;
    creds.querySelector('h2').focus(); // read out first, and Tab goes on to the Copy buttons
  }

  // --- the broadcast followed ----------------------------------------------------------------
  function follow(stream) {
    dropPlayer();
    const id = stream.id;
    const title = el('span', {});
    const state = el('span', { class: 'state' });
    const help = el('p', { class: 'help' });
    const started = el('dd', {}), stopped = el('dd', {});
    const preview = el('button', { type: 'button', hidden: true, onclick: () => play() }, 'Play the preview');
    const stop = el('button', { type: 'button', class: 'danger', onclick: () => stopIt() }, 'Stop the broadcast');
    const note = el('p', { class: 'msg', role: 'status' });
    const video = el('div', { class: 'preview' });
    const vod = el('div', { class: 'vod', 'aria-live': 'polite' });
    panel.replaceChildren(
      el('h2', { id: 'live-current-h', tabindex: -1 }, title, ' ', state),
      help,
      el('dl', { class: 'facts' }, el('dt', {}, 'Stream id'), el('dd', {}, el('code', {}, id)),
         el('dt', {}, 'Started'), started, el('dt', {}, 'Stopped'), stopped),
      el('div', { class: 'actions' }, preview, stop), note, video, vod);
    panel.hidden = false;
    current = { id, stream, title, state, help, started, stopped, preview, stop, note, video, vod, job: null };
    update(stream);
    later(() => poll(id), POLL_MS);
  }

  function update(stream) {
    const c = current;
    if (!c || c.id !== stream.id) return;
    // STOPPED is final: a poll's answer arriving after the stop's is older.
    if (c.stream.status === 'STOPPED' && stream.status !== 'STOPPED') return;
    const was = c.stream.status;
    c.stream = stream;
    c.title.textContent = stream.name || 'Unnamed broadcast';
    c.state.replaceChildren(badge(stream.status));
    c.help.textContent = HELP[stream.status] || '';
    c.started.replaceChildren(when(stream.start_date));
    c.stopped.replaceChildren(when(stream.stop_date));
    if (stream.playback && stream.playback.hls) playbacks.set(stream.id, stream.playback.hls);
    const live = stream.status === 'LIVE';
    c.preview.hidden = !live || !playbacks.has(stream.id) || !!player;
    c.stop.hidden = stream.status === 'STOPPED';
    if (!live && player) {
      dropPlayer();
      c.note.textContent = 'The preview ended: the stream is no longer live.';
    }
    if (was !== stream.status) {
      const i = streams.findIndex((s) => s.id === stream.id);
      if (i >= 0) streams[i] = { ...streams[i], ...stream };
      drawList();
    }
    if (stream.vod_job_id && (!c.job || c.job.id !== stream.vod_job_id)) {
      c.job = { id: stream.vod_job_id };
      pollJob(stream.vod_job_id);
    }
    if (stream.status === 'STOPPED' && !stream.vod_job_id)
      c.vod.replaceChildren(el('p', {}, 'Recording: its video job appears here once the recording is ',
                                'closed (none when nothing was broadcast).'));
  }

  async function poll(id) {
    if (!current || current.id !== id) return;
    try {
      const a = await ctx.api(`/stream/status?id=${encodeURIComponent(id)}`);
      if (!shown() || !current || current.id !== id) return;
      update(a.stream);
      if (current.note.dataset.error) { current.note.textContent = ''; delete current.note.dataset.error; }
    } catch (e) {
      if (!shown() || !current || current.id !== id) return;
      current.note.textContent = errorText(e, 'Could not read the broadcast\'s state');
      current.note.dataset.error = '1';
    }
    // Followed until it is stopped and its recording's job is known.
    if (!(current.stream.status === 'STOPPED' && current.stream.vod_job_id)) later(() => poll(id), POLL_MS);
  }

  async function stopIt() {
    const c = current;
    c.stop.disabled = true;
    try {
      const a = await ctx.api('/stream/stop', { method: 'POST', body: new URLSearchParams({ id: c.id }) });
      if (!shown() || current !== c) return;
      update(a.stream);
      c.note.textContent = 'Stopped.';
    } catch (e) {
      if (shown() && current === c) c.note.textContent = errorText(e, 'Could not stop the broadcast');
    } finally {
      c.stop.disabled = false;
    }
  }

  function play() {
    const c = current, url = playbacks.get(c.id);
    dropPlayer();
    const video = el('video', { controls: true, playsinline: true, muted: true, 'aria-label': 'Live preview' });
    video.muted = true;
    c.video.replaceChildren(video);
    c.preview.hidden = true;
    c.note.textContent = 'Loading the preview…';
    const playing = () => video.play().then(() => { c.note.textContent = ''; },
                                            () => { c.note.textContent = 'Press play to watch the preview.'; });
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({ enableWorker: false });
      player = { hls, video };
      hls.on(window.Hls.Events.MANIFEST_PARSED, playing);
      hls.on(window.Hls.Events.ERROR, (ev, d) => {
        if (!d.fatal || !player || player.hls !== hls) return;
        dropPlayer();
        c.note.textContent = `The preview could not play (${d.details}); the first segments take a few ` +
          'seconds after the broadcaster connects: try again.';
        c.preview.hidden = c.stream.status !== 'LIVE';
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      player = { hls: null, video };
      video.src = url;
      playing();
    } else {
      c.note.textContent = 'This browser cannot play HLS.';
      video.remove();
    }
  }

  // The recording's job, until it ends.
  async function pollJob(jobId) {
    const c = current;
    if (!c || !c.job || c.job.id !== jobId) return;
    let line;
    let done = false;
    try {
      const s = await ctx.api(`/media/status?job_id=${encodeURIComponent(jobId)}`);
      if (!shown() || current !== c) return;
      done = FINAL.has(s.job_status);
      const pct = s.job_status === 'PROGRESSING' && s.progress_rate != null ? ` ${s.progress_rate}%` : '';
      line = el('p', {}, 'Recording: video job ', el('code', {}, jobId), ' ', badge(s.job_status), pct, ' ',
                el('a', { href: `#/video/${encodeURIComponent(jobId)}` },
                   s.job_status === 'COMPLETE' ? 'Watch the recording' : 'Open its page'));
    } catch (e) {
      if (!shown() || current !== c) return;
      line = el('p', {}, errorText(e, `Could not read the recording's job ${jobId}`));
    }
    c.vod.replaceChildren(line);
    if (!done) later(() => pollJob(jobId), POLL_MS);
  }

  // --- the list ----------------------------------------------------------------------------------
  function drawList() {
    if (!streams.length) {
      listBox.replaceChildren(el('p', {}, 'No broadcasts in the last 7 days.'));
      return;
    }
    const rows = streams.map((s) => el('tr', { 'aria-current': current && current.id === s.id ? 'true' : false },
      el('td', { 'data-label': 'Name' }, s.name || el('em', {}, 'unnamed')),
      el('td', { 'data-label': 'State' }, badge(s.status)),
      el('td', { 'data-label': 'Started' }, when(s.start_date)),
      el('td', { 'data-label': 'Stopped' }, when(s.stop_date)),
      el('td', { 'data-label': 'Recording' }, s.vod_job_id
        ? el('a', { href: `#/video/${encodeURIComponent(s.vod_job_id)}` }, 'Video') : '—'),
      el('td', {}, el('button', { type: 'button', 'aria-label': `Follow ${s.name || s.id}`,
                                  onclick: () => { follow(s); drawList(); panel.querySelector('h2').focus(); } },
                      'Follow'))));
    listBox.replaceChildren(el('table', { class: 'stack' },
      el('caption', { class: 'visually-hidden' }, 'Your broadcasts, newest first'),
      el('thead', {}, el('tr', {}, ['Name', 'State', 'Started', 'Stopped', 'Recording', ''].map(
        (h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows)));
  }

  async function loadList(announce) {
    refresh.disabled = true;
    try {
      const a = await ctx.api('/stream/list');
      if (!shown()) return;
      streams = a.streams;
      for (const s of streams) if (s.playback && s.playback.hls) playbacks.set(s.id, s.playback.hls);
      drawList();
      if (announce) tell('Broadcasts refreshed.');
    } catch (e) {
      if (shown()) tell(errorText(e, 'Could not list your broadcasts'), true);
    } finally {
      refresh.disabled = false;
    }
  }

  await loadList(false);
}
