// CORS through a real browser: Debian's Chromium, driven by playwright-core,
// opens tests/browser/page/cors.html from two loopback origins and lets that
// page fetch() mediagate's /media/status from a third one. run.sh starts the
// stack and passes everything through the environment:
//
//   BASE            mediagate's origin (nginx), e.g. http://127.0.0.1:8080
//   PAGE_ALLOWED    a page origin that MEDIAGATE_ALLOWED_ORIGINS allows
//   PAGE_DENIED     a page origin that it does not
//   JOB_ID          a job row that exists (status PROGRESSING, progress 40)
//   ACCESS_LOG      nginx's log of the mediagate server: one JSON object a
//                   line, {port, method, status, origin, auth, uri}
//   PROFILE_DIR     an empty directory for Chromium's profile
//   CHROMIUM        the browser (default /usr/bin/chromium)
//
// Every assertion is on what the page itself reports (the value its
// probeStatus() resolves to) or on what nginx logged; never on console text.
// Prints one line per check and "N passed, N failed"; exits 1 on a failure.

import {existsSync, readdirSync, readFileSync} from "node:fs";
import {chromium} from "playwright-core";

const env = (name, dflt) => {
  const v = process.env[name] ?? dflt;
  if (v === undefined || v === "") {
    console.error(`cors.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const BASE = env("BASE");
const PAGE_ALLOWED = env("PAGE_ALLOWED");
const PAGE_DENIED = env("PAGE_DENIED");
const JOB_ID = env("JOB_ID");
const ACCESS_LOG = env("ACCESS_LOG");
const PROFILE_DIR = env("PROFILE_DIR");
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
const API_KEY = env("API_KEY");
const UPLOAD_DIR = env("UPLOAD_DIR");
const MEDIAGATE_LOG = env("MEDIAGATE_LOG");

let passed = 0;
let failed = 0;
function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    console.log(`FAIL - ${name}` + (detail === undefined ? "" : `\n       got: ${
      typeof detail === "string" ? detail : JSON.stringify(detail)}`));
  }
}

if (!existsSync(CHROMIUM)) {
  console.error(`cors.mjs: no browser at ${CHROMIUM} (apt-get install chromium)`);
  process.exit(2);
}

const context = await chromium.launchPersistentContext(PROFILE_DIR, {
  executablePath: CHROMIUM,
  headless: true,
  timeout: 300000,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

try {
  // openProbe(origin): a fresh tab showing the probe page of that origin.
  async function openProbe(origin) {
    const page = await context.newPage();
    page.setDefaultTimeout(180000);
    const res = await page.goto(`${origin}/cors.html`, {waitUntil: "load"});
    check(`page ${origin}/cors.html loads`, res && res.status() === 200,
          res ? `HTTP ${res.status()}` : "no response");
    const seen = await page.evaluate(() => ({origin: location.origin, ready: !!window.probeReady}));
    check(`page runs in origin ${origin}`, seen.origin === origin && seen.ready, seen);
    return page;
  }
  const probe = (page, preflight) =>
    page.evaluate(([b, j, p]) => window.probeStatus(b, j, p), [BASE, JOB_ID, preflight]);

  const expectedJson = {success: true, job_status: "PROGRESSING", progress_rate: 40};

  // --- case 1: simple GET from the allowed origin --------------------------
  const allowed = await openProbe(PAGE_ALLOWED);
  let r = await probe(allowed, false);
  check("allowed origin, simple GET: fetch() resolves", r.ok === true, r);
  check("allowed origin, simple GET: status 200", r.status === 200, r);
  check("allowed origin, simple GET: page reads the JSON",
        JSON.stringify(r.json) === JSON.stringify(expectedJson), r.json);
  check("allowed origin, simple GET: ETag readable (Access-Control-Expose-Headers)",
        typeof r.etag === "string" && /^"[0-9A-Za-z+/_=-]{8,}"$/.test(r.etag), r.etag);
  check("allowed origin, simple GET: Content-Type readable",
        typeof r.contentType === "string" && r.contentType.startsWith("application/json"),
        r.contentType);
  check("allowed origin, simple GET: unexposed X-Content-Type-Options hidden",
        r.nosniff === null, r.nosniff);

  // --- case 3a: preflighted GET from the allowed origin --------------------
  r = await probe(allowed, true);
  check("allowed origin, preflighted GET: fetch() resolves", r.ok === true, r);
  check("allowed origin, preflighted GET: status 200", r.status === 200, r);
  check("allowed origin, preflighted GET: page reads the JSON",
        JSON.stringify(r.json) === JSON.stringify(expectedJson), r.json);
  check("allowed origin, preflighted GET: ETag readable",
        typeof r.etag === "string" && r.etag.length > 2, r.etag);

  // --- case 2: simple GET from a disallowed origin -------------------------
  const denied = await openProbe(PAGE_DENIED);
  r = await probe(denied, false);
  check("disallowed origin, simple GET: fetch() rejects with TypeError",
        r.ok === false && r.errorName === "TypeError", r);

  // --- case 3b: preflighted GET from a disallowed origin -------------------
  r = await probe(denied, true);
  check("disallowed origin, preflighted GET: fetch() rejects with TypeError",
        r.ok === false && r.errorName === "TypeError", r);

  // --- PUT /uploads/<name> with an API key (checked, then stored by mediagate)
  r = await allowed.evaluate(([b, k]) => window.probeUpload(b, "from-allowed.mp4", k), [BASE, API_KEY]);
  check("allowed origin, PUT upload: fetch() resolves with 201", r.ok === true && r.status === 201, r);
  check("allowed origin, PUT upload: the page finds its job through /media/job_id",
        typeof r.jobId === "string" && r.jobId.length > 0, r);
  check("allowed origin, PUT upload: the file landed under its own id",
        /^uploads\/[0-9a-f-]{36}\/from-allowed\.mp4$/.test(r.inputFile || "") &&
        existsSync(`${UPLOAD_DIR}/${(r.inputFile || "").slice(8)}`), r);
  r = await denied.evaluate(([b, k]) => window.probeUpload(b, "from-denied.mp4", k), [BASE, API_KEY]);
  check("disallowed origin, PUT upload: fetch() rejects with TypeError",
        r.ok === false && r.errorName === "TypeError", r);
  const landed = (name) => readdirSync(UPLOAD_DIR, {recursive: true}).some((f) => String(f).endsWith(name));
  check("disallowed origin, PUT upload: nothing landed", !landed("from-denied.mp4"));

  // --- direct upload: POST /uploads, then PUT to the single-use URL ---------
  r = await allowed.evaluate(([b, k]) => window.probeDirect(b, k), [BASE, API_KEY]);
  check("allowed origin, direct upload: created 201, PUT 201 with no key",
        r.ok === true && r.created === 201 && r.put === 201, r);
  check("allowed origin, direct upload: a second PUT is refused and the page reads why",
        r.again === 403 && /used already/.test(r.againMessage || ""), r);
  check("allowed origin, direct upload: the file landed under the slot's id",
        r.inputFile && existsSync(`${UPLOAD_DIR}/${r.inputFile.slice(8)}`), r);
  r = await denied.evaluate(([b, k]) => window.probeDirect(b, k), [BASE, API_KEY]);
  check("disallowed origin, direct upload: the browser refuses at the first step",
        r.ok === false && r.step === "create" && r.errorName === "TypeError", r);

  // --- playback files (nginx/mediagate-media.conf) are public ---------------
  for (const [name, page] of [["allowed", allowed], ["disallowed", denied]]) {
    r = await page.evaluate((u) => window.probeGet(u), `${BASE}/media-files/job-1/master.m3u8`);
    check(`${name} origin, GET of an encoded playlist: readable (public media)`,
          r.ok === true && r.status === 200 && r.text.startsWith("#EXTM3U"), r);
  }

  // --- what reached the server ----------------------------------------------
  // The browser's verdict must not be a network failure: nginx logged each
  // request, with the page's Origin, and answered it.
  const log = readFileSync(ACCESS_LOG, "utf8").split("\n").filter(Boolean)
    .map((l) => JSON.parse(l));
  const uri = `/media/status?job_id=${encodeURIComponent(JOB_ID)}`;
  const find = (origin, method, auth) =>
    log.filter((e) => e.uri === uri && e.origin === origin && e.method === method &&
                      e.auth === (auth ? "Bearer x" : "")).map((e) => e.status);
  const logText = "\n" + log.map((e) => JSON.stringify(e)).join("\n");

  check("server: allowed simple GET answered 200",
        JSON.stringify(find(PAGE_ALLOWED, "GET", false)) === '["200"]', logText);
  check("server: allowed preflight OPTIONS answered 204",
        JSON.stringify(find(PAGE_ALLOWED, "OPTIONS", false)) === '["204"]', logText);
  check("server: allowed preflighted GET (with Authorization) answered 200",
        JSON.stringify(find(PAGE_ALLOWED, "GET", true)) === '["200"]', logText);
  check("server: disallowed simple GET reached the server and was answered 422",
        JSON.stringify(find(PAGE_DENIED, "GET", false)) === '["422"]', logText);
  check("server: disallowed preflight OPTIONS answered 422",
        JSON.stringify(find(PAGE_DENIED, "OPTIONS", false)) === '["422"]', logText);
  check("server: browser never sent the disallowed preflighted GET",
        find(PAGE_DENIED, "GET", true).length === 0, logText);
  // The upload locations keep their request lines (which carry tokens) out
  // of nginx's log; mediagate logs them, without the query.
  const mg = readFileSync(MEDIAGATE_LOG, "utf8");
  // Its access log shows the upload route's row (LOG_ROUTE), not the
  // uploader's file names.
  check("server: allowed upload preflight OPTIONS answered 204",
        mg.includes("access OPTIONS /uploads/ 204"), mg);
  check("server: allowed PUT answered 201", mg.includes("access PUT /uploads/ 201"), mg);
  check("server: the app's log holds no uploaded file name",
        !mg.includes("from-allowed.mp4") && !mg.includes("from-denied.mp4"), mg);
  const stored = readdirSync(UPLOAD_DIR, {recursive: true}).map(String);
  check("server: the allowed PUT was stored", stored.some((f) => f.endsWith("/from-allowed.mp4")),
        stored.join(" "));
  check("server: the disallowed PUT was never stored",
        !stored.some((f) => f.endsWith("from-denied.mp4")), stored.join(" "));
  check("server: no upload request line in nginx's access log",
        !log.some((e) => e.uri.startsWith("/uploads/")), logText);
} catch (e) {
  check("no exception", false, String(e && e.stack || e));
} finally {
  await context.close();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
