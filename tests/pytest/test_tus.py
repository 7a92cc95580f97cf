"""Resumable uploads (tus 1.0) through real PostgreSQL, nginx (the
project's nginx/mediagate-upload.conf), the worker and ffmpeg, spoken raw
with python's http.client:

- POST /uploads names the slot's tus endpoint; creation (idempotent),
  HEAD, PATCH in chunks with checksums (sha1, md5, sha256), at the last
  byte the file in place and the job SUBMITTED, then encoded: COMPLETE.
- POST /uploads/tus with an API key (and creation-with-upload).
- Refusals, each JSON and keeping nothing: a bad checksum (460), a wrong
  offset (409, before nginx reads the body), past the length (413), no
  Tus-Resumable (412), a wrong token (401), hostile headers and ids.
- Two PATCHes at the same offset: one 204, one 409.
- Termination (DELETE) and expiry (410; the worker removes the bytes).
- OPTIONS discovery; CORS preflight and exposed headers.
- mediagate, nginx and PostgreSQL restarted between chunks: nothing lost,
  the client resumes at HEAD's offset, one job.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import subprocess
import threading

import pytest

from mgstack import MG_ROOT, App, wait_until

ALLOWED = "https://app.example.com"
TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = {"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}


@pytest.fixture
def mg_env(rundir, request):
    if "disk_full" in request.node.name:   # MEDIAGATE_UPLOADS_DIR a 3 MB tmpfs of its own
        d = uploads_dir(rundir)
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(d)], check=True)
        request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(d)], check=True))
    return {
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_THREADS": "4",
        "MEDIAGATE_ENCODE_NICE": "0",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_ALLOWED_ORIGINS": r"https://app\.example\.com",
        "MEDIAGATE_UPLOAD_MAX_BYTES": str(64 << 20),
        "MEDIAGATE_DB_TIMEOUT_MS": "20000",   # test_chunk_writers_leave_threads_to_the_api holds a row
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture
def key(stack):
    return stack.mg("apikey", "create", "uploader")


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


def call(stack, method, url, body=b"", headers=None, record=True):
    """One request through nginx on a connection of its own; the answer is
    kept for the contract check (openapi.yaml) as curl's are."""
    port = int(stack.base.rsplit(":", 1)[1])
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        h = dict(headers or {})
        if body or method in ("POST", "PATCH"):
            h.setdefault("Content-Length", str(len(body)))
        c.request(method, url, body=body or None, headers=h)
        r = c.getresponse()
        raw = r.read()
        lines = [f"HTTP/1.1 {r.status} {r.reason}"] + [f"{k}: {v}" for k, v in r.getheaders()]
        a = Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, raw.decode(errors="replace"))
    finally:
        c.close()
    if not record:  # nginx's own answer (a path outside the location)
        return a
    with open(stack.curl.scratch / "answers.jsonl", "a") as f:
        f.write(json.dumps({"method": method, "url": stack.base + url, "prefix": "", "status": a.status,
                            "headers": "\r\n".join(lines), "body": a.body}) + "\n")
    return a


def slot(stack, key, *form):
    args = ["-X", "POST", "-H", f"Authorization: Bearer {key}"]
    for f in form:
        args += ["--data-urlencode", f]
    r = stack.curl(*args, "/uploads")
    assert r.status == 201, r
    return r.json()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def create(stack, endpoint, length, extra=None):
    return call(stack, "POST", endpoint, headers={**TUS, "Upload-Length": str(length), **(extra or {})})


def patch(stack, url, offset, data, extra=None):
    return call(stack, "PATCH", url, data, {**CHUNK, "Upload-Offset": str(offset), **(extra or {})})


def head(stack, url):
    return call(stack, "HEAD", url, headers=TUS)


def checksum(algo, data):
    return f"{algo} {base64.b64encode(hashlib.new(algo, data).digest()).decode()}"


def uploads_dir(rundir):
    return rundir / "upload" / "uploads"


def files_of(rundir, upload_id):
    d = uploads_dir(rundir) / upload_id
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def job_status(stack, job):
    return stack.db.one("SELECT status FROM jobs WHERE id = %s", job)


@pytest.fixture
def video(rundir):
    out = rundir / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    "-shortest", str(out)], check=True)
    return out.read_bytes()


