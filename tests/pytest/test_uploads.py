"""Uploads owned by their uploader, through real PostgreSQL, nginx (the
project's nginx/mediagate-upload.conf), curl and the worker:

- POST /uploads (API key) makes a slot and its job; the file goes to the
  slot's URL with no other credential, once, before it expires, within its
  max_bytes; anything else is refused with a JSON reason, and stores nothing.
- Every upload lands under its own unguessable id, so two owners' files of
  the same name never replace each other, and /media/job_id finds a job only
  by that path.
- PUT /uploads/<name> with an API key stores under a fresh id too, 201 with
  the same body.
- Browsers of allowed origins: preflight, CORS on every answer (refusals
  too); other origins are refused and store nothing.
- PostgreSQL down during a PUT: 503, the token is not spent, the retry works.
- The upload token is stored hashed and is in no log.
- The watcher of MEDIAGATE_UPLOADS_DIR waits for its directory and re-arms
  when it is recreated.
"""

import hashlib
import json
import shutil
import subprocess
import time

import pytest

from mgstack import status_before_body, wait_until

ALLOWED = "https://app.example.com"


@pytest.fixture
def mg_env(rundir):
    return {
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_ENCODE_NICE": "0",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_ALLOWED_ORIGINS": r"https://app\.example\.com",
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture
def key(stack):
    return stack.mg("apikey", "create", "uploader")


def create(stack, key, *form):
    """POST /uploads with form fields ("name=x", ...)."""
    args = ["-X", "POST", "-H", f"Authorization: Bearer {key}"]
    for f in form:
        args += ["--data-urlencode", f]
    return stack.curl(*args, "/uploads")


def put(stack, path, src, *headers):
    args = []
    for h in headers:
        args += ["-H", h]
    return stack.curl("-X", "PUT", *args, "--data-binary", f"@{src}", path)


def job_id_for(stack, input_file):
    return stack.curl("-G", "--data-urlencode", f"input_file={input_file}", "/media/job_id")


def stored_files(rundir):
    root = rundir / "upload" / "uploads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_direct_upload_is_single_use_and_bound_to_its_slot(stack, key, rundir, workers):
    r = create(stack, key, "name=IMG_0001.MOV", "content_type=video/quicktime", "max_bytes=1000")
    assert r.status == 201, r
    body = r.json()
    up = body["upload"]
    assert body["success"] is True and body["job_id"], body
    assert set(up) == {"id", "url", "expires_at", "input_file", "tus_endpoint"}, up
    assert up["input_file"] == f"uploads/{up['id']}/IMG_0001.MOV", up
    assert up["url"].startswith(f"/uploads/{up['id']}/IMG_0001.MOV?token="), up
    assert r.header("Location") == up["url"], r.headers
    token = up["url"].split("token=")[1]
    assert len(token) >= 32, "at least 128 bits"
    # The job exists at once, SUBMITTED, and /media/job_id finds it by its path only.
    assert job_id_for(stack, up["input_file"]).json()["job_id"] == body["job_id"]
    assert job_id_for(stack, "uploads/IMG_0001.MOV").status == 422
    st = stack.curl(f"/media/status?job_id={body['job_id']}").json()
    assert st["job_status"] == "SUBMITTED", st
    # Stored hashed: the digest is in the table, the token nowhere.
    row = stack.db.one("SELECT count(*) FROM uploads WHERE token_hash = %s",
                       hashlib.sha256(token.encode()).digest())
    assert row == 1
    dump = json.dumps(stack.db.rows("SELECT to_jsonb(u)::text FROM uploads u"))
    assert token not in dump

    f = rundir / "f.bin"
    f.write_bytes(b"x" * 600)
    big = rundir / "big.bin"
    big.write_bytes(b"y" * 1001)

    # Over the slot's cap: refused before the body is read; nothing stored.
    r = put(stack, up["url"], big)
    assert r.status == 403, r
    assert r.json() == {"success": False, "message": "The file is larger than this upload URL's max_bytes."}, r
    # Every slot URL that names no slot this token opens gets one answer,
    # whatever its shape: a wrong, empty, missing or malformed token, the
    # token on another name or another slot, an id or name of another shape.
    other = create(stack, key, "name=other.mp4").json()["upload"]
    base = up["url"].split("?")[0]
    bad = [base + "?token=" + "0" * 64,
           base,
           base + "?token=",
           base + "?token=%zz",
           base + "?token=%FF",
           base + "?token=a%00b",
           base + "?" + "&" * 80 + "&".join(f"p{i}=1" for i in range(70)) + f"&token={token}",
           f"/uploads/{up['id']}/renamed.MOV?token={token}",
           f"/uploads/{other['id']}/other.mp4?token={token}",
           f"/uploads/{up['id']}/.hidden?token={token}",
           f"/uploads/{up['id'].upper()}/IMG_0001.MOV?token={token}",
           f"/uploads/{'z' * 36}/IMG_0001.MOV?token={token}",
           f"/uploads/not-a-uuid/IMG_0001.MOV?token={token}",
           "/uploads/not-a-uuid/IMG_0001.MOV"]
    for u in bad:
        r = put(stack, u, f)
        assert (r.status, r.json()) == (401, {"success": False, "message":
                                              "This upload URL is unknown or its token is wrong."}), (u, r)
    # Paths no template of openapi.yaml can name (a name with a slash, an
    # empty name) get the same answer; asked outside the contract's record.
    for u in (f"/uploads/{up['id']}/a/b?token={token}", f"/uploads/{up['id']}/?token={token}"):
        r = subprocess.run(["curl", "-sS", "-X", "PUT", "--data-binary", f"@{f}", "-w", "\n%{http_code}",
                            stack.base + u], capture_output=True, text=True, timeout=30)
        text, _, code = r.stdout.rpartition("\n")
        assert (code, json.loads(text)["message"]) == (
            "401", "This upload URL is unknown or its token is wrong."), (u, r)
    # With no id left (the client and nginx resolve ".."), it is the API key's form.
    r = put(stack, f"/uploads/{up['id']}/../x?token={token}", f)
    assert r.status == 401 and "API key" in r.json()["message"], r
    assert stored_files(rundir) == [], "no refusal stored a file"
    # A chunked body (no Content-Length) is refused: the cap could not be checked.
    r = stack.curl("-X", "PUT", "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{f}", up["url"])
    assert r.status == 403 and "Content-Length" in r.json()["message"], r

    # The one PUT: no other credential.
    t0 = time.monotonic()
    r = put(stack, up["url"], f)
    assert r.status == 201, r
    assert r.json()["job_id"] == body["job_id"], r
    assert r.json()["upload"]["input_file"] == up["input_file"], r
    assert "token" not in r.json()["upload"]["url"], r
    assert stored_files(rundir) == [f"{up['id']}/IMG_0001.MOV"]
    assert (rundir / "upload" / "uploads" / up["id"] / "IMG_0001.MOV").read_bytes() == f.read_bytes()
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode' AND payload->>'job_id' = %s",
                        body["job_id"]) == 1, "its encode is queued with the file in place"
    print(f"PUT -> 201 with the encode queued: {(time.monotonic() - t0) * 1000:.1f} ms")

    # A second PUT, even of the same bytes: refused, and the first file stays.
    r = put(stack, up["url"], big)
    assert r.status == 403, r
    assert "used already" in r.json()["message"], r
    assert (rundir / "upload" / "uploads" / up["id"] / "IMG_0001.MOV").read_bytes() == f.read_bytes()

    # Expired: refused; the expiry task CANCELs the job of a slot never used.
    stack.db.conn.execute("UPDATE uploads SET expires_at = now() - interval '1 s' WHERE id = %s", (other["id"],))
    r = put(stack, f"{other['url']}", f)
    assert r.status == 403 and "expired" in r.json()["message"], r
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'upload.expire'")
    workers.start()
    oj = stack.db.one("SELECT job_id FROM uploads WHERE id = %s", other["id"])
    assert wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", oj) == "CANCELED", 15), \
        "the expired slot's job is CANCELED"
    assert stack.db.one("SELECT error_message FROM jobs WHERE id = %s", oj) == \
        "the upload URL expired before a file arrived"
    # The used slot's expiry changes nothing.
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", body["job_id"]) != "CANCELED"


