"""mediagate drives Zencoder (app/encoders/zencoder.c) end to end: real
PostgreSQL, nginx, `mediagate serve` and `mediagate worker`, and a stand-in
for Zencoder's API (zencoder_standin.py) that checks the key and the
documented job body and answers the documented bodies.

An upload with a Zencoder profile is created there (the input a signed,
expiring URL that the stand-in fetches through nginx, one output per rendition and the master playlist under the
job's destination, the notification URL with its secret header, the job
id in pass_through); the documented notification, posted as Zencoder posts
it, completes it with output_path, playlists and variations, and a signed
webhook reaches the customer. With no notification, the reconciler's poll
completes it. A create retried after a lost answer makes one job, and so
does one slower than the task's lease with two worker slots; a final
refusal is the job's ERROR with Zencoder's status and message;
`mediagate jobs cancel` cancels it there; a profile Zencoder cannot honour
is refused when it is written.
"""

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import s3_settings

from mgstack import MG_BIN, wait_until
from test_mux_encoder import CLIP, upload
from test_webhooks import check_signed, endpoint, receiver  # noqa: F401
from zencoder_standin import ZencoderStandin

API_KEY = "zk-" + "a1b2c3d4" * 4
SECRET = "zc-notify-secret-0123456789"
SIGNING = "media-signing-0123456789abcdef"
DEST = "s3://zbucket/out/"
LADDER = {"encoder": "zencoder", "packaging": ["hls"],
          "renditions": [{"height": 720, "video_kbps": 2800, "audio_kbps": 128},
                         {"height": 360, "video_kbps": 800, "audio_kbps": 96}]}


@pytest.fixture
def zen():
    z = ZencoderStandin(API_KEY)
    yield z
    z.close()


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-zen")


@pytest.fixture
def mg_env(request, rundir, zen):
    # A test that asks for a bucket runs on S3 storage, outputs to its
    # media/<job id>/ (no destination of Zencoder's own).
    if "bucket" in request.fixturenames:
        return {**common_env(rundir, zen), "MEDIAGATE_ZENCODER_DESTINATION": "",
                **s3_settings.env(request.getfixturevalue("s3"), request.getfixturevalue("bucket"))}
    return common_env(rundir, zen)


