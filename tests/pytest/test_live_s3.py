"""Live broadcasts on S3 storage, against a real store (Ceph's RADOS
Gateway, tests/lib/ceph_rgw.py):

- a stopped stream's recordings (nginx-rtmp's FLV recording of a real RTMP
  publish, and the MPEG-TS segments ffmpeg PUT through the project's nginx
  snippet) are copied from the ingest host's disk into the store by the
  stream.archive task, in broadcast order, byte for byte, and only then is
  the VOD job's encode queued, once; the job completes;
- the store down while the archive runs: the task waits and retries, no
  encode is queued meanwhile, and once the store is back everything is in;
  the ingest worker killed while its archive waits on the store: another
  attempt does it all after the lease; only the attempt holding the task
  queues the encode, once; a lost record_done loses nothing (the archive
  reads the directory);
- without MEDIAGATE_INGEST_HOST (or on local storage) nothing changes: the
  archive kind is not registered and the encode is queued directly;
- /stream/start's S3 endpoint gets temporary credentials from the same
  store's STS (AssumeRole with a session policy): a write under the
  stream's prefix works, one outside it (another stream's prefix, the
  outputs) and a read are refused by the store itself; S3_POST names the
  store's URL, and the store enforces its policy."""

import itertools
import os
import re
import signal
import subprocess
import urllib.parse
from pathlib import Path

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import mgstack
from mgstack import wait_until

WAIT_S = 180
_buckets = itertools.count(1)


def client(s3, **creds):
    return botocore.session.get_session().create_client(
        "s3", region_name=s3.region, endpoint_url=s3.endpoint,
        aws_access_key_id=creds.get("key", s3.access_key),
        aws_secret_access_key=creds.get("secret", s3.secret_key),
        aws_session_token=creds.get("token"),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))


@pytest.fixture
def bucket(s3):
    name = f"mg-live-{next(_buckets)}"
    client(s3).create_bucket(Bucket=name)
    return name


def live_env(rundir, s3, bucket, ingest="on"):
    return {
        "MEDIAGATE_THREADS": "4",
        "MEDIAGATE_LEASE_SECONDS": "5",
        "MEDIAGATE_RENDITIONS": "240",
        "MEDIAGATE_MEDIA_DIR": f"{rundir}/media",
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": s3.endpoint,
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": bucket,
        "MEDIAGATE_STORAGE_ADDRESSING": "path",
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIAGATE_RTMP_URL": "rtmp://127.0.0.1:1935/live",
        "MEDIAGATE_HLS_URL": "http://127.0.0.1/hls",
        "MEDIAGATE_UPLOAD_URL": "http://127.0.0.1/live",
        "MEDIAGATE_RECORDINGS_DIR": f"{rundir}/recordings",
        "MEDIAGATE_LIVE_DIR": f"{rundir}/upload/live",
        "MEDIAGATE_INGEST_HOST": ingest,
    }


@pytest.fixture
def mg_env(rundir, s3, bucket):
    return live_env(rundir, s3, bucket)


@pytest.fixture
def nginx_includes():
    return ("upload_conf",)


@pytest.fixture
def rtmp(stack):
    """nginx-rtmp in the stack's nginx (lib.sh's rtmp_conf: the project's
    nginx/mediagate-rtmp.conf, recording into RUN/recordings); its port."""
    port = mgstack.free_port()
    r = mgstack.lib_sh(f"rtmp_conf {port}", {**stack.nginx._env()})
    assert r.returncode == 0, r.stderr
    stack.nginx.stop()
    stack.env["NGINX_MAIN_EXTRA"] = r.stdout
    stack.nginx.start()
    return port


def archive_registered(stack):
    return stack.db.one("SELECT count(*) FROM task_kinds WHERE name = 'stream.archive'") == 1


