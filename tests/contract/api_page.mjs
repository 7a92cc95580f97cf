// node api_page.mjs PAGE PATHS_FILE: opens the rendered API reference
// (tools/api_html.sh) from a file:// URL in headless Chromium and checks
// that it asks the network for nothing (every request other than the page
// itself, data: and blob: is recorded and refused) and that, once rendered,
// the page shows every path of openapi.yaml (one a line in PATHS_FILE).
// playwright-core comes from tests/browser/node_modules (scripts/deps).
// Exit 0: all good; 1: a check failed; 2: no browser.
import {createRequire} from "node:module";
import {existsSync, mkdtempSync, readFileSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, resolve} from "node:path";
import {pathToFileURL} from "node:url";

const [page_file, paths_file] = process.argv.slice(2);
const here = new URL(".", import.meta.url).pathname;
const require = createRequire(join(here, "../browser/node_modules/"));
const {chromium} = require("playwright-core");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) {
  console.error(`api_page.mjs: no browser at ${CHROMIUM} (apt-get install chromium)`);
  process.exit(2);
}
const url = pathToFileURL(resolve(page_file)).href;
const paths = readFileSync(paths_file, "utf8").split("\n").filter(Boolean);
let failed = 0;
const check = (what, ok, detail) => {
  console.log(`${ok ? "ok" : "FAIL"}: ${what}${ok ? "" : `: ${JSON.stringify(detail)}`}`);
  if (!ok) failed++;
};
const profile = mkdtempSync(join(tmpdir(), "mg-api-page."));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true, timeout: 300000,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const remote = [];
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (u === url || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    remote.push(u);
    return route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(180000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // What the page's own Content-Security-Policy refused (the vendor's logo)
  // never reached the network; say so, as a note.
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) console.log(`note: ${m.text()}`);
  });
  await page.goto(url, {waitUntil: "load"});
  // Redoc renders the operations once its script ran: wait for the last path.
  await page.waitForFunction((p) => document.body.textContent.includes(p), paths[paths.length - 1]);
  await page.waitForLoadState("networkidle");
  const text = await page.evaluate(() => document.body.textContent);
  for (const p of paths) check(`the page shows ${p}`, text.includes(p), p);
  check("the page asked the network for nothing", remote.length === 0, remote);
  check("the page's scripts threw nothing", errors.length === 0, errors);
} finally {
  await context.close();
  rmSync(profile, {recursive: true, force: true});
}
process.exit(failed ? 1 : 0);
