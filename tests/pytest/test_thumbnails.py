"""Thumbnails on request (GET /media/thumbnail, docs/thumbnails.md), through
real PostgreSQL, nginx with the shipped micro-cache, the worker's
thumbnail.make task and ffmpeg, on a real encode: a JPEG of the asked width
(ffprobe) whose frame follows the time (testsrc's counter), made once (one
task however often it is asked), kept by nginx for a public job and never
shared for a private one; hostile parameters a 400 with nothing queued; the
per-job cap no caller can use up (the time step) and the bound on those
waiting in all; thumbnails behind an encode in the worker; a failed one
queued again after MEDIAGATE_THUMBNAIL_RETRY_AFTER; a full disk waited
for; the worker stopped: 503 + Retry-After, not a hang; the job's
outputs gone: the task fails once and the route says why; the same on an
S3 store (Ceph RGW); an encrypted job's segment decrypted first.
"""
import json
import shutil
import signal
import subprocess
import uuid

import pytest

import mgstack
import s3_settings
from mgstack import wait_until
from test_encoder import DONE, clip, clips, encoder_env, status  # noqa: F401
from test_encoder_faults import fill_disk, media_tmpfs  # noqa: F401
from test_encoder_s3 import encode_task, public_read, upload

SIZE = "320x180"  # top rendition 320 px wide: widths 120 and 320 fit, 480 does not
SECONDS = 6


def thumbs_env(rundir):
    return {**encoder_env(rundir),
            "MEDIAGATE_THREADS": "4",
            "MEDIAGATE_RENDITIONS": "180",
            # A public answer stays in the micro-cache this long (s-maxage).
            "MEDIAGATE_CACHE_MAX_AGE": "30",
            **mgstack.micro_cache_env(rundir)}


@pytest.fixture
def read_only_replica():
    """Asked for by a test whose serve has a read replica: its own database
    through sessions that may only read (as a streaming replica's)."""
    return "options=-c%20default_transaction_read_only%3Don"


@pytest.fixture
def extra_env(request, rundir, db):
    """Settings of a test beside thumbs_env's: a test with a bucket has its
    media there (serve reads the thumbnails from it too); a test with a
    read_only_replica has MEDIAGATE_DATABASE_READ_URL."""
    env = {}
    if "bucket" in request.fixturenames:
        env.update(s3_settings.env(request.getfixturevalue("s3"), request.getfixturevalue("bucket")),
                   TMPDIR=str(rundir))
    if "read_only_replica" in request.fixturenames:
        env["MEDIAGATE_DATABASE_READ_URL"] = f"{db.url}&{request.getfixturevalue('read_only_replica')}"
    return env


@pytest.fixture
def mg_env(rundir, extra_env):
    return {**thumbs_env(rundir), **extra_env}


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


def thumb(stack, job, t, width, *headers):
    args = []
    for h in headers:
        args += ["-H", h]
    return stack.curl(*args, "-G", "--data-urlencode", f"job_id={job}", "--data-urlencode", f"time={t}",
                      "--data-urlencode", f"width={width}", "/media/thumbnail")


def thumb_bytes(stack, job, t, width, *headers):
    """The JPEG's bytes (curl into a file: Response.body is text)."""
    out = stack.run / f"thumb-{t}-{width}.jpg"
    args = sum((["-H", h] for h in headers), [])
    subprocess.run(["curl", "-sS", "-f", "-o", out, *args, "-G", "--data-urlencode", f"job_id={job}",
                    "--data-urlencode", f"time={t}", "--data-urlencode", f"width={width}",
                    f"{stack.base}/media/thumbnail"], check=True, timeout=60)
    return out.read_bytes()


def made(stack, job, t, width, *headers):
    """Asks until the thumbnail is answered (a 503 means: being made, ask
    again); the last answer."""
    last = []

    def ask():
        last[:] = [thumb(stack, job, t, width, *headers)]
        return last[0].status != 503
    wait_until(ask, 300, 0.5)
    return last[0]


def probe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                        "-of", "json", str(path)], capture_output=True, text=True, check=True)
    s = json.loads(r.stdout)["streams"][0]
    return s["codec_name"], s["width"], s["height"]


