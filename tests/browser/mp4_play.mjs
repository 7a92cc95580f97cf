// Plays MP4 URLs in a plain <video> in Debian's headless Chromium
// (playwright-core, started as harness.mjs starts it), on a page of the
// site, and prints one JSON line per URL: {src, state: "played", t} once
// past 1 s, or {src, state: "error", detail}.
//
//   node tests/browser/mp4_play.mjs PAGE PROFILE_DIR SRC...
//
// Every assertion belongs to the caller; the wait is a cap against a
// hang, never a measure. Exits 0 when every SRC played past 1 s.
import {launch} from "./harness.mjs";

// Starts playing src in a new muted <video>; window.mp4 says how it went.
function play(src) {
  document.body.replaceChildren();
  window.mp4 = {state: "loading"};
  const v = document.createElement("video");
  v.muted = true;
  v.addEventListener("timeupdate", () => {
    if (v.currentTime > 1 && window.mp4.state === "loading")
      window.mp4 = {state: "played", t: v.currentTime};
  });
  v.addEventListener("error", () => {
    window.mp4 = {state: "error", detail: `${v.error.code} ${v.error.message}`};
  });
  v.src = src;
  document.body.appendChild(v);
  v.play().catch((e) => { window.mp4 = {state: "error", detail: String(e)}; });
}

const [pageUrl, profile, ...srcs] = process.argv.slice(2);
const ctx = await launch(profile);
const results = [];
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(pageUrl);
  for (const src of srcs) {
    await page.evaluate(play, src);
    await page.waitForFunction(() => window.mp4.state !== "loading", null, {timeout: 180000})
      .catch(() => {});
    results.push({src, ...await page.evaluate(() => window.mp4)});
  }
} finally {
  await ctx.close();
}
results.forEach((r) => console.log(JSON.stringify(r)));
process.exit(results.every((r) => r.state === "played") && results.length === srcs.length ? 0 : 1);