def start_stream(stack, name):
    key = stack.mg("apikey", "create", "broadcaster")
    auth = ["-H", f"Authorization: Bearer {key}"]
    r = stack.curl("-X", "POST", *auth, "-d", "type=hls", "-d", f"name={name}", "/stream/start")
    assert r.status == 200, r
    return auth, r.json()


def ffmpeg_src(seconds):
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
            "-i", "testsrc=size=160x120:rate=25", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", "25", "-t", str(seconds)]


def put_broadcast(stack, start, seconds=3):
    """ffmpeg's HLS muxer PUTs SECONDS of video through nginx's PUT ingest."""
    http = start["endpoint"]["HTTP"]
    url = stack.base + urllib.parse.urlsplit(http["url"]).path
    ff = subprocess.run([*ffmpeg_src(seconds), "-f", "hls", "-hls_time", "1", "-method", "PUT",
                         "-headers", f"Authorization: {http['headers']['Authorization']}\r\n",
                         url + "index.m3u8"], capture_output=True, text=True, timeout=120)
    assert ff.returncode == 0, ff.stderr


def stop(stack, auth, sid):
    r = stack.curl("-X", "POST", *auth, "-d", f"id={sid}", "/stream/stop")
    assert r.status == 200, r
    assert wait_until(lambda: stack.db.one("SELECT vod_job_id FROM streams WHERE id = %s", sid), WAIT_S)
    return stack.db.one("SELECT vod_job_id FROM streams WHERE id = %s", sid)


def tasks(stack, job):
    return stack.db.rows("SELECT id, kind, payload, done_at IS NOT NULL, last_error FROM outbox "
                         "WHERE payload->>'job_id' = %s ORDER BY id", job)


def stored(s3, bucket, prefix):
    c = client(s3)
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {k: c.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def segments_in_order(d):
    """The .ts files of D as the worker joins them: by mtime, then name."""
    files = [p for p in d.iterdir() if p.suffix == ".ts"]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def test_recordings_reach_the_store_before_the_encode(stack, workers, rtmp, s3, bucket):
    # A worker of another host first: it never claims the archive.
    workers.start(MEDIAGATE_INGEST_HOST="off")
    ingest = workers.start()
    assert wait_until(lambda: archive_registered(stack), 30), workers.log()
    auth, start = start_stream(stack, "RTMP then PUT")
    sid = start["stream"]["id"]
    # A real RTMP publish, recorded by nginx-rtmp, which reports it when done.
    key = start["endpoint"]["RTMP"]["stream_key"]
    ff = subprocess.run([*ffmpeg_src(3), "-f", "flv", f"rtmp://127.0.0.1:{rtmp}/live/{key}"],
                        capture_output=True, text=True, timeout=120)
    assert ff.returncode == 0, ff.stderr
    assert wait_until(lambda: stack.db.one("SELECT cardinality(recordings) FROM streams WHERE id = %s",
                                           sid) == 1, WAIT_S), "no record_done"
    put_broadcast(stack, start)
    job = stop(stack, auth, sid)

    # The archive runs first; the encode is queued by it, once, with the keys.
    first = tasks(stack, job)[0]
    assert first[1] == "stream.archive", first
    assert wait_until(lambda: any(t[1] == "local.encode" for t in tasks(stack, job)), WAIT_S), \
        (tasks(stack, job), workers.log())
    rows = tasks(stack, job)
    assert [t[1] for t in rows] == ["stream.archive", "local.encode"], rows
    keys = [f"recordings/{sid}/0001.flv", f"recordings/{sid}/0002.ts"]
    assert rows[1][2]["keys"] == keys, rows[1][2]
    assert rows[0][3], "the archive finished before its encode ran"
    claims = re.findall(r"stream\.archive \(attempt \d+\) by [^:]+:(\d+):", workers.log())
    assert claims and set(claims) == {str(ingest.pid)}, (claims, ingest.pid)

    # Byte for byte: the recording, and the segments joined in written order.
    objs = stored(s3, bucket, f"recordings/{sid}/")
    assert sorted(objs) == keys, sorted(objs)
    flv = list((stack.run / "recordings").glob(f"{sid}-*.flv"))
    assert len(flv) == 1 and objs[keys[0]] == flv[0].read_bytes()
    segs = segments_in_order(stack.run / "upload" / "live" / sid)
    assert len(segs) >= 2 and objs[keys[1]] == b"".join(p.read_bytes() for p in segs)

    assert wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", job)
                      in ("COMPLETE", "ERROR"), WAIT_S), workers.log()
    assert stack.db.one("SELECT status, error_message FROM jobs WHERE id = %s", job) == ("COMPLETE", None)
    # A second run of the archive (a lost finish) copies nothing again.
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'local.encode' "
                        "AND payload->>'job_id' = %s", job) == 1


