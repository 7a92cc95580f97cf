"""Uploads on S3 storage, against a real S3 server (Ceph's RADOS Gateway,
tests/lib/ceph_rgw.py), through real nginx with the project's
nginx/mediagate-upload.conf, curl and the worker:

- POST /uploads answers a presigned PUT URL to the bucket for the slot's
  one key, signed for the declared size and If-None-Match; the client PUTs
  there (no byte through nginx or mediagate), then POSTs the completion
  call, which spends the slot with the object's size and ETag in one
  transaction with its encode. The completion may be repeated.
- The store itself refuses the presigned URL used twice, for another key,
  with a larger body, without its signed headers, after its expiry.
- Above the part size, a multipart upload: a presigned URL per part, the
  completion completes it. One abandoned halfway is aborted by the slot's
  expiry, and an object never confirmed is deleted.
- The store down at completion: 503, nothing spent; the retry works. The
  store answering SlowDown: retried after its Retry-After, then 503.
- The PUTs through nginx (a slot's URL, or an API key) stream the body into
  the bucket.
- Hostile input: bad sizes, tokens, ids; the token in no log.
- Headless Chromium does the whole flow from a page of another origin
  (one PUT, and a multipart upload), the bucket's CORS rules allowing it.
"""

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import s3_settings

from mgstack import MG_ROOT, LoopbackServer, status_before_body, wait_until

PART = 5 * 1024 * 1024  # RGW's smallest part (but the last)


client = s3_settings.client


def slot_ttl(seconds):
    """A test whose slots expire after seconds (MEDIAGATE_UPLOAD_SLOT_TTL)."""
    def mark(f):
        f.slot_ttl = seconds
        return f
    return mark


def via_fault_proxy(f):
    """A test whose mediagate reaches the store through a fault proxy
    (tests/lib/s3_fault_proxy.py: SlowDown and delays on demand)."""
    f.via_fault_proxy = True
    return f


@pytest.fixture
def fault_proxy(s3):
    import s3_fault_proxy
    p = s3_fault_proxy.FaultProxy(s3.port).start()
    yield p
    p.stop()


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-up")


@pytest.fixture
def mg_env(rundir, s3, bucket, request):
    ttl = getattr(request.function, "slot_ttl", 3600)
    (rundir / "tmp").mkdir()
    return {
        "TMPDIR": str(rundir / "tmp"),   # where a PUT through nginx is spooled
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_UPLOAD_MAX_BYTES": str(64 * 1024 * 1024),
        "MEDIAGATE_UPLOAD_SLOT_TTL": str(ttl),
        "MEDIAGATE_ALLOWED_ORIGINS": r"https://app\.example\.com http://127\.0\.0\.1:[0-9]+",
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": (request.getfixturevalue("fault_proxy").endpoint
                                       if getattr(request.function, "via_fault_proxy", False)
                                       else s3.endpoint),
        "MEDIAGATE_STORAGE_RETRIES": "2",
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": bucket,
        "MEDIAGATE_STORAGE_PREFIX": "",
        "MEDIAGATE_STORAGE_ADDRESSING": "path",
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIAGATE_STORAGE_PART_BYTES": str(PART),
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


def to_store(url, src, headers=(), *opts):
    """PUT src to a presigned URL, straight to the store (no nginx, no
    mediagate); returns (status, body)."""
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "PUT", "--data-binary", f"@{src}"]
    for h in headers:
        args += ["-H", h]
    r = subprocess.run([*args, *opts, url], capture_output=True, timeout=120)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body.decode(errors="replace")


def put_headers(up):
    return [f"{k}: {v}" for k, v in up["headers"].items()]


def complete(stack, up):
    return stack.curl("-X", "POST", up["complete_url"])


def spent(stack, upload_id):
    return stack.db.one("SELECT stored_at IS NOT NULL FROM uploads WHERE id = %s", upload_id)


def encodes(stack, job):
    """The payloads of the job's encode tasks (without the request id)."""
    return stack.db.rows("SELECT payload - 'request_id' FROM outbox WHERE kind = 'local.encode' "
                         "AND payload->>'job_id' = %s", job)


def keys(s3, bucket):
    r = client(s3).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in r.get("Contents", []))


