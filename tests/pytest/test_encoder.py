"""The local encoder through real PostgreSQL, nginx and ffmpeg: an upload by
HTTP PUT -> job -> progress strictly between 0 and 100 -> COMPLETE with the
right duration and size -> the master playlist, fetched through nginx, read
by ffprobe; a corrupt input -> ERROR with ffmpeg's reason; kill -9 of the
worker mid-encode -> encoded again after the lease, no duplicate outputs;
two workers and ten jobs -> each encoded exactly once; uploads need an API
key and an allowed origin; SIGTERM hands a task back; a time limit ends in
ERROR.

Each test has its own database (from the migrated template), mediagate
serve, nginx and workers (see conftest.py).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from mgstack import processes_matching, wait_until

ALLOWED = "https://app.example.com"
UPLOAD_401 = '{"success":false,"message":"Authentication required: Authorization: Bearer <API key>."}'
DONE = ("COMPLETE", "ERROR")


def encoder_env(rundir):
    """The settings of the encoder's tests, for RUNDIR."""
    return {
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_MEDIA_URL": "/media-files",
        # Not shorter: a busy machine can miss two heartbeats (a third of it).
        "MEDIAGATE_LEASE_SECONDS": "10",
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_ENCODE_NICE": "0",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_ALLOWED_ORIGINS": r"https://app\.example\.com",
    }


@pytest.fixture
def mg_env(rundir):
    return encoder_env(rundir)


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture(scope="session")
def clips(run_root):
    """Makes a test clip once per session: clips(NAME, SECONDS, SIZE)."""
    d = run_root / "clips"
    d.mkdir()

    def make(name, seconds, size):
        out = d / name
        if not out.exists():
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                            f"testsrc=size={size}:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                            "-shortest", str(out)], check=True)
        return out

    return make


@pytest.fixture
def clip(clips, rundir):
    """clip(NAME, SECONDS, SIZE): the test's own copy of a clip, in its
    directory (so a process's command line names this test's file)."""
    def copy(name, seconds, size):
        dst = rundir / name
        shutil.copyfile(clips(name, seconds, size), dst)
        return dst
    return copy


def status(stack, job):
    """GET /media/status?job_id=JOB as a dict ({} if it is not JSON)."""
    try:
        return json.loads(stack.curl(f"/media/status?job_id={job}").body)
    except ValueError:
        return {}


def progress(stack, job):
    p = status(stack, job).get("progress_rate")
    return p if isinstance(p, int) else -1


# Every timeout below is a cap against a hang, not a measure: on a loaded
# machine an encode takes several times as long as on a quiet one.
def wait_status(stack, job, states, timeout):
    return wait_until(lambda: status(stack, job).get("job_status") in states, timeout)


def job_for(stack, input_file, timeout, interval):
    """The job id /media/job_id gives for INPUT_FILE once it answers 200."""
    def look():
        r = stack.curl(f"/media/job_id?input_file={input_file}")
        return r.json()["job_id"] if r.status == 200 else None
    return wait_until(look, timeout, interval)


def hidden_entries(d):
    """Entries of D whose name starts with '.' (partial outputs)."""
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def put(stack, src, path, *headers):
    args = []
    for h in headers:
        args += ["-H", h]
    return stack.curl("-X", "PUT", *args, "--data-binary", f"@{src}", path)


