"""The local encoder with its media on an S3 store (MEDIAGATE_STORAGE=s3),
through real PostgreSQL, nginx, ffmpeg and Ceph's RADOS Gateway.

The worker reads an upload's input from the bucket (exactly the object the
upload confirmed: If-Match on its ETag) into its TMPDIR, encodes there and
publishes to media/<job>/: an attempt's renditions under a<attempt>/, the
master playlist last and only by the lease's holder. A missing or changed
input is an ERROR; a store that goes down while the outputs are published
is waited for; a worker killed mid-upload leaves nothing once another
attempt completes; a worker that lost its lease publishes nothing and
removes what it wrote. tests/lib/s3_fault_proxy.py in front of the gateway
records the order of the writes, or slows each down so that a test acts
while the outputs are being published.
"""

import json
import signal
import subprocess
import sys
import uuid

import pytest
import s3_settings

from mgstack import MG_ROOT, wait_until
from test_encoder import DONE, clip, clips, encoder_env, nginx_includes, progress, status  # noqa: F401

sys.path.insert(0, str(MG_ROOT / "tests" / "lib"))
from s3_fault_proxy import FaultProxy  # noqa: E402

SEGMENT_CC = "max-age=31536000, immutable"
PLAYLIST_CC = "max-age=60"


client = s3_settings.client


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-enc")


@pytest.fixture
def proxy(s3):
    p = FaultProxy(s3.port).start()
    yield p
    p.stop()


@pytest.fixture
def tmpdir_root(rundir):
    d = rundir / "worker-tmp"
    d.mkdir()
    return d


@pytest.fixture
def mg_env(request, rundir, s3, bucket, tmpdir_root):
    # A test that asks for the proxy gets the worker's requests through it.
    endpoint = request.getfixturevalue("proxy").endpoint if "proxy" in request.fixturenames else s3.endpoint
    return {
        **encoder_env(rundir),
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": endpoint,
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": bucket,
        "MEDIAGATE_STORAGE_ADDRESSING": "path",
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIAGATE_STORAGE_PUBLIC_URL": f"https://cdn.example.com/{bucket}",
        "TMPDIR": str(tmpdir_root),
    }


def keys(s3, bucket, prefix=""):
    out, token = [], None
    c = client(s3)
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
        r = c.list_objects_v2(**kw)
        out += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return sorted(out)
        token = r["NextContinuationToken"]


def upload(s3, bucket, src):
    """Puts SRC into the bucket as an upload would be; returns (key, ETag)."""
    key = f"uploads/{uuid.uuid4()}/{src.name}"
    r = client(s3).put_object(Bucket=bucket, Key=key, Body=src.read_bytes())
    return key, r["ETag"]


def encode_task(stack, key, etag):
    """A local job and its encode task reading KEY (with ETAG) from the
    store, in one transaction, as a confirmed upload queues them."""
    job = str(uuid.uuid4())
    with stack.db.conn.transaction():
        stack.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file) "
                              "VALUES (%s, 'local', %s, %s)", (job, job, key))
        stack.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('local.encode', "
                              "jsonb_build_object('job_id', %s::text, 'input_key', %s::text, "
                              "'input_etag', %s::text))", (job, key, etag))
    return job


def job_row(stack, job):
    return stack.db.one("SELECT status, error_code, error_message, storage, output_path "
                        "FROM jobs WHERE id = %s", job)


def task_row(stack, job):
    return stack.db.one("SELECT attempts, done_at IS NOT NULL, failed_at IS NOT NULL FROM outbox "
                        "WHERE payload->>'job_id' = %s", job)


def extra_files(j):
    """The files a status answer J names beside the playlists (the poster,
    the storyboard's, MP4s), relative to output_path."""
    sb = j.get("storyboard") or {}
    return [f for f in [(j.get("poster") or {}).get("file"), sb.get("vtt"), *sb.get("images", []),
                        *[m["file"] for m in j.get("mp4") or []]] if f]