def test_the_store_down_during_the_archive_is_waited_out(stack, workers, s3, bucket):
    workers.start()
    assert wait_until(lambda: archive_registered(stack), 30), workers.log()
    auth, start = start_stream(stack, "PUT only")
    sid = start["stream"]["id"]
    put_broadcast(stack, start)
    s3.kill_rgw()
    try:
        job = stop(stack, auth, sid)
        # PUT segments are read 10 s after the stop; then attempts fail.
        assert wait_until(lambda: (tasks(stack, job)[0][4] or "").startswith("cannot copy"), WAIT_S), \
            (tasks(stack, job), workers.log())
        assert [t[1] for t in tasks(stack, job)] == ["stream.archive"], "an encode without its input"
    finally:
        s3.start_rgw()
    assert wait_until(lambda: any(t[1] == "local.encode" for t in tasks(stack, job)), WAIT_S), \
        (tasks(stack, job), workers.log())
    objs = stored(s3, bucket, f"recordings/{sid}/")
    segs = segments_in_order(stack.run / "upload" / "live" / sid)
    assert list(objs) == [f"recordings/{sid}/0001.ts"]
    assert objs[f"recordings/{sid}/0001.ts"] == b"".join(p.read_bytes() for p in segs)
    assert wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", job)
                      in ("COMPLETE", "ERROR"), WAIT_S), workers.log()
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "COMPLETE"


@pytest.mark.parametrize("storage, ingest", [("s3", "off"), ("local", "on")])
def test_elsewhere_the_encode_is_queued_directly(rundir, db, logs, s3, bucket, storage, ingest):
    env = {**live_env(rundir, s3, bucket, ingest), "MEDIAGATE_STORAGE": storage}
    stack = mgstack.Stack(rundir, db, env, ("upload_conf",), logs)
    w = mgstack.Workers(stack.run, stack.env)
    logs.add("worker log", w.log_path)
    try:
        w.start()
        line = wait_until(lambda: re.search(r"worker running .* kinds (\S+)", w.log()), 30)
        assert line and "local.encode" in line.group(1) and "stream.archive" not in line.group(1), \
            w.log()
        auth, start = start_stream(stack, "no archive")
        sid = start["stream"]["id"]
        put_broadcast(stack, start, seconds=2)
        job = stop(stack, auth, sid)
        assert not archive_registered(stack)
        assert [t[1] for t in tasks(stack, job)] == ["local.encode"]
    finally:
        w.kill_all()
        stack.close()


# --- STS: credentials scoped by the store itself ---------------------------------------------

ROLE = "mediagate-ingest"


@pytest.fixture
def sts_env(rundir, s3, bucket):
    s3.sts_role(ROLE)
    return {**live_env(rundir, s3, bucket),
            "MEDIAGATE_S3_BUCKET": bucket,
            "MEDIAGATE_S3_REGION": s3.region,
            "MEDIAGATE_S3_PREFIX": "live/",
            "MEDIAGATE_AWS_ACCESS_KEY_ID": s3.access_key,
            "MEDIAGATE_AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "MEDIAGATE_STS_ROLE_ARN": f"arn:aws:iam:::role/{ROLE}",
            "MEDIAGATE_STS_URL": s3.endpoint + "/",
            "MEDIAGATE_STS_REGION": s3.region,
            # A role's sessions last at most an hour unless it says more.
            "MEDIAGATE_UPLOAD_TTL": "3600"}


