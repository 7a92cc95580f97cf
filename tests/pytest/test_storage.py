"""The storage layer (app/storage/) against a real S3 store, Ceph's RADOS
Gateway (tests/lib/ceph_rgw.py): every call of storage.h through
tests/lib/store_exec.c (mediagate's own client, one call a process),
checked with botocore (AWS's SDK core) on the other side; presigned URLs
compared byte for byte with botocore's own presigner and used with curl;
the faults a store has (wrong credentials, no bucket)."""

import datetime
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from unittest import mock

import botocore.auth
import pytest
import s3_settings
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
STORE_EXEC = os.environ.get("MG_STORE_EXEC", "build-test/tests/pytest/store_exec")
PREFIX = "pfx/"


client = s3_settings.client


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-storage")


def store_env(s3, bucket, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAGATE_", "AWS_"))}
    env.update({
        "MEDIAGATE_DATABASE_URL": "dbname=unused",
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": s3.endpoint,
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": bucket,
        "MEDIAGATE_STORAGE_PREFIX": PREFIX,
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIAGATE_STORAGE_RETRIES": "1",
        "MEDIAGATE_STORAGE_TIMEOUT_MS": "20000",
    })
    env.update(extra)
    return env


def mg(env, *args, timeout=300):
    """One storage call through mediagate's client; its JSON answer."""
    r = subprocess.run([STORE_EXEC, *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def curl(url, *opts):
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *opts, url],
                       capture_output=True, timeout=120)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def test_put_get_head_delete(s3, bucket):
    env = store_env(s3, bucket)
    put = mg(env, "put-mem", "media/j1/master.m3u8", "#EXTM3U\n",
             "--content-type=application/vnd.apple.mpegurl", "--cache-control=max-age=5")
    assert put["status"] == "ok", put
    obj = client(s3).get_object(Bucket=bucket, Key=PREFIX + "media/j1/master.m3u8")
    assert obj["Body"].read() == b"#EXTM3U\n"
    assert obj["ContentType"] == "application/vnd.apple.mpegurl"
    assert obj["CacheControl"] == "max-age=5"
    assert put["etag"] == obj["ETag"] and put["size"] == 8
    assert put["content_type"] == "application/vnd.apple.mpegurl"
    head = mg(env, "head", "media/j1/master.m3u8")
    assert (head["status"], head["size"], head["etag"]) == ("ok", 8, obj["ETag"])
    assert head["content_type"] == "application/vnd.apple.mpegurl"
    got = mg(env, "get-mem", "media/j1/master.m3u8", "100")
    assert (got["status"], got["data"]) == ("ok", "#EXTM3U\n")
    assert mg(env, "get-mem", "media/j1/master.m3u8", "7")["status"] == "too large"
    assert mg(env, "delete", "media/j1/master.m3u8")["status"] == "ok"
    gone = mg(env, "head", "media/j1/master.m3u8")
    assert gone["status"] == "not found" and "media/j1/master.m3u8" in gone["err"]
    assert mg(env, "get-mem", "media/j1/master.m3u8", "100")["status"] == "not found"
    # Deleting what is not there is no failure.
    assert mg(env, "delete", "media/j1/master.m3u8")["status"] == "ok"


def test_if_none_match_keeps_the_first(s3, bucket):
    env = store_env(s3, bucket)
    assert mg(env, "put-mem", "uploads/u1/a.mp4", "first", "--if-none-match")["status"] == "ok"
    second = mg(env, "put-mem", "uploads/u1/a.mp4", "second", "--if-none-match")
    assert second["status"] == "precondition failed", second
    assert mg(env, "get-mem", "uploads/u1/a.mp4", "100")["data"] == "first"


def test_bad_keys_are_refused_before_the_store(s3, bucket):
    env = store_env(s3, bucket)
    for key in ("../etc/passwd", "/abs", "media//x", "media/.hidden", "a b", ""):
        ans = mg(env, "put-mem", key, "x")
        assert (ans["status"], ans["err"]) == ("error", "not a valid key"), key


def test_wrong_credentials_are_denied(s3, bucket):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_SECRET_ACCESS_KEY="not-the-secret-at-all")
    ans = mg(env, "put-mem", "media/j/x", "data")
    assert ans["status"] == "denied" and "SignatureDoesNotMatch" in ans["err"], ans
    assert s3.secret_key not in ans["err"]


def test_missing_bucket(s3):
    env = store_env(s3, "mg-no-such-bucket")
    ans = mg(env, "put-mem", "media/j/x", "data")
    assert ans["status"] == "no such bucket", ans


def test_credentials_from_the_environment(s3, bucket):
    env = store_env(s3, bucket, AWS_ACCESS_KEY_ID=s3.access_key,
                    AWS_SECRET_ACCESS_KEY=s3.secret_key)
    del env["MEDIAGATE_STORAGE_ACCESS_KEY_ID"], env["MEDIAGATE_STORAGE_SECRET_ACCESS_KEY"]
    assert mg(env, "put-mem", "media/j/env", "data")["status"] == "ok"