def one_set(s3, bucket, job, attempt, extras=()):
    """Whether media/JOB/ holds exactly one set of outputs, ATTEMPT's: the
    master, and under a<ATTEMPT>/ each rendition's playlist and the segments
    it names, and the EXTRAS files (relative to the job's directory),
    nothing else. Returns (ok, what is there)."""
    c = client(s3)
    have = keys(s3, bucket, f"media/{job}/")
    want = {f"media/{job}/master.m3u8"} | {f"media/{job}/{f}" for f in extras}
    master = c.get_object(Bucket=bucket, Key=f"media/{job}/master.m3u8")["Body"].read().decode()
    variants = [line for line in master.splitlines() if line and not line.startswith("#")]
    for v in variants:
        want.add(f"media/{job}/{v}")
        pl = c.get_object(Bucket=bucket, Key=f"media/{job}/{v}")["Body"].read().decode()
        d = v.rpartition("/")[0]
        want |= {f"media/{job}/{d}/{s}" for s in pl.splitlines() if s and not s.startswith("#")}
    ok = set(have) == want and variants and all(v.startswith(f"a{attempt}/") for v in [*variants, *extras])
    return ok, have


def plays(s3, bucket, job, into):
    """Downloads media/JOB/ and has ffprobe read the master to its end;
    returns (ok, seconds, ffprobe's complaint)."""
    c = client(s3)
    for k in keys(s3, bucket, f"media/{job}/"):
        p = into / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(c.get_object(Bucket=bucket, Key=k)["Body"].read())
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                        str(into / "media" / job / "master.m3u8")], capture_output=True, text=True)
    try:
        seconds = float(r.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        seconds = 0.0
    return r.returncode == 0 and seconds > 0, seconds, r.stderr[-500:]


def published(stack, s3, bucket, job, attempt, seconds, into):
    """Asserts JOB COMPLETE on the store with one set of outputs, ATTEMPT's,
    that plays its SECONDS (within half a second); returns the keys."""
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    st = job_row(stack, job)
    assert st[:4] == ("COMPLETE", None, None, "s3"), st
    ok, have = one_set(s3, bucket, job, attempt, extra_files(status(stack, job)))
    assert ok, f"one set of outputs, attempt {attempt}'s: {have}"
    ok, got, why = plays(s3, bucket, job, into)
    assert ok and abs(got - seconds) <= 0.5, f"the published ladder plays its {seconds} s ({got}): {why}"
    return have


def test_an_upload_is_encoded_from_and_into_the_store(stack, workers, s3, bucket, clip, rundir,
                                                      tmpdir_root):
    key, etag = upload(s3, bucket, clip("a.mp4", 10, "1280x720"))
    job = encode_task(stack, key, etag)
    workers.start()
    have = published(stack, s3, bucket, job, 1, 10, rundir / "got")
    assert job_row(stack, job)[4] == f"https://cdn.example.com/{bucket}/media/{job}/", "under the public URL"
    j = status(stack, job)
    assert [[v.get("height"), v.get("size", 0) > 10000] for v in j["variations"]] == \
        [[720, True], [480, True], [360, True]], j
    c = client(s3)
    seg = next(k for k in have if k.endswith(".ts"))
    h = c.head_object(Bucket=bucket, Key=seg)
    assert (h["CacheControl"], h["ContentType"]) == (SEGMENT_CC, "video/mp2t"), h
    for pl in (f"media/{job}/master.m3u8", f"media/{job}/a1/v0/index.m3u8"):
        h = c.head_object(Bucket=bucket, Key=pl)
        assert (h["CacheControl"], h["ContentType"]) == (PLAYLIST_CC, "application/vnd.apple.mpegurl"), h
    assert not (rundir / "media").exists() or not any((rundir / "media").iterdir()), \
        "nothing on the media disk"
    assert list(tmpdir_root.iterdir()) == [], "the worker's TMPDIR is left empty"
    assert keys(s3, bucket, "uploads/") == [key], "the input stays where the upload put it"


def public_read(s3, bucket, key):
    """Whether the store lets anyone read KEY unsigned (its ACL's grants)."""
    grants = client(s3).get_object_acl(Bucket=bucket, Key=key)["Grants"]
    return any(g["Grantee"].get("URI", "").endswith("/global/AllUsers") and g["Permission"] == "READ"
               for g in grants)


@pytest.mark.parametrize("secret", ["", "encoder-signing-secret-0123456789"])
def test_a_public_job_is_published_public_read_unless_signed(stack, workers, s3, bucket, clip, secret):
    """serve recorded unsigned playback: the encoder writes a public job's
    objects public-read itself (playable unsigned as soon as it is
    COMPLETE), unless the worker's own settings sign (private). media.acl is
    held back (a task for the job queued, not yet due: none else is queued)
    so that what the store holds is what the encoder wrote."""
    assert wait_until(lambda: stack.db.rows("SELECT signing FROM media_signing") == [(False,)], 10)
    key, etag = upload(s3, bucket, clip("public.mp4", 2, "320x240"))
    job = encode_task(stack, key, etag)
    stack.db.conn.execute("INSERT INTO outbox (kind, payload, run_after) VALUES ('media.acl', "
                          "jsonb_build_object('media_job', %s::text), now() + interval '1 hour')",
                          (job,))
    workers.start(MEDIAGATE_MEDIA_SIGNING_SECRET=secret)
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    assert job_row(stack, job)[:4] == ("COMPLETE", None, None, "s3")
    have = keys(s3, bucket, f"media/{job}/")
    assert have and {k: public_read(s3, bucket, k) for k in have} == {k: not secret for k in have}
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'media.acl' AND done_at IS NULL "
                        "AND payload->>'media_job' = %s", job) == 1, "media.acl held back"


