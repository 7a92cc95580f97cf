"""Upload by URL (POST /uploads or POST /media/jobs with url=), through real
PostgreSQL, nginx, curl, ffmpeg and the worker, from a real HTTP server on
loopback (python's http.server) that serves a real ffmpeg-made video and
can redirect, answer 404/500, serve HTML, lie about its size, drop the
connection half-way once, ignore Range, and change the file between tries:

- The slot and its job come at once (201, SUBMITTED); the upload.fetch task
  brings the file into the same storage as a PUT (local, and S3 on a real
  Ceph RGW), then the encode runs: COMPLETE, the output plays.
- A connection dropped half-way resumes with Range and If-Range (the
  server's log shows it, the stored bytes equal the file's); a server that
  ignores Range, or a file that changed meanwhile, starts over: nothing is
  stitched.
- Each failure ends the job in ERROR with its own error_message: a
  redirect, a 404, a 500 (retried, then failed), an HTML page, a size over
  max_bytes (declared, a body that grows past it, or the sum of resumed
  requests), a host that does not resolve, a loopback address when the
  allowance is off.
- A fetched file the slot refuses to record fails the task once (no
  claim after claim) and is removed.
- A source slower than MEDIAGATE_FETCH_MIN_RATE over its window, or one
  past MEDIAGATE_FETCH_TIMEOUT, is dropped with its own error_message.
- PostgreSQL restarted during a fetch: nothing lost, the fetch goes on; a
  worker killed with -9 mid-fetch: the next attempt asks for the rest only.
- The URL's query (a presigned URL's signature) is in no answer, log line,
  error_message or upload row.
- docs/uploads.md's curl example runs as shown.
"""

import hashlib
import http.server
import re
import signal
import socket
import subprocess
import time
from urllib.parse import quote, unquote, urlsplit

import pytest
import s3_settings

from mgstack import MG_ROOT, LoopbackServer, wait_until

SECRET = "X-Amz-Signature=deadbeefcafe0123456789"


class Origin:
    """What the file server serves and how it misbehaves; log holds one
    (path, Range, If-Range, status) per request."""

    def __init__(self):
        self.files = {}
        self.log = []
        self.drop = set()      # paths whose next GET stops half-way
        self.change = {}       # path -> the bytes it serves after its drop
        self.ignore_range = False
        self.slow = 0.0        # seconds between 64 KiB pieces
        self.range_end = "far" # /dropping.mp4's 206 Content-Range end: "far" or "cap"
        self.dropped = 0       # bodies the client stopped reading (a write failed)
        self.url = ""


def etag_of(data):
    return '"' + hashlib.sha1(data).hexdigest()[:16] + '"'


