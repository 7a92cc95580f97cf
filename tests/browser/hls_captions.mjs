// Plays an HLS master with hls.js in Debian's headless Chromium
// (playwright-core), its subtitle track of LANG on, to the end, and prints
// one JSON line: {state, tracks: [{lang, name}], cues: [{text, t, start}]}
// (each cue as it became active, t the video's time then).
//
//   node tests/browser/hls_captions.mjs PAGE PROFILE_DIR SRC LANG [BEARER]
//
// PAGE is page/hls_captions.html as a site serves it (hls.min.js beside
// it); BEARER is sent with the requests for an encrypted job's key. Every
// assertion belongs to the caller; the wait is a cap against a hang, never
// a measure.
import {chromium} from "playwright-core";

const [page_url, profile, src, lang, bearer] = process.argv.slice(2);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, timeout: 300000,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"],
});
let r = {state: "loading"};
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(`${page_url}?src=${encodeURIComponent(src)}&lang=${encodeURIComponent(lang)}` +
                  (bearer ? `&bearer=${encodeURIComponent(bearer)}` : ""));
  for (const end = Date.now() + 300000; Date.now() < end && r.state === "loading";) {
    await page.waitForTimeout(200);
    r = await page.evaluate(() => window.result);
  }
} finally {
  await ctx.close();
}
console.log(JSON.stringify(r));
process.exit(r.state === "ended" ? 0 : 1);