@pytest.mark.parametrize("fault", ["deleted", "changed"])
def test_an_input_gone_or_changed_is_an_error_and_publishes_nothing(stack, workers, s3, bucket, clip,
                                                                    tmpdir_root, fault):
    src = clip("a.mp4", 2, "320x240")
    key, etag = upload(s3, bucket, src)
    if fault == "deleted":
        client(s3).delete_object(Bucket=bucket, Key=key)
    else:  # replaced after the upload was confirmed: another object
        client(s3).put_object(Bucket=bucket, Key=key, Body=src.read_bytes() + b"\0" * 188)
    job = encode_task(stack, key, etag)
    workers.start()
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 300)
    st, code, msg, storage, _ = job_row(stack, job)
    why = "gone from the object store" if fault == "deleted" else "changed after it was uploaded"
    assert (st, code, storage) == ("ERROR", 1, None) and why in msg, (st, code, msg)
    assert key not in msg and "/" not in msg, f"no key or path in the message: {msg!r}"
    assert task_row(stack, job) == (1, False, True), "not retried: the input will not come back"
    assert keys(s3, bucket, "media/") == [], "nothing published"
    assert list(tmpdir_root.iterdir()) == [], "the worker's TMPDIR is left empty"


def test_the_store_down_while_publishing_is_waited_for(stack, workers, s3, bucket, clip, rundir):
    """The gateway killed under the encode: publishing finds it down, waits
    (keeping the lease), and completes when it is back, in one attempt with
    one set of outputs."""
    key, etag = upload(s3, bucket, clip("long.mp4", 30, "1280x720"))
    job = encode_task(stack, key, etag)
    workers.start()
    try:
        assert wait_until(lambda: progress(stack, job) > 0, 300), "the encode started"
        s3.kill_rgw()
        assert wait_until(lambda: "publishing waits for it" in workers.log(), 600), \
            "publishing met the store down and waits"
    finally:
        s3.start_rgw()
    published(stack, s3, bucket, job, 1, 30, rundir / "got")
    assert task_row(stack, job) == (1, True, False), "completed by the attempt that waited"


