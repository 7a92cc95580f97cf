"""A stand-in for Zencoder's API v2 (app.zencoder.com/api/v2), for the
calls mediagate makes: create a job (POST /jobs), list jobs (GET
/jobs?page=&per_page=), job details (GET /jobs/<id>), job progress (GET
/jobs/<id>/progress) and cancel (PUT /jobs/<id>/cancel). Request and
answer shapes are Zencoder's own client's recorded fixtures
(tests/fixtures/providers/zencoder-api-*.json, sources beside them); the
notifications the tests post are zencoder-job-*.json. It checks what the
real API checks before it acts:

- the Zencoder-Api-Key header (401 {"errors": [...]} without the key);
- a create body that is a JSON object with an "input" URL and an
  "outputs" list of objects (422 {"errors": [...]} otherwise, as the API
  answers a job it cannot take); each output's url, when given, a URL;
  a "playlist" output's streams each with a path; notifications either
  URL strings or objects with a url (and headers an object of strings);
- per_page at most 50.

With fetch_input set, a create first fetches its input URL as Zencoder
does (GET, no redirect followed): .fetched keeps each (status, body).

script is a list of answers to the next creates, in order: "drop" makes
the job and closes the connection without an answer (the client sees no
answer: an unknown outcome), "http503", "http422" (a final refusal),
"hang" (no answer for 30 s), "slow" (Zencoder takes its time: the job is
made and answered 14 s later, or as soon as the caller gives up waiting;
a job whose maker went away still exists). jobs holds every job made, by id, with its
request and its state ("pending" until finish() or fail()); every request
is kept in .calls."""