def test_two_owners_same_name_never_replace_each_other(stack, rundir):
    alice = stack.mg("apikey", "create", "alice")
    bob = stack.mg("apikey", "create", "bob")
    fa, fb = rundir / "a", rundir / "b"
    fa.write_bytes(b"alice's video")
    fb.write_bytes(b"bob's video")
    ra = put(stack, "/uploads/IMG_0001.MOV", fa, f"Authorization: Bearer {alice}")
    rb = put(stack, "/uploads/IMG_0001.MOV", fb, f"Authorization: Bearer {bob}")
    assert ra.status == 201 and rb.status == 201, (ra, rb)
    a, b = ra.json(), rb.json()
    assert set(a) == {"success", "job_id", "upload"} and a["upload"]["expires_at"] is None, a
    assert a["upload"]["input_file"] != b["upload"]["input_file"]
    assert a["upload"]["input_file"] == f"uploads/{a['upload']['id']}/IMG_0001.MOV"
    assert job_id_for(stack, a["upload"]["input_file"]).json()["job_id"] == a["job_id"]
    assert job_id_for(stack, b["upload"]["input_file"]).json()["job_id"] == b["job_id"]
    assert job_id_for(stack, "uploads/IMG_0001.MOV").status == 422, "the bare name finds nobody's job"
    root = rundir / "upload" / "uploads"
    assert (root / a["upload"]["id"] / "IMG_0001.MOV").read_bytes() == b"alice's video"
    assert (root / b["upload"]["id"] / "IMG_0001.MOV").read_bytes() == b"bob's video"
    owners = stack.db.rows("SELECT owner FROM uploads ORDER BY created_at")
    assert len({o[0] for o in owners}) == 2, owners
    # No key, a revoked key, a name that is not plain: refused, nothing stored.
    assert put(stack, "/uploads/x.mp4", fa).status == 401
    assert put(stack, "/uploads/x.mp4", fa, "Authorization: Bearer nope").status == 401
    r = put(stack, "/uploads/.hidden", fa, f"Authorization: Bearer {alice}")
    assert r.status == 403, r
    assert len(stored_files(rundir)) == 2