def test_upload_becomes_a_playable_hls_job(stack, workers, clip, rundir):
    a = clip("a.mp4", 10, "1280x720")
    key = stack.mg("apikey", "create", "uploader")
    workers.start()
    r = put(stack, a, "/uploads/a.mp4", f"Authorization: Bearer {key}")
    assert r.status == 201, r
    uploaded = r.json()["upload"]["input_file"]
    job = job_for(stack, uploaded, 60, 0.05)
    assert job == r.json()["job_id"], "/media/job_id finds the uploaded file's job by its path"

    # mediagate submit makes the same kind of job from a local file.
    sid = stack.mg("submit", a)
    r = stack.curl(f"/media/job_id?input_file={a}")
    assert r.body == f'{{"success":true,"job_id":"{sid}"}}', r

    seen = []

    def poll():
        s = status(stack, job)
        p = s.get("progress_rate")
        if isinstance(p, int) and 0 < p < 100:
            seen.append(p)
        return s.get("job_status") in DONE
    wait_until(poll, 900)
    assert seen, "progress seen strictly between 0 and 100"
    assert seen == sorted(seen), f"progress only rose: {seen}"

    r = stack.curl(f"/media/status?job_id={job}")
    j = r.json()
    assert [j.get(k) for k in ("job_status", "progress_rate", "width_px", "height_px", "output_path",
                               "playlists")] == \
        ["COMPLETE", 100, 1280, 720, f"/media-files/{job}/", {".m3u8": "master.m3u8"}], r
    assert (rundir / "upload" / uploaded).read_bytes() == a.read_bytes(), \
        "the input stays where the upload put it (docs/uploads.md)"
    d = j.get("duration_ms")
    assert isinstance(d, (int, float)) and 9900 <= d <= 10100, f"duration_ms is 10 s ({d})"
    assert [[v.get("format"), v.get("width"), v.get("height")] for v in j.get("variations", [])] == \
        [["hls", 1280, 720], ["hls", 854, 480], ["hls", 640, 360]], r
    assert all(isinstance(v.get("size"), (int, float)) and v["size"] > 10000 for v in j["variations"]), \
        f"every rendition has a size: {j['variations']}"
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=height", "-of", "csv=p=0",
                        f"{stack.base}/media-files/{job}/master.m3u8"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, f"the master playlist, through nginx, is read by ffprobe: {p.stderr}"

    # nginx/mediagate-media.conf: public, playable from any page, typed.
    r = stack.curl("-H", "Origin: https://player.example.net", f"/media-files/{job}/master.m3u8")
    assert r.status == 200, r
    assert r.header("Access-Control-Allow-Origin") == "*", r.headers
    assert r.header("Content-Type") == "application/vnd.apple.mpegurl", r.headers
    assert r.header("Access-Control-Allow-Credentials") is None, r.headers
    partial = rundir / "media" / ".inprogress.tmp"
    partial.mkdir()
    (partial / "master.m3u8").write_text("#EXTM3U\n")
    r = stack.curl("/media-files/.inprogress.tmp/master.m3u8")
    assert r.status == 404, r


def test_corrupt_input_ends_in_error_with_ffmpegs_reason(stack, workers, rundir):
    corrupt = rundir / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(200000))
    workers.start()
    bad = stack.mg("submit", corrupt)
    wait_status(stack, bad, ("ERROR",), 300)
    r = stack.curl(f"/media/status?job_id={bad}")
    j = r.json()
    assert [j.get("job_status"), j.get("error_code")] == ["ERROR", 1], r
    msg = j.get("error_message") or ""
    assert "invalid data" in msg.lower(), f"the error names ffmpeg's reason: {msg!r}"
    assert str(rundir) not in msg and "/" not in msg, f"and no server path: {msg!r}"
    assert stack.db.one("SELECT attempts, failed_at IS NOT NULL FROM outbox WHERE payload->>'job_id' = %s",
                        bad) == (1, True), "a bad input is not retried"


def encoding(stack, workers, clip):
    """A worker started and a long clip submitted, its encode under way:
    (the worker, the job, a pattern matching its ffmpeg's command line)."""
    long = clip("long.mp4", 30, "1280x720")
    w = workers.start()
    k = stack.mg("submit", long)
    assert wait_until(lambda: progress(stack, k) > 0, 300), "the encode started"
    ffmpeg = "ffmpeg.*" + re.escape(str(long))
    assert processes_matching(ffmpeg), "an ffmpeg encodes the file"
    return w, k, ffmpeg


def test_kill_9_mid_encode_encodes_again_after_the_lease(stack, workers, clip, rundir):
    first, k, ffmpeg = encoding(stack, workers, clip)
    first.kill(signal.SIGKILL)
    first.wait()
    wait_until(lambda: not processes_matching(ffmpeg), 60, 0.05)
    assert not processes_matching(ffmpeg), "its ffmpeg died with it"
    # Killed mid-encode, not finished on its own: its partial outputs are
    # there, and no playlist of theirs is closed (a finished one would be).
    partial = list((rundir / "media").glob(f".{k}.*.tmp"))
    assert partial and not any("#EXT-X-ENDLIST" in p.read_text() for d in partial for p in d.rglob("*.m3u8")), \
        f"killed mid-encode, not finished on its own: {partial}"
    assert stack.db.one("SELECT locked_by IS NOT NULL FROM outbox WHERE payload->>'job_id' = %s", k) is True, \
        "the killed attempt left its lease behind"

    workers.start()
    wait_status(stack, k, DONE, 900)
    r = stack.curl(f"/media/status?job_id={k}")
    assert r.json().get("job_status") == "COMPLETE", r
    assert stack.db.one("SELECT attempts FROM outbox WHERE payload->>'job_id' = %s", k) == 2, \
        "encoded again after the lease: 2 attempts"
    media = rundir / "media"
    assert hidden_entries(media) == [], "no leftover partial outputs"
    assert len(list((media / k).rglob("master.m3u8"))) == 1, "one set of outputs"
    segments = [p for p in (media / k / "v0").iterdir() if p.name.endswith(".ts")]
    listed = [line for line in (media / k / "v0" / "index.m3u8").read_text().splitlines() if line.endswith(".ts")]
    assert len(segments) == len(listed), f"no duplicate segments: {len(segments)} files, {len(listed)} listed"