# --- presigned URLs ----------------------------------------------------------

NOW = 1767225600  # 2026-01-01T00:00:00Z, a fixed instant both signers use


def botocore_presign(s3, method, url, headers, expires, token=None):
    """botocore's own query signer (S3SigV4QueryAuth) at NOW."""
    req = AWSRequest(method=method, url=url, headers=headers)
    auth = botocore.auth.S3SigV4QueryAuth(Credentials(s3.access_key, s3.secret_key, token),
                                          "s3", s3.region, expires=expires)
    fixed = datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc).replace(tzinfo=None)

    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed

    # Debian's botocore reads datetime.datetime.utcnow(); later ones get_current_datetime().
    if hasattr(botocore.auth, "get_current_datetime"):
        patch = mock.patch("botocore.auth.get_current_datetime", return_value=fixed)
    else:
        patch = mock.patch("botocore.auth.datetime", types.SimpleNamespace(datetime=Fixed))
    with patch:
        auth.add_auth(req)
    return req.url


@pytest.mark.parametrize("case", [
    ("GET", "", "0", "", "", "0", {}),
    ("HEAD", "", "0", "", "", "0", {}),
    ("PUT", "1234", "1", "video/mp4", "", "0",
     {"Content-Length": "1234", "If-None-Match": "*", "Content-Type": "video/mp4"}),
    ("PUT", "5242880", "0", "", "2~AbC_d-e.f/g+h=", "7", {"Content-Length": "5242880"}),
])
def test_presign_is_botocores(s3, bucket, case):
    method, length, inm, ctype, upload_id, part, headers = case
    env = store_env(s3, bucket)
    ans = mg(env, "presign", method, "uploads/u9/clip.mp4", "900", length, inm, ctype,
             upload_id, part, str(NOW))
    assert ans["status"] == "ok", ans
    url = f"{s3.endpoint}/{bucket}/{PREFIX}uploads/u9/clip.mp4"
    if upload_id:
        from urllib.parse import quote
        url += f"?partNumber={part}&uploadId={quote(upload_id, safe='-_.~')}"
    assert ans["url"] == botocore_presign(s3, method, url, headers, 900)


@pytest.mark.parametrize("token", ["FwoGZXIvYXdzE+/=token", "IQoJb3JpZ2luX2Vj+/=" * 100])
def test_presign_with_a_session_token(s3, bucket, token):
    """STS tokens run to a few thousand characters, with + / = to encode."""
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_SESSION_TOKEN=token)
    ans = mg(env, "presign", "GET", "media/j/a.ts", "60", "", "0", "", "", "0", str(NOW))
    url = f"{s3.endpoint}/{bucket}/{PREFIX}media/j/a.ts"
    assert ans["url"] == botocore_presign(s3, "GET", url, {}, 60, token=token)


def test_presigned_urls_work_on_the_store(s3, bucket, tmp_path):
    env = store_env(s3, bucket)
    body = tmp_path / "body"
    body.write_bytes(b"0123456789")
    put = mg(env, "presign", "PUT", "uploads/u2/v.mp4", "600", "10", "1", "", "", "0", "0")["url"]
    # Another length than the signed one is refused by the store itself.
    longer = tmp_path / "longer"
    longer.write_bytes(b"0123456789AB")
    inm = ("-H", "If-None-Match: *")
    assert curl(put, "-T", str(longer), *inm)[0] == 403
    assert curl(put, "-T", str(body))[0] == 403  # without the signed header
    assert curl(put, "-T", str(body), *inm)[0] == 200
    # If-None-Match was signed: the same URL cannot write the key again.
    assert curl(put, "-T", str(body), *inm)[0] == 412
    get = mg(env, "presign", "GET", "uploads/u2/v.mp4", "600", "", "0", "", "", "0", "0")["url"]
    assert curl(get) == (200, b"0123456789")
    # For another key: refused.
    assert curl(get.replace("/u2/v.mp4?", "/u2/w.mp4?"))[0] == 403
    # Expired: refused.
    old = mg(env, "presign", "GET", "uploads/u2/v.mp4", "1", "", "0", "", "", "0",
             str(int(time.time()) - 3600))["url"]
    code, answer = curl(old)
    assert code == 403 and b"AccessDenied" in answer


def test_public_url(s3, bucket):
    env = store_env(s3, bucket)
    assert mg(env, "public-url", "media/j/master.m3u8")["url"] == \
        f"{s3.endpoint}/{bucket}/{PREFIX}media/j/master.m3u8"
    env["MEDIAGATE_STORAGE_PUBLIC_URL"] = "https://cdn.example.com/v"
    assert mg(env, "public-url", "media/j/master.m3u8")["url"] == \
        f"https://cdn.example.com/v/{PREFIX}media/j/master.m3u8"


