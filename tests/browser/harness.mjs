// What the node scripts of the resumable-upload tests share: their
// environment, and Debian's Chromium as playwright-core starts it here
// (never a downloaded browser; no sandbox as root; nothing phoning home).

import {chromium} from "playwright-core";

// need(script, name): the environment variable NAME; exits 2 without it.
export function need(script, name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${script}: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

// launch(profileDir): a persistent context of CHROMIUM (default
// /usr/bin/chromium), headless, its profile in PROFILE_DIR.
export function launch(profileDir) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 300000,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
