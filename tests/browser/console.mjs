// Drives the console (/console/) in headless Chromium against a whole stack
// (tests/browser/console.sh): sign in with an API key, drop two files on
// the library, watch both reach COMPLETE, open and play each, search, edit
// an ACL and see an anonymous /media/status refused, the keyboard, phone
// and desktop screenshots, delete, sign out. Fails on any console error or
// warning and any page error: Chromium's own line for a failed request
// ("Failed to load resource: … status of N") is allowed only for the
// refusals the flow expects (signed out: GET /media/session 401), each
// matched to its response. Prints "N passed, N failed".
// Usage: MG_KEY=<key> node console.mjs BASE FILE1 FILE2 PROFILE_DIR ARTEFACTS_DIR
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { launch } from './harness.mjs';

const [base, file1, file2, profile, art] = process.argv.slice(2);
const key = process.env.MG_KEY;
if (!base || !file2 || !art || !key) {
  console.error('usage: MG_KEY=<key> node console.mjs BASE FILE1 FILE2 PROFILE_DIR ARTEFACTS_DIR');
  process.exit(2);
}
let passed = 0, failed = 0;
const check = (ok, what) => { ok ? passed++ : failed++; console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`); return ok; };
// Caps against a hang, never measures: a loaded machine is slower.
const CAP = Number(process.env.MG_CAP_MS) || 600000;

// --- the console's own headers (nginx/mediagate-console.conf) -------------------
{
  const page = await fetch(base + '/console/');
  const csp = page.headers.get('content-security-policy') || '';
  check(page.status === 200 && (page.headers.get('content-type') || '').startsWith('text/html'),
        `/console/ is the page (${page.status} ${page.headers.get('content-type')})`);
  check(/script-src 'self'(;|$)/.test(csp) && csp.includes("frame-ancestors 'none'") &&
        csp.includes('worker-src blob:') && csp.includes("default-src 'none'"),
        `its Content-Security-Policy (${csp})`);
  check(page.headers.get('x-content-type-options') === 'nosniff' &&
        page.headers.get('referrer-policy') === 'no-referrer',
        'nosniff and no-referrer');
  check(page.headers.get('cache-control') === 'no-cache', `the page is revalidated (${page.headers.get('cache-control')})`);
  const mod = await fetch(base + '/console/app.js');
  check(mod.headers.get('content-type') === 'application/javascript' && mod.headers.get('cache-control') === 'no-cache' &&
        (mod.headers.get('content-security-policy') || '') === csp,
        `a module: not the site's .js location (${mod.headers.get('content-type')}, ${mod.headers.get('cache-control')})`);
  const lib = await fetch(base + '/console/vendor/hls.min.js');
  check(lib.status === 200 && lib.headers.get('cache-control') === 'no-cache' &&
        lib.headers.get('x-content-type-options') === 'nosniff',
        `the vendored hls.js is revalidated as the modules are (${lib.status}, ${lib.headers.get('cache-control')})`);
  check(page.headers.get('strict-transport-security') === 'max-age=63072000' && csp &&
        lib.headers.get('strict-transport-security') === 'max-age=63072000',
        `the site's own header file is included (${page.headers.get('strict-transport-security')})`);
  const bare = await fetch(base + '/console', { redirect: 'manual' });
  check(bare.status === 301, `/console redirects to /console/ (${bare.status})`);
}