def test_a_worker_that_lost_its_lease_stops_its_encode(stack, workers, clip, rundir):
    """The task taken over under a running encode (as a claim after its
    lease ran out takes it): the holder's next heartbeat finds the attempt
    gone, and it stops its ffmpeg and records and publishes nothing. No
    waiting for a lease to run out: the takeover is written directly."""
    w, k, ffmpeg = encoding(stack, workers, clip)
    tid = stack.db.one("SELECT id FROM outbox WHERE payload->>'job_id' = %s", k)
    stack.db.conn.execute("UPDATE outbox SET locked_by = 'another', attempts = attempts + 1, "
                          "locked_until = now() + interval '1 hour' WHERE id = %s", (tid,))
    assert wait_until(lambda: f"task {tid}: attempt 1 dropped" in workers.log(), 120), \
        "the holder noticed at a heartbeat and dropped its attempt"
    assert f"task {tid}: lost its lease (attempt 1); stopping" in workers.log()
    wait_until(lambda: not processes_matching(ffmpeg), 60, 0.05)
    assert not processes_matching(ffmpeg), "it stopped its ffmpeg"
    assert stack.db.one("SELECT attempts, locked_by, done_at IS NULL AND failed_at IS NULL FROM outbox "
                        "WHERE id = %s", tid) == (2, "another", True), "the other attempt's, untouched"
    assert status(stack, k).get("job_status") == "PROGRESSING"
    assert not (rundir / "media" / k).exists(), "nothing published"
    assert w.alive(), "the worker goes on"


def test_two_workers_encode_ten_jobs_exactly_once(stack, workers, clip, rundir):
    workers.start()
    workers.start()
    short = clip("short.mp4", 2, "320x240")
    # Both are up before the jobs come (a loaded machine starts them slowly).
    assert wait_until(lambda: workers.log().count("worker running") >= 2, 120), workers.log()
    for i in range(1, 11):
        shutil.copyfile(short, rundir / f"s{i}.mp4")
        stack.mg("submit", rundir / f"s{i}.mp4")
    wait_until(lambda: stack.db.one("SELECT count(*) FROM outbox WHERE done_at IS NOT NULL "
                                    "AND payload->>'input' LIKE '%/s%.mp4'") == 10, 900)
    assert stack.db.one("SELECT count(*) FROM jobs WHERE backend = 'local' AND input_file LIKE '%/s%.mp4' "
                        "AND status = 'COMPLETE'") == 10, "all ten jobs COMPLETE"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE payload->>'input' LIKE '%/s%.mp4' "
                        "AND attempts = 1") == 10, "each encoded exactly once"
    log = workers.log()
    tasks = [t for (t,) in stack.db.rows("SELECT id FROM outbox WHERE payload->>'input' LIKE '%/s%.mp4'")]
    by = set()
    for t in tasks:
        by |= set(re.findall(rf"task {t}: local\.encode \(attempt [0-9]*\) by ([^ \n]*)", log))
    assert len(by) == 2, f"both workers took part in the ten jobs: {sorted(by)}"
    # (a line of a task a request queued ends with its request_id=)
    done = [line.split()[3] for line in log.splitlines()
            if line.split(" request_id=")[0].endswith(": done")]
    assert len(done) == len(set(done)), f"each task logged done once: {sorted(done)}"
    assert {f"{t}:" for t in tasks} <= set(done), f"the ten tasks {tasks} are among those done: {sorted(done)}"