def common_env(rundir, zen):
    return {
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_LEASE_SECONDS": "10",
        "MEDIAGATE_ZENCODER_API_KEY": API_KEY,
        "MEDIAGATE_ZENCODER_API_URL": zen.url,
        "MEDIAGATE_ZENCODER_SECRET": SECRET,
        "MEDIAGATE_ZENCODER_DESTINATION": DEST,
        "MEDIAGATE_MEDIA_SIGNING_SECRET": SIGNING,
        "MEDIAGATE_RECONCILE_AFTER": "5",
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
        "MEDIAGATE_WEBHOOK_RETRY_UNIT_MS": "50",
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture
def workers(workers, stack):
    """Workers that reach this stack's nginx as MEDIAGATE_PUBLIC_URL (the
    notification URL and a local upload's signed input URL)."""
    start = workers.start
    workers.start = lambda **env: start(MEDIAGATE_PUBLIC_URL=stack.base, **env)
    return workers


@pytest.fixture
def key(stack):
    """The Zencoder profile, and an API key that may use it. The uploads
    directory as packaged (2750, nginx's group), so that nginx serves an
    upload's signed input URL."""
    up = Path(stack.env["MEDIAGATE_UPLOADS_DIR"])
    if up.is_dir():
        shutil.chown(up, group="www-data")
        up.chmod(0o2750)
    f = stack.run / "zen.json"
    f.write_text(json.dumps(LADDER))
    stack.mg("profiles", "add", "zen", "--encoder", "zencoder", f)
    return stack.mg("apikey", "create", "uploader", "--profiles", "zen")


def start_job(stack, key, profile="zen"):
    """An upload with the profile (POST /uploads, then the PUT): the job's id."""
    job = upload(stack, key, profile)
    assert stack.db.one("SELECT backend, profile FROM jobs WHERE id = %s", job) == ("zencoder", profile)
    return job


def made(zen, n=1):
    """The stand-in's jobs once there are N."""
    got = wait_until(lambda: len(zen.created()) >= n and zen.created(), 30, 0.05)
    assert got and len(got) == n, got
    return got


def job_row(stack, job):
    return stack.db.one("SELECT status, backend_job_id, error_code, error_message FROM jobs "
                        "WHERE id = %s", job)


def media_status(stack, job):
    r = stack.curl(f"/media/status?job_id={job}")
    assert r.status == 200, r
    return r.json()


def notify(stack, body, secret=SECRET):
    f = stack.run / f"zc-{uuid.uuid4().hex}.json"
    f.write_text(json.dumps(body))
    return stack.curl("-X", "POST", "-H", f"X-Zencoder-Notification-Secret: {secret}",
                      "-H", "Content-Type: application/json", "--data-binary", f"@{f}",
                      "/notifications/zencoder")


def check_create_body(stack, req, job):
    """What the create call carries, as the issue and Pillar's job_create
    ask for it."""
    dest = f"{DEST}{job}/"
    # A signed, expiring URL of the local upload, never a public path.
    m = re.fullmatch(rf"{stack.base}/media-files/in/([A-Za-z0-9_-]+)/(\d+)/([0-9a-f-]+)/talk\.mp4",
                     req["input"])
    assert m, req["input"]
    assert 0 < int(m.group(2)) - time.time() <= 86400 + 60
    assert req["pass_through"] == job
    outs = req["outputs"]
    assert [(o["label"], o["type"], o["format"], o["height"], o["upscale"], o["video_bitrate"],
             o["audio_bitrate"], o["url"]) for o in outs[:2]] == [
        ("v0", "segmented", "ts", 720, False, 2800, 128, f"{dest}v0/index.m3u8"),
        ("v1", "segmented", "ts", 360, False, 800, 96, f"{dest}v1/index.m3u8")]
    assert outs[2]["type"] == "playlist" and outs[2]["url"] == f"{dest}master.m3u8"
    assert [s["path"] for s in outs[2]["streams"]] == ["v0/index.m3u8", "v1/index.m3u8"]
    assert req["notifications"] == [{"format": "json", "url": f"{stack.base}/notifications/zencoder",
                                     "headers": {"X-Zencoder-Notification-Secret": SECRET}}]


def test_a_job_is_created_notified_and_completes_with_its_outputs(stack, key, workers, zen, receiver):
    endpoint(stack, receiver, "/hooks", events="job.complete")
    zen.fetch_input = True
    job = start_job(stack, key)
    workers.start()
    (jid, zj), = made(zen).items()
    check_create_body(stack, zj["request"], job)
    # Zencoder fetched the upload through the signed URL; unsigned, or
    # with its expiry changed, the same path is refused.
    assert zen.fetched == [(200, CLIP)]
    url = zj["request"]["input"]
    sig, exp, rest = re.match(r".*/in/([^/]+)/(\d+)/(.*)", url).groups()
    assert ZencoderStandin.fetch(url.replace(f"/{exp}/", f"/{int(exp) + 1}/"))[0] == 403
    assert ZencoderStandin.fetch(f"{stack.base}/media-files/in/{rest}")[0] in (403, 404)
    creates = [c for c in zen.calls if c["method"] == "POST"]
    assert len(creates) == 1 and creates[0]["headers"]["Zencoder-Api-Key"] == API_KEY
    assert wait_until(lambda: job_row(stack, job)[1] == str(jid), 30, 0.05), job_row(stack, job)

    # The notification Zencoder posts when the job is done, signed with
    # the secret header the job asked for.
    zen.set_state(jid, "finished")
    body = zen.notification(jid)
    assert notify(stack, body, "wrong-secret-0123456789").status == 401
    r = notify(stack, body)
    assert r.status == 200, r
    st = media_status(stack, job)
    dest = f"{DEST}{job}/"
    assert (st["job_status"], st["output_path"], st["playlists"]) == \
        ("COMPLETE", dest, {".m3u8": "master.m3u8"}), st
    assert [(v["label"], v["url"], v["height"]) for v in st["variations"]] == [
        ("v0", f"{dest}v0/index.m3u8", 720), ("v1", f"{dest}v1/index.m3u8", 360)], st
    # The same notification again is applied once.
    assert notify(stack, body).status == 200
    assert stack.db.one("SELECT count(*) FROM notifications WHERE job_id = %s", job) == 1

    hook = check_signed(receiver.wait("/hooks", 1)[0])
    assert hook["type"] == "job.complete" and hook["data"]["job_id"] == job, hook
    assert hook["data"]["output_path"] == dest, hook
    # No log line carries the API key or the notification secret.
    for text in (workers.log(), stack.app.log_path.read_text(errors="replace"),
                 stack.cli_log.read_text(errors="replace"),
                 stack.nginx.error_log.read_text(errors="replace")):
        assert API_KEY not in text and SECRET not in text


def test_an_event_before_the_answer_finds_the_job_by_pass_through(stack, key, workers, zen):
    zen.script = ["drop"]  # made, but the answer is lost
    job = start_job(stack, key)
    workers.start()
    (jid, _), = made(zen).items()
    zen.set_state(jid, "processing")
    body = zen.notification(jid)
    body["job"]["state"] = "processing"
    r = notify(stack, body)
    assert r.status == 200, r
    assert job_row(stack, job)[:2] == ("PROGRESSING", str(jid))


def test_a_retry_after_a_lost_answer_makes_one_job(stack, key, workers, zen):
    zen.script = ["drop"]
    job = start_job(stack, key)
    workers.start()
    assert wait_until(lambda: job_row(stack, job)[1] is not None, 60, 0.1), job_row(stack, job)
    jobs = zen.created()
    assert len(jobs) == 1, jobs
    assert job_row(stack, job)[:2] == ("SUBMITTED", str(next(iter(jobs))))
    # The second attempt looked before it sent again, and did not send.
    methods = [(c["method"], c["path"]) for c in zen.calls]
    assert methods.count(("POST", "/api/v2/jobs")) == 1, methods
    assert ("GET", "/api/v2/jobs") in methods, methods


def test_a_create_slower_than_the_lease_makes_one_job(stack, key, workers, zen):
    # Zencoder takes 14 s to make the job and answer, past the 10 s lease:
    # a second slot would claim the task once the lease lapsed, find
    # nothing in the list yet, and create again. The create renews the
    # lease before each call and waits at most half of it; the job is made
    # when the caller gives up (an unknown outcome), and the next attempt
    # finds it in the list.
    zen.script = ["slow"]
    workers.start(MEDIAGATE_WORKER_CONCURRENCY="2")
    job = start_job(stack, key)

    def settled():
        posts = [c for c in zen.calls if c["method"] == "POST"]
        done = stack.db.one("SELECT state FROM tasks WHERE kind = 'zencoder.create'") == "done"
        return done and posts and all(isinstance(c["answer"], int) for c in posts)
    assert wait_until(settled, 120, 0.1), (stack.db.rows("SELECT state, attempts, last_error FROM tasks"),
                                           zen.calls)
    jobs = zen.created()
    assert len(jobs) == 1, [(c["method"], c["path"], c["answer"]) for c in zen.calls]
    assert job_row(stack, job)[:2] == ("SUBMITTED", str(next(iter(jobs))))
    methods = [(c["method"], c["path"]) for c in zen.calls]
    assert methods.count(("POST", "/api/v2/jobs")) == 1, methods


@pytest.mark.parametrize("answers,final", [(["http503"], False), (["http422"], True)])
def test_transient_errors_retry_and_final_ones_are_the_jobs_error(stack, key, workers, zen, answers,
                                                                  final):
    zen.script = list(answers)
    job = start_job(stack, key)
    workers.start()
    if final:
        assert wait_until(lambda: job_row(stack, job)[0] == "ERROR", 30, 0.1), job_row(stack, job)
        st = media_status(stack, job)
        assert st["error_code"] == 422, st
        assert st["error_message"] == "Zencoder: HTTP 422: Input file could not be downloaded", st
        assert zen.created() == {}
    else:
        made(zen)
        assert wait_until(lambda: job_row(stack, job)[1] is not None, 60, 0.1)
        assert job_row(stack, job)[0] == "SUBMITTED"


def test_the_reconciler_completes_a_job_whose_notifications_never_came(stack, key, workers, zen):
    job = start_job(stack, key)
    workers.start()
    (jid, _), = made(zen).items()
    zen.set_state(jid, "processing", 40.5)
    assert wait_until(lambda: job_row(stack, job)[0] == "PROGRESSING", 120, 0.2), job_row(stack, job)
    zen.set_state(jid, "finished", 100)
    assert wait_until(lambda: job_row(stack, job)[0] == "COMPLETE", 120, 0.2), job_row(stack, job)
    st = media_status(stack, job)
    assert (st["output_path"], st["playlists"]) == (f"{DEST}{job}/", {".m3u8": "master.m3u8"}), st
    assert len(st["variations"]) == 2, st
    src = stack.db.rows("SELECT DISTINCT source FROM notifications WHERE job_id = %s", job)
    assert src == [("poll",)], src
    paths = {urlsplit(c["path"]).path for c in zen.calls if c["method"] == "GET"}
    assert {f"/api/v2/jobs/{jid}", f"/api/v2/jobs/{jid}/progress"} <= paths, paths


@pytest.mark.parametrize("lost_answer", [False, True])
def test_jobs_cancel_cancels_at_zencoder(stack, key, workers, zen, lost_answer):
    # With the create's answer lost the job names no Zencoder job yet: the
    # cancel finds it by pass_through.
    zen.script = ["drop"] if lost_answer else []
    job = start_job(stack, key)
    workers.start()
    (jid, _), = made(zen).items()
    if not lost_answer:
        assert wait_until(lambda: job_row(stack, job)[1] == str(jid), 60, 0.1)
    stack.mg("jobs", "cancel", job)
    assert media_status(stack, job)["job_status"] == "CANCELED"
    assert wait_until(lambda: zen.created()[jid]["state"] == "cancelled", 60, 0.1), zen.calls
    puts = [c["path"] for c in zen.calls if c["method"] == "PUT"]
    assert puts == [f"/api/v2/jobs/{jid}/cancel"], zen.calls
    assert [c for c in zen.calls if c["method"] == "POST"][1:] == [], "a canceled job is not made again"


@pytest.mark.parametrize("packaging,ok", [(["hls"], False), (["hls", "mp4"], False), (["mp4"], True)])
def test_a_profile_zencoder_cannot_honour_is_refused_when_written(stack, packaging, ok):
    f = stack.run / "p.json"
    f.write_text(json.dumps({"encoder": "zencoder", "packaging": packaging,
                             "renditions": [{"height": 1080, "codec": "h265"}]}))
    r = subprocess.run([str(MG_BIN), "profiles", "add", "hevc", "--encoder", "zencoder", str(f)],
                       env=stack.env, capture_output=True, text=True, timeout=60)
    assert (r.returncode == 0) == ok, (r.returncode, r.stderr)
    assert stack.db.one("SELECT count(*) FROM profiles WHERE name = 'hevc'") == (1 if ok else 0)
    if not ok:
        assert "rendition 1: Zencoder's HLS outputs (TS segments) are H.264" in r.stderr, r.stderr


def test_on_s3_storage_the_input_is_presigned_and_the_outputs_go_to_the_bucket(stack, key, workers, zen,
                                                                                s3, bucket):
    zen.fetch_input = True
    # The slot, then the whole file through nginx to its complete_url.
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", "-d", "name=talk.mp4",
                   "-d", f"size={len(CLIP)}", "-d", "profile=zen", "/uploads")
    assert r.status == 201, r
    (stack.run / "talk.mp4").write_bytes(CLIP)
    put = stack.curl("-X", "PUT", "--data-binary", f"@{stack.run / 'talk.mp4'}",
                     r.json()["upload"]["complete_url"])
    assert put.status == 201, put
    job = r.json()["job_id"]
    workers.start()
    (jid, zj), = made(zen).items()
    req = zj["request"]
    # The bucket's presigned GET of the upload, which Zencoder fetched; the
    # object itself is private.
    assert zen.fetched == [(200, CLIP)]
    assert req["input"].startswith(f"{s3.endpoint}/{bucket}/uploads/") and "X-Amz-Expires=" in req["input"]
    assert s3_settings.unsigned_status(req["input"].split("?")[0]) == 403
    dest = f"s3://{bucket}/media/{job}/"
    assert [o["url"] for o in req["outputs"]] == [f"{dest}v0/index.m3u8", f"{dest}v1/index.m3u8",
                                                  f"{dest}master.m3u8"]
    zen.set_state(jid, "finished")
    assert notify(stack, zen.notification(jid)).status == 200
    st = media_status(stack, job)
    assert (st["job_status"], st["playlists"]) == ("COMPLETE", {".m3u8": "master.m3u8"}), st
    # It plays like a local encode's: the output path is playback's (signed
    # here: the bucket's objects are private) for the job's media/<job id>/.
    assert re.fullmatch(rf"/media/hls/[^/]+/\d+/{job}/", st["output_path"]), st
    assert len(st["variations"]) == 2, st