@pytest.mark.parametrize("form,message", [
    (["max_bytes=0"], "max_bytes must be a whole number"),
    (["max_bytes=abc"], "max_bytes must be a whole number"),
    (["max_bytes=99999999999999999999"], "max_bytes must be a whole number"),
    (["max_bytes=-5"], "max_bytes must be a whole number"),
    (["content_type=video/mp4\r\nX: y"], "content_type must be"),
])
def test_create_refuses_bad_fields(stack, key, form, message):
    r = create(stack, key, *form)
    assert r.status == 400, r
    assert message in r.json()["message"], r
    assert stack.db.one("SELECT count(*) FROM uploads") == 0


def test_create_needs_a_key_and_sanitizes_the_name(stack, key):
    r = stack.curl("-X", "POST", "-d", "name=x.mp4", "/uploads")
    assert r.status == 401, r
    r = create(stack, key, "name=../../etc/passwd")
    assert r.status == 201, r
    name = r.json()["upload"]["input_file"].split("/", 2)[2]
    assert "/" not in name and not name.startswith("."), name
    r = create(stack, key)
    assert r.json()["upload"]["input_file"].endswith("/upload"), r


def test_browser_origins(stack, key, rundir):
    up = create(stack, key, "name=c.mp4").json()["upload"]
    f = rundir / "c.mp4"
    f.write_bytes(b"z" * 100)
    r = stack.curl("-X", "OPTIONS", "-H", f"Origin: {ALLOWED}", "-H", "Access-Control-Request-Method: PUT",
                   "-H", "Access-Control-Request-Headers: content-type", up["url"])
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
    assert "PUT" in r.header("Access-Control-Allow-Methods"), r.headers
    # A disallowed origin: refused, no CORS headers, nothing stored, token unspent.
    r = put(stack, up["url"], f, "Origin: https://app.example.com.evil.net")
    assert r.status == 403, r
    assert r.header("Access-Control-Allow-Origin") is None, r.headers
    assert stored_files(rundir) == []
    # Refusals carry CORS for an allowed origin, so the page can read why.
    r = put(stack, up["url"].split("?")[0] + "?token=bad", f, f"Origin: {ALLOWED}")
    assert r.status == 401, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
    assert r.header("Vary") == "Origin", r.headers
    r = put(stack, up["url"], f, f"Origin: {ALLOWED}")
    assert r.status == 201, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
    r = put(stack, up["url"], f, f"Origin: {ALLOWED}")
    assert r.status == 403, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
    assert "used already" in r.json()["message"], r