# --- streamed files, multipart, listing --------------------------------------

MIB = 1 << 20


def make_file(path, size):
    """A file of size bytes that is not all one pattern (parts differ)."""
    with open(path, "wb") as f:
        block = os.urandom(MIB)
        for i in range(size // MIB):
            f.write(bytes([i & 0xff]) + block[1:])
        f.write(block[: size % MIB])
    return path


def sha(path):
    return subprocess.run(["sha256sum", str(path)], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def test_put_file_multipart_and_get_file(s3, bucket, tmp_path):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_PART_BYTES=str(5 * MIB))
    src = make_file(tmp_path / "big", 12 * MIB + 12345)
    put = mg(env, "put-file", "media/j2/big.ts", str(src), "--content-type=video/mp2t",
             "--cache-control=public, max-age=31536000, immutable")
    assert put["status"] == "ok", put
    head = client(s3).head_object(Bucket=bucket, Key=PREFIX + "media/j2/big.ts")
    # Three parts: S3's multipart ETag ends with -3.
    assert head["ETag"].endswith('-3"') and put["etag"] == head["ETag"]
    assert head["ContentLength"] == 12 * MIB + 12345 == put["size"]
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"] == "video/mp2t" == put["content_type"]
    # Nothing left half-done.
    assert not client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads")
    out = tmp_path / "back"
    got = mg(env, "get-file", "media/j2/big.ts", str(out), str(13 * MIB), "")
    assert got["status"] == "ok" and got["size"] == 12 * MIB + 12345
    assert sha(out) == sha(src) and (out.stat().st_mode & 0o777) == 0o600
    # If-Match: the ETag it has reads, another is refused.
    assert mg(env, "get-file", "media/j2/big.ts", str(out), str(13 * MIB),
              head["ETag"])["status"] == "ok"
    changed = mg(env, "get-file", "media/j2/big.ts", str(out), str(13 * MIB), '"abc"')
    assert changed["status"] == "precondition failed" and not out.exists()
    # Over the cap: refused, and no file is left.
    big = mg(env, "get-file", "media/j2/big.ts", str(out), str(12 * MIB), "")
    assert big["status"] == "too large" and not out.exists()
    assert mg(env, "get-file", "media/j2/none.ts", str(out), "100", "")["status"] == "not found"
    assert not out.exists()


def test_small_put_file_is_one_put(s3, bucket, tmp_path):
    env = store_env(s3, bucket)
    src = make_file(tmp_path / "small", 300000)
    put = mg(env, "put-file", "media/j3/a.ts", str(src), "--if-none-match")
    assert put["status"] == "ok" and "-" not in put["etag"]
    again = mg(env, "put-file", "media/j3/a.ts", str(src), "--if-none-match")
    assert again["status"] == "precondition failed"


def test_multipart_if_none_match(s3, bucket, tmp_path):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_PART_BYTES=str(5 * MIB))
    src = make_file(tmp_path / "big", 6 * MIB)
    assert mg(env, "put-file", "uploads/u3/a.mp4", str(src), "--if-none-match")["status"] == "ok"
    again = mg(env, "put-file", "uploads/u3/a.mp4", str(src), "--if-none-match")
    assert again["status"] == "precondition failed"