def test_slot_through_tus_in_chunks_then_encoded(stack, key, rundir, workers, video):
    body = slot(stack, key, "name=clip.mp4", "content_type=video/mp4")
    up, job = body["upload"], body["job_id"]
    endpoint = up["tus_endpoint"]
    assert endpoint == f"/uploads/tus/{up['id']}?token={up['url'].split('token=')[1]}", up

    # Discovery: no credential needed.
    r = call(stack, "OPTIONS", "/uploads/tus")
    assert r.status == 204, r
    assert r.header("Tus-Version") == "1.0.0" and r.header("Tus-Resumable") == "1.0.0", r
    assert r.header("Tus-Extension") == "creation,creation-with-upload,termination,expiration,checksum", r
    assert r.header("Tus-Max-Size") == str(64 << 20), r
    assert r.header("Tus-Checksum-Algorithm") == "sha1,md5,sha256", r

    # HEAD before creation: 404.
    assert head(stack, endpoint).status == 404
    meta = f"filename {b64('my clip.mp4')},filetype {b64('video/mp4')},private"
    r = create(stack, endpoint, len(video), {"Upload-Metadata": meta})
    assert r.status == 201, r
    assert r.header("Location") == endpoint, r
    assert r.header("Upload-Expires", ).endswith(" GMT"), r
    assert r.json() == {"success": True, "job_id": job, "tus_endpoint": endpoint}, r
    assert files_of(rundir, up["id"]) == [".clip.mp4.tus"], "a partial file, out of the watcher's way"
    # The same creation again: the same upload; another length: 409.
    assert create(stack, endpoint, len(video)).header("Location") == endpoint
    r = create(stack, endpoint, len(video) + 1)
    assert r.status == 409 and r.json()["success"] is False, r

    r = head(stack, endpoint)
    assert r.status == 200, r
    assert (r.header("Upload-Offset"), r.header("Upload-Length")) == ("0", str(len(video))), r
    assert r.header("Upload-Metadata") == meta and r.header("Cache-Control") == "no-store", r

    third = len(video) // 3
    parts = [video[:third], video[third:2 * third], video[2 * third:]]
    off = 0
    for algo, part in zip(("sha1", "md5", "sha256"), parts):
        r = patch(stack, endpoint, off, part, {"Upload-Checksum": checksum(algo, part)})
        assert r.status == 204, r
        off += len(part)
        assert r.header("Upload-Offset") == str(off), r
        if off < len(video):
            assert r.header("Upload-Expires"), r
            assert job_status(stack, job) == "SUBMITTED"
            assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode'") == 0
    # The last byte: the file in place, spent, its encode queued.
    assert files_of(rundir, up["id"]) == ["clip.mp4"]
    assert (uploads_dir(rundir) / up["id"] / "clip.mp4").read_bytes() == video
    assert stack.db.one("SELECT stored_at IS NOT NULL FROM uploads WHERE id = %s", up["id"]) is True
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode' "
                        "AND payload->>'job_id' = %s", job) == 1
    # A finished upload: HEAD says offset = length; PATCH 403; the PUT URL is spent.
    r = head(stack, endpoint)
    assert (r.status, r.header("Upload-Offset")) == (200, str(len(video))), r
    r = patch(stack, endpoint, len(video), b"x")
    assert r.status == 403, r
    r = stack.curl("-X", "PUT", "--data-binary", "x", up["url"])
    assert r.status == 403 and "used" in r.json()["message"], r

    workers.start()
    assert wait_until(lambda: job_status(stack, job) in ("COMPLETE", "ERROR"), 120, 0.5), job_status(stack, job)
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert st["job_status"] == "COMPLETE", st


def test_api_key_creation_with_upload(stack, key, rundir):
    data = b"v" * 5000
    meta = f"filename {b64('../../etc/passwd')},filetype {b64('video/mp4')}"
    # No key: 401, before any body is read.
    r = call(stack, "POST", "/uploads/tus", data[:10], {**CHUNK, "Upload-Length": "5000"})
    assert r.status == 401 and r.json()["success"] is False, r
    r = call(stack, "POST", "/uploads/tus", data[:2000],
             {**CHUNK, "Upload-Length": "5000", "Upload-Metadata": meta, "Authorization": f"Bearer {key}"})
    assert r.status == 201, r
    loc, job = r.header("Location"), r.json()["job_id"]
    assert loc.startswith("/uploads/tus/") and "?token=" in loc, r
    assert r.header("Upload-Offset") == "2000", r
    upload_id = loc.split("/")[3].split("?")[0]
    name = stack.db.one("SELECT name FROM uploads WHERE id = %s", upload_id)
    assert name == "_._.._etc_passwd", "a plain file name, never a path"
    assert stack.db.one("SELECT content_type FROM uploads WHERE id = %s", upload_id) == "video/mp4"
    r = patch(stack, loc, 2000, data[2000:])
    assert (r.status, r.header("Upload-Offset")) == (204, "5000"), r
    assert job_status(stack, job) == "SUBMITTED"
    assert (uploads_dir(rundir) / upload_id / name).read_bytes() == data
    assert stack.db.one("SELECT input_file FROM jobs WHERE id = %s", job) == f"uploads/{upload_id}/{name}"


