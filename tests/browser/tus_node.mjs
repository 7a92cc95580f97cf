// tus-js-client in Node.js against mediagate's tus endpoint, as a Node user
// would run it: the file read from disk (an fs.ReadStream with a path, so
// the client can seek back to the server's offset), chunkSize chunks, the
// upload URL kept in tus-js-client's FileUrlStorage for resuming.
// tests/pytest/test_tus_clients.py runs it and reads what it prints: one
// JSON object a line, {"ev": ...}:
//
//   request   {method, url, offset}   a request about to go out (offset: its Upload-Offset)
//   response  {method, status, offset, location} its answer
//   chunk     {acked, total}          a chunk the server accepted (acked: its Upload-Offset)
//   error     {message, status}       the upload failed (no more retries)
//   retry     {attempt, status}       tus-js-client retries after a failure
//   head      {offset, length}        HEAD on the upload URL after a failure
//   resume    {url}                   a new Upload found the stored URL and resumes it
//   success   {url}
//
// Environment:
//   ENDPOINT  the slot's tus_endpoint, absolute (its POST creates the upload)
//   FILE      the file to send
//   CHUNK     chunkSize in bytes (default 5 MiB)
//   MODE      "cut": the first Upload has no retries, so the cut connection
//             ends it; then HEAD, then a second Upload finds the stored URL
//             (findPreviousUploads) and resumes from the server's offset.
//             "retry": one Upload whose retryDelays ride out an outage.
//   STORE     the FileUrlStorage file (MODE=cut)
//   FILETYPE  Upload-Metadata filetype (default video/x-matroska)
//   WITH_DATA 1: the first chunk goes in the creation POST
//             (uploadDataDuringCreation: the creation-with-upload extension)
// Exit status 0 once the upload succeeded, 1 otherwise.

import {createReadStream, statSync} from "node:fs";
import {basename} from "node:path";
import * as tus from "tus-js-client";
import {need as needOf} from "./harness.mjs";

const need = (name) => needOf("tus_node.mjs", name);
const ENDPOINT = need("ENDPOINT");
const FILE = need("FILE");
const CHUNK = Number(process.env.CHUNK || 5 * 1024 * 1024);
const MODE = process.env.MODE || "cut";
const FILETYPE = process.env.FILETYPE || "video/x-matroska";
const size = statSync(FILE).size;

const say = (ev, fields) => console.log(JSON.stringify({ev, ...fields}));

function options(retryDelays, storage) {
  return {
    endpoint: ENDPOINT,
    chunkSize: CHUNK,
    uploadSize: size,
    uploadDataDuringCreation: process.env.WITH_DATA === "1",
    retryDelays,
    metadata: {filename: basename(FILE), filetype: FILETYPE},
    urlStorage: storage,
    storeFingerprintForResuming: storage !== undefined,
    removeFingerprintOnSuccess: true,
    onBeforeRequest(req) {
      say("request", {method: req.getMethod(), url: req.getURL(),
                      offset: req.getHeader("Upload-Offset") ?? null});
    },
    onAfterResponse(req, res) {
      say("response", {method: req.getMethod(), status: res.getStatus(),
                       offset: res.getHeader("Upload-Offset") ?? null,
                       location: res.getHeader("Location") ?? null});
    },
    onChunkComplete(_chunk, acked, total) {
      say("chunk", {acked, total});
    },
    onShouldRetry(err, attempt) {
      const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
      say("retry", {attempt, status});
      // The default rule: not for a 4xx other than 409 and 423.
      return !(status >= 400 && status < 500 && status !== 409 && status !== 423);
    },
  };
}

// run(upload, before): starts UPLOAD (after BEFORE, e.g. finding a stored
// URL) and resolves to true on success, false on error.
function run(upload, before = async () => {}) {
  return new Promise((resolve) => {
    upload.options.onSuccess = () => {
      say("success", {url: upload.url});
      resolve(true);
    };
    upload.options.onError = (err) => {
      say("error", {message: String(err.message).split("\n")[0],
                    status: err.originalResponse ? err.originalResponse.getStatus() : 0});
      resolve(false);
    };
    before().then(() => upload.start(), (err) => {
      say("error", {message: String(err), status: 0});
      resolve(false);
    });
  });
}

let ok;
if (MODE === "cut") {
  const storage = new tus.FileUrlStorage(need("STORE"));
  const first = new tus.Upload(createReadStream(FILE), options(null, storage));
  ok = await run(first);
  if (!ok && first.url) {
    const r = await fetch(first.url, {method: "HEAD", headers: {"Tus-Resumable": "1.0.0"}});
    say("head", {status: r.status, offset: Number(r.headers.get("Upload-Offset")),
                 length: Number(r.headers.get("Upload-Length"))});
    const second = new tus.Upload(createReadStream(FILE), options(null, storage));
    ok = await run(second, async () => {
      const previous = await second.findPreviousUploads();
      if (previous.length !== 1)
        throw new Error(`${previous.length} stored uploads for this file, not 1`);
      say("resume", {url: previous[0].uploadUrl});
      second.resumeFromPreviousUpload(previous[0]);
    });
  }
} else if (MODE === "retry") {
  const delays = [0, 500, 1000, 2000, 3000, ...Array(40).fill(5000)];
  ok = await run(new tus.Upload(createReadStream(FILE), options(delays, undefined)));
} else {
  console.error(`tus_node.mjs: MODE ${MODE}?`);
  process.exit(2);
}
process.exit(ok ? 0 : 1);
