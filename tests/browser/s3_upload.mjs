// A direct upload to the object store from a page in headless Chromium
// (Debian's, driven by playwright-core): PAGE_URL serves
// page/s3-upload.html from an origin that mediagate and the bucket's CORS
// rules allow; the page's window.upload(BASE, API_KEY, SIZE) runs the
// whole flow and its result is printed as one JSON line. The caller
// (tests/pytest/test_uploads_s3.py) asserts on it. PROFILE_DIR: an empty
// directory for Chromium's profile; CHROMIUM: the browser.
import {chromium} from "playwright-core";

const env = (name) => process.env[name] ?? (console.error(`s3_upload.mjs: ${name} is not set`),
                                             process.exit(2));
const context = await chromium.launchPersistentContext(env("PROFILE_DIR"), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  timeout: 300000,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await context.newPage();
  page.setDefaultTimeout(300000);
  await page.goto(env("PAGE_URL"), {waitUntil: "load"});
  const out = [];
  for (const size of env("SIZES").split(",")) {
    out.push(await page.evaluate(([b, k, s]) => window.upload(b, k, s),
                                 [env("BASE"), env("API_KEY"), Number(size)]));
  }
  console.log(JSON.stringify(out));
} finally {
  await context.close();
}