def test_presigned_put_then_completion_spends_the_slot_with_its_encode(stack, key, s3, bucket, rundir):
    f = rundir / "clip.mp4"
    f.write_bytes(b"v" * 1000)
    r = create(stack, key, "name=clip.mp4", "content_type=video/mp4", f"size={f.stat().st_size}")
    assert r.status == 201, r
    body = r.json()
    up = body["upload"]
    assert up["storage"] == "s3" and up["size"] == 1000 and up["method"] == "PUT", up
    assert up["input_file"] == f"uploads/{up['id']}/clip.mp4", up
    u = urlsplit(up["url"])
    assert up["url"].startswith(s3.endpoint + f"/{bucket}/uploads/{up['id']}/clip.mp4?"), up
    assert "X-Amz-Signature=" in u.query and "X-Amz-Expires=3600" in u.query, up
    assert up["headers"] == {"If-None-Match": "*", "Content-Type": "video/mp4"}, up
    assert up["complete_url"].startswith(f"/uploads/{up['id']}/clip.mp4?token="), up
    assert r.header("Location") == up["url"], r.headers
    token = up["complete_url"].split("token=")[1]
    assert spent(stack, up["id"]) is False

    # Completion before the file: nothing arrived, nothing spent.
    r = complete(stack, up)
    assert r.status == 409 and "No file has arrived" in r.json()["message"], r
    assert spent(stack, up["id"]) is False and encodes(stack, body["job_id"]) == []

    # The PUT goes to the store itself.
    assert to_store(up["url"], f, put_headers(up))[0] == 200
    head = client(s3).head_object(Bucket=bucket, Key=up["input_file"])
    assert head["ContentLength"] == 1000 and head["ContentType"] == "video/mp4", head

    r = complete(stack, up)
    assert r.status == 201, r
    assert r.json()["job_id"] == body["job_id"], r
    assert spent(stack, up["id"]) is True
    row = stack.db.one("SELECT etag FROM uploads WHERE id = %s", up["id"])
    assert row == head["ETag"], (row, head["ETag"])
    (p,), = encodes(stack, body["job_id"])
    # with the default profile's snapshot (test_profiles.py)
    assert p.pop("profile")["name"] == "default", p
    assert p == {"job_id": body["job_id"], "input_key": up["input_file"],
                 "input_etag": head["ETag"], "size": 1000}, p

    # Repeated (its answer lost): the same answer, one encode.
    first = r.json()
    r = complete(stack, up)
    assert r.status == 201 and r.json() == first, r
    assert len(encodes(stack, body["job_id"])) == 1

    # serve's /metrics counts the store's calls by outcome: the HEAD before
    # the file was there, the ones after.
    m = stack.curl("/metrics")
    assert m.status == 200, m
    for result in ("not_found", "ok"):
        assert re.search(rf'^mediagate_storage_requests_total\{{backend="s3",result="{result}"\}} '
                         r"[1-9]", m.body, re.M), m.body

    # The presigned URL used twice: the store refuses (If-None-Match), the object stays.
    g = rundir / "other.mp4"
    g.write_bytes(b"w" * 1000)
    st, text = to_store(up["url"], g, put_headers(up))
    assert st == 412, (st, text)
    assert client(s3).head_object(Bucket=bucket, Key=up["input_file"])["ETag"] == head["ETag"]

    # The token is stored hashed, and in no log.
    assert stack.db.one("SELECT count(*) FROM uploads WHERE token_hash = %s",
                        hashlib.sha256(token.encode()).digest()) == 1
    for log in (stack.app.log_path, stack.nginx.error_log):
        assert token not in log.read_text(errors="replace"), log