def handler(origin):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, headers, body=b""):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = unquote(urlsplit(self.path).path)
            rng, ifr = self.headers.get("Range"), self.headers.get("If-Range")
            entry = [self.path, rng, ifr, None]
            origin.log.append(entry)
            if path == "/moved.mp4":
                entry[3] = 302
                host = origin.url.split("//")[1]
                return self.reply(302, [("Location", f"http://u:pw@{host}/v.mp4?{SECRET}"),
                                        ("Content-Length", "0")])
            if path == "/broken.mp4":
                entry[3] = 500
                return self.reply(500, [("Retry-After", "1"), ("Content-Length", "4")], b"oops")
            if path == "/page.html":
                body = b"<!doctype html><html><body><h1>Sign in</h1></body></html>\n"
                entry[3] = 200
                return self.reply(200, [("Content-Type", "text/html; charset=utf-8"),
                                        ("Content-Length", str(len(body)))], body)
            if path == "/huge.mp4":  # declares more than any slot takes
                entry[3] = 200
                self.reply(200, [("Content-Type", "video/mp4"), ("Content-Length", str(10**12))])
                self.close_connection = True
                return
            if path == "/endless.mp4":  # no length declared, and no end
                entry[3] = 200
                self.reply(200, [("Content-Type", "video/mp4"), ("Connection", "close")])
                self.close_connection = True
                try:
                    for _ in range(4096):
                        self.wfile.write(b"\0" * 65536)
                except OSError:
                    pass
                return
            if path == "/dropping.mp4":
                return self.drop_each_time(rng, entry)
            if path == "/drip.mp4":  # 64 bytes every 0.25 s of a 100 MB file
                entry[3] = 200
                self.reply(200, [("Content-Type", "video/mp4"), ("ETag", '"drip"'),
                                 ("Content-Length", str(10**8))])
                self.close_connection = True
                try:
                    while True:
                        self.wfile.write(b"\0" * 64)
                        self.wfile.flush()
                        time.sleep(0.25)
                except OSError:
                    origin.dropped += 1
                return
            data = origin.files.get(path)
            if data is None:
                entry[3] = 404
                return self.reply(404, [("Content-Length", "9")], b"not found")
            tag, start, status = etag_of(data), 0, 200
            headers = [("Content-Type", "video/mp4"), ("ETag", tag), ("Accept-Ranges", "bytes")]
            if rng and not origin.ignore_range and (ifr is None or ifr == tag):
                start = int(rng.split("=")[1].rstrip("-"))
                if start >= len(data):
                    entry[3] = 416
                    return self.reply(416, [("Content-Range", f"bytes */{len(data)}"),
                                            ("Content-Length", "0")])
                status = 206
                headers.append(("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"))
            body = data[start:]
            entry[3] = status
            self.send_response(status)
            for k, v in headers + [("Content-Length", str(len(body)))]:
                self.send_header(k, v)
            self.end_headers()
            if path in origin.drop:
                origin.drop.discard(path)
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                if path in origin.change:
                    origin.files[path] = origin.change.pop(path)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            try:
                for i in range(0, len(body), 65536):
                    self.wfile.write(body[i:i + 65536])
                    if origin.slow:
                        time.sleep(origin.slow)
            except OSError:
                origin.dropped += 1

        def drop_each_time(self, rng, entry):
            """PIECE bytes, chunked, then the connection drops (no last
            chunk), every time; a Range gets a 206 of an unknown total whose
            end is far ("far") or just under 1 000 000 ("cap", then PIECE
            bytes all the same)."""
            start = int(rng.split("=")[1].rstrip("-")) if rng else 0
            entry[3] = 206 if rng else 200
            self.send_response(entry[3])
            if rng:
                end = start + 10**9 if origin.range_end == "far" else 999_999
                self.send_header("Content-Range", f"bytes {start}-{end}/*")
            for k, v in [("ETag", '"same"'), ("Content-Type", "video/mp4"),
                         ("Transfer-Encoding", "chunked")]:
                self.send_header(k, v)
            self.end_headers()
            self.close_connection = True
            try:
                for i in range(0, PIECE, 60_000):
                    self.wfile.write(b"%x\r\n" % 60_000 + b"\xff" * 60_000 + b"\r\n")
                self.wfile.flush()
            except OSError:
                pass

    return H


PIECE = 600_000


@pytest.fixture
def origin():
    o = Origin()
    with LoopbackServer(handler(o)) as srv:
        o.url = srv.url
        yield o


@pytest.fixture(scope="session")
def video(run_root):
    """A real 2 s video (H.264 + AAC in MP4), made once per session."""
    out = run_root / "fetch-source.mp4"
    if not out.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                        "-shortest", str(out)], check=True)
    return out.read_bytes()


def on_s3(f):
    """A test whose storage is a bucket of the session's Ceph store."""
    f.on_s3 = True
    return f


@pytest.fixture
def mg_env(rundir, request):
    env = {
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_MEDIA_URL": "/media-files",
        "MEDIAGATE_LEASE_SECONDS": "10",
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_ENCODE_NICE": "0",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
    }
    if getattr(request.function, "on_s3", False):
        s3 = request.getfixturevalue("s3")
        (rundir / "tmp").mkdir()
        env.update(s3_settings.env(s3, s3_settings.new_bucket(s3, "mg-url")))
        env["TMPDIR"] = str(rundir / "tmp")
        del env["MEDIAGATE_UPLOADS_DIR"]
    return env


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture
def key(stack):
    return stack.mg("apikey", "create", "fetcher")


