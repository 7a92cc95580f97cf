"""A stand-in for JW Platform's management API v1 (api.jwplatform.com):
/v1/videos/list, /v1/channels/list, /v1/videos/show, /v1/channels/show.
It checks what the real API checks before it answers:

- api_key, and api_signature recomputed here (independently of the C
  signer, as jwplatform-py does it: quote(safe='~') of names and values,
  sorted, '&'-joined, SHA-1 of that followed by the secret):
  SignatureInvalid / SignatureMissing / ApiKeyInvalid (400);
- api_timestamp within MAX_AGE seconds of its clock (TimestampExpired, 403);
- api_nonce: 8 or more digits, never seen before (NonceInvalid, 400);
- result_limit at most 1000 (ParameterInvalid), default 50, result_offset.

It answers in the fixtures' envelope ({"status":"ok", "videos": [...],
"rate_limit", "limit", "offset", "total"}) and pages as the real one does
(an empty page past the end). Knobs: rate_limited (the next N list calls
get 429 RateLimitExceeded with Retry-After: 1), fail (a dict {(call,
offset): status} answered with JW's error envelope), drop (the next N
requests get their connection closed without an answer), delay (seconds
before each list answer), clock_skew. Every request is kept in .calls as
(path, params dict, status).

The calls an upload makes and writes back (the seed's mediaplatform_jwp):
/v1/videos/create (title, description, custom.* params; a video of status
"created" and the upload link {protocol, address, path, query {key,
token}} of the fixture jwplatform-v1-videos-create.json), /v1/videos/update
(video_key, title, custom.*; NotFound for an unknown key) and
/v1/videos/delete. Knobs: answers (a dict {path: [status, ...]}: the next
calls of path get those errors first, 429 with Retry-After: 1),
lose_create (the next N creates make the video, then close the connection
without an answer), on_update (called with the params before an update is
applied), upload_protocol / upload_address of the link. The link itself
(POST /v1/videos/upload?api_format=json&key=&token=, multipart field
"file") is served too: the file is kept in .uploaded and the video goes
"processing"."""

import copy
import email.parser
import email.policy
import hashlib
import http.server
import json
import threading
import time
import urllib.parse
from pathlib import Path

from mgstack import LoopbackServer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
MAX_AGE = 300


def _quote(s):
    return urllib.parse.quote(s, safe="~")


def signature(params, secret):
    sbs = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(params.items()) if k != "api_signature")
    return hashlib.sha1((sbs + secret).encode()).hexdigest()


def video_template():
    return json.loads((FIX / "jwplatform-v1-videos-list.json").read_text())["videos"][0]


def channel_template():
    return json.loads((FIX / "jwplatform-v1-channels-list.json").read_text())["channels"][0]


def make_video(key, updated, **kw):
    v = copy.deepcopy(video_template())
    v.update(key=key, title=f"video {key}", updated=updated, **kw)
    return v


def make_channel(key, **kw):
    c = copy.deepcopy(channel_template())
    c.update(key=key, title=f"channel {key}", **kw)
    return c


