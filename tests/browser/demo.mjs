// Drives the demo page: upload a file, wait for the progress bar to reach
// 100%, and for the <video> to play. Prints "N passed, N failed".
import { chromium } from 'playwright-core';

const [url, file, profile] = process.argv.slice(2);
let passed = 0, failed = 0;
// The waits below are caps against a hang, not measures: on a loaded
// machine the upload, the encode and the browser itself are slower.
const until = (s) => Date.now() + s * 1000;
const check = (ok, what) => { ok ? passed++ : failed++; console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`); };

const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, timeout: 300000,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(180000);
  await page.goto(url);
  const bg = await page.$eval('#go', (b) => getComputedStyle(b).backgroundColor);
  check(bg === 'rgb(36, 99, 235)', `the page's stylesheet is applied (${bg})`);
  // A wrong key first: the page shows mediagate's reason, and stores nothing.
  const key = await page.$eval('#key', (k) => k.value);
  await page.fill('#key', 'mgk_wrong');
  await page.setInputFiles('#file', file);
  await page.click('#go');
  let refused = '';
  for (const end = until(120); Date.now() < end && !refused.includes('refused');) {
    refused = await page.$eval('#status', (s) => s.textContent);
    if (!refused.includes('refused')) await page.waitForTimeout(100);
  }
  check(refused === 'Upload refused (401): Invalid or revoked API key.',
        `a wrong key: the page shows why (${refused})`);
  await page.fill('#key', key);
  await page.click('#go');
  const seen = new Set();
  let done = false;
  for (const end = until(600); Date.now() < end && !done;) {
    const p = await page.$eval('#bar', (b) => b.dataset.progress || '0');
    seen.add(Number(p));
    const text = await page.$eval('#status', (s) => s.textContent);
    if (text.startsWith('Done') || text.startsWith('Encoding failed') || text.includes('refused')) done = true;
    else await page.waitForTimeout(100);
  }
  seen.add(Number(await page.$eval('#bar', (b) => b.dataset.progress || '0')));
  const text = await page.$eval('#status', (s) => s.textContent);
  check(text.startsWith('Done: 6.0 s, 640×360'), `the page reports the finished job (${text})`);
  // Direct upload: the bytes sent were shown, all of them, before encoding.
  const shown = await page.evaluate(() => window.mgShown);
  const size = (await import('node:fs')).statSync(file).size;
  const full = shown.indexOf(`Uploading… ${size} of ${size} bytes sent`);
  const enc = shown.findIndex((t) => t.startsWith('Encoding…'));
  check(full >= 0 && enc > full, `upload progress (bytes sent) came before encode progress (${full}, ${enc})`);
  check(seen.has(100), `the progress bar reached 100% (seen ${[...seen].sort((a, b) => a - b).join(',')})`);
  let t = 0;
  for (const end = until(120); Date.now() < end && t < 1;) {
    t = await page.$eval('#video', (v) => v.currentTime);
    if (t < 1) await page.waitForTimeout(100);
  }
  check(t >= 1, `the video plays (currentTime ${t.toFixed(2)} s)`);
  await page.screenshot({ path: `${profile}/../demo.png` });
} finally {
  await ctx.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