def test_refusals_keep_nothing(stack, key, rundir):
    up = slot(stack, key, "name=r.bin", "max_bytes=1000")["upload"]
    ep = up["tus_endpoint"]
    base = ep.split("?")[0]
    assert create(stack, ep, 1001).status == 413
    assert create(stack, ep, 0).status == 400
    for bad in ("-1", "1e3", "0x10", "1 0", "99999999999999999999999"):
        r = create(stack, ep, bad)
        assert r.status == 400 and r.json()["success"] is False, (bad, r)
    for meta in ("a b,", "a  b", "é " + b64("x"), "filename !!!!", ",", "k " + "A" * 5000):
        r = create(stack, ep, 100, {"Upload-Metadata": meta})
        assert r.status == 400 and "Upload-Metadata" in r.json()["message"], (meta, r)
    r = call(stack, "POST", ep, headers={"Upload-Length": "100"})
    assert r.status == 412 and r.header("Tus-Version") == "1.0.0", r
    assert create(stack, ep, 100).status == 201

    data = bytes(range(256)) * 2
    # Hostile offsets: 400; the wrong one: 409 with the server's offset.
    for bad in ("-1", "abc", "99999999999999999999", "", "+0"):
        r = patch(stack, ep, bad, data[:10])
        assert r.status == 400, (bad, r)
    r = patch(stack, ep, 5, data[:10])
    assert (r.status, r.header("Upload-Offset")) == (409, "0"), r
    assert r.json()["success"] is False, r
    # A bad checksum: 460, nothing kept.
    r = patch(stack, ep, 0, data[:100], {"Upload-Checksum": checksum("sha1", data[:99])})
    assert r.status == 460 and "not kept" in r.json()["message"], r
    r = patch(stack, ep, 0, data[:100], {"Upload-Checksum": "crc32 AAAA"})
    assert r.status == 400, r
    for bad in ("sha1 notbase64!", "sha1", "sha1 " + base64.b64encode(b"short").decode(), "md5  x"):
        r = patch(stack, ep, 0, data[:100], {"Upload-Checksum": bad})
        assert r.status == 400 and "Upload-Checksum" in r.json()["message"], (bad, r)
    assert head(stack, ep).header("Upload-Offset") == "0"
    assert (uploads_dir(rundir) / up["id"] / ".r.bin.tus").stat().st_size == 0
    # Past the length: 413, nothing kept.
    r = patch(stack, ep, 0, b"z" * 101)
    assert r.status == 413, r
    assert head(stack, ep).header("Upload-Offset") == "0"
    r = call(stack, "PATCH", ep, data[:10], {**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"})
    assert r.status == 415, r
    r = call(stack, "PATCH", ep, data[:10], {"Content-Type": "application/offset+octet-stream",
                                              "Upload-Offset": "0"})
    assert r.status == 412, r
    # Wrong tokens and ids: 401, one message.
    tok = ep.split("token=")[1]
    for url in (base + "?token=" + "0" * 64, base, base + "?token=", base + "?token=%zz",
                "/uploads/tus/" + up["id"].upper() + "?token=" + tok, base + "/more?token=" + tok,
                "/uploads/tus/" + "9" * 300 + "?token=" + tok):
        for r in (patch(stack, url, 0, b"x"), call(stack, "HEAD", url, headers=TUS),
                  call(stack, "POST", url, headers={**TUS, "Upload-Length": "100"}),
                  call(stack, "DELETE", url, headers=TUS)):
            assert r.status in (401, 414), (url, r)
            if r.body and r.status == 401:
                assert r.json() == {"success": False,
                                    "message": "This upload URL is unknown or its token is wrong."}, r
    # A path that leaves the location is nginx's, never a tus upload.
    for url in ("/uploads/tus/..%2F..%2Fetc%2Fpasswd?token=" + tok, "/uploads/tus/../tus/" + up["id"],
                "/uploads/tus/%2E%2E?token=" + tok):
        r = call(stack, "PATCH", url, b"x", {**CHUNK, "Upload-Offset": "0"}, record=False)
        assert r.status >= 400, r
    assert head(stack, ep).header("Upload-Offset") == "0"
    assert patch(stack, ep, 0, b"ok").status == 204
    assert head(stack, ep).header("Upload-Offset") == "2"


def test_two_patches_at_the_same_offset_one_wins(stack, key, rundir):
    up = slot(stack, key, "name=race.bin")["upload"]
    ep = up["tus_endpoint"]
    size = 16 << 20
    assert create(stack, ep, size).status == 201
    a, b = b"a" * (8 << 20), b"b" * (8 << 20)
    out = {}
    go = threading.Barrier(2)

    def send(name, data):
        go.wait()
        out[name] = patch(stack, ep, 0, data)
    ts = [threading.Thread(target=send, args=(n, d)) for n, d in (("a", a), ("b", b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    got = sorted(r.status for r in out.values())
    assert got == [204, 409], out
    winner = a if out["a"].status == 204 else b
    assert head(stack, ep).header("Upload-Offset") == str(8 << 20)
    r = patch(stack, ep, 8 << 20, b"c" * (8 << 20))
    assert r.status == 204, r
    assert (uploads_dir(rundir) / up["id"] / "race.bin").read_bytes() == winner + b"c" * (8 << 20)


def test_bytes_written_but_not_recorded_are_cut(stack, key, rundir):
    up = slot(stack, key, "name=cut.bin")["upload"]
    ep = up["tus_endpoint"]
    assert create(stack, ep, 20).status == 201
    assert patch(stack, ep, 0, b"0123456789").status == 204
    part = uploads_dir(rundir) / up["id"] / ".cut.bin.tus"
    with open(part, "ab") as f:  # a chunk written, its record lost (a crash)
        f.write(b"garbage!")
    assert head(stack, ep).header("Upload-Offset") == "10"
    assert patch(stack, ep, 10, b"abcdefghij").status == 204
    assert (uploads_dir(rundir) / up["id"] / "cut.bin").read_bytes() == b"0123456789abcdefghij"


def test_termination(stack, key, rundir):
    body = slot(stack, key, "name=gone.bin")
    ep, job = body["upload"]["tus_endpoint"], body["job_id"]
    assert create(stack, ep, 100).status == 201
    assert patch(stack, ep, 0, b"x" * 40).status == 204
    r = call(stack, "DELETE", ep, headers=TUS)
    assert r.status == 204, r
    assert files_of(rundir, body["upload"]["id"]) == [] and not (uploads_dir(rundir) / body["upload"]["id"]).exists()
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert st["job_status"] == "CANCELED", st
    assert stack.db.one("SELECT error_message FROM jobs WHERE id = %s", job) == \
        "the upload was terminated by the client"
    for r in (head(stack, ep), patch(stack, ep, 40, b"y"), call(stack, "DELETE", ep, headers=TUS)):
        assert r.status == 404, r
    r = stack.curl("-X", "PUT", "--data-binary", "x", body["upload"]["url"])
    assert r.status == 403, r


def test_expiry_answers_410_and_the_worker_removes_the_bytes(stack, key, rundir, workers):
    body = slot(stack, key, "name=late.bin")
    up, job = body["upload"], body["job_id"]
    ep = up["tus_endpoint"]
    assert create(stack, ep, 100).status == 201
    assert patch(stack, ep, 0, b"x" * 40).status == 204
    stack.db.conn.execute("UPDATE uploads SET expires_at = now() - interval '1 second' WHERE id = %s", (up["id"],))
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'upload.expire' "
                  "AND payload->>'upload_id' = %s", (up["id"],))
    r = patch(stack, ep, 40, b"y" * 10)
    assert r.status == 410 and r.json()["success"] is False, r
    assert head(stack, ep).status == 410
    assert files_of(rundir, up["id"]) == [".late.bin.tus"]
    workers.start()
    assert wait_until(lambda: not (uploads_dir(rundir) / up["id"]).exists(), 30), workers.log()
    assert wait_until(lambda: job_status(stack, job) == "CANCELED", 10)


def test_cors(stack, key, rundir):
    ep = slot(stack, key, "name=cors.bin")["upload"]["tus_endpoint"]
    pre = {"Origin": ALLOWED, "Access-Control-Request-Method": "PATCH",
           "Access-Control-Request-Headers": "tus-resumable,upload-offset,upload-checksum,content-type"}
    r = call(stack, "OPTIONS", ep, headers=pre)
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r
    methods = {m.strip() for m in r.header("Access-Control-Allow-Methods").split(",")}
    assert {"POST", "HEAD", "PATCH", "DELETE", "OPTIONS"} <= methods, r
    allowed = {h.strip().lower() for h in r.header("Access-Control-Allow-Headers").split(",")}
    assert {"tus-resumable", "upload-length", "upload-metadata", "upload-offset", "upload-checksum",
            "content-type", "authorization", "x-requested-with"} <= allowed, r
    r = call(stack, "OPTIONS", "/uploads/tus", headers={**pre, "Access-Control-Request-Method": "POST"})
    assert r.status == 204 and r.header("Access-Control-Allow-Origin") == ALLOWED, r
    # Another origin: refused, no CORS headers, nothing made.
    r = call(stack, "OPTIONS", ep, headers={**pre, "Origin": "https://evil.example"})
    assert r.status == 422 and not r.header("Access-Control-Allow-Origin"), r
    r = create(stack, ep, 10, {"Origin": "https://evil.example"})
    assert r.status == 422 and not r.header("Access-Control-Allow-Origin"), r
    assert stack.db.one("SELECT count(*) FROM uploads WHERE tus_length IS NOT NULL") == 0
    # An allowed origin reads what tus needs, on answers and refusals alike.
    want = {"location", "upload-offset", "upload-length", "tus-resumable", "upload-expires",
            "upload-metadata", "tus-version", "tus-extension", "tus-max-size"}
    r = create(stack, ep, 10, {"Origin": ALLOWED})
    assert r.status == 201 and r.header("Access-Control-Allow-Origin") == ALLOWED, r
    assert want <= {h.strip().lower() for h in r.header("Access-Control-Expose-Headers").split(",")}, r
    for r in (patch(stack, ep, 0, b"12345", {"Origin": ALLOWED}),
              patch(stack, ep, 0, b"12345", {"Origin": ALLOWED}),   # 409 from nginx's check
              head(stack, ep + "x")):
        assert r.header("Tus-Resumable") == "1.0.0", r
    r = patch(stack, ep, 0, b"12345", {"Origin": ALLOWED})
    assert r.status == 409 and r.header("Access-Control-Allow-Origin") == ALLOWED, r
    assert want <= {h.strip().lower() for h in r.header("Access-Control-Expose-Headers").split(",")}, r
    r = patch(stack, ep, 5, b"12345", {"Origin": "https://evil.example"})
    assert r.status == 422 and not r.header("Access-Control-Allow-Origin"), r
    assert head(stack, ep).header("Upload-Offset") == "5"


def restart_mediagate(stack):
    assert stack.app.stop() == 0
    stack.app = App(stack.run, stack.env)


def restart_nginx(stack):
    stack.nginx.stop()
    port = stack.nginx.port
    stack.nginx.start()
    assert stack.nginx.port == port


def restart_postgres(stack, pg):
    pg.stop("fast")
    pg.start()
    stack.db.conn = pg.connect(stack.db.name)


@pytest.mark.parametrize("what", ["mediagate", "nginx", "postgres"])
def test_restart_between_chunks_loses_nothing(stack, key, rundir, pg, what):
    body = slot(stack, key, "name=long.bin")
    ep, job = body["upload"]["tus_endpoint"], body["job_id"]
    data = bytes(range(256)) * (3 << 12)
    n = len(data) // 3
    assert create(stack, ep, len(data)).status == 201
    assert patch(stack, ep, 0, data[:n]).status == 204
    {"mediagate": lambda: restart_mediagate(stack), "nginx": lambda: restart_nginx(stack),
     "postgres": lambda: restart_postgres(stack, pg)}[what]()
    # The client resumes where HEAD says (a first try may meet a connection
    # being re-made: 503, then it asks again).
    r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(head(stack, ep)), 20, 0.2)
    assert r and r.header("Upload-Offset") == str(n), r
    assert patch(stack, ep, n, data[n:2 * n]).status == 204
    r = patch(stack, ep, 2 * n, data[2 * n:])
    assert (r.status, r.header("Upload-Offset")) == (204, str(len(data))), r
    up = body["upload"]["id"]
    assert (uploads_dir(rundir) / up / "long.bin").read_bytes() == data
    assert job_status(stack, job) == "SUBMITTED"
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode'") == 1


def test_the_docs_curl_flow(stack, key, rundir):
    """docs/uploads.md's tus block with curl, run as written (the site's URL
    made the test's): creation with an API key, a first chunk, HEAD, the
    rest from HEAD's offset."""
    text = (MG_ROOT / "docs" / "uploads.md").read_text()
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if b.startswith("loc=$(curl"))
    data = os.urandom(1_500_000)
    (rundir / "video.mp4").write_bytes(data)
    r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c",
                        block.replace("https://video.example.com", stack.base) + 'echo "$loc"'],
                       cwd=rundir, env={**os.environ, "key": key}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    loc = r.stdout.strip().splitlines()[-1]
    upload_id = loc.split("/")[3].split("?")[0]
    assert (uploads_dir(rundir) / upload_id / "video.mp4").read_bytes() == data
    job = stack.db.one("SELECT job_id FROM uploads WHERE id = %s", upload_id)
    assert job_status(stack, job) == "SUBMITTED"


def test_put_and_tus_on_one_slot_never_both(stack, key, rundir):
    a = slot(stack, key, "name=a.bin")["upload"]
    assert create(stack, a["tus_endpoint"], 10).status == 201
    r = stack.curl("-X", "PUT", "--data-binary", "0123456789", a["url"])
    assert r.status == 403 and "through tus" in r.json()["message"], r
    b = slot(stack, key, "name=b.bin")["upload"]
    assert stack.curl("-X", "PUT", "--data-binary", "0123456789", b["url"]).status == 201
    r = create(stack, b["tus_endpoint"], 10)
    assert r.status == 403 and "came by PUT" in r.json()["message"], r
    assert files_of(rundir, a["id"]) == [".a.bin.tus"] and files_of(rundir, b["id"]) == ["b.bin"]


def test_head_finishes_an_upload_a_crash_left_at_its_last_byte(stack, key, rundir):
    body = slot(stack, key, "name=last.bin")
    up, job = body["upload"], body["job_id"]
    assert create(stack, up["tus_endpoint"], 10).status == 201
    # Every byte durable and recorded, then a crash before the spend.
    (uploads_dir(rundir) / up["id"] / ".last.bin.tus").write_bytes(b"0123456789")
    stack.db.conn.execute("UPDATE uploads SET tus_offset = 10 WHERE id = %s", (up["id"],))
    r = head(stack, up["tus_endpoint"])
    assert (r.status, r.header("Upload-Offset")) == (200, "10"), r
    assert files_of(rundir, up["id"]) == ["last.bin"]
    assert job_status(stack, job) == "SUBMITTED"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode'") == 1
    assert head(stack, up["tus_endpoint"]).status == 200
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode'") == 1


def test_postgres_down_during_a_patch_records_nothing(stack, key, rundir, pg):
    ep = slot(stack, key, "name=pgdown.bin")["upload"]["tus_endpoint"]
    assert create(stack, ep, 30).status == 201
    assert patch(stack, ep, 0, b"a" * 10).status == 204
    pg.stop("fast")
    try:
        r = patch(stack, ep, 10, b"b" * 10)
        assert r.status == 503 and r.header("Retry-After") and r.json()["success"] is False, r
    finally:
        pg.start()
        stack.db.conn = pg.connect(stack.db.name)
    r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(head(stack, ep)), 20, 0.2)
    assert r and r.header("Upload-Offset") == "10", r
    assert patch(stack, ep, 10, b"c" * 20).status == 204
    up = ep.split("/")[3].split("?")[0]
    assert (uploads_dir(rundir) / up / "pgdown.bin").read_bytes() == b"a" * 10 + b"c" * 20