import copy
import datetime
import http.server
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from mgstack import LoopbackServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ZencoderStandin:
    def __init__(self, api_key, port=0):
        self.api_key = api_key
        self.script = []
        self.jobs = {}
        self.calls = []
        self.next_id = 45492475  # the documented create answer's id, then onwards
        self.fetch_input = False
        self.fetched = []
        self.lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status, answer = standin.handle(self.command, self.path, self.headers, body)
                if status == "slow":
                    standin.wait_or_gone(self.connection, 14)
                    status, answer = standin.make_job(*answer)
                if answer == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True  # the caller gave up ("slow")

            do_GET = do_POST = do_PUT = _serve

        self.server = LoopbackServer(Handler, port)
        self.port = self.server.port
        self.url = f"{self.server.url}/api/v2"

    def close(self):
        self.server.close()

    @staticmethod
    def check_create(b):
        """None, or the errors the API answers with its 422."""
        if not isinstance(b, dict):
            return ["The request body is not a JSON object"]
        if not isinstance(b.get("input"), str) or "://" not in b["input"]:
            return ["Input can't be blank"]
        outs = b.get("outputs")
        if not isinstance(outs, list) or not outs or not all(isinstance(o, dict) for o in outs):
            return ["Outputs is invalid"]
        for o in outs:
            if "url" in o and (not isinstance(o["url"], str) or "://" not in o["url"]):
                return ["Output url is invalid"]
            if o.get("type") == "playlist":
                streams = o.get("streams")
                if not isinstance(streams, list) or not streams or \
                        not all(isinstance(s, dict) and isinstance(s.get("path"), str) for s in streams):
                    return ["Playlist streams are invalid"]
        for n in b.get("notifications", []):
            if isinstance(n, str):
                continue
            if not isinstance(n, dict) or not isinstance(n.get("url"), str):
                return ["Notification is invalid"]
            h = n.get("headers", {})
            if not isinstance(h, dict) or not all(isinstance(v, str) for v in h.values()):
                return ["Notification headers are invalid"]
        if "pass_through" in b and not isinstance(b["pass_through"], str):
            return ["Pass through is invalid"]
        return None

    def handle(self, method, path, headers, raw):
        u = urlsplit(path)
        call = {"method": method, "path": u.path, "query": parse_qs(u.query),
                "headers": dict(headers), "body": raw.decode(errors="replace"), "answer": None}
        with self.lock:
            self.calls.append(call)
            if headers.get("Zencoder-Api-Key") != self.api_key:
                call["answer"] = 401
                return 401, {"errors": ["You must specify a valid API key"]}
            parts = u.path.removeprefix("/api/v2").strip("/").split("/")
            if method == "POST" and parts == ["jobs"]:
                return self.create(call, raw)
            if method == "GET" and parts == ["jobs"]:
                per = int(call["query"].get("per_page", ["50"])[0])
                page = int(call["query"].get("page", ["1"])[0])
                if not 1 <= per <= 50 or page < 1:
                    return 422, {"errors": ["per_page must be 1 to 50"]}
                newest = sorted(self.jobs, reverse=True)
                return 200, [self.details(i) for i in newest[(page - 1) * per:page * per]]
            if len(parts) >= 2 and parts[0] == "jobs" and \
                    (not parts[1].isdigit() or int(parts[1]) not in self.jobs):
                return 404, {"errors": ["Job not found"]}
            if method == "GET" and len(parts) == 2 and parts[0] == "jobs":
                return 200, self.details(int(parts[1]))
            if method == "GET" and len(parts) == 3 and parts[2] == "progress":
                return 200, self.progress(int(parts[1]))
            if method == "PUT" and len(parts) == 3 and parts[2] == "cancel":
                j = self.jobs[int(parts[1])]
                if j["state"] in ("finished", "failed", "cancelled"):
                    return 409, {"errors": ["Job is already finished"]}
                j["state"] = "cancelled"
                return 204, None
            return 404, {"errors": ["Not found"]}

    def create(self, call, raw):
        try:
            b = json.loads(raw)
        except ValueError:
            b = None
        errors = self.check_create(b)
        if not errors and self.fetch_input:
            self.fetched.append(self.fetch(b["input"]))
        step = self.script.pop(0) if self.script and not errors else None
        call["answer"] = step
        if errors or step == "http422":
            call["answer"] = 422
            return 422, {"errors": errors or ["Input file could not be downloaded"]}
        if step == "http503":
            return 503, {"errors": ["Service Unavailable"]}
        if step == "hang":
            time.sleep(30)
            return 503, {"errors": ["late"]}
        if step == "slow":
            return "slow", (b, call, step)
        return self.make_job(b, call, step, locked=True)

    @staticmethod
    def wait_or_gone(conn, seconds):
        """Waits up to seconds, or until the client closes conn."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([conn], [], [], 0.05)
            if r:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        return
                except OSError:
                    return
                time.sleep(0.05)

    def make_job(self, b, call, step, locked=False):
        """Makes the job of create body b; its answer (status, body)."""
        if not locked:
            with self.lock:
                return self.make_job(b, call, step, locked=True)
        jid = self.next_id
        self.next_id += 1
        self.jobs[jid] = {"request": b, "state": "pending", "progress": 0.0, "created_at": _now(),
                          "updated_at": _now()}
        if step == "drop":
            return 0, "drop"
        answer = fixture("zencoder-api-job-create.json")
        answer["id"] = jid
        answer["outputs"] = [{"label": o.get("label"), "url": o.get("url"), "id": jid * 10 + i}
                             for i, o in enumerate(b["outputs"])]
        call["answer"] = jid
        return 201, answer

    @staticmethod
    def fetch(url):
        """(status, body) of a GET of url, redirects not followed."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a):
                return None
        try:
            with urllib.request.build_opener(NoRedirect).open(url, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def created(self):
        with self.lock:
            return dict(self.jobs)

    def set_state(self, jid, state, progress=None):
        with self.lock:
            self.jobs[jid]["state"] = state
            if progress is not None:
                self.jobs[jid]["progress"] = progress
            self.jobs[jid]["updated_at"] = _now()

    def _outputs(self, jid, size):
        """The job's outputs as a finished job has them (the documented
        output_media_files entry, one per requested output)."""
        j = self.jobs[jid]
        tmpl = fixture("zencoder-api-job-details.json")["job"]["output_media_files"][0]
        outs = []
        for i, o in enumerate(j["request"]["outputs"]):
            f = copy.deepcopy(tmpl)
            f.update({"id": jid * 10 + i, "label": o.get("label"), "url": o.get("url"),
                      "state": j["state"], "file_size_bytes": size + i})
            if o.get("type") == "playlist":
                f.update({k: None for k in ("format", "width", "height", "video_codec", "audio_codec",
                                            "frame_rate", "duration_in_ms")})
            else:
                f["format"] = "mpeg-ts" if o.get("type") == "segmented" else "mpeg4"
                f["height"] = o.get("height") or f["height"]
                f["width"] = o.get("width") or f["height"] * 16 // 9
            outs.append(f)
        return outs

    def details(self, jid):
        """GET /jobs/<id>: the documented details body for this job."""
        j = self.jobs[jid]
        d = fixture("zencoder-api-job-details.json")
        d["job"].update({"id": jid, "state": j["state"], "pass_through": j["request"].get("pass_through"),
                         "created_at": j["created_at"], "updated_at": j["updated_at"],
                         "output_media_files": self._outputs(jid, 1000)})
        d["job"]["input_media_file"]["url"] = j["request"]["input"]
        return d

    def progress(self, jid):
        d = fixture("zencoder-api-job-progress.json")
        j = self.jobs[jid]
        d["state"], d["progress"] = j["state"], j["progress"]
        return d

    def notification(self, jid):
        """The job notification Zencoder posts for this job's state: the
        documented finished/failed body with this job's id, pass_through and
        outputs (the playlist output typed "playlist", as the job asked)."""
        j = self.jobs[jid]
        failed = j["state"] == "failed"
        n = fixture("zencoder-job-failed.json" if failed else "zencoder-job-finished.json")
        n["job"].update({"id": jid, "state": j["state"], "pass_through": j["request"].get("pass_through"),
                         "updated_at": j["updated_at"]})
        tmpl = n["outputs"][0]
        n["outputs"] = []
        for f, o in zip(self._outputs(jid, 5000), j["request"]["outputs"]):
            out = copy.deepcopy(tmpl)
            out.update({"id": f["id"], "label": f["label"], "url": f["url"], "format": f["format"],
                        "width": f["width"], "height": f["height"],
                        "file_size_in_bytes": f["file_size_bytes"],
                        "type": o.get("type", "standard")})
            n["outputs"].append(out)
        return n