def test_the_store_refuses_another_key_a_larger_body_and_missing_headers(stack, key, s3, bucket, rundir):
    f = rundir / "a.mp4"
    f.write_bytes(b"a" * 500)
    up = create(stack, key, "name=a.mp4", "size=500").json()["upload"]
    assert up["headers"] == {"If-None-Match": "*"}, up
    big = rundir / "big"
    big.write_bytes(b"b" * 501)
    small = rundir / "small"
    small.write_bytes(b"c" * 499)
    other = up["url"].replace("/a.mp4?", "/b.mp4?")
    refused = [
        (other, f, put_headers(up)),            # another key
        (up["url"], big, put_headers(up)),      # a larger body
        (up["url"], small, put_headers(up)),    # a smaller one
        (up["url"], f, []),                     # without If-None-Match
        (up["url"].replace("X-Amz-Signature=", "X-Amz-Signature=0"), f, put_headers(up)),
    ]
    for url, src, hdrs in refused:
        st, text = to_store(url, src, hdrs)
        assert st == 403, (url, st, text)
    assert keys(s3, bucket) == [], "nothing was written"
    # The untouched URL works, once.
    assert to_store(up["url"], f, put_headers(up))[0] == 200
    assert complete(stack, up).status == 201


def test_multipart_upload_through_part_urls(stack, key, s3, bucket, rundir):
    size = 2 * PART + 12345
    f = rundir / "big.mov"
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    f.write_bytes(data)
    r = create(stack, key, "name=big.mov", f"size={size}")
    assert r.status == 201, r
    body = r.json()
    up = body["upload"]
    assert up["part_size"] == PART and [p["size"] for p in up["parts"]] == [PART, PART, 12345], up
    assert [p["number"] for p in up["parts"]] == [1, 2, 3]
    assert up["url"] == up["complete_url"], "the slot's own URL"
    uid = stack.db.one("SELECT multipart_id FROM uploads WHERE id = %s", up["id"])
    assert uid, "the multipart upload id is the slot's"
    for p in up["parts"]:
        chunk = rundir / f"part{p['number']}"
        off = (p["number"] - 1) * PART
        chunk.write_bytes(data[off:off + p["size"]])
        st, text = to_store(p["url"], chunk, put_headers(up))
        assert st == 200, (p["number"], st, text)
    # A part URL takes its own size only.
    st, _ = to_store(up["parts"][2]["url"], rundir / "part1", put_headers(up))
    assert st == 403
    r = complete(stack, up)
    assert r.status == 201, r
    obj = client(s3).get_object(Bucket=bucket, Key=up["input_file"])
    assert obj["Body"].read() == data
    (p,), = encodes(stack, body["job_id"])
    assert p["input_etag"] == obj["ETag"] and p["input_etag"].endswith('-3"'), p
    # Completed: nothing multipart is left in the bucket.
    assert client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert complete(stack, up).status == 201, "repeated: the same answer"


def test_multipart_with_a_part_missing_is_refused_and_removed(stack, key, s3, bucket, rundir):
    size = PART + 10
    f = rundir / "p1"
    f.write_bytes(b"q" * PART)
    up = create(stack, key, "name=x.mov", f"size={size}").json()["upload"]
    assert to_store(up["parts"][0]["url"], f, put_headers(up))[0] == 200
    r = complete(stack, up)
    assert r.status == 400 and f"{PART} bytes" in r.json()["message"], r
    assert keys(s3, bucket) == [], "the short object is removed"
    assert spent(stack, up["id"]) is False


