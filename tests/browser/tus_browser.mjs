// Resumable uploads from a real browser: Debian's Chromium, driven by
// playwright-core, opens tests/browser/page/tus.html from the page origin
// and runs one of its uploads against mediagate's tus endpoint, another
// origin (CORS for real). tests/pytest/test_tus_clients.py starts the stack,
// serves the page with tus-js-client's and Uppy's bundles and a clip, and
// reads what this prints: the page's events, one JSON object a line, as
// tus_node.mjs prints them, then {"ev": "done"}.
//
// Environment:
//   PAGE         the page's origin (serves tus.html, tus.min.js, uppy.min.js, clip.mkv)
//   ENDPOINT     the slot's tus_endpoint, absolute
//   MODE         "tus": tus-js-client, a cut, the resume (tusResumeAfterCut);
//                "uppy": Uppy's Tus plugin (uppyUpload);
//                "docs": docs/uploads.md's tus-js-client example (docsExample),
//                its code in EXAMPLE, with API_KEY
//   CHUNK        chunkSize in bytes
//   PROFILE_DIR  an empty directory for Chromium's profile
//   CHROMIUM     the browser (default /usr/bin/chromium)
// Exit status 0 once the page's upload succeeded, 1 otherwise.

import {launch, need as needOf} from "./harness.mjs";

const need = (name) => needOf("tus_browser.mjs", name);
const PAGE = need("PAGE");
const MODE = need("MODE");
const ENDPOINT = MODE === "docs" ? "" : need("ENDPOINT");
const CHUNK = MODE === "docs" ? 0 : Number(need("CHUNK"));

const context = await launch(need("PROFILE_DIR"));
let ok = false;
try {
  const page = await context.newPage();
  page.setDefaultTimeout(900000);
  page.on("console", (m) => console.error(`page: ${m.text()}`));
  page.on("pageerror", (e) => console.error(`page error: ${e}`));
  const res = await page.goto(`${PAGE}/tus.html`, {waitUntil: "load"});
  if (!res || res.status() !== 200)
    throw new Error(`${PAGE}/tus.html: ${res ? res.status() : "no answer"}`);
  if (!await page.evaluate(() => window.pageReady === true && !!window.tus && !!window.Uppy))
    throw new Error("the page did not load its clients");
  const fn = {tus: "tusResumeAfterCut", uppy: "uppyUpload", docs: "docsExample"}[MODE];
  if (!fn)
    throw new Error(`MODE ${MODE}?`);
  const args = MODE === "docs" ? [need("EXAMPLE"), need("API_KEY")] : [ENDPOINT, CHUNK];
  const events = await page.evaluate(([f, a]) => window[f](...a), [fn, args]);
  for (const ev of events)
    console.log(JSON.stringify(ev));
  ok = events.some((e) => e.ev === "success" || (e.ev === "complete" && e.successful === 1) ||
                          (e.ev === "docs" && /^job \S+ SUBMITTED$/.test(e.logs.at(-1))));
} catch (e) {
  console.log(JSON.stringify({ev: "exception", message: String(e && e.stack || e)}));
} finally {
  await context.close();
}
console.log(JSON.stringify({ev: "done", ok}));
process.exit(ok ? 0 : 1);