def post(stack, key, route, *form):
    args = ["-X", "POST", "-H", f"Authorization: Bearer {key}"]
    for f in form:
        args += ["--data-urlencode", f]
    return stack.curl(*args, route)


def job(stack, jid):
    return stack.db.rows("SELECT status, error_message FROM jobs WHERE id = %s", jid)[0]


def wait_job(stack, jid, states, timeout=300):
    return wait_until(lambda: job(stack, jid)[0] in states, timeout, 0.2)


def stored(stack, upload_id):
    return stack.db.one("SELECT stored_at IS NOT NULL FROM uploads WHERE id = %s", upload_id)


def every_log(stack, workers):
    return "".join(p.read_text(errors="replace") for p in
                   (stack.app.log_path, workers.log_path, stack.nginx.error_log,
                    stack.cli_log) if p.exists())


def test_fetch_encodes_and_keeps_no_signature(stack, key, origin, video, workers, rundir):
    origin.files["/clips/IMG 0001.mp4"] = video
    r = post(stack, key, "/uploads", f"url={origin.url}/clips/IMG%200001.mp4?{SECRET}#t=2")
    assert r.status == 201, r
    body = r.json()
    up = body["upload"]
    assert set(up) == {"id", "input_file", "source_url", "max_bytes"}, up
    assert up["source_url"] == f"{origin.url}/clips/IMG%200001.mp4", "no query, no fragment"
    assert up["input_file"] == f"uploads/{up['id']}/IMG_0001.mp4", "the URL's name, made safe"
    assert job(stack, body["job_id"])[0] == "SUBMITTED", "the job waits for its file"
    workers.start()
    assert wait_job(stack, body["job_id"], ("COMPLETE", "ERROR")), job(stack, body["job_id"])
    assert job(stack, body["job_id"]) == ("COMPLETE", None)
    assert (rundir / "upload" / up["input_file"]).read_bytes() == video
    assert [e[1:] for e in origin.log] == [[None, None, 200]], origin.log
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                        f"{stack.base}/media-files/{body['job_id']}/master.m3u8"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "video" in p.stdout, f"the output plays: {p.stderr}"
    assert stack.db.one("SELECT source_url FROM uploads WHERE id = %s", up["id"]) == up["source_url"]
    assert "deadbeefcafe" not in every_log(stack, workers), "the signature is in no log"
    assert not list((rundir / "upload" / "uploads" / up["id"]).glob(".*")), "no part left"


def test_media_jobs_url_and_refusals(stack, key, origin, video, workers):
    origin.files["/v.mp4"] = video
    r = post(stack, key, "/media/jobs", f"url={origin.url}/v.mp4", "name=mine.mp4")
    assert r.status == 201, r
    assert r.json()["upload"]["input_file"].endswith("/mine.mp4"), r
    for form, msg in [
        ([f"url={origin.url}/v.mp4", "input_url=https://example.com/v.mp4"], "not both"),
        (["url=ftp://example.com/v.mp4"], "http or https URL"),
        (["url=/v.mp4"], "http or https URL"),
        (["url=https://user:pw@example.com/v.mp4"], "user name or password"),
        (["url=https://example.com/" + "a" * 2048], "1 to 2048 bytes"),
    ]:
        r = post(stack, key, "/media/jobs", *form)
        assert r.status == 400 and msg in r.json()["message"], (form, r)
        assert "pw@" not in r.body
    assert stack.db.one("SELECT owner FROM outbox WHERE kind = 'upload.fetch'").startswith("key:"), \
        "the key's owner: MEDIAGATE_ENCODE_OWNER_CAP bounds its fetches"
    r = post(stack, key, "/uploads", f"url={origin.url}/v.mp4", "size=10")
    assert r.status == 400, r
    q = quote(f"{origin.url}/v.mp4?{SECRET}", safe="")
    for route in ("/uploads", "/media/jobs"):
        r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", f"{route}?url={q}")
        assert r.status == 400 and "Send url in the form body" in r.json()["message"], r
    assert stack.db.one("SELECT count(*) FROM outbox WHERE payload::text LIKE '%%deadbeef%%'") \
        == 0, "a URL in the query is refused: nothing made"
    assert post(stack, "wrong", "/uploads", f"url={origin.url}/v.mp4").status == 401
    workers.start()
    jid = stack.db.one("SELECT job_id FROM uploads WHERE name = 'mine.mp4'")
    assert wait_job(stack, jid, ("COMPLETE", "ERROR")), job(stack, jid)
    assert job(stack, jid)[0] == "COMPLETE", job(stack, jid)


