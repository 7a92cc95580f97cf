"""A stand-in for Mux Video's assets API (api.mux.com/video/v1/assets), the
calls the mux encoder makes. It checks what the real API checks before it
acts and answers the documented bodies (tests/fixtures/providers/
mux-api-create-asset-request.json and -response.json, with their sources;
the Asset and CreateAssetRequest fields from Mux's own SDK documentation):

- HTTP Basic with the access token's id and secret, else 401
  {"error": {"type": "unauthorized", ...}};
- POST /video/v1/assets: a JSON object; inputs (or the deprecated input)
  a non-empty list of {"url": http(s) URL} or one URL string, never both;
  playback_policies (or playback_policy) "public"/"signed"/"drm" or a list
  of them; passthrough a string of at most 255 characters; mp4_support and
  static_renditions never both, each from its documented values;
  max_resolution_tier 1080p/1440p/2160p; otherwise 400
  {"error": {"type": "invalid_parameters", "messages": [...]}}. The answer
  is 201 {"data": Asset} (status "preparing", created_at Unix seconds as a
  string, one playback id per policy, the passthrough echoed);
- GET /video/v1/assets/<id> (200 {"data": Asset} or 404 not_found),
  GET /video/v1/assets?limit=&page= (newest first, {"data": [...]}),
  DELETE /video/v1/assets/<id> (204, or 404).

Direct uploads (tests/fixtures/providers/mux-direct-upload-create.json,
from Mux's reference and guide):
- POST /video/v1/uploads: a JSON object; new_asset_settings an object
  checked as an asset's create body but with no inputs (the file is the
  upload's), cors_origin a string, timeout an integer 60..604800 (default
  3600), test a boolean, nothing else; 201 {"data": Upload} (status
  "waiting", a url to PUT the file to, the settings echoed);
- GET /video/v1/uploads/<id>; PUT /video/v1/uploads/<id>/cancel: a
  waiting upload becomes "cancelled" (200 {"data": Upload}), any other
  400 invalid_parameters; 404 for an unknown id.
upload_done(upload_id) is the browser's PUT arriving: the asset is made
from the upload's new_asset_settings (asset_created), and the
video.upload.asset_created webhook Mux sends is answered.

Mux fetches the input itself: each created asset's input URL is fetched
here (GET, as Mux's ingest does) and the outcome kept in .fetched[asset id]
as (HTTP status, bytes) or (error text, None).

script: a list of answers for the next create calls, in order: "drop"
(make the asset, then close the connection without an answer: the caller
cannot know), "slow" (make the asset 4 s later, then answer), "hang" (no
answer for 30 s, nothing made), "429", "500", "400" (Mux's refusal). Every request is kept in .calls; .assets by id in
creation order."""

import base64
import hmac
import http.server
import json
import secrets
import threading
import time
import uuid
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

from mgstack import LoopbackServer

POLICIES = {"public", "signed", "drm"}
TIERS = {"1080p", "1440p", "2160p"}
MP4_SUPPORT = {"none", "capped-1080p", "audio-only", "audio-only,capped-1080p", "standard"}
STATIC_RESOLUTIONS = {"highest", "audio-only", "2160p", "1440p", "1080p", "720p", "540p", "480p",
                      "360p", "270p"}
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def mux_id(n=40):
    return "".join(secrets.choice(ID_CHARS) for _ in range(n))


def error(kind, *messages):
    return {"error": {"type": kind, "messages": list(messages)}}


