"""The storage layer (app/storage/) against a real S3 store, Ceph's RADOS
Gateway (tests/lib/ceph_rgw.py): every call of storage.h through
tests/lib/store_exec.c (mediagate's own client, one call a process),
checked with botocore (AWS's SDK core) on the other side; presigned URLs
compared byte for byte with botocore's own presigner and used with curl;
the faults a store has (wrong credentials, no bucket)."""

import datetime
import itertools
import json
import os
import subprocess
import time
import types
from unittest import mock

import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

STORE_EXEC = os.environ.get("MG_STORE_EXEC", "build-test/tests/pytest/store_exec")
_buckets = itertools.count(1)
PREFIX = "pfx/"


def client(s3):
    return botocore.session.get_session().create_client(
        "s3", region_name=s3.region, endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


@pytest.fixture
def bucket(s3):
    name = f"mg-storage-{next(_buckets)}"
    client(s3).create_bucket(Bucket=name)
    return name


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
    head = mg(env, "head", "media/j1/master.m3u8")
    assert (head["status"], head["size"], head["etag"]) == ("ok", 8, obj["ETag"])
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


def test_presign_with_a_session_token(s3, bucket):
    env = store_env(s3, bucket, MEDIAGATE_STORAGE_SESSION_TOKEN="FwoGZXIvYXdzE+/=token")
    ans = mg(env, "presign", "GET", "media/j/a.ts", "60", "", "0", "", "", "0", str(NOW))
    url = f"{s3.endpoint}/{bucket}/{PREFIX}media/j/a.ts"
    assert ans["url"] == botocore_presign(s3, "GET", url, {}, 60, token="FwoGZXIvYXdzE+/=token")


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