def fetch(stack, key, workers, url, *form):
    """POSTs url, starts a worker; the upload's id and the job's id."""
    r = post(stack, key, "/uploads", f"url={url}", *form)
    assert r.status == 201, r
    workers.start()
    return r.json()["upload"]["id"], r.json()["job_id"]


def test_a_dropped_connection_resumes_with_range(stack, key, origin, video, workers, rundir):
    origin.files["/v.mp4"] = video
    origin.drop.add("/v.mp4")
    uid, jid = fetch(stack, key, workers, f"{origin.url}/v.mp4")
    assert wait_until(lambda: stored(stack, uid), 120, 0.2), job(stack, jid)
    half = len(video) // 2
    assert [e[1:] for e in origin.log] == [[None, None, 200],
                                           [f"bytes={half}-", etag_of(video), 206]], origin.log
    assert (rundir / "upload" / "uploads" / uid / "v.mp4").read_bytes() == video


def test_a_server_that_ignores_range_starts_over(stack, key, origin, video, workers, rundir):
    origin.files["/v.mp4"] = video
    origin.drop.add("/v.mp4")
    origin.ignore_range = True
    uid, jid = fetch(stack, key, workers, f"{origin.url}/v.mp4")
    assert wait_until(lambda: stored(stack, uid), 120, 0.2), job(stack, jid)
    assert [e[3] for e in origin.log] == [200, 200] and origin.log[1][1], origin.log
    assert (rundir / "upload" / "uploads" / uid / "v.mp4").read_bytes() == video


def test_a_changed_file_is_not_stitched(stack, key, origin, video, workers, rundir):
    other = video + b"\0" * 1000  # the same video, another file
    origin.files["/v.mp4"] = video
    origin.drop.add("/v.mp4")
    origin.change["/v.mp4"] = other
    uid, jid = fetch(stack, key, workers, f"{origin.url}/v.mp4")
    assert wait_until(lambda: stored(stack, uid), 120, 0.2), job(stack, jid)
    assert [e[2:] for e in origin.log] == [[None, 200], [etag_of(video), 200]], origin.log
    assert (rundir / "upload" / "uploads" / uid / "v.mp4").read_bytes() == other


@pytest.mark.parametrize("path,form,message", [
    ("/moved.mp4", [], "the URL redirected (HTTP 302) to {origin}/v.mp4; give the final URL"),
    ("/gone.mp4", [], "the URL answered HTTP 404 Not Found"),
    ("/broken.mp4", [], "the URL answered HTTP 500 Internal Server Error"),
    ("/page.html", [], "not a video: text/html"),
    ("/huge.mp4", [], "the file is larger than the upload's max_bytes (1000000 bytes)"),
    ("/endless.mp4", [], "the file is larger than the upload's max_bytes (1000000 bytes)"),
    ("/v.mp4", ["max_bytes=1000"], "the file is larger than the upload's max_bytes (1000 bytes)"),
])
def test_each_failure_names_itself(stack, key, origin, video, workers, rundir, path, form, message):
    origin.files["/v.mp4"] = video
    if "max_bytes=1000" not in form:
        form = form + ["max_bytes=1000000"]
    uid, jid = fetch(stack, key, workers, f"{origin.url}{path}?{SECRET}", *form)
    assert wait_job(stack, jid, ("ERROR",)), job(stack, jid)
    assert job(stack, jid) == ("ERROR", message.format(origin=origin.url))
    n = stack.db.one("SELECT attempts FROM outbox WHERE kind = 'upload.fetch'")
    assert n == (6 if path == "/broken.mp4" else 1), "only a 5xx is retried"
    assert not stored(stack, uid)
    assert not (rundir / "upload" / "uploads" / uid).exists(), "nothing left"
    assert "deadbeefcafe" not in every_log(stack, workers)