@slot_ttl(60)
def test_expiry_refuses_and_the_slot_expiry_cleans_the_bucket(stack, key, s3, bucket, rundir, workers):
    f = rundir / "f"
    f.write_bytes(b"e" * 100)
    p1 = rundir / "p1"
    p1.write_bytes(b"m" * PART)
    never = create(stack, key, "name=never.mp4", "size=100").json()["upload"]
    unconfirmed = create(stack, key, "name=put.mp4", "size=100").json()["upload"]
    halfway = create(stack, key, "name=half.mov", f"size={2 * PART}").json()["upload"]
    assert to_store(unconfirmed["url"], f, put_headers(unconfirmed))[0] == 200
    assert to_store(halfway["parts"][0]["url"], p1, put_headers(halfway))[0] == 200
    assert len(client(s3).list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1
    deadline = stack.db.one("SELECT max(extract(epoch FROM expires_at)) FROM uploads")
    # Past the slots' expiry (the database's clock) and so past the URLs'
    # (signed before it).
    assert wait_until(lambda: stack.db.one("SELECT now() > to_timestamp(%s) + interval '2 s'",
                                           deadline), 90, 0.5)
    # The store refuses the URLs after their expiry, whatever mediagate does.
    st, text = to_store(never["url"], f, put_headers(never))
    assert st == 403, (st, text)
    st, text = to_store(halfway["parts"][1]["url"], p1, put_headers(halfway))
    assert st == 403, (st, text)
    # The completion call is refused too: expired.
    r = complete(stack, unconfirmed)
    assert r.status == 410 and "expired" in r.json()["message"], r
    # The expiry task: jobs CANCELED, the bucket holds nothing of them.
    workers.start()
    jobs = stack.db.rows("SELECT job_id FROM uploads")
    assert wait_until(lambda: all(stack.db.one("SELECT status FROM jobs WHERE id = %s", j)
                                  == "CANCELED" for j, in jobs), 30), stack.db.rows(
        "SELECT id, status FROM jobs")
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM outbox WHERE kind = 'upload.expire' AND done_at IS NULL") == 0, 30)
    assert keys(s3, bucket) == [], "the unconfirmed object is deleted"
    assert client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == [], \
        "the abandoned multipart upload is aborted"


def test_store_down_at_completion_is_503_and_the_retry_works(stack, key, s3, bucket, rundir):
    f = rundir / "f"
    f.write_bytes(b"d" * 300)
    body = create(stack, key, "name=down.mp4", "size=300").json()
    up = body["upload"]
    assert to_store(up["url"], f, put_headers(up))[0] == 200
    through = create(stack, key, "name=through.mp4", "size=300").json()["upload"]
    s3.kill_rgw()
    try:
        r = complete(stack, up)
        assert r.status == 503 and "unavailable" in r.json()["message"], r
        assert r.header("Retry-After"), r.headers
        assert spent(stack, up["id"]) is False and encodes(stack, body["job_id"]) == []
        # A PUT through nginx: 503 too, its token not spent.
        r = stack.curl("-X", "PUT", "--data-binary", f"@{f}", through["complete_url"])
        assert r.status == 503 and r.header("Retry-After"), r
        assert spent(stack, through["id"]) is False
        # A new slot cannot start a multipart upload either: 503, no slot.
        r = create(stack, key, "name=m.mov", f"size={PART + 1}")
        assert r.status == 503, r
        assert stack.db.one("SELECT count(*) FROM uploads") == 2
    finally:
        s3.start_rgw()
    r = complete(stack, up)
    assert r.status == 201 and r.json()["job_id"] == body["job_id"], r
    assert len(encodes(stack, body["job_id"])) == 1
    r = stack.curl("-X", "PUT", "--data-binary", f"@{f}", through["complete_url"])
    assert r.status == 201 and spent(stack, through["id"]) is True, r
    assert list((rundir / "tmp").iterdir()) == [], "no spool file is left"


@via_fault_proxy
def test_slowdown_at_completion_is_retried_then_503_and_nothing_is_spent(stack, key, fault_proxy,
                                                                         bucket, rundir):
    f = rundir / "f"
    f.write_bytes(b"s" * 400)
    body = create(stack, key, "name=slow.mp4", "size=400").json()
    up = body["upload"]
    assert up["url"].startswith(fault_proxy.endpoint + "/"), up
    assert to_store(up["url"], f, put_headers(up))[0] == 200
    # More SlowDown answers than MEDIAGATE_STORAGE_RETRIES allows: 503, nothing spent.
    fault_proxy.clear()
    fault_proxy.slow_down(3, retry_after=1)
    r = complete(stack, up)
    assert r.status == 503 and r.header("Retry-After"), r
    assert [st for _, _, _, st in fault_proxy.log] == [503, 503, 503], fault_proxy.log
    assert spent(stack, up["id"]) is False and encodes(stack, body["job_id"]) == []
    # Fewer: the store client retries after Retry-After, and the completion succeeds.
    fault_proxy.clear()
    fault_proxy.slow_down(2, retry_after=1)
    r = complete(stack, up)
    assert r.status == 201 and r.json()["job_id"] == body["job_id"], r
    log = fault_proxy.log
    assert [st for _, _, _, st in log] == [503, 503, 200], log
    assert log[1][0] - log[0][0] >= 1 and log[2][0] - log[1][0] >= 1, "Retry-After honoured"
    assert len(encodes(stack, body["job_id"])) == 1


def test_puts_through_nginx_stream_into_the_bucket(stack, key, s3, bucket, rundir):
    f = rundir / "f"
    f.write_bytes(b"n" * 2000)
    # PUT /uploads/<name> with an API key.
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: video/mp4",
                   "--data-binary", f"@{f}", "/uploads/api.mp4")
    assert r.status == 201, r
    a = r.json()
    obj = client(s3).get_object(Bucket=bucket, Key=a["upload"]["input_file"])
    assert obj["Body"].read() == f.read_bytes()
    (p,), = encodes(stack, a["job_id"])
    assert p["input_key"] == a["upload"]["input_file"] and p["input_etag"] == obj["ETag"], p
    # The slot's own URL, with its token (a client that does not use the presigned URL).
    up = create(stack, key, "name=slot.mp4", "size=2000").json()["upload"]
    r = stack.curl("-X", "PUT", "--data-binary", f"@{f}", up["complete_url"])
    assert r.status == 201, r
    assert client(s3).head_object(Bucket=bucket, Key=up["input_file"])["ContentLength"] == 2000
    assert spent(stack, up["id"]) is True
    # A POST to complete_url afterwards answers the same 201 (the slot's expiry).
    assert r.json()["upload"]["expires_at"] == up["expires_at"], (r, up)
    again = complete(stack, up)
    assert again.status == 201 and again.json() == r.json(), (again, r)
    # Spent: a second PUT is refused before its body is read; the object stays.
    r = stack.curl("-X", "PUT", "--data-binary", f"@{f}", up["complete_url"])
    assert r.status == 403 and "used already" in r.json()["message"], r
    # A multipart slot's file PUT whole: its multipart upload is aborted.
    big = rundir / "big"
    big.write_bytes(b"m" * (PART + 1))
    up = create(stack, key, "name=whole.mov", f"size={PART + 1}").json()["upload"]
    assert len(client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    r = stack.curl("-X", "PUT", "--data-binary", f"@{big}", up["complete_url"])
    assert r.status == 201, r
    assert client(s3).head_object(Bucket=bucket, Key=up["input_file"])["ContentLength"] == PART + 1
    assert client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert list((rundir / "tmp").iterdir()) == [], "no spool file is left"


def test_a_completion_call_with_a_body_is_refused_unread(stack, key, s3, bucket, rundir):
    """The completion call takes no body: one announced (Content-Length or
    chunked) is refused before nginx reads any of it, with a wrong token or
    none, without a slot id, and with the slot's own token (nothing spent).
    Without one (or with Content-Length: 0) it completes."""
    f = rundir / "f"
    f.write_bytes(b"c" * 700)
    body = create(stack, key, "name=c.mp4", "size=700").json()
    up = body["upload"]
    base = up["complete_url"].split("?")[0]
    for announced in ("Content-Length: 209715200", "Transfer-Encoding: chunked"):
        for path, status in ((f"{base}?token={'0' * 64}", 401), (base, 401),
                             ("/uploads/c.mp4", 401), (up["complete_url"], 403)):
            got = status_before_body(stack.base, "POST", path, announced)
            assert got == status, (path, announced, got)
    assert to_store(up["url"], f, put_headers(up))[0] == 200
    r = stack.curl("-X", "POST", "--data-binary", f"@{f}", up["complete_url"])
    assert r.status == 403 and "takes no body" in r.json()["message"], r
    assert spent(stack, up["id"]) is False and encodes(stack, body["job_id"]) == []
    r = stack.curl("-X", "POST", "--data-binary", "", up["complete_url"])
    assert r.status == 201 and r.json()["job_id"] == body["job_id"], r


def test_hostile_input(stack, key, s3, bucket, rundir):
    # (No size at all is a slot for tus: tests/pytest/test_tus_s3.py.)
    for size, why in (("0", "whole number"), ("-1", "whole number"),
                      ("1e3", "whole number"), (" 5", "whole number"), ("+5", "whole number"),
                      ("99999999999999999999", "whole number"), (str(64 * 1024 * 1024 + 1), "whole number")):
        r = create(stack, key, "name=x.mp4", *([f"size={size}"] if size else []))
        assert r.status == 400 and why in r.json()["message"], (size, r)
    r = create(stack, key, "name=x.mp4", "size=11", "max_bytes=10")
    assert r.status == 400, r
    assert stack.db.one("SELECT count(*) FROM uploads") == 0, "no refusal made a slot"
    # A hostile name becomes a plain one, and the key stays under the slot.
    up = create(stack, key, "name=../../etc/passwd", "size=5").json()["upload"]
    assert up["input_file"] == f"uploads/{up['id']}/_._.._etc_passwd", up
    assert f"/{bucket}/uploads/{up['id']}/_._.._etc_passwd?" in up["url"], up
    token = up["complete_url"].split("token=")[1]
    base = f"/uploads/{up['id']}/_._.._etc_passwd"
    for u in (base, base + "?token=", base + "?token=" + "0" * 64, base + "?token=%zz",
              f"/uploads/{up['id']}/other?token={token}", f"/uploads/not-a-uuid/x?token={token}"):
        r = stack.curl("-X", "POST", u)
        assert (r.status, r.json()["message"]) == (401, "This upload URL is unknown or its token is wrong."), (u, r)
    # A path no template of openapi.yaml names for POST (no slot id): the
    # same answer, asked outside the contract's record.
    r = subprocess.run(["curl", "-sS", "-X", "POST", "-w", "\n%{http_code}",
                        f"{stack.base}/uploads/x.mp4?token={token}"], capture_output=True, text=True, timeout=30)
    text, _, code = r.stdout.rpartition("\n")
    assert (code, json.loads(text)["message"]) == ("401", "This upload URL is unknown or its token is wrong."), r
    # A CORS preflight for the completion call names POST.
    r = stack.curl("-X", "OPTIONS", "-H", "Origin: https://app.example.com",
                   "-H", "Access-Control-Request-Method: POST", base)
    assert r.status == 204 and "POST" in (r.header("Access-Control-Allow-Methods") or ""), r
    for log in (stack.app.log_path, stack.nginx.error_log):
        assert token not in log.read_text(errors="replace"), log


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.mark.skipif(not (os.access(CHROMIUM, os.X_OK) and shutil.which("node")),
                    reason="needs Chromium and node (scripts/deps installs them)")
def test_chromium_uploads_straight_to_the_store(stack, key, s3, bucket, rundir):
    page_dir = MG_ROOT / "tests" / "browser" / "page"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(page_dir))
    handler.log_message = lambda *a: None
    with LoopbackServer(handler) as site:
        # The rule docs/storage.md shows, for this page's origin.
        client(s3).put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [site.url], "AllowedMethods": ["PUT", "GET", "HEAD"],
            "AllowedHeaders": ["content-type", "content-length", "if-none-match"],
            "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3600}]})
        profile = rundir / "chromium"
        profile.mkdir()
        r = subprocess.run(["node", str(MG_ROOT / "tests" / "browser" / "s3_upload.mjs")],
                           env={**os.environ, "PAGE_URL": f"{site.url}/s3-upload.html",
                                "BASE": stack.base, "API_KEY": key, "PROFILE_DIR": str(profile),
                                "SIZES": f"3000,{PART + 4000}", "CHROMIUM": CHROMIUM},
                           capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    one, multi = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" not in one and "error" not in multi, (one, multi)
    assert (one["create"], one["puts"], one["complete"], one["again"]) == (201, [200], 201, 412), one
    assert one["etag"], "the page reads the ETag (the bucket exposes it)"
    assert (multi["create"], multi["parts"], multi["puts"], multi["complete"]) == (201, 2, [200, 200], 201), multi
    for res, size in ((one, 3000), (multi, PART + 4000)):
        key_ = res["body"]["upload"]["input_file"]
        obj = client(s3).get_object(Bucket=bucket, Key=key_)
        assert obj["Body"].read() == bytes(i % 251 for i in range(size)), key_
        (p,), = encodes(stack, res["body"]["job_id"])
        assert p["input_etag"] == obj["ETag"], p