class JWStandin:
    def __init__(self, api_key, secret, port=0):
        self.api_key, self.secret = api_key, secret
        self.videos = {}     # key -> video, in the platform's order
        self.channels = {}
        self.calls = []
        self.nonces = set()
        self.rate_limited = 0
        self.fail = {}
        self.drop = 0
        self.delay = 0.0
        self.clock_skew = 0
        self.answers = {}
        self.lose_create = 0
        self.on_update = None
        self.upload_protocol, self.upload_address = "http", "upload.jwplatform.com"
        self.made = 0
        self.uploaded = {}
        self.lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
                with standin.lock:
                    if standin.drop > 0:
                        standin.drop -= 1
                        standin.calls.append((u.path, params, "dropped"))
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                if standin.delay and u.path.endswith("/list"):
                    time.sleep(standin.delay)
                status, headers, answer = standin.handle(u.path, params)
                if status == "lost":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                """The upload link: multipart/form-data field "file"."""
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = standin.upload(u.path, q, self.headers.get("Content-Type", ""), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = LoopbackServer(Handler, port)
        self.port, self.url = self.http.port, self.http.url

    def close(self):
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def error(status, code, message):
        return status, {}, {"status": "error", "code": code, "title": code, "message": message}

    def rate(self):
        return {"reset": int(time.time()) + 60, "limit": 30, "remaining": 29}

    def check(self, params):
        """None when the request is properly signed, fresh and new; else the answer."""
        if "api_signature" not in params:
            return self.error(400, "SignatureMissing", "Signature is missing.")
        if params.get("api_key") != self.api_key:
            return self.error(400, "ApiKeyInvalid", "API key is invalid.")
        if params["api_signature"] != signature(params, self.secret):
            return self.error(400, "SignatureInvalid", "Signature is invalid.")
        try:
            ts = int(params.get("api_timestamp", ""))
        except ValueError:
            return self.error(400, "TimestampInvalid", "Timestamp is invalid.")
        if abs(time.time() + self.clock_skew - ts) > MAX_AGE:
            return self.error(403, "TimestampExpired", "Timestamp has expired.")
        nonce = params.get("api_nonce", "")
        with self.lock:
            if not nonce.isdigit() or len(nonce) < 8 or nonce in self.nonces:
                return self.error(400, "NonceInvalid", "Nonce is invalid or has been used.")
            self.nonces.add(nonce)
        if params.get("api_format") != "json":
            return self.error(400, "ParameterInvalid", "api_format must be json here.")
        return None

    def handle(self, path, params):
        status, headers, answer = self._handle(path, params)
        with self.lock:
            self.calls.append((path, params, status))
        return status, headers, answer

    def _handle(self, path, params):
        bad = self.check(params)
        if bad:
            return bad
        kind = {"/v1/videos/list": "videos", "/v1/channels/list": "channels"}.get(path)
        if kind:
            with self.lock:
                if self.rate_limited > 0:
                    self.rate_limited -= 1
                    s, _, a = self.error(429, "RateLimitExceeded", "Rate limit exceeded.")
                    return s, {"Retry-After": "1"}, a
            try:
                limit = int(params.get("result_limit", "50"))
                offset = int(params.get("result_offset", "0"))
            except ValueError:
                return self.error(400, "ParameterInvalid", "result_limit/result_offset")
            if not 1 <= limit <= 1000 or offset < 0:
                return self.error(400, "ParameterInvalid", "result_limit must be 1 to 1000")
            if (kind, offset) in self.fail:
                return self.error(self.fail[(kind, offset)], "InternalError", "Internal error.")
            with self.lock:
                items = list((self.videos if kind == "videos" else self.channels).values())
            page = items[offset:offset + limit]
            return 200, {}, {"status": "ok", kind: page, "rate_limit": self.rate(), "limit": limit,
                             "offset": offset, "total": len(items)}
        show = {"/v1/videos/show": ("video", "video_key", self.videos),
                "/v1/channels/show": ("channel", "channel_key", self.channels)}.get(path)
        if show:
            name, arg, table = show
            with self.lock:
                item = table.get(params.get(arg, ""))
            if item is None:
                return self.error(404, "NotFound", f"{name} not found")
            return 200, {}, {"status": "ok", "rate_limit": self.rate(), name: item}
        if path in ("/v1/videos/create", "/v1/videos/update", "/v1/videos/delete"):
            with self.lock:
                queued = self.answers.get(path) or []
                st = queued.pop(0) if queued else None
            if st == 429:
                s, _, a = self.error(429, "RateLimitExceeded", "Rate limit exceeded.")
                return s, {"Retry-After": "1"}, a
            if st:
                return self.error(st, "InternalError" if st >= 500 else "ParameterInvalid",
                                  f"HTTP {st} (stand-in)")
            return getattr(self, "_" + path.rsplit("/", 1)[1])(params)
        return self.error(404, "NoMethod", "No Method Specified")

    @staticmethod
    def _custom(params):
        return {k[len("custom."):]: v for k, v in params.items() if k.startswith("custom.")}

    def _create(self, params):
        with self.lock:
            self.made += 1
            key = f"up{self.made:06d}"
            v = make_video(key, int(time.time()), status="created", duration="0.00",
                           description=params.get("description"), custom=self._custom(params))
            v["title"] = params.get("title", "")
            self.videos[key] = v
            lost = self.lose_create > 0
            self.lose_create -= lost
        if lost:
            return "lost", {}, None
        return 200, {}, {"status": "ok", "media": {"type": "video", "key": key},
                         "link": {"protocol": self.upload_protocol, "address": self.upload_address,
                                  "path": "/v1/videos/upload",
                                  "query": {"key": key, "token": hashlib.md5(key.encode()).hexdigest()}},
                         "rate_limit": self.rate()}

    def _update(self, params):
        if self.on_update:
            self.on_update(params)
        with self.lock:
            v = self.videos.get(params.get("video_key", ""))
            if v is None:
                return self.error(404, "NotFound", "Video not found")
            if "title" in params:
                v["title"] = params["title"]
            v["custom"] = {**(v.get("custom") or {}), **self._custom(params)}
            v["updated"] += 1
        return 200, {}, {"status": "ok", "rate_limit": self.rate()}

    def _delete(self, params):
        with self.lock:
            if self.videos.pop(params.get("video_key", ""), None) is None:
                return self.error(404, "NotFound", "Video not found")
        return 200, {}, {"status": "ok", "rate_limit": self.rate()}

    def upload(self, path, q, ctype, body):
        """The file POSTed to a video's upload link, kept in .uploaded[key]."""
        key = q.get("key", "")
        with self.lock:
            v = self.videos.get(key)
        if path != "/v1/videos/upload" or v is None or q.get("api_format") != "json" or \
                q.get("token") != hashlib.md5(key.encode()).hexdigest():
            return 400, {"status": "error", "code": "ParameterInvalid", "message": "bad upload link"}
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        parts = [p for p in msg.iter_parts() if p.get_param("name", header="content-disposition") == "file"]
        if not msg.is_multipart() or len(parts) != 1:
            return 400, {"status": "error", "code": "ParameterInvalid", "message": "no file field"}
        data = parts[0].get_payload(decode=True)
        with self.lock:
            self.uploaded[key] = data
            v.update(status="processing", size=str(len(data)), md5=hashlib.md5(data).hexdigest())
            v["updated"] += 1
        return 200, {"status": "ok", "media": {"type": "video", "key": key},
                     "file": {"md5": v["md5"], "size": len(data)}}

    def video_calls(self, call):
        """(params, status) of every /v1/videos/<call>."""
        with self.lock:
            return [(p, s) for (path, p, s) in self.calls if path == f"/v1/videos/{call}"]

    def list_calls(self, kind):
        return [(p, s) for (path, p, s) in self.calls if path == f"/v1/{kind}/list"]