def test_direct_uploads_named_tus_stay_direct(stack, key, rundir):
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "--data-binary", "abc", "/uploads/tus")
    assert r.status == 405 and r.header("Allow"), r   # the tus endpoint's own name
    for name in ("tus.mp4", "tuscany.mp4", "tusk.mov"):
        r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "--data-binary", "abc",
                       f"/uploads/{name}")
        assert r.status == 201 and r.json()["upload"]["input_file"].endswith("/" + name), (name, r)


def test_a_refused_api_key_creation_leaves_no_waiting_job(stack, key, rundir):
    data = b"y" * 100
    base = {**CHUNK, "Upload-Length": "1000", "Authorization": f"Bearer {key}"}
    for extra, status in (({"Upload-Checksum": checksum("sha1", b"other")}, 460),
                          ({"Upload-Checksum": "sha1"}, 400),
                          ({"Upload-Length": "50"}, 413)):
        r = call(stack, "POST", "/uploads/tus", data, {**base, **extra})
        assert r.status == status and not r.header("Location"), (extra, r)
    assert stack.db.one("SELECT count(*) FROM jobs") == 0, "nothing made"
    # The key may not upload here: 403, as POST /uploads says.
    stack.db.conn.execute("UPDATE api_keys SET targets = ARRAY['mux']")
    r = call(stack, "POST", "/uploads/tus", headers={**TUS, "Upload-Length": "10",
                                                      "Authorization": f"Bearer {key}"})
    assert r.status == 403 and "may not upload to target local" in r.json()["message"], r
    r = call(stack, "POST", "/uploads/tus", data[:10], {**base, "Upload-Length": "10"})
    assert r.status == 403, r
    assert stack.db.one("SELECT count(*) FROM jobs") == 0


