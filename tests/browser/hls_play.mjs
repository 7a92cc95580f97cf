// Plays HLS URLs with hls.js in Debian's headless Chromium (playwright-core)
// and prints one JSON line per URL: {src, state, t | detail}.
//
//   node tests/browser/hls_play.mjs PAGE PROFILE_DIR SRC...
//
// PAGE is page/hls.html as a site serves it (with hls.min.js beside it),
// its own query (?bearer=) kept.
// Every assertion belongs to the caller; the waits are caps against a
// hang, never measures. Exits 0 when every SRC played past 1 s.
import {chromium} from "playwright-core";

const [page_url, profile, ...srcs] = process.argv.slice(2);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, timeout: 300000,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"],
});
let failed = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  for (const src of srcs) {
    await page.goto(`${page_url}${page_url.includes("?") ? "&" : "?"}src=${encodeURIComponent(src)}`);
    let r = {state: "loading"};
    for (const end = Date.now() + 180000; Date.now() < end && r.state === "loading";) {
      await page.waitForTimeout(200);
      r = await page.evaluate(() => window.result);
    }
    if (r.state !== "played") failed++;
    console.log(JSON.stringify({src, ...r}));
  }
} finally {
  await ctx.close();
}
process.exit(failed ? 1 : 0);