@pytest.mark.parametrize("range_end", ["far", "cap"])
def test_max_bytes_caps_the_whole_file_across_resumptions(stack, key, origin, workers, rundir,
                                                          range_end):
    """A source that drops after 600 000 bytes each time and answers each
    Range with a 206 of unknown total: max_bytes (1 000 000) caps the file,
    what is on disk plus what comes. A 206 whose range ends past it is
    refused before a byte is read ("far"); one that claims to end under it
    is cut at the cap ("cap"). The job fails at once, nothing is kept."""
    origin.range_end = range_end
    uid, jid = fetch(stack, key, workers, f"{origin.url}/dropping.mp4", "max_bytes=1000000")
    assert wait_until(lambda: job(stack, jid)[0] == "ERROR" or len(origin.log) > 2, 120, 0.1)
    assert [e[1:] for e in origin.log] == [[None, None, 200],
                                           [f"bytes={PIECE}-", '"same"', 206]], origin.log
    assert wait_job(stack, jid, ("ERROR",)), job(stack, jid)
    assert job(stack, jid) == ("ERROR", "the file is larger than the upload's max_bytes "
                                        "(1000000 bytes)")
    assert stack.db.one("SELECT attempts FROM outbox WHERE kind = 'upload.fetch'") == 1
    assert not stored(stack, uid)
    assert not (rundir / "upload" / "uploads" / uid).exists(), "nothing kept"


def test_a_file_the_slot_refuses_ends_the_task(stack, key, origin, video, workers, rundir):
    """A fetched file in place whose record the slot refuses (over
    max_bytes: left by an attempt that stopped before recording it): the
    task fails once with the slot's reason, the job is ERROR, the file is
    removed; the worker does not claim the task again and again."""
    origin.files["/v.mp4"] = video
    r = post(stack, key, "/uploads", f"url={origin.url}/v.mp4", "max_bytes=1000")
    assert r.status == 201, r
    uid, jid = r.json()["upload"]["id"], r.json()["job_id"]
    d = rundir / "upload" / "uploads" / uid
    d.mkdir(parents=True)
    (d / "v.mp4").write_bytes(video)
    workers.start()
    claims = lambda: workers.log().count(": upload.fetch (attempt")  # noqa: E731
    assert wait_until(lambda: job(stack, jid)[0] == "ERROR" or claims() > 3, 120, 0.1)
    assert job(stack, jid) == ("ERROR", "the file is larger than the upload's max_bytes "
                                        "(1000 bytes)")
    assert stack.db.one("SELECT attempts FROM outbox WHERE kind = 'upload.fetch'") == 1
    assert claims() == 1 and "handed back" not in workers.log(), "one claim, no spin"
    assert origin.log == [], "the file in place was recorded, not fetched again"
    assert not stored(stack, uid)
    assert not d.exists(), "the refused file is removed"


