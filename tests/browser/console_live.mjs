// Drives the console's live and webhooks pages (web/console/pages/live.js,
// webhooks.js) in headless Chromium; console_live.sh starts the stack.
//
//   node console_live.mjs PROFILE_DIR
//   BASE, ADMIN_KEY (an API key in MEDIAGATE_ADMIN_USERS), VIEWER_KEY (one
//   that is not), RECEIVER (tests/webhook-receiver's URL), HLS_DIR
//   (nginx-rtmp's hls_path), ARTEFACTS (where the screenshots go)
//
// Live: sign in through the sign-in form, start a broadcast with the
// keyboard, read the RTMP URL and key the page shows once (Copy puts the
// key on the clipboard), publish them with ffmpeg, the page follows
// STARTED -> LIVE, the preview plays, Stop -> STOPPED, the recording's VOD
// job appears and completes with a link to its page. Webhooks: the
// endpoints, a delivery failed after 8 answers 500 (filtered by endpoint
// and state), Redeliver -> delivered with 200, the receiver got the same
// webhook-id again, verified; a non-administrator gets the API's refusal
// explained. Each page at 1280 and 390 px wide (no horizontal scroll),
// screenshots kept. Any console error or warning, or page error, fails the
// test; the one expected (the browser's own line for the non-admin's 403)
// is counted apart. Prints "N passed, N failed".
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { launch, need } from './harness.mjs';

const S = 'console_live.mjs';
const [profile] = process.argv.slice(2);
const BASE = need(S, 'BASE'), ADMIN_KEY = need(S, 'ADMIN_KEY'), VIEWER_KEY = need(S, 'VIEWER_KEY');
const RECEIVER = need(S, 'RECEIVER'), HLS_DIR = need(S, 'HLS_DIR'), ART = need(S, 'ARTEFACTS');
const DESKTOP = { width: 1280, height: 900 }, PHONE = { width: 390, height: 844 };

let passed = 0, failed = 0;
const check = (ok, what) => { ok ? passed++ : failed++; console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`); };
// The waits' limits are caps against a hang, not measures: on a loaded
// machine the broadcast, the encode and the browser are all slower.
async function waitFor(what, secs, f) {
  const end = Date.now() + secs * 1000;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up after ${secs} s waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Console errors and warnings, page errors: none allowed, but for the one
// refusal a step expects (expect403).
const problems = [];
let expected = null;
function watch(page) {
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const where = m.location().url || '';
    if (expected && m.type() === 'error' && where.endsWith(expected.path) && m.text().includes('403')) {
      expected.seen++;
      return;
    }
    problems.push(`${m.type()}: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}