def test_client_multipart_with_presigned_parts(s3, bucket, tmp_path):
    """The parts a client sends itself: create, presigned UploadPart URLs
    used by curl, completion from ListParts; and an abort."""
    env = store_env(s3, bucket)
    key = "uploads/u4/movie.mp4"
    created = mg(env, "mp-create", key, "--content-type=video/mp4")
    assert created["status"] == "ok" and created["upload_id"]
    uid = created["upload_id"]
    src = make_file(tmp_path / "movie", 5 * MIB + 777)
    data = src.read_bytes()
    parts = [data[:5 * MIB], data[5 * MIB:]]
    for i, part in enumerate(parts, 1):
        f = tmp_path / f"part{i}"
        f.write_bytes(part)
        url = mg(env, "presign", "PUT", key, "600", str(len(part)), "0", "", uid, str(i), "0")
        assert curl(url["url"], "-T", str(f))[0] == 200
    done = mg(env, "mp-complete", key, uid)
    assert done["status"] == "ok" and done["size"] == len(data), done
    obj = client(s3).get_object(Bucket=bucket, Key=PREFIX + key)
    assert obj["Body"].read() == data and obj["ETag"] == done["etag"]
    assert obj["ContentType"] == "video/mp4"
    # Completed: the id is spent.
    assert mg(env, "mp-complete", key, uid)["status"] == "not found"
    # An abandoned one is aborted; aborting twice is fine.
    uid2 = mg(env, "mp-create", "uploads/u5/x.mp4")["upload_id"]
    assert mg(env, "mp-complete", "uploads/u5/x.mp4", uid2)["status"] == "error"  # no parts
    assert mg(env, "mp-abort", "uploads/u5/x.mp4", uid2)["status"] == "ok"
    assert mg(env, "mp-abort", "uploads/u5/x.mp4", uid2)["status"] == "ok"
    assert not client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_list_and_delete_prefix(s3, bucket):
    """More keys than one listing page (1000) and one DeleteObjects call."""
    from concurrent.futures import ThreadPoolExecutor
    c = client(s3)
    keys = [f"media/j5/seg{i:05d}.ts" for i in range(1003)]

    def put(k):
        c.put_object(Bucket=bucket, Key=PREFIX + k, Body=k.encode())
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(put, keys))
    c.put_object(Bucket=bucket, Key=PREFIX + "media/j50/keep.ts", Body=b"k")
    c.put_object(Bucket=bucket, Key="media/j5/outside-the-prefix.ts", Body=b"k")
    # Not a key mediagate makes: neither listed nor deleted.
    c.put_object(Bucket=bucket, Key=PREFIX + "media/j5/a&b <c>.ts", Body=b"k")
    env = store_env(s3, bucket)
    listed = mg(env, "list", "media/j5/", "0")
    assert listed["status"] == "ok"
    assert [k["key"] for k in listed["keys"]] == keys
    assert listed["keys"][0]["size"] == len(keys[0]) and listed["keys"][0]["etag"]
    first = mg(env, "list", "media/j5/", "3")
    assert [k["key"] for k in first["keys"]] == keys[:3]
    assert mg(env, "delete-prefix", "media/j5/")["status"] == "ok"
    assert mg(env, "list", "media/j5/", "0")["keys"] == []
    assert [k["key"] for k in mg(env, "list", "media/", "0")["keys"]] == ["media/j50/keep.ts"]
    c.head_object(Bucket=bucket, Key="media/j5/outside-the-prefix.ts")
    c.head_object(Bucket=bucket, Key=PREFIX + "media/j5/a&b <c>.ts")
    assert mg(env, "delete-prefix", "media/j5")["err"] == "a prefix must end with /"


# --- faults --------------------------------------------------------------------


@pytest.fixture
def proxy(s3):
    """A fault proxy in front of the store (tests/lib/s3_fault_proxy.py)."""
    import s3_fault_proxy
    p = s3_fault_proxy.FaultProxy(s3.port).start()
    yield p
    p.stop()


def test_slow_down_is_retried_after_retry_after(s3, bucket, proxy):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint,
                    MEDIAGATE_STORAGE_RETRIES="3")
    proxy.slow_down(2, retry_after=1)
    ans = mg(env, "put-mem", "media/j6/a.ts", "after two SlowDowns")
    assert ans["status"] == "ok", ans
    statuses = [e[3] for e in proxy.log]
    assert statuses == [503, 503, 200], proxy.log
    # The client waited as the store asked (measured where the requests arrive).
    gaps = [b[0] - a[0] for a, b in zip(proxy.log, proxy.log[1:])]
    assert all(g >= 0.9 for g in gaps), gaps
    assert mg(store_env(s3, bucket), "get-mem", "media/j6/a.ts", "100")["data"] == \
        "after two SlowDowns"


def test_slow_down_past_the_retries_is_try_again(s3, bucket, proxy):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint,
                    MEDIAGATE_STORAGE_RETRIES="2")
    proxy.slow_down(100, retry_after=0)
    ans = mg(env, "head", "media/j6/none")
    assert ans["status"] == "try again" and ans["retry_after"] == 0, ans
    assert ans["err"] == "media/j6/none: HEAD 503"  # a HEAD's answer has no body
    assert [e[3] for e in proxy.log] == [503, 503, 503]  # one try and two retries
    # Without Retry-After: an exponential backoff, still bounded.
    proxy.clear()
    proxy.slow_down(100)
    ans = mg(env, "put-mem", "media/j6/b", "x")
    assert ans["status"] == "try again" and ans["retry_after"] == -1, ans
    assert ans["err"] == "media/j6/b: PUT 503 SlowDown"
    assert len(proxy.log) == 3
    gaps = [b[0] - a[0] for a, b in zip(proxy.log, proxy.log[1:])]
    assert gaps[1] >= gaps[0] * 0.5 and all(g >= 0.09 for g in gaps), gaps


def test_a_long_retry_after_is_the_callers(s3, bucket, proxy):
    """A Retry-After longer than the client waits itself ends the call at
    once with it, for the caller to snooze on."""
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint,
                    MEDIAGATE_STORAGE_RETRIES="3")
    proxy.slow_down(1, retry_after=120)
    ans = mg(env, "put-mem", "media/j6/c", "x")
    assert (ans["status"], ans["retry_after"]) == ("try again", 120), ans
    assert len(proxy.log) == 1