@pytest.mark.parametrize("path,env,message", [
    ("/drip.mp4", {"MEDIAGATE_FETCH_RATE_WINDOW": "2"},
     "the URL's server sends too slowly (under 1024 bytes/s over 2 s)"),
    ("/v.mp4", {"MEDIAGATE_FETCH_TIMEOUT": "5"},
     "the URL's server did not send the whole file within 5 s"),
])
def test_a_slow_source_gives_up_the_slot(stack, key, origin, video, workers, path, env, message):
    """A source that drips bytes (under MEDIAGATE_FETCH_MIN_RATE over the
    window) or that sends steadily but takes longer than
    MEDIAGATE_FETCH_TIMEOUT: the worker drops the connection and ends the
    attempt with the reason (here the last of 6, so the job is ERROR)
    instead of holding its slot for MEDIAGATE_ENCODE_TIMEOUT."""
    origin.files["/v.mp4"] = video * 40
    origin.slow = 0.25
    r = post(stack, key, "/uploads", f"url={origin.url}{path}")
    assert r.status == 201, r
    jid = r.json()["job_id"]
    stack.db.conn.execute("UPDATE outbox SET attempts = 5 WHERE kind = 'upload.fetch'")
    workers.start(**env)
    assert wait_job(stack, jid, ("ERROR", "COMPLETE")), job(stack, jid)
    assert job(stack, jid) == ("ERROR", message)
    assert [e[1:] for e in origin.log] == [[None, None, 200]], "dropped, not resumed at once"
    assert wait_until(lambda: origin.dropped == 1, 30, 0.1), "the server saw the drop"
    assert "the URL's server did not answer" not in workers.log()


def test_dns_failure_and_the_address_check(stack, key, origin, video, workers):
    origin.files["/v.mp4"] = video
    r = post(stack, key, "/uploads", "url=http://no-such-host.invalid/v.mp4")
    dns = r.json()["job_id"]
    r = post(stack, key, "/uploads", f"url={origin.url}/v.mp4")
    loop = r.json()["job_id"]
    workers.start(MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK="off")
    assert wait_job(stack, dns, ("ERROR",)) and wait_job(stack, loop, ("ERROR",))
    assert job(stack, dns) == ("ERROR", "the URL's host name does not resolve")
    assert job(stack, loop) == ("ERROR", "the URL's host has no public address (refused a "
                                         "loopback address): mediagate fetches from public "
                                         "addresses only")
    assert origin.log == [], "no request reached the loopback server"


def test_postgres_restarted_during_a_fetch(stack, key, origin, video, workers, rundir, pg):
    big = video * 40
    origin.files["/v.mp4"] = big
    origin.slow = 0.25
    uid, jid = fetch(stack, key, workers, f"{origin.url}/v.mp4")
    assert wait_until(lambda: origin.log, 60, 0.05), "the fetch began"
    pg.stop("fast")
    try:
        # The fetch goes on meanwhile: a heartbeat fails, the transfer does not.
        # Waited for (however busy the machine), not slept on.
        assert wait_until(lambda: "heartbeat failed" in workers.log(), 600, 0.1), \
            "a heartbeat met the outage"
    finally:
        pg.start()
        stack.db.conn = pg.connect(stack.db.name)
    origin.slow = 0
    assert wait_until(lambda: stored(stack, uid), 180, 0.2), job(stack, jid)
    assert (rundir / "upload" / "uploads" / uid / "v.mp4").read_bytes() == big
    assert "heartbeat failed" in workers.log(), "the fetch went on through the outage"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode' "
                        "AND payload->>'job_id' = %s", jid) == 1, "one encode queued"


def test_a_killed_worker_resumes_in_the_next_attempt(stack, key, origin, video, workers, rundir):
    """kill -9 mid-fetch: the part and its validator stay on disk; the next
    attempt (after the lease) asks for the rest only."""
    big = video * 40
    origin.files["/v.mp4"] = big
    origin.slow = 0.1
    uid, jid = fetch(stack, key, workers, f"{origin.url}/v.mp4")
    part = rundir / "upload" / "uploads" / uid / ".v.mp4.part"
    assert wait_until(lambda: part.exists() and part.stat().st_size >= 131072, 60, 0.05)
    workers.all[0].kill(signal.SIGKILL)
    workers.all[0].wait()
    have = part.stat().st_size
    origin.slow = 0
    workers.start()
    assert wait_until(lambda: stored(stack, uid), 180, 0.2), job(stack, jid)
    assert (rundir / "upload" / "uploads" / uid / "v.mp4").read_bytes() == big
    assert [e[1:] for e in origin.log] == [[None, None, 200],
                                           [f"bytes={have}-", etag_of(big), 206]], origin.log
    assert not part.exists()