class MuxStandin:
    def __init__(self, token_id, token_secret, port=0):
        self.token_id, self.token_secret = token_id, token_secret
        self.script = []
        self.calls = []
        self.assets = {}
        self.uploads = {}
        self.fetched = {}
        self.lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status, answer = standin.handle(self.command, self.path, self.headers, body)
                if status == "slow":
                    # Mux takes its time, then makes the asset and answers.
                    time.sleep(4)
                    status, answer = standin.make_answer(answer)
                if status in ("drop", "hang"):
                    if status == "hang":
                        time.sleep(30)
                    self.close_connection = True
                    return
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if answer is not None:
                    self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _any

        self.server = LoopbackServer(Handler, port)
        self.port = self.server.port
        self.url = self.server.url

    def close(self):
        self.server.close()

    def authorized(self, headers):
        auth = headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.token_id) and hmac.compare_digest(pw, self.token_secret)

    @staticmethod
    def check_create(b):
        """The messages of Mux's 400 for body b, or []."""
        if not isinstance(b, dict):
            return ["Request body must be a JSON object"]
        msgs = []
        if "inputs" in b and "input" in b:
            msgs.append("Only one of input and inputs may be set")
        inputs = b.get("inputs", b.get("input"))
        if isinstance(inputs, str):
            inputs = [{"url": inputs}]
        if not isinstance(inputs, list) or not inputs:
            msgs.append("inputs is required")
        else:
            for i in inputs:
                url = i.get("url") if isinstance(i, dict) else None
                if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") \
                        or not urlsplit(url).hostname:
                    msgs.append("inputs[].url must be a valid http(s) URL")
        if "playback_policies" in b and "playback_policy" in b:
            msgs.append("Only one of playback_policy and playback_policies may be set")
        pol = b.get("playback_policies", b.get("playback_policy", []))
        pol = [pol] if isinstance(pol, str) else pol
        if not isinstance(pol, list) or any(p not in POLICIES for p in pol):
            msgs.append("playback_policies must be public, signed or drm")
        pt = b.get("passthrough")
        if pt is not None and (not isinstance(pt, str) or len(pt) > 255):
            msgs.append("passthrough must be a string of at most 255 characters")
        if "mp4_support" in b and "static_renditions" in b:
            msgs.append("You may not enable both mp4_support and static_renditions")
        if "mp4_support" in b and b["mp4_support"] not in MP4_SUPPORT:
            msgs.append("mp4_support is not valid")
        sr = b.get("static_renditions")
        if sr is not None and (not isinstance(sr, list) or any(
                not isinstance(r, dict) or r.get("resolution") not in STATIC_RESOLUTIONS for r in sr)):
            msgs.append("static_renditions[].resolution is not valid")
        if "max_resolution_tier" in b and b["max_resolution_tier"] not in TIERS:
            msgs.append("max_resolution_tier must be 1080p, 1440p or 2160p")
        return msgs

    def make_asset(self, b):
        pol = b.get("playback_policies", b.get("playback_policy", []))
        pol = [pol] if isinstance(pol, str) else pol
        inputs = b.get("inputs", b.get("input"))
        url = inputs if isinstance(inputs, str) else inputs[0]["url"]
        a = {"id": mux_id(), "created_at": str(int(time.time())), "status": "preparing",
             "playback_ids": [{"id": mux_id(34), "policy": p} for p in pol],
             "max_resolution_tier": b.get("max_resolution_tier", "1080p"),
             "video_quality": b.get("video_quality", "basic"), "master_access": "none",
             "mp4_support": b.get("mp4_support", "none"), "progress": {"state": "ingesting", "progress": 0}}
        if "passthrough" in b:
            a["passthrough"] = b["passthrough"]
        if b.get("static_renditions"):
            a["static_renditions"] = {"files": [{"resolution": r["resolution"], "status": "preparing",
                                                 "name": f"{r['resolution']}.mp4", "ext": "mp4"}
                                                for r in b["static_renditions"]]}
        self.assets[a["id"]] = a
        threading.Thread(target=self._fetch, args=(a["id"], url), daemon=True).start()
        return a

    def _fetch(self, asset_id, url):
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                got = (r.status, r.read())
        except urllib.error.HTTPError as e:
            got = (e.code, None)
        except OSError as e:
            got = (str(e), None)
        with self.lock:
            self.fetched[asset_id] = got

    def handle(self, method, path, headers, raw):
        call = {"method": method, "path": path, "headers": dict(headers),
                "body": raw.decode(errors="replace"), "answer": None}
        u = urlsplit(path)
        with self.lock:
            self.calls.append(call)
            if not self.authorized(headers):
                call["answer"] = 401
                return 401, error("unauthorized", "Unauthorized request")
            if u.path == "/video/v1/assets" and method == "POST":
                try:
                    b = json.loads(raw)
                except ValueError:
                    b = None
                msgs = self.check_create(b)
                if msgs:
                    call["answer"] = 400
                    return 400, error("invalid_parameters", *msgs)
                step = self.script.pop(0) if self.script else None
                call["answer"] = step or 201
                if step == "hang":
                    return "hang", None
                if step in ("429", "500"):
                    return int(step), error("too_many_requests" if step == "429" else "internal_error",
                                            "Try again later")
                if step == "400":
                    url = (b.get("inputs") or [{}])[0].get("url")
                    return 400, error("invalid_parameters", f"The input URL could not be downloaded: {url}")
                if step == "slow":
                    return "slow", (b, call)
                a = self.make_asset(b)
                call["asset"] = a["id"]
                return ("drop", None) if step == "drop" else (201, {"data": dict(a)})
            if u.path.startswith("/video/v1/uploads"):
                return self.handle_upload(method, u.path, raw, call)
            if u.path == "/video/v1/assets" and method == "GET":
                q = parse_qs(u.query)
                limit = min(int(q.get("limit", ["25"])[0]), 100)
                page = max(int(q.get("page", ["1"])[0]), 1)
                newest = list(reversed(self.assets.values()))
                call["answer"] = 200
                return 200, {"data": newest[(page - 1) * limit:page * limit]}
            if u.path.startswith("/video/v1/assets/") and method in ("GET", "DELETE"):
                aid = u.path.rsplit("/", 1)[1]
                if aid not in self.assets:
                    call["answer"] = 404
                    return 404, error("not_found", "The requested asset does not exist")
                call["answer"] = 200 if method == "GET" else 204
                if method == "DELETE":
                    del self.assets[aid]
                    return 204, None
                return 200, {"data": dict(self.assets[aid])}
            call["answer"] = 404
            return 404, error("not_found", "Not found")

    def check_upload(self, b):
        """The messages of Mux's 400 for a direct upload's body b, or []."""
        if not isinstance(b, dict):
            return ["Request body must be a JSON object"]
        msgs = [f"{k} is not a valid parameter" for k in b
                if k not in ("new_asset_settings", "cors_origin", "timeout", "test")]
        nas = b.get("new_asset_settings", {})
        if not isinstance(nas, dict):
            msgs.append("new_asset_settings must be an object")
        else:
            if "inputs" in nas or "input" in nas:
                msgs.append("new_asset_settings may not have an input: the file is the upload's")
            msgs += [m for m in self.check_create(dict(nas, inputs=[{"url": "https://x.example/"}]))]
        if "cors_origin" in b and not isinstance(b["cors_origin"], str):
            msgs.append("cors_origin must be a string")
        t = b.get("timeout", 3600)
        if not isinstance(t, int) or isinstance(t, bool) or not 60 <= t <= 604800:
            msgs.append("timeout must be an integer from 60 to 604800")
        if "test" in b and not isinstance(b["test"], bool):
            msgs.append("test must be a boolean")
        return msgs

    def handle_upload(self, method, path, raw, call):
        """The direct uploads' routes (the lock held)."""
        parts = path.split("/")[4:]  # after /video/v1/uploads
        if method == "POST" and not parts:
            try:
                b = json.loads(raw)
            except ValueError:
                b = None
            msgs = self.check_upload(b)
            if msgs:
                call["answer"] = 400
                return 400, error("invalid_parameters", *msgs)
            step = self.script.pop(0) if self.script else None
            if step in ("429", "500"):
                call["answer"] = int(step)
                return int(step), error("internal_error", "Try again later")
            uid = mux_id(34)
            up = {"id": uid, "status": "waiting", "timeout": b.get("timeout", 3600),
                  "new_asset_settings": b.get("new_asset_settings", {}),
                  "url": f"https://storage.googleapis.com/video-storage-us-east1-uploads/{uid}"
                         f"?Expires={int(time.time()) + b.get('timeout', 3600)}"
                         "&GoogleAccessId=mux-direct-upload%40mux-cloud.iam.gserviceaccount.com"
                         "&Signature=c2lnbmVk"}
            if "cors_origin" in b:
                up["cors_origin"] = b["cors_origin"]
            if b.get("test"):
                up["test"] = True
            self.uploads[uid] = up
            call["answer"] = 201
            call["upload"] = uid
            return ("drop", None) if step == "drop" else (201, {"data": dict(up)})
        uid = parts[0] if parts else ""
        if uid not in self.uploads:
            call["answer"] = 404
            return 404, error("not_found", "The requested upload does not exist")
        up = self.uploads[uid]
        if method == "GET" and len(parts) == 1:
            call["answer"] = 200
            return 200, {"data": dict(up)}
        if method == "PUT" and parts[1:] == ["cancel"]:
            if up["status"] != "waiting":
                call["answer"] = 400
                return 400, error("invalid_parameters", f"Upload is {up['status']}, not waiting")
            up["status"] = "cancelled"
            call["answer"] = 200
            return 200, {"data": dict(up)}
        call["answer"] = 404
        return 404, error("not_found", "Not found")

    def upload_done(self, upload_id):
        """The browser's PUT to the upload's url arrived: Mux makes the
        asset; the video.upload.asset_created webhook it sends."""
        with self.lock:
            up = self.uploads[upload_id]
            assert up["status"] == "waiting", up
            nas = up["new_asset_settings"]
            pol = nas.get("playback_policies", nas.get("playback_policy", ["public"]))
            pol = [pol] if isinstance(pol, str) else pol
            a = {"id": mux_id(), "created_at": str(int(time.time())), "status": "preparing",
                 "upload_id": upload_id, "playback_ids": [{"id": mux_id(34), "policy": p} for p in pol],
                 "max_resolution_tier": nas.get("max_resolution_tier", "1080p"),
                 "master_access": "none", "mp4_support": "none",
                 "progress": {"state": "ingesting", "progress": 0}}
            if "passthrough" in nas:
                a["passthrough"] = nas["passthrough"]
            self.assets[a["id"]] = a
            up.update(status="asset_created", asset_id=a["id"])
            return {"type": "video.upload.asset_created", "request_id": None,
                    "object": {"type": "upload", "id": upload_id}, "id": str(uuid.uuid4()),
                    "environment": {"name": "Production", "id": "j0863n"}, "data": dict(up),
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
                    "attempts": [], "accessor_source": None, "accessor": None}

    def make_answer(self, pending):
        """The asset of a "slow" create, made now; its answer."""
        b, call = pending
        with self.lock:
            a = self.make_asset(b)
            call["asset"] = a["id"]
            return 201, {"data": dict(a)}

    def creates(self):
        """The create calls that made an asset."""
        with self.lock:
            return [c for c in self.calls if c.get("asset")]

    def ready(self, asset_id, duration=12.5):
        """Mux finished the asset: ready, with its tracks and MP4 files."""
        with self.lock:
            a = self.assets[asset_id]
            a.update(status="ready", duration=duration, max_stored_resolution="HD",
                     aspect_ratio="16:9", progress={"state": "completed", "progress": 100},
                     tracks=[{"type": "video", "max_width": 1920, "max_height": 1080,
                              "max_frame_rate": 25, "id": mux_id(), "duration": duration},
                             {"type": "audio", "max_channels": 2, "id": mux_id(), "duration": duration}])
            for f in a.get("static_renditions", {}).get("files", []):
                f.update(status="ready", width=1920, height=1080, bitrate=4500000, filesize="7031250")
            return dict(a)

    def errored(self, asset_id, kind, *messages):
        """Mux could not make the asset: errored, with its errors."""
        with self.lock:
            a = self.assets[asset_id]
            a.update(status="errored", errors={"type": kind, "messages": list(messages)},
                     progress={"state": "errored", "progress": 0})
            return dict(a)

    def event(self, asset_id, kind):
        """The webhook Mux sends about the asset now (video.asset.<kind>),
        in the documented envelope (mux-video.asset.ready.json)."""
        with self.lock:
            a = json.loads(json.dumps(self.assets[asset_id]))
        return {"type": f"video.asset.{kind}", "object": {"type": "asset", "id": asset_id},
                "id": str(uuid.uuid4()),
                "environment": {"name": "Production", "id": "j0863n"}, "data": a,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "accessor_source": None, "accessor": None, "request_id": None}