def test_postgres_down_during_put_spends_nothing(stack, key, rundir, pg):
    up = create(stack, key, "name=pg.mp4").json()["upload"]
    f = rundir / "pg.mp4"
    f.write_bytes(b"p" * 4096)
    pg.stop("fast")
    try:
        r = put(stack, up["url"], f)
        assert r.status == 503, r
        assert r.header("Retry-After"), r.headers
        assert r.json()["success"] is False, r
        assert stored_files(rundir) == [], "nothing left behind"
    finally:
        pg.start()
    r = wait_until(lambda: (lambda x: x if x.status == 201 else None)(put(stack, up["url"], f)), 15, 0.5)
    assert r, "the same URL works once PostgreSQL is back"
    assert stored_files(rundir) == [f"{up['id']}/pg.mp4"]


def test_over_nginx_limit_is_json(stack, key, rundir):
    """A body past nginx's client_max_body_size gets nginx's own 413 as the
    usual JSON, with CORS for an allowed origin, and unlogged."""
    up = create(stack, key, "name=huge.mp4").json()["upload"]
    big = rundir / "form.txt"
    big.write_bytes(b"name=" + b"x" * 20000)
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", "-H", f"Origin: {ALLOWED}",
                   "--data-binary", f"@{big}", "/uploads")
    assert r.status == 413, r
    assert r.json() == {"success": False, "message": "The request body is too large."}, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers


def test_a_body_on_a_post_or_preflight_is_refused_unread(stack, key, rundir):
    """Only a PUT carries a file: a POST to /uploads/... (the completion
    call, of S3 storage) or an OPTIONS announcing a body (Content-Length or
    chunked) is refused before nginx reads any of it, whatever URL and
    token it has: the answer comes with no byte of the body sent."""
    up = create(stack, key, "name=x.mp4").json()["upload"]
    base = up["url"].split("?")[0]
    cases = [("POST", "/uploads/x.mp4", [], 401),                  # no slot
             ("POST", "/uploads/x.mp4", [f"Authorization: Bearer {key}"], 401),
             ("POST", base + "?token=" + "0" * 64, [], 401),        # a wrong token
             ("POST", up["url"], [], 403),                          # the slot's own URL
             ("OPTIONS", base, [f"Origin: {ALLOWED}", "Access-Control-Request-Method: PUT"], 403)]
    for body in ("Content-Length: 209715200", "Transfer-Encoding: chunked"):
        for method, path, hdrs, status in cases:
            got = status_before_body(stack.base, method, path, *hdrs, body)
            assert got == status, (method, path, body, got)
    r = stack.curl("-X", "POST", "--data-binary", "x", up["url"])
    assert r.json()["message"] == "Only a PUT carries a file: this request takes no body.", r
    # Without a body, as before: nothing to complete here, and the preflight.
    for empty in ([], ["--data-binary", ""]):
        r = stack.curl("-X", "POST", *empty, up["url"])
        assert r.status == 409 and "Nothing to complete" in r.json()["message"], r
    r = stack.curl("-X", "OPTIONS", "-H", f"Origin: {ALLOWED}",
                   "-H", "Access-Control-Request-Method: PUT", base)
    assert r.status == 204, r
    assert stored_files(rundir) == []