def test_a_job_canceled_mid_fetch_keeps_nothing(stack, key, origin, video, workers, rundir):
    big = video * 40
    origin.files["/v.mp4"] = big
    origin.slow = 0.1
    uid, jid = fetch(stack, key, workers, f"{origin.url}/v.mp4")
    part = rundir / "upload" / "uploads" / uid / ".v.mp4.part"
    assert wait_until(lambda: part.exists() and part.stat().st_size > 0, 60, 0.05)
    stack.mg("jobs", "cancel", jid)
    assert wait_until(lambda: not (rundir / "upload" / "uploads" / uid).exists(), 60, 0.1), \
        "the fetch stopped at its next heartbeat and left nothing"
    assert job(stack, jid)[0] == "CANCELED"
    assert not stored(stack, uid)
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode'") == 0


def test_a_job_canceled_while_the_file_is_checked_keeps_nothing(stack, key, origin, video,
                                                                 workers, rundir):
    """mediagate jobs cancel while ffprobe checks the fetched file (an
    ffprobe that waits, as on a slow disk): the probe stops and the whole
    part is removed, as when the cancel comes during the transfer."""
    origin.files["/v.mp4"] = video
    slow = rundir / "slowbin"
    slow.mkdir()
    mark = rundir / "probing"
    (slow / "ffprobe").write_text(f"#!/bin/sh\ntouch '{mark}'\n"
                                  f"while :; do sleep 0.1; done\n")
    (slow / "ffprobe").chmod(0o755)
    r = post(stack, key, "/uploads", f"url={origin.url}/v.mp4")
    uid, jid = r.json()["upload"]["id"], r.json()["job_id"]
    workers.start(PATH=f"{slow}:/usr/bin:/bin")
    assert wait_until(mark.exists, 120, 0.1), "the check began"
    assert (rundir / "upload" / "uploads" / uid / ".v.mp4.part").stat().st_size == len(video)
    stack.mg("jobs", "cancel", jid)
    assert wait_until(lambda: "dropped: another worker holds the task" in workers.log(), 60, 0.1)
    assert not (rundir / "upload" / "uploads" / uid).exists(), "nothing left"
    assert job(stack, jid)[0] == "CANCELED"
    assert not stored(stack, uid)


@on_s3
def test_fetch_into_s3_storage(stack, key, origin, video, workers, mg_env, s3):
    origin.files["/v.mp4"] = video
    uid, jid = fetch(stack, key, workers, f"{origin.url}/v.mp4")
    assert wait_job(stack, jid, ("COMPLETE", "ERROR")), job(stack, jid)
    assert job(stack, jid) == ("COMPLETE", None)
    assert stack.db.one("SELECT storage FROM uploads WHERE id = %s", uid) == "s3"
    obj = s3_settings.client(s3).get_object(Bucket=mg_env["MEDIAGATE_STORAGE_BUCKET"],
                                            Key=f"uploads/{uid}/v.mp4")
    assert obj["Body"].read() == video, "the fetched file is the bucket's object"
    assert not list((stack.run / "tmp").iterdir()), "no spool left"


def test_the_docs_example_runs(stack, key, origin, video, workers):
    """docs/uploads.md's curl command, run as shown."""
    origin.files["/clips/IMG_0001.MOV"] = video
    text = (MG_ROOT / "docs" / "uploads.md").read_text()
    m = re.search(r"```sh\n(curl -s -H \"Authorization: Bearer \$key\" --data-urlencode url=.*?)\n```",
                  text, re.S)
    assert m, "docs/uploads.md shows the upload by URL"
    cmd = m.group(1).replace("https://cdn.example.com", origin.url) \
                    .replace("https://media.example.com", stack.base)
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                       env={"key": key, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert '"source_url":"%s/clips/IMG_0001.MOV"' % origin.url in r.stdout, r.stdout