def test_the_reconciler_outlives_a_long_outage_of_zencoder(stack, key, workers, zen):
    """A poll that cannot ask (Zencoder answers 503) waits without counting:
    the job keeps its reconciler through any outage, and completes once
    Zencoder answers."""
    job = start_job(stack, key)
    workers.start()
    (jid, _), = made(zen).items()
    assert wait_until(lambda: stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'encoder.poll'")
                      == 1, 60, 0.1)
    down, ask = [True], zen.handle
    zen.handle = lambda m, p, h, raw: ((503, {"errors": ["Service Unavailable"]})
                                       if down[0] and m == "GET" else ask(m, p, h, raw))
    # As after 19 failed polls (about 14 h of an outage at the kind's backoff).
    stack.db.conn.execute("UPDATE outbox SET attempts = 19, run_after = now() "
                          "WHERE kind = 'encoder.poll'")
    poll = "SELECT attempts, failed_at IS NOT NULL FROM outbox WHERE kind = 'encoder.poll'"
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM outbox WHERE kind = 'encoder.poll' AND locked_by IS NULL "
        "AND last_error LIKE '%503%'") == 1, 60, 0.1), stack.db.rows("SELECT * FROM tasks")
    # Not dead: the attempt did not count.
    assert stack.db.one(poll) == (19, False), stack.db.rows("SELECT * FROM tasks")
    assert job_row(stack, job)[0] == "SUBMITTED"
    # Zencoder is back, the job finished meanwhile.
    down[0] = False
    zen.set_state(jid, "finished", 100)
    assert wait_until(lambda: job_row(stack, job)[0] == "COMPLETE", 60, 0.2), job_row(stack, job)