def test_a_retried_store_is_the_same_store(stack, key, rundir):
    """db_exec retries a statement once when the connection is lost, also
    after its commit: the store and the API-key PUT must answer the same job
    the second time, queue one encode, and never make the handler remove
    the file it recorded."""
    up = create(stack, key, "name=r.mp4").json()["upload"]
    token = up["url"].split("token=")[1]
    h = hashlib.sha256(token.encode()).digest()
    path = str(rundir / "r.mp4")
    q = "SELECT mediagate_upload_store(%s, %s, 10, %s)"
    first = stack.db.one(q, up["id"], h, path)
    again = stack.db.one(q, up["id"], h, path)
    assert first and again == first, (first, again)
    assert stack.db.one("SELECT mediagate_upload_store(%s, %s, 11, %s)", up["id"], h, path) is None, \
        "another size is not the same store"
    q = "SELECT mediagate_upload_put(%s, %s, 'key:1', 'k.mp4', NULL, 100, 10, %s)"
    uid, jid = "0f0f0f0f-1111-4222-8333-444455556666", "put-job-1"
    assert stack.db.one(q, uid, jid, path) == jid
    assert stack.db.one(q, uid, "put-job-2", path) == jid, "the retry answers the first job"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode'") == 2


def test_puts_at_the_same_moment_one_wins(stack, key, rundir):
    up = create(stack, key, "name=race.mp4").json()["upload"]
    srcs = []
    for i in range(6):
        p = rundir / f"race{i}"
        p.write_bytes(bytes([65 + i]) * 200000)
        srcs.append(p)
    procs = [subprocess.Popen(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(p),
                               stack.base + up["url"]], stdout=subprocess.PIPE, text=True) for p in srcs]
    codes = sorted(pr.communicate()[0] for pr in procs)
    assert codes.count("201") == 1, codes
    assert all(c in ("201", "403", "409") for c in codes), codes
    files = stored_files(rundir)
    assert files == [f"{up['id']}/race.mp4"], files
    data = (rundir / "upload" / "uploads" / files[0]).read_bytes()
    assert len(set(data)) == 1 and len(data) == 200000, "one whole upload, not a mix"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode'") == 1


def test_no_log_carries_the_token(stack, key, rundir, workers):
    workers.start()
    ups = [create(stack, key, f"name=l{i}.mp4").json()["upload"] for i in range(4)]
    f = rundir / "l.mp4"
    f.write_bytes(b"l" * 10)
    put(stack, ups[0]["url"], f)
    put(stack, ups[0]["url"], f)                       # refused: used
    put(stack, ups[1]["url"] + "x", f)                 # refused: wrong token
    stack.curl("-X", "PUT", "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{f}", ups[2]["url"])
    stack.app.stop()                                   # mediagate down: nginx's own answer
    r = put(stack, ups[3]["url"], f)
    assert r.status == 503 and r.json()["success"] is False, r
    assert r.header("Retry-After"), r.headers
    stack.nginx.stop()                                 # flush
    assert (rundir / "nginx" / "access.log").exists(), "nginx kept an access log"
    # The app's access log shows the route's row, not the uploader's names.
    applog = stack.app.log_path.read_text(errors="replace")
    assert " access PUT /uploads/ 201 " in applog, applog[-2000:]
    assert "l0.mp4" not in applog, applog[-2000:]
    tokens = [u["url"].split("token=")[1] for u in ups] + [key]
    for p in rundir.rglob("*.log"):
        text = p.read_text(errors="replace")
        for t in tokens:
            assert t not in text, f"{p} carries a secret"


def test_watcher_waits_for_its_directory_and_rearms(stack, rundir, workers, mg_env):
    d = rundir / "drop"
    workers.start(MEDIAGATE_UPLOADS_DIR=str(d / "sub"))   # its parent is missing: it cannot make it
    assert wait_until(lambda: "waiting for it" in workers.log(), 10), workers.log()
    (d / "sub").mkdir(parents=True)
    assert wait_until(lambda: "watching" in workers.log(), 10), workers.log()
    src = rundir / "w.bin"
    src.write_bytes(b"w" * 10)
    shutil.copyfile(src, d / "sub" / "one.bin")
    assert wait_until(lambda: job_id_for(stack, "uploads/one.bin").status == 200, 10), "dropped file became a job"
    shutil.rmtree(d / "sub")
    assert wait_until(lambda: "removed or moved" in workers.log(), 10), workers.log()
    (d / "sub").mkdir(parents=True, exist_ok=True)
    assert wait_until(lambda: workers.log().count(" info watching ") >= 2, 10), workers.log()
    shutil.copyfile(src, d / "sub" / "two.bin")
    assert wait_until(lambda: job_id_for(stack, "uploads/two.bin").status == 200, 10), \
        "re-armed on the recreated directory"