def encoded(stack, workers, clip, name="a.mp4"):
    """A COMPLETE job of a SECONDS-long testsrc clip, the worker running."""
    workers.start()
    job = stack.mg("submit", clip(name, SECONDS, SIZE))
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    assert status(stack, job)["job_status"] == "COMPLETE"
    return job


def tasks(stack, job):
    return stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'thumbnail.make' "
                        "AND payload->>'job_id' = %s", job)


def test_thumbnails_at_two_times_and_widths_made_once_and_cached(stack, workers, clip, rundir):
    job = encoded(stack, workers, clip)
    frames = {}
    for t, w in ((1, 320), (4, 320), (4, 120)):
        r = made(stack, job, t, w)
        assert r.status == 200, r
        assert r.header("Content-Type") == "image/jpeg", r.headers
        assert r.header("Cache-Control") == "public, max-age=86400, s-maxage=30", r.headers
        assert r.header("ETag"), r.headers
        frames[t, w] = thumb_bytes(stack, job, t, w)
        f = rundir / f"t{t}-{w}.jpg"
        f.write_bytes(frames[t, w])
        assert probe(f) == ("mjpeg", w, w * 9 // 32 * 2 + (w * 9 % 32 >= 16) * 2), \
            f"a JPEG {w} px wide (the height even) at {t} s"
        assert (rundir / "media" / job / "thumbs" / f"{t * 1000}-{w}.jpg").read_bytes() == frames[t, w], \
            "stored beside the job's outputs"
    assert frames[1, 320] != frames[4, 320], "the frame follows the time (testsrc's counter)"
    assert tasks(stack, job) == 3, "one task each"
    assert stack.db.rows("SELECT time_ms, width, status, file FROM thumbnails WHERE job_id = %s "
                         "ORDER BY 1, 2", job) == \
        [(1000, 320, "made", "thumbs/1000-320.jpg"), (4000, 120, "made", "thumbs/4000-120.jpg"),
         (4000, 320, "made", "thumbs/4000-320.jpg")]

    # Asked again (also as 1.5 s: whole seconds): answered, no new task.
    again = thumb(stack, job, 1, 320)
    assert again.status == 200 and again.header("X-Cache-Status") == "HIT", again.headers
    assert thumb_bytes(stack, job, "1.500", 320) == frames[1, 320]
    assert tasks(stack, job) == 3, "made once"
    etag = again.header("ETag")
    r = stack.curl("-H", f"If-None-Match: {etag}", "-G", "--data-urlencode", f"job_id={job}",
                   "--data-urlencode", "time=1.5", "--data-urlencode", "width=320", "/media/thumbnail")
    assert r.status == 304, r

    # A private job: answered to the callers its ACL admits, never shared.
    key = stack.mg("apikey", "create", "alice")
    stack.mg("jobs", "acl", job, "USER_alice")
    alice = f"Authorization: Bearer {key}"
    r = made(stack, job, 2, 320, alice)
    assert r.status == 200 and r.header("Cache-Control") == "private, max-age=86400", r.headers
    unknown = thumb(stack, "no-such-job", 2, 320)
    for _ in range(2):
        anon = thumb(stack, job, 2, 320)
        assert (anon.status, anon.body) == (422, unknown.body) == (422, '{"success":false,"message":"Not found item."}'), anon
        assert anon.header("X-Cache-Status") != "HIT", anon.headers


def test_docs_thumbnails_page_runs_as_written(stack, workers, clip, rundir, read_only_replica):
    """The command block of docs/thumbnails.md, as written, with $api and
    $job set. serve has a read replica: the route, which writes, runs on
    the primary."""
    job = encoded(stack, workers, clip)
    page = (mgstack.MG_ROOT / "docs" / "thumbnails.md").read_text()
    block = page.split("```sh\n", 1)[1].split("```", 1)[0]
    r = subprocess.run(["bash", "-ec", block], cwd=rundir, env={**stack.env, "api": stack.base, "job": job},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert probe(rundir / "thumb.jpg") == ("mjpeg", 320, 180)
    metrics = stack.curl("/metrics").body
    assert "\nmediagate_db_read_fallbacks_total 0\n" in metrics, \
        [ln for ln in metrics.splitlines() if "db_read" in ln]


HOSTILE = [
    ("time", "-1"), ("time", "NaN"), ("time", "nan"), ("time", "inf"), ("time", "1e3"), ("time", "0x10"),
    ("time", "9999999"), ("time", "99999999999999999999999"), ("time", "1.2345"), ("time", "1."),
    ("time", " 1"), ("time", "1 "), ("time", "+1"), ("time", "abc"), ("time", "7"), ("time", "3600"),
    ("width", "100"), ("width", "-320"), ("width", "320.0"), ("width", "abc"), ("width", "2000"),
    ("width", "99999999999"), ("width", "480"), ("width", "1920"),
    ("job_id", "../../etc/passwd"), ("job_id", "a/b"), ("job_id", ".."), ("job_id", "x" * 101),
    ("job_id", "é"),
]


def test_hostile_parameters_are_a_clear_400_and_queue_nothing(stack, workers, clip):
    job = encoded(stack, workers, clip)
    good = {"job_id": job, "time": "1", "width": "120"}
    for name, value in HOSTILE:
        q = {**good, name: value}
        r = thumb(stack, q["job_id"], q["time"], q["width"])
        assert r.status == 400, (name, value, r)
        msg = r.json()["message"]
        assert name in msg, (name, value, msg)
    assert "past the end of the video (6." in thumb(stack, job, 7, 120).json()["message"]
    assert "above the video's (320 px)" in thumb(stack, job, 1, 480).json()["message"]
    assert tasks(stack, job) == 0, "nothing queued"
    assert thumb(stack, str(uuid.uuid4()), 1, 120).status == 422, "an unknown job"


@pytest.mark.parametrize("extra_env", [{"MEDIAGATE_THUMBNAIL_WAIT_MS": "3000"}])
def test_worker_stopped_is_503_then_made_and_a_failed_one_is_retried_later(stack, workers, clip,
                                                                             extra_env):
    w = workers.start()
    job = stack.mg("submit", clip("a.mp4", SECONDS, SIZE))
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    assert w.stop(signal.SIGTERM) == 0

    # Two at once, one waiting place (a quarter of 4 threads): one waits
    # its 3 s and is told the thumbnail is being made, the other at once
    # that others are.
    procs = [subprocess.Popen(["curl", "-sS", "-D", "-", "--max-time", "60", "-G",
                               "--data-urlencode", f"job_id={job}", "--data-urlencode", f"time={t}",
                               "--data-urlencode", "width=120", f"{stack.base}/media/thumbnail"],
                              stdout=subprocess.PIPE, text=True) for t in (1, 2)]
    outs = [p.communicate(timeout=90)[0] for p in procs]
    assert all(o.startswith("HTTP/1.1 503") and "\nRetry-After: 2" in o.replace("\r", "")
               and "Cache-Control: no-store" in o for o in outs), outs
    bodies = sorted(o.rpartition("\n")[2] for o in outs)
    assert bodies == ['{"success":false,"message":"The thumbnail is being made: retry shortly."}',
                      '{"success":false,"message":"Thumbnails are being made for other requests: '
                      'retry shortly."}'] or \
        bodies == ['{"success":false,"message":"The thumbnail is being made: retry shortly."}'] * 2, bodies
    r = thumb(stack, job, 1, 120)
    assert r.status == 503 and r.header("Retry-After") == "2", r
    took = stack.took_us(r)
    assert took is not None and 3_000_000 <= took < 5_000_000, f"waited its 3 s, not more: {took} us"
    assert tasks(stack, job) == 2, "each queued once"
    # A task that died (its attempts spent, as the reaper leaves it): the
    # route says so at once rather than waiting for it.
    stack.db.conn.execute("UPDATE outbox SET failed_at = now(), last_error = 'its worker kept dying' "
                          "WHERE kind = 'thumbnail.make' AND payload->>'time_ms' = '2000'")
    dead = thumb(stack, job, 2, 120)
    assert (dead.status, dead.json()["message"]) == \
        (422, "The thumbnail could not be made: its worker kept dying"), dead
    assert stack.took_us(dead) < 3_000_000, "answered without waiting"

    workers.start()
    r = made(stack, job, 1, 120)
    assert r.status == 200 and r.header("Content-Type") == "image/jpeg", r
    assert thumb(stack, job, 2, 120).status == 422, "a failed one is not tried again at once"
    assert tasks(stack, job) == 2
    # MEDIAGATE_THUMBNAIL_RETRY_AFTER (an hour) after it was asked, the
    # next request queues it again.
    stack.db.conn.execute("UPDATE thumbnails SET created_at = now() - interval '61 minutes' "
                          "WHERE job_id = %s AND time_ms = 2000", (job,))
    r = made(stack, job, 2, 120)
    assert r.status == 200 and r.header("Content-Type") == "image/jpeg", r
    assert tasks(stack, job) == 3


@pytest.mark.parametrize("extra_env", [{"MEDIAGATE_THUMBNAILS_MAX": "4"}])
def test_the_cap_cannot_be_used_up_every_time_maps_onto_a_thumbnail_it_allows(stack, workers, clip,
                                                                               extra_env):
    """4 thumbnails a job, 2 widths (120, 320): times snap to 3 s steps, so
    a caller asking every second of both widths makes 4, and the player's
    later request at another time is answered, never a 422 over the cap."""
    job = encoded(stack, workers, clip)
    for t in range(SECONDS):
        assert made(stack, job, t, 120).status == 200
    later = made(stack, job, 5, 320)
    assert later.status == 200 and later.header("Content-Type") == "image/jpeg", later
    assert stack.db.rows("SELECT time_ms, width, status FROM thumbnails WHERE job_id = %s ORDER BY 1, 2",
                         job) == [(0, 120, "made"), (3000, 120, "made"), (3000, 320, "made")]
    assert thumb_bytes(stack, job, 4, 120) == thumb_bytes(stack, job, 3, 120), "4 s is the 3 s one"
    # Failed ones do not count: a job whose every row failed still queues.
    stack.db.conn.execute("UPDATE thumbnails SET status = 'failed', error = 'x' WHERE job_id = %s",
                          (job,))
    stack.db.conn.execute("INSERT INTO thumbnails (job_id, time_ms, width, status, error) "
                          "VALUES (%s, 1000, 120, 'failed', 'x')", (job,))
    assert made(stack, job, 0, 320).status == 200, "failed rows do not use the cap"


@pytest.mark.parametrize("extra_env", [{"MEDIAGATE_THUMBNAILS_QUEUED_MAX": "3",
                                        "MEDIAGATE_THUMBNAIL_WAIT_MS": "0"}])
def test_thumbnails_never_delay_an_encode_and_queue_within_a_bound(stack, workers, clip, extra_env):
    """The worker stopped, anyone queues thumbnails: at most
    MEDIAGATE_THUMBNAILS_QUEUED_MAX of all jobs wait (then 503, nothing
    queued, not cached); an encode submitted after them runs first."""
    w = workers.start()
    job = stack.mg("submit", clip("a.mp4", SECONDS, SIZE))
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    assert w.stop(signal.SIGTERM) == 0
    answers = [thumb(stack, job, t, 120) for t in range(5)]
    assert [a.status for a in answers] == [503] * 5, answers
    assert [a.json()["message"] for a in answers[3:]] == \
        ["Too many thumbnails are waiting to be made: retry later."] * 2, answers
    assert all(a.header("Retry-After") == "2" and a.header("Cache-Control") == "no-store"
               and a.header("X-Cache-Status") != "HIT" for a in answers), answers
    assert tasks(stack, job) == 3, "nothing queued past the bound"
    assert thumb(stack, job, 4, 120).status == 503 and tasks(stack, job) == 3, "not cached either"

    job2 = stack.mg("submit", clip("b.mp4", 4, SIZE))
    workers.start()
    assert wait_until(lambda: status(stack, job2).get("job_status") in DONE, 900)
    assert made(stack, job, 4, 120).status == 200
    order = stack.db.rows("SELECT kind FROM outbox WHERE kind IN ('thumbnail.make', 'local.encode') "
                          "AND started_at IS NOT NULL AND id > (SELECT min(id) FROM outbox "
                          "WHERE kind = 'thumbnail.make') ORDER BY started_at")
    assert order[0] == ("local.encode",), order


def test_a_full_media_disk_waits_and_the_thumbnail_is_made_once_there_is_space(
        stack, media_tmpfs, workers, clip, rundir):
    """The media disk full when a thumbnail is asked: the task waits
    (uncounted, the cause named), the route answers 503, never a failure;
    once there is space it is made."""
    job = encoded(stack, workers, clip)
    filler = media_tmpfs / "filler"
    fill_disk(filler)
    r = thumb(stack, job, 1, 120)
    assert r.status == 503, r

    def snoozed():
        return stack.db.one("SELECT last_error FROM outbox WHERE kind = 'thumbnail.make' "
                            "AND payload->>'job_id' = %s", job)
    assert wait_until(lambda: (snoozed() or "").startswith("the media disk is full"), 120), snoozed()
    r = thumb(stack, job, 1, 120)
    assert r.status == 503, r
    assert stack.db.one("SELECT status FROM thumbnails WHERE job_id = %s", job) == "queued"
    assert stack.db.one("SELECT attempts FROM outbox WHERE kind = 'thumbnail.make' "
                        "AND payload->>'job_id' = %s", job) <= 1, "the waits are not counted"
    filler.unlink()
    r = made(stack, job, 1, 120)
    assert r.status == 200 and r.header("Content-Type") == "image/jpeg", r


def test_outputs_deleted_fail_the_task_once_and_the_route_says_why(stack, workers, clip, rundir):
    job = encoded(stack, workers, clip)
    shutil.rmtree(rundir / "media" / job)
    r = made(stack, job, 1, 120)
    assert r.status == 422, r
    assert r.json()["message"] == ("The thumbnail could not be made: the job's outputs are gone "
                                   "(the master playlist is missing)"), r
    assert stack.db.one("SELECT attempts, failed_at IS NOT NULL FROM outbox WHERE kind = 'thumbnail.make' "
                        "AND payload->>'job_id' = %s", job) == (1, True), "failed for good, not retried"
    again = thumb(stack, job, 1, 120)
    assert (again.status, again.body) == (r.status, r.body)
    assert tasks(stack, job) == 1


def test_an_encrypted_job_s_segment_is_decrypted_first(stack, workers, clip, rundir):
    """Needs HLS AES-128 (app/worker/hls_crypt.c): skipped where the encoder
    makes no encrypted outputs."""
    spec = json.dumps({"renditions": [{"height": 180}], "encryption": "aes-128"})
    r = subprocess.run([str(mgstack.MG_BIN), "profiles", "add", "enc", "--encoder", "local", "-"],
                       env=stack.env, input=spec, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    key = stack.mg("apikey", "create", "alice")
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", "--data-urlencode", "name=a.mp4",
                   "--data-urlencode", "profile=enc", "/uploads")
    assert r.status == 201, r
    job = r.json()["job_id"]
    src = clip("a.mp4", SECONDS, SIZE)
    assert stack.curl("-X", "PUT", "--data-binary", f"@{src}", r.json()["upload"]["url"]).status == 201
    workers.start()
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    assert status(stack, job)["job_status"] == "COMPLETE"
    if "encryption" not in status(stack, job):
        pytest.skip("the encoder made no encrypted outputs (HLS AES-128 not built in)")
    assert "#EXT-X-KEY:METHOD=AES-128" in (rundir / "media" / job / "v0" / "index.m3u8").read_text()
    got = made(stack, job, 1, 320)
    assert got.status == 200, got
    f = rundir / "enc.jpg"
    f.write_bytes(thumb_bytes(stack, job, 1, 320))
    assert probe(f) == ("mjpeg", 320, 180)


def decrypt_is_built_in():
    """False while app/worker/hls_crypt.c's hls_crypt_decrypt_file is the
    placeholder that refuses every segment (HLS AES-128 not merged)."""
    src = (mgstack.MG_ROOT / "app/worker/hls_crypt.c").read_text()
    return "(void)key, (void)iv, (void)in, (void)out;\n    return -1;" not in src


@pytest.mark.skipif(not decrypt_is_built_in(), reason="hls_crypt_decrypt_file is a placeholder here")
def test_segments_encrypted_by_hand_are_decrypted_with_the_jobs_key(stack, workers, clip, rundir):
    """A job's top rendition encrypted as HLS AES-128 says (AES-128-CBC,
    PKCS#7, no IV attribute: each segment's media sequence number), its key
    in media_keys: the thumbnails are those of the clear segments."""
    job = encoded(stack, workers, clip)
    clear = {t: thumb_bytes(stack, job, t, 120) for t in (1, 4)}
    v0 = rundir / "media" / job / "v0"
    key = bytes(range(16))
    lines, seq = [], 0
    for line in (v0 / "index.m3u8").read_text().splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            seq = int(line.split(":")[1])
        if line.startswith("#EXTINF") and not any(ln.startswith("#EXT-X-KEY") for ln in lines):
            lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="/media/key/{job}/1"')
        if line.endswith(".ts"):
            seg = v0 / line
            subprocess.run(["openssl", "enc", "-aes-128-cbc", "-K", key.hex(), "-iv", f"{seq:032x}",
                            "-in", seg, "-out", f"{seg}.enc"], check=True)
            (v0 / f"{line}.enc").rename(seg)
            seq += 1
        lines.append(line)
    (v0 / "index.m3u8").write_text("\n".join(lines) + "\n")
    stack.db.conn.execute("INSERT INTO media_keys (job_id, n, key) VALUES (%s, 1, %s)", (job, key))
    stack.db.conn.execute("DELETE FROM thumbnails WHERE job_id = %s", (job,))
    shutil.rmtree(rundir / "media" / job / "thumbs")
    for t in (1, 4):
        r = made(stack, job, t, 120)
        assert r.status == 200, r
    assert {t: thumb_bytes(stack, job, t, 120) for t in (1, 4)} == clear, \
        "the frames of the clear segments"
    # The wrong key: the segment is refused, and the route says so.
    stack.db.conn.execute("UPDATE media_keys SET key = %s WHERE job_id = %s", (bytes(16), job))
    r = made(stack, job, 2, 120)
    # (the padding's check refuses it, or, one time in hundreds, ffmpeg
    # finds no picture in what came out)
    assert r.status == 422 and r.json()["message"] in (
        "The thumbnail could not be made: a segment of the top rendition cannot be decrypted",
        "The thumbnail could not be made: ffmpeg made no frame of the video at that time"), r


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-thumb")


def test_thumbnails_of_a_job_on_an_s3_store(stack, workers, clip, s3, bucket, rundir):
    job = encode_task(stack, *upload(s3, bucket, clip("a.mp4", SECONDS, SIZE)))
    workers.start()
    assert wait_until(lambda: status(stack, job).get("job_status") in DONE, 900)
    assert status(stack, job)["job_status"] == "COMPLETE"
    a, b = (made(stack, job, t, 320) for t in (1, 4))
    assert a.status == b.status == 200, (a, b)
    stored = s3_settings.client(s3).get_object(Bucket=bucket, Key=f"media/{job}/thumbs/1000-320.jpg")
    assert stored["ContentType"] == "image/jpeg"
    assert public_read(s3, bucket, f"media/{job}/thumbs/1000-320.jpg"), "public-read, as the job's objects"
    body = stored["Body"].read()
    assert body == thumb_bytes(stack, job, 1, 320) != thumb_bytes(stack, job, 4, 320)
    (rundir / "s3.jpg").write_bytes(body)
    assert probe(rundir / "s3.jpg") == ("mjpeg", 320, 180)
    assert tasks(stack, job) == 2
    # A private job: its thumbnail private in the bucket too, answered from
    # there to the callers its ACL admits.
    alice = f"Authorization: Bearer {stack.mg('apikey', 'create', 'alice')}"
    stack.mg("jobs", "acl", job, "USER_alice")
    r = made(stack, job, 2, 320, alice)
    assert r.status == 200 and r.header("Cache-Control") == "private, max-age=86400", r
    assert not public_read(s3, bucket, f"media/{job}/thumbs/2000-320.jpg")
    assert thumb(stack, job, 2, 320).status == 422