def test_uploads_need_a_key_and_an_allowed_origin(stack, workers, clip, rundir):
    both = [workers.start(), workers.start()]
    key = stack.mg("apikey", "create", "uploader")
    short = clip("short.mp4", 2, "320x240")
    r = put(stack, short, "/uploads/up1.mp4")
    assert r.status == 401, r
    r = put(stack, short, "/uploads/../x.mp4", f"Authorization: Bearer {key}")
    assert r.status != 201, f"a path outside uploads is refused: {r}"

    # CORS: browsers of allowed origins may upload; others are refused even
    # when they skip the preflight.
    r = stack.curl("-X", "OPTIONS", "-H", f"Origin: {ALLOWED}", "-H", "Access-Control-Request-Method: PUT",
                   "-H", "Access-Control-Request-Headers: authorization,content-type", "/uploads/c1.mp4")
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
    assert r.header("Access-Control-Allow-Methods") == "PUT, POST, OPTIONS", r.headers
    assert r.header("Access-Control-Allow-Headers") == "Authorization, Content-Type, If-None-Match", r.headers
    r = stack.curl("-X", "OPTIONS", "-H", "Origin: https://app.example.com.evil.net",
                   "-H", "Access-Control-Request-Method: PUT", "/uploads/c1.mp4")
    assert r.status == 403, r  # refused by the check, before the router
    assert r.header("Access-Control-Allow-Origin") is None, r.headers
    r = put(stack, short, "/uploads/c1.mp4", "Origin: https://evil.example.net", f"Authorization: Bearer {key}")
    assert r.status == 403, r
    assert r.header("Access-Control-Allow-Origin") is None, r.headers
    assert r.json().get("success") is False, r
    assert not any((rundir / "upload" / "uploads").rglob("c1.mp4")), "a PUT from a disallowed origin stores nothing"
    r = put(stack, short, "/uploads/c1.mp4", f"Origin: {ALLOWED}")
    assert r.status == 401, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
    assert r.body == UPLOAD_401, r
    # A page of the site itself (Origin = the site's own) is not a CORS request.
    r = put(stack, short, "/uploads/same-origin.mp4", f"Origin: {stack.base}", f"Authorization: Bearer {key}")
    assert r.status == 201, r
    assert r.header("Access-Control-Allow-Origin") is None, r.headers

    # An authenticated upload becomes a job, without polling.
    t0 = time.monotonic()
    r = put(stack, short, "/uploads/up1.mp4", f"Origin: {ALLOWED}", f"Authorization: Bearer {key}")
    assert r.status == 201, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
    assert r.header("Vary") == "Origin", r.headers
    up1 = r.json()["upload"]["input_file"]
    job = job_for(stack, up1, 60, 0.02)
    landing_ms = round((time.monotonic() - t0) * 1000)
    print(f"upload landed -> job visible: {landing_ms} ms")
    assert job, f"the upload became a job ({landing_ms} ms)"
    wait_status(stack, job, ("COMPLETE",), 600)
    r = stack.curl(f"/media/status?job_id={job}")
    assert r.json().get("job_status") == "COMPLETE", r
    assert stack.db.one("SELECT count(*) FROM jobs WHERE input_file = %s", up1) == 1, \
        "one job per upload, though two workers watch"

    # SIGTERM: they exit, cleanly (the wait is a cap, not a bound).
    t0 = time.monotonic()
    for w in both:
        w.kill(signal.SIGTERM)
    codes = [w.wait(120) for w in both]
    print(f"workers exited on SIGTERM in {time.monotonic() - t0:.1f} s")
    assert codes == [0, 0], f"workers exit 0 on SIGTERM: {codes}"


def test_sigterm_mid_encode_hands_back_then_time_limit_ends_in_error(stack, workers, clip, rundir):
    long = clip("long.mp4", 30, "1280x720")
    h = stack.mg("submit", long)
    # No time limit for this one: on a loaded machine its progress may come
    # after 5 s.
    w = workers.start()
    assert wait_until(lambda: progress(stack, h) > 0, 300), "the encode started before SIGTERM"
    w.kill(signal.SIGTERM)
    w.wait(120)
    assert stack.db.one("SELECT locked_by IS NULL, attempts, done_at IS NULL FROM outbox "
                        "WHERE payload->>'job_id' = %s", h) == (True, 0, True), \
        "a running task is handed back on SIGTERM"

    workers.start(MEDIAGATE_ENCODE_TIMEOUT="5")
    wait_status(stack, h, ("ERROR",), 300)
    r = stack.curl(f"/media/status?job_id={h}")
    j = r.json()
    assert [j.get("job_status"), j.get("error_code"), j.get("error_message")] == \
        ["ERROR", 4, "the encode ran past its 5 s limit"], r
    assert hidden_entries(rundir / "media") == [], "no partial outputs after the time limit"