def test_the_largest_metadata_is_echoed_through_nginx(stack, key, rundir):
    ep = slot(stack, key, "name=meta.bin")["upload"]["tus_endpoint"]
    meta = "filename " + b64("m.mp4") + ",description "
    meta += base64.b64encode(b"d" * ((2048 - len(meta)) // 4 * 3)).decode()
    assert len(meta) <= 2048 and len(meta) > 2040, len(meta)
    r = create(stack, ep, 20, {"Upload-Metadata": meta + ",x" + "y" * 10})
    assert r.status == 400, r
    r = create(stack, ep, 20, {"Upload-Metadata": meta, "Origin": ALLOWED})
    assert r.status == 201, r
    r = patch(stack, ep, 0, b"0" * 10, {"Origin": ALLOWED})
    assert r.status == 204 and r.header("Upload-Metadata") == meta, r
    r = head(stack, ep)
    assert r.status == 200 and r.header("Upload-Metadata") == meta, r


def test_a_canceled_jobs_upload_takes_no_more(stack, key, rundir):
    body = slot(stack, key, "name=cancel.bin")
    ep, job = body["upload"]["tus_endpoint"], body["job_id"]
    assert create(stack, ep, 20).status == 201
    assert patch(stack, ep, 0, b"0" * 10).status == 204
    stack.mg("jobs", "cancel", job)
    for r in (patch(stack, ep, 10, b"1" * 10), head(stack, ep)):
        assert r.status == 410, r
    assert "canceled" in patch(stack, ep, 10, b"1" * 10).json()["message"]
    assert stack.db.one("SELECT stored_at IS NULL AND tus_offset = 10 FROM uploads") is True


def test_chunk_writers_leave_threads_to_the_api(stack, key, rundir, pg):
    """MEDIAGATE_THREADS=4: at most 2 chunks are stored at once. Two PATCHes
    held (their uploads' rows locked here, as a slow store would hold them),
    a third chunk is 503 + Retry-After before nginx reads it, and the API
    still answers; then both held chunks finish."""
    eps = [slot(stack, key, f"name=w{i}.bin")["upload"]["tus_endpoint"] for i in range(3)]
    for ep in eps:
        assert create(stack, ep, 10).status == 201
    held = pg.connect(stack.db.name)
    held.autocommit = False
    ids = [ep.split("/")[3].split("?")[0] for ep in eps[:2]]
    held.execute("SELECT 1 FROM uploads WHERE id = ANY(%s::uuid[]) FOR UPDATE", (ids,))
    out = {}
    ts = [threading.Thread(target=lambda i=i: out.__setitem__(i, patch(stack, eps[i], 0, b"x" * 10)))
          for i in range(2)]
    try:
        for t in ts:
            t.start()
        assert wait_until(lambda: stack.db.one(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'UPDATE uploads SET tus_offset%%'") == 2, 30), "both chunks held"
        r = patch(stack, eps[2], 0, b"y" * 10, {"Origin": ALLOWED})
        assert r.status == 503 and r.header("Retry-After"), r
        assert r.header("Access-Control-Allow-Origin") == ALLOWED and r.json()["success"] is False, r
        assert stack.curl("/media/status?job_id=" + stack.db.one(
            "SELECT job_id FROM uploads WHERE id = %s", ids[0])).status == 200
    finally:
        held.rollback()
        held.close()
        for t in ts:
            t.join()
    assert [out[0].status, out[1].status] == [204, 204], out
    assert patch(stack, eps[2], 0, b"y" * 10).status == 204


def test_concatenation_is_refused_before_anything_is_made(stack, key, rundir):
    """Upload-Concat (tus-js-client's parallelUploads) is not supported: a
    creation carrying it is 400, from nginx's check too (with a body), and
    makes no slot, job or partial file; the discovery does not list it."""
    assert "concatenation" not in call(stack, "OPTIONS", "/uploads/tus").header("Tus-Extension")
    want = "Upload-Concat (the concatenation extension) is not supported: send the file as one upload."
    auth = {"Authorization": f"Bearer {key}"}
    for concat, body in (("partial", b""), ("partial", b"12345"), ("final;/uploads/tus/a /uploads/tus/b", b"")):
        h = {**CHUNK, **auth, "Upload-Concat": concat}
        if not concat.startswith("final"):
            h["Upload-Length"] = "5"
        r = call(stack, "POST", "/uploads/tus", body, h)
        assert (r.status, r.json()) == (400, {"success": False, "message": want}), (concat, r)
    assert stack.db.one("SELECT count(*) FROM jobs") == 0, "nothing made"
    up = slot(stack, key, "name=parts.bin")["upload"]
    for body in (b"", b"12345"):
        r = call(stack, "POST", up["tus_endpoint"], body, {**CHUNK, "Upload-Length": "5", "Upload-Concat": "partial"})
        assert (r.status, r.json()["message"]) == (400, want), r
    assert stack.db.one("SELECT tus_length FROM uploads WHERE id = %s", up["id"]) is None
    assert files_of(rundir, up["id"]) == []
    assert create(stack, up["tus_endpoint"], 5).status == 201


def test_disk_full_during_a_chunk_is_507_and_keeps_nothing(stack, key, rundir):
    """MEDIAGATE_UPLOADS_DIR full while a chunk is written: 507 with a clear
    message, the reason in mediagate's log (never the token), nothing of the
    chunk kept, the offset as it was; with room again the same chunk goes."""
    body = slot(stack, key, "name=full.bin")
    up, job = body["upload"], body["job_id"]
    ep, token = up["tus_endpoint"], up["tus_endpoint"].split("token=")[1]
    data = os.urandom(2 << 20)
    assert create(stack, ep, len(data)).status == 201
    assert patch(stack, ep, 0, data[:1 << 20]).status == 204
    filler = uploads_dir(rundir) / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)   # the rest of the 3 MB, unbuffered
    try:
        with pytest.raises(OSError):
            while True:
                os.write(fd, b"\0" * 65536)
    finally:
        os.close(fd)
    r = patch(stack, ep, 1 << 20, data[1 << 20:])
    assert r.status == 507 and r.json() == {
        "success": False,
        "message": "The chunk could not be stored: no space is left on the server. Try again later."}, r
    part = uploads_dir(rundir) / up["id"] / ".full.bin.tus"
    assert part.stat().st_size == 1 << 20, "nothing of the chunk kept"
    assert head(stack, ep).header("Upload-Offset") == str(1 << 20)
    assert stack.db.one("SELECT tus_offset FROM uploads WHERE id = %s", up["id"]) == 1 << 20
    log = stack.app.log_path.read_text(errors="replace")
    assert f"tus {up['id']}: The chunk could not be stored: write the partial file: " \
           "No space left on device" in log, log[-2000:]
    assert token not in log
    filler.unlink()
    r = patch(stack, ep, 1 << 20, data[1 << 20:])
    assert (r.status, r.header("Upload-Offset")) == (204, str(len(data))), r
    assert (uploads_dir(rundir) / up["id"] / "full.bin").read_bytes() == data
    assert job_status(stack, job) == "SUBMITTED"


@pytest.mark.parametrize("how", ["removed", "truncated"])
def test_a_lost_partial_file_is_410_and_ends_the_job(stack, key, rundir, how):
    """The partial file gone or shorter than recorded (a clean-up, a
    restore): the recorded bytes are lost for good. The PATCH is 410 (not
    a 500 retried forever), the upload ends at once (HEAD 404), its job
    CANCELED with why, and what was left of it removed."""
    body = slot(stack, key, "name=l.bin")
    up, job = body["upload"], body["job_id"]
    ep = up["tus_endpoint"]
    assert create(stack, ep, 30).status == 201
    assert patch(stack, ep, 0, b"0" * 10).status == 204
    part = uploads_dir(rundir) / up["id"] / ".l.bin.tus"
    if how == "removed":
        part.unlink()
    else:
        os.truncate(part, 4)
    r = patch(stack, ep, 10, b"1" * 10)
    assert (r.status, r.json()) == (410, {"success": False,
                                          "message": "This upload's bytes are gone: start a new upload."}), r
    assert job_status(stack, job) == "CANCELED"
    assert stack.db.one("SELECT error_message FROM jobs WHERE id = %s", job) == \
        "the upload's bytes were lost from storage; start a new upload"
    assert files_of(rundir, up["id"]) == []
    for r in (head(stack, ep), patch(stack, ep, 10, b"1" * 10)):
        assert r.status == 404, r
    assert stack.db.one("SELECT stored_at IS NULL FROM uploads WHERE id = %s", up["id"]) is True
    reason = "the partial file is gone" if how == "removed" else \
        "the partial file holds 4 bytes, fewer than the 10 recorded"
    assert f"tus {up['id']}: The chunk could not be stored: {reason}" in \
        stack.app.log_path.read_text(errors="replace")
