// The demo: POST /uploads with the API key (once) -> PUT the file to the
// single-use upload URL it gives, showing the bytes sent -> poll
// /media/status -> play the master playlist with hls.js. Plain JS, no
// framework. Every status shown is also kept in window.mgShown (tests).
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var keyInput = $('key');
  keyInput.value = new URLSearchParams(location.hash.slice(1)).get('key') ||
    localStorage.getItem('mediagate-key') || '';

  window.mgShown = [];
  function show(text, pct, isError) {
    window.mgShown.push(text);
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
    $('bar').className = isError ? 'error' : '';
    if (!isError && pct !== null) {
      $('bar').style.width = pct + '%';
      $('bar').dataset.progress = String(pct);
    }
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  async function getJSON(url) {
    var r = await fetch(url, { cache: 'no-store' });
    return { status: r.status, body: await r.json() };
  }
  function play(url) {
    var v = $('video');
    if (window.Hls && Hls.isSupported()) {
      var hls = new Hls();
      hls.loadSource(url);
      hls.attachMedia(v);
      hls.on(Hls.Events.MANIFEST_PARSED, function () { v.play(); });
    } else {
      v.src = url; // Safari plays HLS natively
      v.play();
    }
  }

  $('form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    var file = $('file').files[0];
    if (!file) { show('Pick a file first.', 0, true); return; }
    localStorage.setItem('mediagate-key', keyInput.value);
    show('Asking for an upload URL…', 0);
    // 1. The API key makes a slot: a URL that takes this one file.
    var slot = await fetch('/uploads', {
      method: 'POST',
      headers: { 'Authorization': 'Bearer ' + keyInput.value,
                 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: file.name, content_type: file.type || 'application/octet-stream',
                                  max_bytes: String(file.size) })
    });
    var made = {};
    try { made = await slot.json(); } catch (e) { /* not JSON */ }
    if (slot.status !== 201) {
      show('Upload refused (' + slot.status + ')' + (made.message ? ': ' + made.message : '.'), 0, true);
      return;
    }
    var job = made.job_id;
    // 2. The file goes to that URL, with no key; XHR reports bytes sent.
    var sent = await new Promise(function (resolve) {
      var x = new XMLHttpRequest(), over = false;
      x.open('PUT', made.upload.url);
      x.upload.onprogress = function (e) {
        // Browsers may skip events for a fast upload, or send a late one:
        // only while the request is open.
        if (!over) show('Uploading… ' + e.loaded + ' of ' + file.size + ' bytes sent', null);
      };
      x.upload.onload = function () {
        if (!over) show('Uploading… ' + file.size + ' of ' + file.size + ' bytes sent', null);
      };
      x.onload = function () { over = true; resolve({ status: x.status, text: x.responseText }); };
      x.onerror = function () { over = true; resolve({ status: 0, text: '' }); };
      show('Uploading… 0 of ' + file.size + ' bytes sent', 0);
      x.send(file);
    });
    if (sent.status !== 201) {
      var why = '';
      try { why = JSON.parse(sent.text).message || ''; } catch (e) { /* not JSON */ }
      show('Upload refused (' + sent.status + ')' + (why ? ': ' + why : '.'), 0, true);
      return;
    }
    show('Uploaded ' + file.size + ' bytes. Waiting for the encoder…', 0);
    for (;;) {
      var s = await getJSON('/media/status?job_id=' + encodeURIComponent(job));
      if (s.status !== 200) { show(s.body.message || ('status ' + s.status), 0, true); return; }
      var st = s.body;
      if (st.job_status === 'COMPLETE') {
        show('Done: ' + (st.duration_ms / 1000).toFixed(1) + ' s, ' + st.width_px + '×' + st.height_px + '.', 100);
        play(st.output_path + st.playlists['.m3u8']);
        return;
      }
      if (st.job_status === 'ERROR' || st.job_status === 'CANCELED') {
        show('Encoding failed: ' + (st.error_message || st.job_status), 0, true);
        return;
      }
      show('Encoding… ' + st.progress_rate + '%', st.progress_rate);
      await sleep(500);
    }
  });
}());