let ffmpeg = null;
const ctx = await launch(profile);
try {
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(120000);
  watch(page);
  await page.setViewportSize(DESKTOP);

  const noSideScroll = async (what) => {
    const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    check(sw <= w, `${what} at 390 px: no horizontal scroll (content ${sw} px, window ${w} px)`);
  };
  const shoot = async (name) => {
    await page.screenshot({ path: `${ART}/${name}.png`, fullPage: true });
  };
  const signIn = async (key) => {
    await page.goto(`${BASE}/console/#/signin`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signout').waitFor({ state: 'visible' });
  };
  const go = async (hash, heading) => {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };

  // --- live ----------------------------------------------------------------------------------
  await signIn(ADMIN_KEY);
  await go('#/live', 'Live broadcasts');
  await page.locator('.live-list').filter({ hasText: /No broadcasts|Name/ }).waitFor();
  // The keyboard alone: Tab to the name, type, Tab to the button, Enter.
  let tabs = 0;
  while (tabs++ < 40 && await page.evaluate(() => document.activeElement.id) !== 'live-name')
    await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.id) === 'live-name',
        `the name field is reached with Tab (${tabs} presses)`);
  await page.keyboard.type('Console test broadcast');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const e = document.activeElement, s = getComputedStyle(e);
    return { tag: e.tagName, text: e.textContent, outline: s.outlineStyle, width: s.outlineWidth };
  });
  check(focused.tag === 'BUTTON' && focused.text === 'Start a broadcast',
        `Tab then reaches the start button, a <button> (${focused.tag} "${focused.text}")`);
  check(focused.outline !== 'none' && focused.width !== '0px',
        `the focused button shows its focus (outline ${focused.outline} ${focused.width})`);
  await page.keyboard.press('Enter');

  const creds = page.locator('.live-creds');
  await creds.waitFor({ state: 'visible' });
  check((await creds.textContent()).includes('Shown only now'), 'the credentials say they are shown only now');
  const rtmpUrl = await page.getByLabel('RTMP URL', { exact: true }).inputValue();
  const streamKey = await page.getByLabel('Stream key', { exact: true }).inputValue();
  check(/^rtmp:\/\/127\.0\.0\.1:\d+\/live$/.test(rtmpUrl), `the page shows the RTMP URL (${rtmpUrl})`);
  check(/^[0-9a-f-]{36}\?key=[0-9a-f]{64}$/.test(streamKey), 'the page shows the stream key');
  await page.getByRole('button', { name: 'Copy Stream key' }).click();
  await creds.getByText('Copied.').waitFor();
  check(await page.evaluate(() => navigator.clipboard.readText()) === streamKey,
        'Copy puts the stream key on the clipboard');
  const panel = page.locator('.live-current');
  const state = () => panel.locator('h2 .badge').textContent();
  check(await state() === 'STARTED', 'the new broadcast is STARTED');
  const streamId = streamKey.split('?')[0];

  ffmpeg = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac',
    '-t', '90', '-f', 'flv', `${rtmpUrl}/${streamKey}`], { stdio: 'ignore' });
  let ffmpegDone = null;
  ffmpeg.on('exit', (code, sig) => { ffmpegDone = { code, sig }; });
  await waitFor('LIVE in the page', 180, async () => await state() === 'LIVE');
  check(true, 'the page follows the broadcast to LIVE (polling, no reload)');
  // The preview asks for the playlist nginx-rtmp writes a fragment after
  // the publisher connects: the button is pressed once it exists.
  const playlist = `${HLS_DIR}/${streamId}.m3u8`;
  await waitFor('the live playlist with a segment', 180,
                () => existsSync(playlist) && readFileSync(playlist, 'utf8').includes('#EXTINF'));
  await panel.getByRole('button', { name: 'Play the preview' }).click();
  const video = panel.locator('video');
  const t = await waitFor('the preview to play', 180, async () => {
    const ct = await video.evaluate((v) => v.currentTime).catch(() => 0);
    return ct > 1 ? ct : 0;
  });
  check(t > 1, `the preview plays (currentTime ${t.toFixed(2)} s)`);
  await shoot('live-desktop');
  await page.setViewportSize(PHONE);
  await noSideScroll('the live page');
  await shoot('live-phone');
  await page.setViewportSize(DESKTOP);

  await panel.getByRole('button', { name: 'Stop the broadcast' }).click();
  await waitFor('STOPPED in the page', 60, async () => await state() === 'STOPPED');
  check(true, 'Stop: the page shows STOPPED');
  check(await video.count() === 0, 'the preview is gone once the stream is no longer live');
  const link = panel.locator('.vod a');
  await link.waitFor();
  check(true, 'the recording\'s VOD job appears');
  const href = await link.getAttribute('href');
  check(/^#\/video\/[\w-]+$/.test(href), `with a link to its page (${href})`);
  await waitFor('the VOD job to complete', 600, async () => (await link.textContent()) === 'Watch the recording');
  check((await panel.locator('.vod .badge').textContent()) === 'COMPLETE', 'the VOD job is COMPLETE in the page');
  const row = page.locator('.live-list tbody tr', { hasText: 'Console test broadcast' });
  check((await row.locator('.badge').textContent()) === 'STOPPED', 'the list shows the broadcast STOPPED');
  await waitFor('ffmpeg to end (the stopped stream drops it)', 120, () => ffmpegDone);
  ffmpeg = null;

  // --- webhooks -------------------------------------------------------------------------------
  await go('#/webhooks', 'Webhooks');
  const endpoints = page.locator('table', { has: page.locator('caption', { hasText: 'Webhook endpoints' }) });
  await endpoints.waitFor();
  const epText = await endpoints.textContent();
  check(epText.includes(`${RECEIVER}/failing`) && epText.includes(`${RECEIVER}/all`),
        'the endpoints are listed with their URLs');
  check(epText.includes('stream.live') && epText.includes('every event'), 'with their events');
  const failingId = await page.$eval('#wh-endpoint', (sel, url) =>
    [...sel.options].find((o) => o.textContent.endsWith(` ${url}`)).value, `${RECEIVER}/failing`);
  await page.selectOption('#wh-endpoint', failingId);
  await page.selectOption('#wh-state', 'failed');
  const failedRow = page.locator('table.deliveries tbody tr', { hasText: 'stream.live' })
    .filter({ has: page.locator('td[data-label="State"]', { hasText: 'failed' }) });
  // The receiver answers 500 to every attempt of the schedule (counted in
  // ms here); the delivery fails after the 8th. Refresh until it shows.
  await waitFor('the failed delivery in the page', 400, async () => {
    if (await failedRow.count()) return true;
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(1000);
    return false;
  });
  const cells = async (row = failedRow) => Object.fromEntries(await row.locator('td[data-label]').evaluateAll(
    (tds) => tds.map((td) => [td.dataset.label, td.textContent])));
  const before = await cells();
  check(before.State === 'failed' && before['Last HTTP status'] === '500' && before.Attempts === '8',
        `a failed delivery: state ${before.State}, last HTTP status ${before['Last HTTP status']}, ` +
        `${before.Attempts} attempts`);
  check(/500|gave up/.test(before['Last error']), `with its last error (${before['Last error']})`);
  check(before.Subject === `stream ${streamId}`, `about the broadcast (${before.Subject})`);
  await shoot('webhooks-desktop');
  await page.setViewportSize(PHONE);
  await noSideScroll('the webhooks page');
  await shoot('webhooks-phone');
  await page.setViewportSize(DESKTOP);

  const redelivered = page.locator('table.deliveries tbody tr', { hasText: 'stream.live' });
  await failedRow.getByRole('button', { name: /^Redeliver/ }).click();
  await waitFor('the redelivered row to show delivered', 180, async () => (await cells(redelivered)).State === 'delivered');
  const after = await cells(redelivered);
  check(after['Last HTTP status'] === '200' && after.Attempts === '9',
        `Redeliver: delivered, last HTTP status ${after['Last HTTP status']}, ${after.Attempts} attempts`);
  const log = await (await fetch(`${RECEIVER}/_log`)).json();
  const got = log.filter((e) => e.path === '/failing');
  check(got.length === 9 && new Set(got.map((e) => e.id)).size === 1,
        `the receiver got the same webhook-id on all ${got.length} attempts`);
  check(got.every((e) => e.verified) && got.at(-1).status === 200,
        'every one verified by standardwebhooks; the last answered 200');
  check(JSON.parse(got.at(-1).body).data.stream.id === streamId, 'its body names the broadcast');

  // --- a user who is not an administrator -----------------------------------------------------
  await page.locator('#signout').click();
  await signIn(VIEWER_KEY);
  expected = { path: '/media/webhooks', seen: 0 };
  await go('#/webhooks', 'Webhooks');
  const refusal = page.getByRole('alert');
  await refusal.filter({ hasText: 'MEDIAGATE_ADMIN_USERS' }).waitFor();
  check((await refusal.textContent()).startsWith('Only administrators (MEDIAGATE_ADMIN_USERS) may see webhooks.'),
        'a non-administrator sees the API\'s refusal, explained');
  check(await page.locator('table').count() === 0, 'and no endpoint or delivery');
  check(expected.seen === 1, `the browser logged that 403 once (${expected.seen})`);
  expected = null;
  await go('#/live', 'Live broadcasts');
  await page.locator('.live-list').filter({ hasText: /No broadcasts|Name/ }).waitFor();
  check(!(await page.locator('.live-list').textContent()).includes('Console test broadcast'),
        'another user\'s broadcasts are not in their list');
} catch (e) {
  failed++;
  console.log(`FAIL: ${e.message}`);
} finally {
  if (ffmpeg) ffmpeg.kill('SIGKILL');
  await ctx.close();
}
check(problems.length === 0, `no console error or warning, no page error${problems.length ? ':\n  ' +
      problems.join('\n  ') : ''}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