def test_a_slow_store_is_no_answer(s3, bucket, proxy):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint,
                    MEDIAGATE_STORAGE_TIMEOUT_MS="500", MEDIAGATE_STORAGE_RETRIES="1")
    proxy.delay(3)
    ans = mg(env, "head", "media/j6/none")
    assert ans["status"] == "try again" and "did not answer" in ans["err"], ans
    proxy.delay(0)
    assert mg(env, "put-mem", "media/j6/d", "fast again")["status"] == "ok"


def test_store_down_and_back(s3, bucket):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_RETRIES="0")
    assert mg(env, "put-mem", "media/j7/a", "before")["status"] == "ok"
    s3.kill_rgw()
    try:
        down = mg(env, "get-mem", "media/j7/a", "100")
        assert down["status"] == "try again" and "did not answer" in down["err"], down
        assert mg(env, "put-mem", "media/j7/b", "x")["status"] == "try again"
    finally:
        s3.start_rgw()
    assert mg(env, "get-mem", "media/j7/a", "100")["data"] == "before"
    assert mg(env, "put-mem", "media/j7/b", "after")["status"] == "ok"


# --- check-config --connect ----------------------------------------------------


def check_config(env):
    r = subprocess.run([os.environ.get("MG_BIN", "build-test/mediagate"), "check-config",
                        "--connect"], env=env, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_check_config_connect(s3, bucket):
    env = store_env(s3, bucket)
    rc, out, err = check_config(env)
    assert rc == 0, err
    assert out == (f"configuration OK\nstorage: bucket {bucket} answers; a write and a delete "
                   f"under '{PREFIX}' worked\n")
    # It left nothing behind.
    assert not client(s3).list_objects_v2(Bucket=bucket).get("Contents")


@pytest.mark.parametrize("fault, says", [
    ({"MEDIAGATE_STORAGE_BUCKET": "mg-missing"},
     "storage: HEAD of the bucket mg-missing: the bucket does not exist (check "
     "MEDIAGATE_STORAGE_BUCKET and MEDIAGATE_STORAGE_ADDRESSING): the bucket: HEAD 404\n"),
    ({"MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": "wrong-secret-wrong-secret"},
     "the store refuses the credentials or the request (check MEDIAGATE_STORAGE_ACCESS_KEY_ID, "
     "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY, MEDIAGATE_STORAGE_REGION and the key's "
     "permissions): the bucket: HEAD 403\n"),
    ({"MEDIAGATE_STORAGE_ENDPOINT": "http://127.0.0.1:9", "MEDIAGATE_STORAGE_RETRIES": "0"},
     "the store did not answer, or answered 5xx (check MEDIAGATE_STORAGE_ENDPOINT): the "
     "bucket: the store did not answer: Couldn't connect to server\n"),
])
def test_check_config_connect_says_what_failed(s3, bucket, fault, says):
    rc, out, err = check_config(store_env(s3, bucket, **fault))
    assert rc == 1 and err.endswith(says), err
    assert out == "", "no 'configuration OK' after a failure line"
    assert s3.secret_key not in err


def test_check_config_connect_without_credentials(s3, bucket):
    env = store_env(s3, bucket)
    del env["MEDIAGATE_STORAGE_ACCESS_KEY_ID"], env["MEDIAGATE_STORAGE_SECRET_ACCESS_KEY"]
    rc, out, err = check_config(env)
    assert rc == 1 and err.startswith("storage: no credentials: set "
                                      "MEDIAGATE_STORAGE_ACCESS_KEY_ID"), err
    assert err.count("\n") == 1 and out == "", "that line alone: no request was sent"


def test_check_config_refuses_virtual_addressing_on_an_ip_address(s3, bucket):
    """<bucket>.127.0.0.1 never resolves: the settings say so, naming
    MEDIAGATE_STORAGE_ADDRESSING, before any request."""
    rc, out, err = check_config(store_env(s3, bucket, MEDIAGATE_STORAGE_ADDRESSING="virtual"))
    assert rc != 0 and "MEDIAGATE_STORAGE_ADDRESSING is virtual" in err, err
    assert "resolve" not in err and "configuration OK" not in out, (out, err)


def test_check_config_refuses_s3_without_a_bucket(s3):
    env = store_env(s3, "x")
    env["MEDIAGATE_STORAGE_BUCKET"] = ""
    env["MEDIAGATE_STORAGE_PREFIX"] = "/bad"
    rc, out, err = check_config(env)
    assert rc != 0
    assert "MEDIAGATE_STORAGE_BUCKET is required when MEDIAGATE_STORAGE is s3" in err
    assert "MEDIAGATE_STORAGE_PREFIX must be" in err


# --- bounded memory -------------------------------------------------------------


@pytest.mark.parametrize("part_bytes", [5 * MIB, 5 << 30], ids=["multipart", "one-put"])
def test_streamed_put_and_get_hold_no_file_in_memory(s3, bucket, tmp_path, part_bytes):
    """The process's peak RSS (getrusage, after the call) does not grow
    with the file: 4 MiB and 128 MiB cost the same, within a few MiB."""
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_PART_BYTES=str(part_bytes))
    rss = {}
    for size in (4 * MIB, 128 * MIB):
        src = make_file(tmp_path / "src", size)
        key = f"media/j8/{size}.ts"
        put = mg(env, "put-file", key, str(src))
        assert put["status"] == "ok" and put["size"] == size, put
        out = tmp_path / "out"
        got = mg(env, "get-file", key, str(out), str(size), "")
        assert got["status"] == "ok" and sha(out) == sha(src)
        rss[size] = (put["rss_kib"], got["rss_kib"])
        src.unlink()
        out.unlink()
        assert mg(env, "delete", key)["status"] == "ok"
    small, big = rss[4 * MIB], rss[128 * MIB]
    assert big[0] - small[0] < 8192 and big[1] - small[1] < 8192, rss