def test_the_store_down_when_the_encode_starts_is_waited_for(stack, workers, s3, bucket, clip, rundir):
    """The gateway down when the encode starts, for longer than the
    attempts' backoff would last: reading the input finds it down, the task
    waits without an attempt counted (handed back, not held), and completes
    on attempt 1 once the store is back, with one set of outputs."""
    key, etag = upload(s3, bucket, clip("a.mp4", 10, "1280x720"))
    job = encode_task(stack, key, etag)
    down = "cannot read the input: the object store did not answer"
    s3.kill_rgw()
    try:
        workers.start()
        # max_attempts (3) reads that the store did not answer: before, the
        # third ended the job in ERROR.
        assert wait_until(lambda: workers.log().count(down) >= 3
                          or status(stack, job).get("job_status") in DONE, 600), "the input read met the store down"
        assert job_row(stack, job)[0] != "ERROR", job_row(stack, job)
        attempts = task_row(stack, job)[0]
        assert attempts <= 1, f"no attempt counted for the waits: {attempts}"
        assert "the attempt not counted: " + down in workers.log()
    finally:
        s3.start_rgw()
    published(stack, s3, bucket, job, 1, 10, rundir / "got")
    assert task_row(stack, job) == (1, True, False), "completed by attempt 1"


def test_slowdown_while_publishing_is_waited_out(stack, workers, s3, bucket, clip, proxy, rundir):
    """503 SlowDown (with Retry-After) on more tries than the store client
    makes of one call: publishing waits for the store and completes in the
    same attempt, with one set of outputs."""
    key, etag = upload(s3, bucket, clip("long.mp4", 30, "1280x720"))
    job = encode_task(stack, key, etag)
    workers.start(MEDIAGATE_STORAGE_RETRIES="1")
    assert wait_until(lambda: progress(stack, job) > 0, 300), "the encode started"
    proxy.slow_down(4, retry_after=1)
    published(stack, s3, bucket, job, 1, 30, rundir / "got")
    assert task_row(stack, job) == (1, True, False), "completed by the attempt that waited"
    assert [st for _, m, p, st in proxy.log if m == "PUT"][:4] == [503] * 4, "publishing met SlowDown"
    assert "publishing waits for it" in workers.log()


def test_a_slow_input_read_keeps_the_lease(stack, workers, s3, bucket, clip, proxy, rundir):
    """The input's read takes longer than the lease (every answer of the
    store 15 s late, the lease 10 s): the transfer keeps the lease, so the
    second worker never takes the task over, and one attempt completes."""
    key, etag = upload(s3, bucket, clip("a.mp4", 10, "1280x720"))
    proxy.delay(15)
    job = encode_task(stack, key, etag)
    for _ in range(2):
        workers.start(MEDIAGATE_STORAGE_TIMEOUT_MS="60000")
    assert wait_until(lambda: progress(stack, job) > 0, 300), "the encode started"
    proxy.clear()
    published(stack, s3, bucket, job, 1, 10, rundir / "got")
    assert task_row(stack, job) == (1, True, False), "one attempt: the lease was kept while it read"
    assert "lost its lease" not in workers.log()