def test_check_config_refuses_zencoder_half_set_up():
    """The key alone on local storage would take jobs and fail each one
    (Zencoder writes to S3): check-config refuses it, naming the setting;
    set up, it warns of what still costs (no notification URL: the
    reconciler only; local uploads cannot reach Zencoder)."""
    def check(**env):
        base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
        return subprocess.run([str(MG_BIN), "check-config"], capture_output=True, text=True,
                              timeout=60, env={**base, "MEDIAGATE_DATABASE_URL": "postgresql:///x",
                                               "MEDIAGATE_ZENCODER_API_KEY": API_KEY, **env})
    r = check()
    assert r.returncode == 1 and "MEDIAGATE_ZENCODER_DESTINATION is required when " \
        "MEDIAGATE_ZENCODER_API_KEY is set and MEDIAGATE_STORAGE is local" in r.stderr, r
    r = check(MEDIAGATE_ZENCODER_DESTINATION=DEST, MEDIAGATE_UPLOADS_DIR="/srv/uploads")
    assert r.returncode == 0 and r.stdout == "configuration OK\n", r
    assert "MEDIAGATE_PUBLIC_URL is empty: the zencoder encoder gets no notification URL" in r.stderr
    assert "with MEDIAGATE_PUBLIC_URL empty, each upload whose profile names zencoder fails" \
        in r.stderr, r
    r = check(MEDIAGATE_ZENCODER_DESTINATION=DEST, MEDIAGATE_PUBLIC_URL="https://media.example.com",
              MEDIAGATE_ZENCODER_SECRET=SECRET, MEDIAGATE_MEDIA_SIGNING_SECRET=SIGNING)
    assert (r.returncode, r.stdout, r.stderr) == (0, "configuration OK\n", ""), r

