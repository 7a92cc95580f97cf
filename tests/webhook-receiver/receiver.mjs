// A customer's webhook receiver, for tests/pytest/test_webhooks.py and
// bench/webhooks.sh. It verifies every delivery with the npm package
// standardwebhooks (an independent implementation of the signature) and
// answers what the test planned for that path.
//
//   node receiver.mjs LOG      listens on 127.0.0.1 (a free port), prints
//                              "listening PORT", appends one JSON line per
//                              delivery to LOG
//
// Control (JSON bodies):
//   POST /_plan {"path": "/a", "secret": "whsec_…", "answers": [
//       {"status": 500}, {"status": 429, "headers": {"Retry-After": "1"}},
//       {"delay_ms": 3000, "status": 200}]}
//     the next deliveries to /a get these answers in turn, then 200; each is
//     verified with the secret
//   GET /_log      every delivery so far, as a JSON array
//
// A log line: {"path", "id", "timestamp", "signature", "body", "verified",
// "error", "status" (what it answered), "at" (ms since the epoch, on arrival)}.
import { appendFileSync } from "node:fs";
import { createRequire } from "node:module";
import http from "node:http";

const require = createRequire(import.meta.url);
const { Webhook } = require("standardwebhooks");

const logPath = process.argv[2];
const plans = new Map(); // path -> {secret, answers}
const log = [];

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function reply(res, status, headers, body) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(body);
}

async function control(req, res, body) {
  if (req.method === "POST" && req.url === "/_plan") {
    const p = JSON.parse(body);
    plans.set(p.path, { secret: p.secret, answers: p.answers || [] });
    return reply(res, 200, {}, "{}");
  }
  if (req.method === "GET" && req.url === "/_log") return reply(res, 200, {}, JSON.stringify(log));
  return reply(res, 404, {}, "{}");
}

const server = http.createServer(async (req, res) => {
  const at = Date.now();
  const body = await readBody(req);
  if (req.url.startsWith("/_")) return control(req, res, body);
  const path = req.url.split("?")[0];
  const plan = plans.get(path) || { secret: null, answers: [] };
  const entry = {
    path, at, body,
    method: req.method,
    content_type: req.headers["content-type"] || null,
    id: req.headers["webhook-id"] || null,
    timestamp: req.headers["webhook-timestamp"] || null,
    signature: req.headers["webhook-signature"] || null,
    verified: false, error: null,
  };
  try {
    if (!plan.secret) throw new Error("no secret planned for " + path);
    new Webhook(plan.secret).verify(body, {
      "webhook-id": entry.id, "webhook-timestamp": entry.timestamp,
      "webhook-signature": entry.signature,
    });
    entry.verified = true;
  } catch (e) {
    entry.error = String(e && e.message ? e.message : e);
  }
  const a = plan.answers.length ? plan.answers.shift() : { status: 200 };
  entry.status = a.status || 200;
  log.push(entry);
  if (logPath) appendFileSync(logPath, JSON.stringify(entry) + "\n");
  const send = () => {
    if (res.destroyed) return;
    reply(res, entry.status, a.headers || {}, a.body || "{}");
  };
  if (a.delay_ms) setTimeout(send, a.delay_ms);
  else send();
});
server.keepAliveTimeout = 5000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