@pytest.fixture
def small_tmpdir(tmpdir_root):
    """The worker's TMPDIR a 256 KiB tmpfs (remount it larger to make room),
    unmounted on every way out (lazily if something still holds it)."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(tmpdir_root)], check=True)
    try:
        yield tmpdir_root
    finally:
        if subprocess.run(["umount", str(tmpdir_root)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(tmpdir_root)], check=True)


def test_a_full_tmpdir_is_waited_out(stack, workers, s3, bucket, clip, small_tmpdir, rundir):
    """The input does not fit in the worker's TMPDIR: no error of the job,
    the task waits without its attempts counting, and completes once there
    is room."""
    src = clip("a.mp4", 10, "1280x720")
    assert src.stat().st_size > 256 << 10
    key, etag = upload(s3, bucket, src)
    job = encode_task(stack, key, etag)
    workers.start()
    assert wait_until(lambda: "the worker's disk is full" in (stack.db.one(
        "SELECT coalesce(last_error, '') FROM outbox WHERE payload->>'job_id' = %s", job)), 120)
    assert status(stack, job).get("job_status") != "ERROR"
    assert stack.db.one("SELECT attempts FROM outbox WHERE payload->>'job_id' = %s", job) == 0, \
        "waiting for space spends no attempt"
    subprocess.run(["mount", "-o", "remount,size=200m", str(small_tmpdir)], check=True)
    published(stack, s3, bucket, job, 1, 10, rundir / "got")
    assert list(small_tmpdir.iterdir()) == []


def test_master_is_written_last(stack, workers, s3, bucket, clip, proxy):
    key, etag = upload(s3, bucket, clip("a.mp4", 10, "1280x720"))
    job = encode_task(stack, key, etag)
    workers.start()
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    assert job_row(stack, job)[0] == "COMPLETE"
    # Writes of objects: not media.acl's (PUT ?acl), which may run meanwhile.
    puts = [p.split("?")[0].split(f"/{bucket}/", 1)[1] for _, m, p, st in proxy.log
            if m == "PUT" and st == 200 and f"/{bucket}/media/" in p and "?acl" not in p]
    assert puts and puts[-1] == f"media/{job}/master.m3u8", f"the master last: {puts[-3:]}"
    assert puts.count(f"media/{job}/master.m3u8") == 1, puts
    assert set(puts) == set(keys(s3, bucket, f"media/{job}/")), "each object written once"
    for i in range(3):  # each rendition's playlist after its segments
        mine = [k for k in puts if k.startswith(f"media/{job}/a1/v{i}/")]
        assert mine[-1] == f"media/{job}/a1/v{i}/index.m3u8" and len(mine) > 1, mine


def mid_publish(stack, workers, s3, bucket, clip, proxy):
    """A worker publishing slowly (every request to the store 2 s late):
    some of its objects are in the store, the master is not. Returns
    (worker, job)."""
    key, etag = upload(s3, bucket, clip("a.mp4", 10, "1280x720"))
    proxy.delay(2.0)
    job = encode_task(stack, key, etag)
    w = workers.start()
    assert wait_until(lambda: any("/a1/" in k for k in keys(s3, bucket, f"media/{job}/")), 900), \
        "publishing began"
    have = keys(s3, bucket, f"media/{job}/")
    assert f"media/{job}/master.m3u8" not in have, have
    return w, job


def test_a_worker_killed_mid_upload_leaves_nothing_once_another_completes(
        stack, workers, s3, bucket, clip, proxy, rundir, tmpdir_root):
    w, job = mid_publish(stack, workers, s3, bucket, clip, proxy)
    w.kill(signal.SIGKILL)
    w.wait()
    proxy.clear()
    assert any("/a1/" in k for k in keys(s3, bucket, f"media/{job}/")), "the killed attempt's objects"
    workers.start()
    published(stack, s3, bucket, job, 2, 10, rundir / "got")  # nothing of the first attempt
    assert task_row(stack, job) == (2, True, False), "completed by a second attempt after the lease"
    assert [p.name for p in tmpdir_root.iterdir()] == [], "the killed attempt's files are removed too"


def test_a_worker_that_lost_its_lease_publishes_nothing_and_removes_what_it_wrote(
        stack, workers, s3, bucket, clip, proxy):
    w, job = mid_publish(stack, workers, s3, bucket, clip, proxy)
    tid = stack.db.one("SELECT id FROM outbox WHERE payload->>'job_id' = %s", job)
    stack.db.conn.execute("UPDATE outbox SET locked_by = 'another', attempts = attempts + 1, "
                          "locked_until = now() + interval '1 hour' WHERE id = %s", (tid,))
    assert wait_until(lambda: f"task {tid}: stopped publishing" in workers.log(), 300), \
        "the holder learned it lost the task while publishing"
    assert wait_until(lambda: keys(s3, bucket, f"media/{job}/") == [], 60), \
        f"what it wrote is removed: {keys(s3, bucket, f'media/{job}/')}"
    assert not [p for _, m, p, _ in proxy.log if m == "PUT" and p.startswith(f"/{bucket}/media/{job}/master")], \
        "no master was written"
    assert status(stack, job).get("job_status") == "PROGRESSING"
    assert stack.db.one("SELECT attempts, locked_by FROM outbox WHERE id = %s", tid) == (2, "another"), \
        "the other attempt's, untouched"
    assert w.alive(), "the worker goes on"


@pytest.mark.parametrize("named", [False, True], ids=["listed", "named"])
def test_a_streams_recordings_are_read_from_the_store(stack, workers, s3, bucket, clip, rundir, named):
    """A stopped stream's VOD job on the store: its recordings under
    recordings/<stream id>/ (two FLV files) become one ladder, in the order
    the task names them, or else in key order (numbers as numbers)."""
    sid = str(uuid.uuid4())
    c = client(s3)
    names = [f"recordings/{sid}/{sid}-9.flv", f"recordings/{sid}/{sid}-10.flv"]
    for i, name in enumerate(names):
        flv = rundir / f"r{i}.flv"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(clip("a.mp4", 10, "1280x720")),
                        "-t", "4" if i == 0 else "6", "-c", "copy", "-f", "flv", str(flv)], check=True)
        c.put_object(Bucket=bucket, Key=name, Body=flv.read_bytes())
    c.put_object(Bucket=bucket, Key=f"recordings/{sid}/notes.txt", Body=b"not a recording")
    job = str(uuid.uuid4())
    with stack.db.conn.transaction():
        stack.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file) "
                              "VALUES (%s, 'local', %s, %s)", (job, f"stream:{sid}", f"streams/{sid}"))
        stack.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('local.encode', "
                              "jsonb_build_object('job_id', %s::text, 'stream_id', %s::text, "
                              "'recordings', '[]'::jsonb, 'segments', false) || %s::jsonb)",
                              (job, sid, json.dumps({"keys": names} if named else {})))
    workers.start()
    published(stack, s3, bucket, job, 1, 10, rundir / "got")  # both recordings, one after the other


def test_a_dead_task_leaves_no_objects(stack, workers, s3, bucket, tmpdir_root):
    """A task whose workers died during every attempt (here: put in that
    state) is dead once its lease ran out: its job ERROR 5, and everything
    its attempts left is removed, in the store and in this host's TMPDIR."""
    job = encode_task(stack, f"uploads/{uuid.uuid4()}/a.mp4", None)
    c = client(s3)
    left = [f"media/{job}/a1/v0/seg000.ts", f"media/{job}/a3/v0/index.m3u8", f"media/{job}/master.m3u8"]
    for k in left:
        c.put_object(Bucket=bucket, Key=k, Body=b"left by a killed attempt")
    other = f"media/{uuid.uuid4()}/master.m3u8"
    c.put_object(Bucket=bucket, Key=other, Body=b"another job's")
    (tmpdir_root / f".{job}.3.tmp" / "v0").mkdir(parents=True)
    (tmpdir_root / f".{job}.3.in").mkdir()
    stack.db.conn.execute("UPDATE outbox SET attempts = 3, locked_by = 'gone', last_error = 'killed', "
                          "locked_until = now() - interval '1 second' WHERE payload->>'job_id' = %s", (job,))
    workers.start()
    assert wait_until(lambda: status(stack, job).get("job_status") == "ERROR", 120)
    assert job_row(stack, job)[:2] == ("ERROR", 5)
    assert wait_until(lambda: keys(s3, bucket, f"media/{job}/") == [], 60), keys(s3, bucket, f"media/{job}/")
    assert keys(s3, bucket, other) == [other], "another job's objects stay"
    assert wait_until(lambda: list(tmpdir_root.iterdir()) == [], 60), list(tmpdir_root.iterdir())
