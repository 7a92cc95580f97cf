// The demo: PUT /uploads/<name> -> poll /media/job_id and /media/status ->
// play the master playlist with hls.js. Plain JS, no framework.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var keyInput = $('key');
  keyInput.value = new URLSearchParams(location.hash.slice(1)).get('key') ||
    localStorage.getItem('mediagate-key') || '';

  function show(text, pct, isError) {
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
    var name = Date.now() + '-' + file.name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
    show('Uploading ' + file.name + '…', 0);
    var put = await fetch('/uploads/' + encodeURIComponent(name), {
      method: 'PUT', body: file, headers: { 'Authorization': 'Bearer ' + keyInput.value }
    });
    if (put.status !== 201 && put.status !== 204) {
      var why = '';
      try { why = (await put.json()).message || ''; } catch (e) { /* not JSON (e.g. 413) */ }
      show('Upload refused (' + put.status + ')' + (why ? ': ' + why : '.'), 0, true);
      return;
    }
    show('Uploaded. Waiting for the job…', 0);
    var job = null;
    for (var i = 0; i < 300 && !job; i++) {
      var j = await getJSON('/media/job_id?input_file=' + encodeURIComponent('uploads/' + name));
      if (j.status === 200) job = j.body.job_id; else await sleep(200);
    }
    if (!job) { show('No job appeared for the upload. Is the worker running?', 0, true); return; }
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