const ctx = await launch(profile);
const page = ctx.pages()[0] || await ctx.newPage();
page.setDefaultTimeout(CAP);
const problems = [], refusals = [], loadErrors = [];
const expected = [];          // [{method, path, status}] the flow expects now
// A stand-in outage: the upload PATCHes answered 503 by the test itself
// (faked), and as many of Chromium's lines for them (their events may come
// late).
const faked = new Set();
let fakedLines = 0;
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('console', (m) => {
  if (m.type() !== 'error' && m.type() !== 'warning') return;
  if (fakedLines < faked.size && /status of 503/.test(m.text()) &&
      new URL(m.location().url || base).pathname.startsWith('/uploads/tus/')) { fakedLines++; return; }
  if (/^Failed to load resource: the server responded with a status of \d+/.test(m.text())) {
    loadErrors.push(`${m.text()} ${m.location().url}`);
  }
  else problems.push(`console ${m.type()}: ${m.text()}`);
});
page.on('response', (r) => {
  if (r.status() < 400) return;
  const u = new URL(r.url());
  if (faked.has(r.request())) return;
  const i = expected.findIndex((e) => e.method === r.request().method() && e.path === u.pathname && e.status === r.status());
  if (i >= 0) { expected.splice(i, 1); refusals.push(`${r.request().method()} ${u.pathname} ${r.status()}`); }
  else problems.push(`unexpected ${r.status()} for ${r.request().method()} ${u.pathname}${u.search}`);
});
const expect = (method, path, status) => expected.push({ method, path, status });
const hash = () => page.evaluate(() => location.hash);
// until(what, fn, arg): waits for fn(arg) in the page; else a FAIL, and
// the flow stops (what follows depends on it).
class Stop extends Error {}
const until = async (what, fn, arg) => {
  try {
    await page.waitForFunction(fn, arg, { timeout: CAP, polling: 200 });
  } catch (e) {
    check(false, `${what} (${e.message.split('\n')[0]})`);
    const text = await page.evaluate(() => `${location.hash}: ${document.getElementById('main').innerText}`).catch(() => '');
    console.log(`    the page then: ${text.replace(/\s+/g, ' ').slice(0, 600)}`);
    await shot('failed').catch(() => {});
    throw new Stop(what);
  }
};
const shot = async (name) => {
  const path = `${art}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
};
const noSideScroll = (what) => page.evaluate(() => document.documentElement.scrollWidth)
  .then((w) => check(w <= 390, `${what}: no horizontal scroll at 390 px (${w})`));

try {
  await page.setViewportSize({ width: 1280, height: 900 });
  // --- sign in ---------------------------------------------------------------
  expect('GET', '/media/session', 401);   // nobody signed in yet
  await page.goto(base + '/console/');
  await until('the sign-in form', () => !!document.getElementById('apikey'));
  check(await page.evaluate(() => location.hash) === '#/signin', 'signed out: the sign-in page');
  check(await page.$eval('#sections', (n) => n.hidden), 'signed out: no sections');
  await page.fill('#apikey', key);
  await page.press('#apikey', 'Enter');
  await until('the library after signing in', () => location.hash === '#/library' && !!document.getElementById('jobs'));
  const stored = await page.evaluate(() => [sessionStorage, localStorage].map((st) =>
    Array.from({ length: st.length }, (_, i) => st.key(i) + '=' + st.getItem(st.key(i))).join('\n')).join('\n'));
  check(!stored.includes(key) && /"token"/.test(stored) && /mgs_/.test(stored),
        `the session token is kept, never the key (${stored.replace(/mgs_\w+/g, 'mgs_…')})`);
  check((await page.textContent('#who')).length > 0, `the user is shown (${await page.textContent('#who')})`);
  check(await page.$eval('[data-admin]', (a) => a.hidden), 'no Webhooks link for a user who is not an administrator');

  // --- two files dropped -------------------------------------------------------
  const files = [file1, file2].map((f) => ({ name: basename(f), b64: readFileSync(f).toString('base64') }));
  await page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name, { type: 'video/mp4' }));
    }
    const drop = document.getElementById('drop');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      drop.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }
  }, files);
  check(await page.$$eval('.upload-row', (r) => r.length) === 2, 'two uploads, each with its row');
  let sawRunning = false;
  const sample = setInterval(() => {
    page.evaluate(() => !!document.querySelector('.card[data-status="SUBMITTED"] progress, .card[data-status="PROGRESSING"] progress'))
      .then((v) => { if (v) sawRunning = true; }, () => {});
  }, 250);
  await until('both uploads sent', () => document.querySelectorAll('.upload-row[data-state="done"]').length === 2 ||
    document.querySelector('.upload-row[data-state="error"]'));
  check(await page.$$eval('.upload-row[data-state="done"] progress', (p) => p.every((b) => b.value === 100)),
        'each upload bar reached 100%');
  const jobs = await page.$$eval('.upload-row a.up-job', (a) => a.map((x) => decodeURIComponent(x.getAttribute('href').split('/').pop())));
  check(jobs.length === 2, `each upload names its job (${jobs.join(', ')})`);
  // a: sunrise.mp4's job (renamed, restricted), b: harbour.mp4's (deleted).
  const jobOf = (name) => page.$eval(`.upload-row[data-name="${name}"] a.up-job`,
    (x) => decodeURIComponent(x.getAttribute('href').split('/').pop()));
  const a = await jobOf(basename(file1)), b = await jobOf(basename(file2));
  await until('both jobs COMPLETE in the library', (ids) =>
    ids.every((id) => document.querySelector(`.card[data-job="${CSS.escape(id)}"][data-status="COMPLETE"]`)), jobs);
  clearInterval(sample);
  check(sawRunning, 'a running job showed its progress bar in the library');
  await until('posters in the cards', (ids) => ids.every((id) => {
    const img = document.querySelector(`.card[data-job="${CSS.escape(id)}"] img`);
    return img && img.complete && img.naturalWidth > 0;
  }), jobs);
  check(await page.$$eval('.card .duration', (d) => d.filter((x) => x.textContent === '0:04').length) >= 2,
        'the cards show the durations');
  await shot('library-1280');

  // --- captions for the first (the owner's key, as a script adds them) ----------
  const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nGood morning.\n';
  const put = await fetch(`${base}/media/captions/${encodeURIComponent(jobs[0])}/en?label=English`,
    { method: 'PUT', headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'text/vtt' }, body: vtt });
  check(put.status === 201, `captions added to ${jobs[0]} (${put.status})`);
  let published = false;
  for (const end = Date.now() + CAP; Date.now() < end && !published;) {
    const st = await (await fetch(`${base}/media/status?job_id=${encodeURIComponent(jobs[0])}`, { cache: 'no-store' })).json();
    published = Array.isArray(st.captions) && st.captions.length === 1;
    if (!published) await new Promise((r) => setTimeout(r, 500));
  }
  check(published, 'the captions are published');

  // --- each one plays ---------------------------------------------------------
  for (const id of jobs) {
    if (await hash() !== '#/library') {
      await page.click('.back a');
      await until('back in the library', () => document.querySelectorAll('.card').length >= 2);
    }
    await page.click(`.card[data-job="${id}"]`);
    await until(`${id}: its page`, () => !!document.getElementById('player'));
    check(await hash() === '#/video/' + id, `${id}: the card opened #/video/<id>`);
    await page.evaluate(() => { const v = document.getElementById('player'); v.muted = true; return v.play().catch(() => {}); });
    await until(`${id}: the video plays`, () => document.getElementById('player').currentTime > 1);
    check(await page.$$eval('#renditions option', (o) => o.length) >= 2, `${id}: a renditions menu (Auto and the levels)`);
    check(await page.$$eval('.outputs tr[data-output^="Rendition"]', (r) => r.length) >= 1 &&
          await page.$$eval('.outputs tr[data-output="Master playlist (HLS)"]', (r) => r.length) === 1,
          `${id}: the outputs list the master and its renditions`);
    if (id === jobs[0]) {
      await until(`${id}: a captions menu`, () => document.querySelectorAll('#captions option').length === 2);
      await page.selectOption('#captions', '0');
      await until(`${id}: its captions shown`, () =>
        [...document.getElementById('player').textTracks].some((t) => t.mode === 'showing'));
    }
    await until(`${id}: the storyboard's cues`, () => Number(document.getElementById('scrub').dataset.cues) > 0);
    await page.hover('#scrub', { position: { x: 200, y: 5 } });
    check(await page.$eval('#preview', (p) => !p.hidden && p.querySelector('.tile').style.backgroundImage.includes('storyboard')),
          `${id}: a seek preview over the slider`);
    await until(`${id}: its history`, () => document.querySelectorAll('#timeline li').length > 0 ||
      !!document.querySelector('.history .status.error'));
    check(await page.$$eval('#timeline li', (l) => l.length) > 0, `${id}: the history lists its events`);
  }
  await shot('video-1280');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await noSideScroll('the video page');
  await shot('video-390');

  // --- the ACL: only USER_nobody; an anonymous status is refused ---------------
  await page.goto(`${base}/console/#/video/${a}`);
  await until('the ACL field', () => !!document.getElementById('acl'));
  await page.fill('#acl', 'USER_nobody');
  await page.press('#acl', 'Enter');
  await until('the ACL saved', () => /Saved/.test(document.getElementById('acl-status').textContent) ||
    document.getElementById('acl-status').classList.contains('error'));
  check(/only USER_nobody/.test(await page.textContent('#acl-status')), `the ACL saved (${await page.textContent('#acl-status')})`);
  let anon = 0;
  for (const end = Date.now() + 60000; Date.now() < end && anon !== 422;) {
    anon = (await fetch(`${base}/media/status?job_id=${encodeURIComponent(a)}`, { cache: 'no-store' })).status;
    if (anon !== 422) await new Promise((r) => setTimeout(r, 500));
  }
  check(anon === 422, `an anonymous /media/status is refused now (${anon})`);
  await page.fill('#acl', 'NOBODY_x');
  expect('PATCH', '/media/jobs/' + a, 400);
  await page.press('#acl', 'Enter');
  await until('a bad ACL refused', () => document.getElementById('acl-status').classList.contains('error'));
  check(/^Not saved \(400: .*is not an ACL entry.*\)\.$/.test(await page.textContent('#acl-status')),
        `a bad ACL: the server's reason is shown (${await page.textContent('#acl-status')})`);

  // --- its title -----------------------------------------------------------------
  await page.click('#rename');
  await page.fill('#title-input', 'Sunrise at sea');
  await page.press('#title-input', 'Enter');
  await until('the title saved', () => document.querySelector('#title').firstChild.textContent === 'Sunrise at sea' &&
    document.getElementById('title-input').closest('form').hidden);

  // --- the library at a phone's width; search ---------------------------------
  await page.goto(`${base}/console/#/library`);
  await until('the library', () => document.querySelectorAll('.card').length >= 2);
  await noSideScroll('the library');
  await shot('library-390');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.fill('#q', 'sunrise');
  await until('the search', () => document.querySelectorAll('.card').length === 1);
  check(await page.textContent('.card .title') === 'Sunrise at sea',
        `the search finds the renamed sunrise.mp4 alone (${await page.textContent('.card .title')})`);
  await page.fill('#q', '');
  await until('the search cleared', () => document.querySelectorAll('.card').length === 2);

  // --- the keyboard: Tab to the search box, then to a card; Enter opens it -------
  await page.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
  const tabTo = async (test, most) => {
    for (let i = 0; i < most; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(test)) return true;
    }
    return false;
  };
  check(await tabTo(() => document.activeElement && document.activeElement.id === 'q', 20), 'Tab reaches the search box');
  check(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle !== 'none'), 'the focus is visible');
  check(await tabTo(() => document.activeElement && document.activeElement.classList.contains('card'), 20), 'Tab reaches a card');
  const focused = await page.evaluate(() => document.activeElement.dataset.job);
  await page.keyboard.press('Enter');
  await until('Enter opens the card', (id) => location.hash === '#/video/' + id, focused);

  // --- delete (Esc closes the dialog first) -------------------------------------
  await page.goto(`${base}/console/#/video/${b}`);
  await until('the Delete button', () => !!document.getElementById('delete'));
  await page.click('#delete');
  check(await page.$eval('#confirm-delete', (d) => d.open), 'Delete asks first');
  await page.keyboard.press('Escape');
  check(!(await page.$eval('#confirm-delete', (d) => d.open)) && await hash() === '#/video/' + b, 'Esc closes it, nothing deleted');
  await page.click('#delete');
  await page.click('#confirm-delete-yes');
  await until('back in the library without it', (id) => location.hash === '#/library' &&
    document.querySelectorAll('.card').length >= 1 && !document.querySelector(`.card[data-job="${CSS.escape(id)}"]`), b);
  check(/Deleted/.test(await page.textContent('#list-status')), `the library says so (${await page.textContent('#list-status')})`);

  // --- a link's id is checked before any request; a proxy's HTML is never shown ----
  const asked = [];
  const onReq = (r) => asked.push(new URL(r.url()).pathname);
  page.on('request', onReq);
  for (const bad of ['..%2Fsession', '..%2F..%2Fsession', '', '%', 'a.b']) {
    await page.goto(`${base}/console/#/video/${bad}`);
    await until(`#/video/${bad}: said`, () => /\S/.test((document.getElementById('video-status') || {}).textContent || ''));
    check(/^No such video here/.test(await page.textContent('#video-status')),
          `#/video/${bad}: "${await page.textContent('#video-status')}"`);
  }
  page.off('request', onReq);
  check(!asked.some((p) => p.startsWith('/media/jobs/')), `no request for a malformed id (${asked.filter((p) => p.startsWith('/media/')).join(', ')})`);
  expect('GET', '/no-such-route.html', 404);
  const html404 = await page.evaluate(async () => {
    const m = await import('/console/app.js');
    try { await m.api('/no-such-route.html'); return 'answered'; } catch (e) { return m.message(e); }
  });
  check(html404 === '404 Not Found: not an answer of the API', `a non-JSON error body is not shown (${html404.slice(0, 120)})`);

  // --- several files: 3 at a time, the others "Queued" ----------------------------
  await page.goto(`${base}/console/#/library`);
  await until('the library', () => !!document.getElementById('drop'));
  const dropFiles = (names) => page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const n of list) dt.items.add(new File([new Uint8Array(200000).fill(7)], n, { type: 'application/octet-stream' }));
    const drop = document.getElementById('drop');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      drop.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }
  }, names);
  await page.evaluate(() => {
    window.mgMost = 0;
    const count = () => {
      window.mgMost = Math.max(window.mgMost, document.querySelectorAll('.upload-row[data-state="uploading"]').length);
    };
    new MutationObserver(count).observe(document.getElementById('uploads'), { subtree: true, childList: true, attributes: true });
  });
  const batch = ['q1.bin', 'q2.bin', 'q3.bin', 'q4.bin', 'q5.bin', 'q6.bin'];
  await dropFiles(batch);
  const queued = await page.$$eval('.upload-row[data-state="queued"] .up-status', (t) => t.map((x) => x.textContent));
  check(queued.length === 4 && queued.every((t) => t === 'Queued'), `six files: the ones beyond 2 wait, "Queued" (${queued.length})`);
  await until('the six sent (no chunk refused 503 on the way)', (n) => [...document.querySelectorAll('.upload-row')].filter((r) =>
    n.includes(r.dataset.name) && r.dataset.state === 'done').length === 6 ||
    !!document.querySelector('.upload-row[data-state="error"]'), batch);
  check(await page.evaluate(() => window.mgMost) === 2, `2 sent at once, never more (${await page.evaluate(() => window.mgMost)})`);

  // --- a failed upload: the real reason, Retry; its resume entry per tab -----------
  const down = (route) => {
    if (route.request().method() !== 'PATCH') return route.continue();
    faked.add(route.request());
    return route.fulfill({ status: 503, contentType: 'application/json',
      body: '{"success": false, "message": "mediagate is unavailable; retry later."}' });
  };
  const isTus = (u) => u.pathname.startsWith('/uploads/tus/');
  await page.route(isTus, down);
  await dropFiles(['retry.bin', 'left.bin']);
  await until('both stopped', () => document.querySelectorAll('.upload-row[data-state="error"]').length === 2);
  await page.unroute(isTus, down);
  const why = await page.textContent('.upload-row[data-name="retry.bin"] .up-status');
  check(why === 'Upload stopped: the server is unavailable (503: mediagate is unavailable; retry later).',
        `a 5xx is "stopped", with the server's reason (${why})`);
  const keys = await page.evaluate(() => [sessionStorage, localStorage].map((st) =>
    Array.from({ length: st.length }, (_, i) => st.key(i)).filter((k) => k.startsWith('tus::')).length));
  check(keys[0] === 2 && keys[1] === 0, `tus's resume entries are in this tab's sessionStorage only (${keys})`);
  check(await page.isVisible('.upload-row[data-name="retry.bin"] button:text("Retry")'), 'a stopped upload has Retry');
  await page.click('.upload-row[data-name="retry.bin"] button:text("Retry")');
  await until('Retry finishes it', () => document.querySelector('.upload-row[data-name="retry.bin"]').dataset.state === 'done');

  // --- sign out; a dead session goes back to sign-in, saying so ------------------
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('mediagate.session')).token);
  await page.click('#signout');
  await until('signed out', () => location.hash === '#/signin' && !sessionStorage.getItem('mediagate.session'));
  const left = await page.evaluate(() => [sessionStorage, localStorage].flatMap((st) =>
    Array.from({ length: st.length }, (_, i) => st.key(i)).filter((k) => k.startsWith('tus::'))));
  check(left.length === 0, `signed out: no upload's resume entry (tus::) is left (${left.join(', ')})`);
  await page.evaluate((t) => sessionStorage.setItem('mediagate.session', JSON.stringify({ token: t, user: 'x' })), token);
  expect('GET', '/media/session', 401);   // the dead token
  await page.evaluate(() => { location.hash = '#/library'; });
  await until('a dead session: the sign-in page says it ended', () => location.hash === '#/signin' &&
    /session ended/.test((document.getElementById('signin-status') || {}).textContent || ''));
} catch (e) {
  if (!(e instanceof Stop)) check(false, 'the flow: ' + e.message.split('\n')[0]);
} finally {
  await ctx.close();
}
check(problems.length === 0, `no console error or warning, no page error, no refusal but the expected${problems.map((p) => '\n    ' + p).join('')}`);
check(expected.length === 0 && loadErrors.length === refusals.length,
      `Chromium's failed-request lines are the expected refusals (${refusals.join(', ')}; still expected: ${JSON.stringify(expected)})${loadErrors.map((l) => '\n    ' + l).join('')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