# --- local storage (the default) -------------------------------------------------


def test_local_storage_behind_the_same_calls(tmp_path):
    dirs = {d: tmp_path / d for d in ("media", "uploads")}
    for d in dirs.values():
        d.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAGATE_", "AWS_"))}
    env.update({"MEDIAGATE_DATABASE_URL": "dbname=unused",
                "MEDIAGATE_MEDIA_DIR": str(dirs["media"]),
                "MEDIAGATE_UPLOADS_DIR": str(dirs["uploads"])})
    put = mg(env, "put-mem", "media/j9/master.m3u8", "#EXTM3U\n")
    assert put["status"] == "ok" and put["size"] == 8
    assert (dirs["media"] / "j9" / "master.m3u8").read_text() == "#EXTM3U\n"
    head = mg(env, "head", "media/j9/master.m3u8")
    assert head["etag"] == put["etag"] and head["size"] == 8
    assert mg(env, "get-mem", "media/j9/master.m3u8", "8")["data"] == "#EXTM3U\n"
    assert mg(env, "get-mem", "media/j9/master.m3u8", "7")["status"] == "too large"
    assert mg(env, "put-mem", "media/j9/master.m3u8", "x", "--if-none-match")["status"] == \
        "precondition failed"
    src = make_file(tmp_path / "src", 3 * MIB)
    assert mg(env, "put-file", "uploads/u1/v.mp4", str(src))["status"] == "ok"
    out = tmp_path / "out"
    assert mg(env, "get-file", "uploads/u1/v.mp4", str(out), str(3 * MIB), "")["status"] == "ok"
    assert sha(out) == sha(src)
    assert mg(env, "get-file", "uploads/u1/v.mp4", str(out), "100", "")["status"] == "too large"
    assert not out.exists()
    mg(env, "put-mem", "media/j9/v720/seg0.ts", "a")
    mg(env, "put-mem", "media/j90/keep.ts", "b")
    listed = [k["key"] for k in mg(env, "list", "media/j9/", "0")["keys"]]
    assert listed == ["media/j9/master.m3u8", "media/j9/v720/seg0.ts"]
    assert mg(env, "delete-prefix", "media/j9/")["status"] == "ok"
    assert mg(env, "list", "media/j9/", "0")["keys"] == []
    assert not (dirs["media"] / "j9").exists()  # the job's directory went with its files
    assert mg(env, "head", "media/j90/keep.ts")["status"] == "ok"
    assert mg(env, "head", "media/j9/master.m3u8")["status"] == "not found"
    # No directory for recordings/: refused, not written anywhere.
    assert mg(env, "put-mem", "recordings/s1/a.flv", "x")["status"] == "error"
    assert mg(env, "presign", "GET", "media/j90/keep.ts", "60", "", "0", "", "", "0",
              "0")["status"] == "error"
    assert mg(env, "public-url", "media/j90/keep.ts")["url"] == "/media-files/j90/keep.ts"
    assert mg(env, "mp-create", "uploads/u2/x")["status"] == "error"
    assert mg(env, "check")["status"] == "ok"


def test_public_read_objects_need_no_signature(s3, bucket):
    env = store_env(s3, bucket)
    assert mg(env, "put-mem", "media/j10/open.ts", "open", "--public")["status"] == "ok"
    assert mg(env, "put-mem", "media/j10/closed.ts", "closed")["status"] == "ok"
    assert curl(mg(env, "public-url", "media/j10/open.ts")["url"]) == (200, b"open")
    assert curl(mg(env, "public-url", "media/j10/closed.ts")["url"])[0] == 403


# --- docs/storage.md, as written ---------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "storage.md"


