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
    assert head["ContentType"] == "video/mp2t"
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
    assert mg(env, "delete-prefix", "media/j5")["err"] == "a prefix must end with /"