def test_stream_s3_credentials_are_scoped_by_the_store(rundir, db, logs, s3, bucket, sts_env):
    stack = mgstack.Stack(rundir, db, sts_env, ("upload_conf",), logs)
    try:
        auth, start = start_stream(stack, "S3 ingest")
        other_auth, other = start_stream(stack, "another")
    finally:
        stack.close()
    sid, creds = start["stream"]["id"], start["endpoint"]["S3"]
    assert creds["s3_bucket_name"] == bucket and creds["s3_bucket_path"] == f"live/{sid}/", creds
    mine = client(s3, key=creds["aws_access_key_id"], secret=creds["aws_secret_access_key"],
                  token=creds["aws_session_token"])
    mine.put_object(Bucket=bucket, Key=f"live/{sid}/index0.ts", Body=b"segment")
    assert client(s3).get_object(Bucket=bucket, Key=f"live/{sid}/index0.ts")["Body"].read() == b"segment"
    for key in (f"live/{other['stream']['id']}/index0.ts", f"media/{sid}/master.m3u8",
                f"recordings/{sid}/0001.flv", f"live/{sid}-x/a.ts"):
        with pytest.raises(ClientError) as e:
            mine.put_object(Bucket=bucket, Key=key, Body=b"outside")
        assert e.value.response["Error"]["Code"] == "AccessDenied", (key, e.value.response)
    with pytest.raises(ClientError) as e:
        mine.get_object(Bucket=bucket, Key=f"live/{sid}/index0.ts")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    # A forged session token is no credential at all.
    forged = client(s3, key=creds["aws_access_key_id"], secret=creds["aws_secret_access_key"],
                    token=creds["aws_session_token"][:-4] + "AAAA")
    with pytest.raises(ClientError):
        forged.put_object(Bucket=bucket, Key=f"live/{sid}/index1.ts", Body=b"x")
    keys = [o["Key"] for o in client(s3).list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == [f"live/{sid}/index0.ts"], keys


def post_upload(fields, url, path, **override):
    """A browser's form upload (S3 POST Object) of PATH with FIELDS; the
    store's status and body."""
    args = []
    for k, v in {**fields, **override}.items():
        args += ["-F", f"{k}={v}"]
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args, "-F", f"file=@{path}", url],
                       capture_output=True, timeout=60)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def test_stream_s3_post_goes_to_the_store(rundir, db, logs, s3, bucket, sts_env):
    """S3_POST on an S3-compatible store names the store's own URL, and the
    store enforces its policy: the stream's prefix, the size range."""
    env = {**sts_env, "MEDIAGATE_STS_ROLE_ARN": "", "MEDIAGATE_S3_MAX_BYTES": "1000"}
    stack = mgstack.Stack(rundir, db, env, ("upload_conf",), logs)
    try:
        auth, start = start_stream(stack, "browser upload")
    finally:
        stack.close()
    sid, post = start["stream"]["id"], start["endpoint"]["S3_POST"]
    assert "S3" not in start["endpoint"]
    assert post["url"] == f"{s3.endpoint}/{bucket}/", post
    small, big = rundir / "seg0.ts", rundir / "big.ts"
    small.write_bytes(b"x" * 100)
    big.write_bytes(b"x" * 1001)
    code, body = post_upload(post["fields"], post["url"], small)
    assert code in (200, 201, 204), (code, body)
    assert client(s3).get_object(Bucket=bucket, Key=f"live/{sid}/seg0.ts")["Body"].read() == b"x" * 100
    code, body = post_upload(post["fields"], post["url"], small, key=f"media/{sid}/seg0.ts")
    assert code == 403, (code, body)
    code, body = post_upload(post["fields"], post["url"], big)
    assert code in (400, 403), (code, body)
    keys = [o["Key"] for o in client(s3).list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == [f"live/{sid}/seg0.ts"], keys


def test_a_lost_record_done_loses_nothing(stack, workers, s3, bucket):
    """nginx-rtmp never retries a callback: when record_done is lost, the
    settle task (30 s after the stop) makes the VOD job, and the archive
    reads the recordings directory, not the callbacks' list."""
    workers.start()
    assert wait_until(lambda: archive_registered(stack), 30), workers.log()
    auth, start = start_stream(stack, "lost callback")
    sid = start["stream"]["id"]
    secret = start["endpoint"]["RTMP"]["stream_key"].split("key=")[1]
    cb = ["-X", "POST", "-d", "app=live", "-d", f"name={sid}", "-d", "clientid=9"]
    assert stack.curl(*cb, "-d", "call=publish", "-d", f"key={secret}", "/notifications/rtmp").status == 200
    # What nginx-rtmp recorded; its record_done never arrives.
    rec = stack.run / "recordings" / f"{sid}-1700000000.flv"
    rec.parent.mkdir(exist_ok=True)
    ff = subprocess.run([*ffmpeg_src(2), "-f", "flv", str(rec)], capture_output=True, text=True, timeout=120)
    assert ff.returncode == 0, ff.stderr
    assert stack.curl(*cb, "-d", "call=publish_done", "/notifications/rtmp").status == 200
    r = stack.curl("-X", "POST", *auth, "-d", f"id={sid}", "/stream/stop")
    assert r.status == 200 and "vod_job_id" not in r.json()["stream"], r
    assert stack.db.one("SELECT cardinality(recordings) FROM streams WHERE id = %s", sid) == 0
    job = stop(stack, auth, sid)
    assert wait_until(lambda: any(t[1] == "local.encode" for t in tasks(stack, job)), WAIT_S), \
        (tasks(stack, job), workers.log())
    assert stored(s3, bucket, f"recordings/{sid}/") == {f"recordings/{sid}/0001.flv": rec.read_bytes()}


WSQL_EXEC = Path(os.environ.get("MG_WSQL_EXEC") or mgstack.MG_BIN.parent / "tests" / "pytest" / "wsql_exec")


def test_only_the_holder_queues_the_encode_once(db):
    """The archive's last step (w_archived, as the worker runs it): a worker
    whose attempt is no longer the task's (it lost its lease) queues
    nothing, the holder queues the encode once, and a later attempt (after
    a lost finish) finds it queued and copies nothing again."""
    env = {**os.environ, "MEDIAGATE_DATABASE_URL": db.url}
    db.conn.execute("INSERT INTO task_kinds (name, max_attempts, timeout_s) "
                    "VALUES ('stream.archive', 10, 0) ON CONFLICT DO NOTHING")
    db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file) "
                    "VALUES ('vod', 'local', 'stream:s', 'streams/s')")
    task = db.one("INSERT INTO outbox (kind, payload, attempts, locked_by, locked_until) "
                  "VALUES ('stream.archive', '{\"job_id\": \"vod\"}', 2, 'w2', now() + interval '1 minute') "
                  "RETURNING id")
    encode = '{"job_id": "vod", "keys": ["recordings/s/0001.flv"]}'

    def archived(attempt):
        r = subprocess.run([str(WSQL_EXEC), "w_archived", str(task), str(attempt), encode], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return db.rows("SELECT payload FROM outbox WHERE kind = 'local.encode'")

    assert archived(1) == []
    assert archived(2) == [({"job_id": "vod", "keys": ["recordings/s/0001.flv"]},)]
    assert len(archived(2)) == 1
    assert db.one("SELECT payload->'queued' FROM outbox WHERE id = %s", task) is True
    db.conn.execute("UPDATE outbox SET attempts = 3 WHERE id = %s", (task,))
    assert len(archived(3)) == 1


def test_a_worker_killed_mid_archive_is_replaced(stack, workers, s3, bucket):
    """kill -9 of the ingest worker while its archive waits on the store
    (the gateway frozen with SIGSTOP): after the lease, another worker's
    attempt copies everything and queues the encode, once."""
    first = workers.start()
    assert wait_until(lambda: archive_registered(stack), 30), workers.log()
    auth, start = start_stream(stack, "killed")
    sid = start["stream"]["id"]
    put_broadcast(stack, start)
    rgw = s3.procs["rgw"]
    rgw.send_signal(signal.SIGSTOP)
    try:
        job = stop(stack, auth, sid)
        assert wait_until(lambda: stack.db.one(
            "SELECT attempts FROM outbox WHERE kind = 'stream.archive' AND payload->>'job_id' = %s", job) == 1,
            WAIT_S), (tasks(stack, job), workers.log())
        first.kill(signal.SIGKILL)
        first.wait()
    finally:
        rgw.send_signal(signal.SIGCONT)
    workers.start()
    assert wait_until(lambda: any(t[1] == "local.encode" for t in tasks(stack, job)), WAIT_S), \
        (tasks(stack, job), workers.log())
    assert stack.db.one("SELECT attempts FROM outbox WHERE kind = 'stream.archive' "
                        "AND payload->>'job_id' = %s", job) == 2
    assert [t[1] for t in tasks(stack, job)] == ["stream.archive", "local.encode"]
    segs = segments_in_order(stack.run / "upload" / "live" / sid)
    assert stored(s3, bucket, f"recordings/{sid}/") == {
        f"recordings/{sid}/0001.ts": b"".join(p.read_bytes() for p in segs)}


@pytest.fixture
def proxy(s3):
    """A fault proxy in front of the store (tests/lib/s3_fault_proxy.py)."""
    import s3_fault_proxy
    p = s3_fault_proxy.FaultProxy(s3.port).start()
    yield p
    p.stop()


def test_slow_down_is_waited_out_without_counting(stack, workers, s3, bucket, proxy):
    """503 SlowDown past the client's own retries: the archive waits as the
    store asks (Retry-After), and the waits are not attempts."""
    workers.start(MEDIAGATE_STORAGE_ENDPOINT=proxy.endpoint, MEDIAGATE_STORAGE_RETRIES="2")
    assert wait_until(lambda: archive_registered(stack), 30), workers.log()
    auth, start = start_stream(stack, "slow down")
    sid = start["stream"]["id"]
    put_broadcast(stack, start)
    proxy.slow_down(6, retry_after=1)
    job = stop(stack, auth, sid)
    assert wait_until(lambda: any(t[1] == "local.encode" for t in tasks(stack, job)), WAIT_S), \
        (tasks(stack, job), proxy.log, workers.log())
    archive = stack.db.one("SELECT attempts, last_error FROM outbox WHERE kind = 'stream.archive' "
                           "AND payload->>'job_id' = %s", job)
    assert archive[0] == 1 and "try again" in archive[1], archive
    statuses = [e[3] for e in proxy.log]
    assert statuses[:6] == [503] * 6 and all(200 <= st < 300 for st in statuses[6:]), proxy.log
    # Every try after a SlowDown came when the store asked, across attempts too.
    gaps = [b[0] - a[0] for a, b in zip(proxy.log[:7], proxy.log[1:7])]
    assert all(g >= 0.9 for g in gaps), gaps
    segs = segments_in_order(stack.run / "upload" / "live" / sid)
    assert stored(s3, bucket, f"recordings/{sid}/") == {
        f"recordings/{sid}/0001.ts": b"".join(p.read_bytes() for p in segs)}