def doc_blocks():
    """The fenced blocks of docs/storage.md: (language, text)."""
    blocks, lang, lines = [], None, None
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            if lines is None:
                lang, lines = line[3:].strip(), []
            else:
                blocks.append((lang, "\n".join(lines) + "\n"))
                lines = None
        elif lines is not None:
            lines.append(line)
    return blocks


def test_docs_check_config_transcript(s3):
    """docs/storage.md's `$ mediagate check-config --connect` and its
    failure line are what the command prints, on a bucket named as there."""
    try:
        client(s3).create_bucket(Bucket="media")
    except client(s3).exceptions.BucketAlreadyOwnedByYou:
        pass
    transcript = next(t for _, t in doc_blocks() if t.startswith("$ mediagate check-config"))
    command, *want = transcript.splitlines()
    assert command == "$ mediagate check-config --connect"
    rc, out, err = check_config(store_env(s3, "media", MEDIAGATE_STORAGE_PREFIX="mediagate/"))
    assert rc == 0 and out.splitlines() == want, (out, err)
    failure = next(t for _, t in doc_blocks() if t.startswith("storage: HEAD"))
    rc, out, err = check_config(store_env(s3, "media", MEDIAGATE_STORAGE_PREFIX="mediagate/",
                                          MEDIAGATE_STORAGE_SECRET_ACCESS_KEY="wrong-secret-1"))
    assert rc == 1 and err == failure, err


def test_docs_bucket_rules_apply(s3, bucket):
    """The lifecycle rule and the CORS document of docs/storage.md are
    accepted by the store as written, and read back the same."""
    lifecycle, cors = [json.loads(t) for lang, t in doc_blocks() if lang == "json"]
    c = client(s3)
    c.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle)
    rules = c.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    c.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)
    got = c.get_bucket_cors(Bucket=bucket)["CORSRules"][0]
    assert got["AllowedOrigins"] == ["https://app.example.com"]
    assert sorted(got["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    assert got["ExposeHeaders"] == ["ETag"]


def test_ceph_memstore_size_is_a_parameter(tmp_path):
    """Benchmarks start a store with room for their files."""
    import ceph_rgw
    store = ceph_rgw.CephRgw(tmp_path, memstore_bytes=3 << 30)
    conf = ceph_rgw.CONF.format(fsid="x", dir=tmp_path, mon_port=1, rgw_port=2,
                                memstore_bytes=store.memstore_bytes)
    assert "memstore device bytes = 3221225472" in conf
    r = subprocess.run([sys.executable, str(Path(ceph_rgw.__file__)), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert "--memstore-bytes" in r.stdout


def test_ceph_rgw_makes_its_parent_directory(tmp_path):
    """`python3 tests/lib/ceph_rgw.py DIR` with a DIR that does not exist yet."""
    import ceph_rgw
    store = ceph_rgw.CephRgw(tmp_path / "new" / "dir")

    def stop_here():
        raise RuntimeError("stop before the cluster")
    store._start = stop_here
    with pytest.raises(RuntimeError, match="stop before the cluster"):
        store.start()
    assert (tmp_path / "new" / "dir").is_dir()


def test_virtual_hosted_addressing(s3, bucket):
    """<bucket>.<endpoint host>: RGW serves it for its dns name (localhost),
    and curl resolves every *.localhost to loopback."""
    endpoint = s3.endpoint.replace("127.0.0.1", "localhost")
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=endpoint,
                    MEDIAGATE_STORAGE_ADDRESSING="virtual")
    assert mg(env, "put-mem", "media/j11/a.txt", "virtual")["status"] == "ok"
    assert client(s3).get_object(Bucket=bucket, Key=PREFIX + "media/j11/a.txt")["Body"].read() \
        == b"virtual"
    assert [k["key"] for k in mg(env, "list", "media/j11/", "0")["keys"]] == ["media/j11/a.txt"]
    url = mg(env, "presign", "GET", "media/j11/a.txt", "60", "", "0", "", "", "0", "0")["url"]
    assert url.startswith(f"http://{bucket}.localhost:{s3.port}/{PREFIX}media/j11/a.txt?")
    assert curl(url) == (200, b"virtual")
    assert mg(env, "public-url", "media/j11/a.txt")["url"] == \
        f"http://{bucket}.localhost:{s3.port}/{PREFIX}media/j11/a.txt"
    assert check_config(env)[0] == 0


def test_a_lost_answer_to_a_conditional_write_is_no_failure(s3, bucket, proxy, tmp_path):
    """The store wrote, its answer was lost, the retry is refused 412
    because of that very write: the write is ours, and reported done.
    Another writer's object under the key is still a conflict."""
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint,
                    MEDIAGATE_STORAGE_RETRIES="2")
    proxy.lose_answers(1, "PUT")
    ans = mg(env, "put-mem", "uploads/u6/a.mp4", "mine", "--if-none-match")
    assert ans["status"] == "ok", (ans, proxy.log)
    assert [e[3] for e in proxy.log if e[1] == "PUT"] == ["lost 200", 412]
    assert ans["etag"] and ans["size"] == 4
    src = make_file(tmp_path / "f", 1000)
    proxy.clear()
    proxy.lose_answers(1, "PUT")
    assert mg(env, "put-file", "uploads/u6/b.mp4", str(src), "--if-none-match")["status"] == "ok"
    # Someone else's object is not mistaken for ours.
    proxy.clear()
    proxy.lose_answers(1, "PUT")
    client(s3).put_object(Bucket=bucket, Key=PREFIX + "uploads/u6/c.mp4", Body=b"theirs")
    ans = mg(env, "put-mem", "uploads/u6/c.mp4", "mine", "--if-none-match")
    assert ans["status"] == "precondition failed", ans


def test_a_lost_completion_answer_is_no_failure(s3, bucket, proxy, tmp_path):
    """CompleteMultipartUpload done by the store, its answer lost: the
    retry (RGW answers it 200 again; S3 may answer NoSuchUpload, which is
    checked with a HEAD) reports the object written, whole."""
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint,
                    MEDIAGATE_STORAGE_PART_BYTES=str(5 * MIB), MEDIAGATE_STORAGE_RETRIES="2")
    src = make_file(tmp_path / "big", 6 * MIB)
    proxy.lose_answers(1, "POST", skip=1)  # the create is answered, the completion is not
    put = mg(env, "put-file", "media/j12/b.ts", str(src))
    assert put["status"] == "ok" and put["size"] == 6 * MIB, (put, proxy.log)
    posts = [e[3] for e in proxy.log if e[1] == "POST"]
    assert posts[:2] == [200, "lost 200"] and posts[2] in (200, 404), proxy.log
    head = client(s3).head_object(Bucket=bucket, Key=PREFIX + "media/j12/b.ts")
    assert head["ContentLength"] == 6 * MIB and head["ETag"] == put["etag"]
    assert not client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_a_lost_create_answer_leaves_one_upload_for_the_lifecycle_rule(s3, bucket, proxy,
                                                                         tmp_path):
    """A create whose answer is lost is sent again: the write succeeds, and
    the first upload, whose id never arrived, is left for the bucket's
    lifecycle rule (docs/storage.md) to abort."""
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint,
                    MEDIAGATE_STORAGE_PART_BYTES=str(5 * MIB), MEDIAGATE_STORAGE_RETRIES="2")
    src = make_file(tmp_path / "big", 6 * MIB)
    proxy.lose_answers(1, "POST")
    assert mg(env, "put-file", "media/j13/a.ts", str(src))["status"] == "ok"
    left = client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["Key"] for u in left] == [PREFIX + "media/j13/a.ts"]


# --- progress and cancelling (a worker's lease and cancel flag) --------------------


def test_progress_is_reported_while_the_store_is_slow(s3, bucket, proxy, tmp_path):
    """A transfer waiting on a slow store still calls the progress function
    (a worker beats its lease there), about once a second."""
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint)
    src = make_file(tmp_path / "f", MIB)
    proxy.delay(3.5)
    put = mg(env, "put-file", "media/j14/a.ts", str(src), "--progress")
    assert put["status"] == "ok", put
    assert put["progress_calls"] >= 3, put
    assert put["progress_total"] == MIB
    proxy.delay(0)
    out = tmp_path / "out"
    got = mg(env, "get-file", "media/j14/a.ts", str(out), str(MIB), "", "--progress")
    assert got["status"] == "ok" and got["progress_calls"] >= 1 and got["progress_total"] == -1


def test_cancel_leaves_nothing(s3, bucket, tmp_path):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_PART_BYTES=str(5 * MIB))
    src = make_file(tmp_path / "big", 12 * MIB)
    put = mg(env, "put-file", "media/j15/a.ts", str(src), "--cancel")
    assert put["status"] == "error" and put["err"].endswith("cancelled"), put
    assert put["progress_calls"] == 1
    assert mg(env, "head", "media/j15/a.ts")["status"] == "not found"
    assert not client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads")
    small = make_file(tmp_path / "small", MIB)
    put = mg(env, "put-file", "media/j15/b.ts", str(small), "--cancel")
    assert put["status"] == "error" and put["err"].endswith("cancelled"), put
    assert mg(env, "head", "media/j15/b.ts")["status"] == "not found"
    assert mg(env, "put-file", "media/j15/b.ts", str(small))["status"] == "ok"
    out = tmp_path / "out"
    got = mg(env, "get-file", "media/j15/b.ts", str(out), str(MIB), "", "--cancel")
    assert got["status"] == "error" and got["err"].endswith("cancelled") and not out.exists()
