"""The MediaConvert encoder row (app/encoders/mediaconvert.c) against a
stand-in of the account's endpoint (mediaconvert_standin.py: SigV4
recomputed with botocore, requests checked against AWS's API model).

The row's calls, one at a time through tests/lib/encoder_exec: CreateJob's
body (role, queue, settings from the profile, userMetadata, the token,
StatusUpdateInterval), throttling and final refusals, a retry after a lost
answer that makes one job, GetJob as a normalized event, CancelJob, and
the profile check."""

import json
import os
import subprocess
import uuid

import pytest

from mediaconvert_standin import MediaConvertStandin

ENCODER_EXEC = os.environ.get("MG_ENCODER_EXEC", "")
AK, SK, REGION = "AKIDMEDIAGATETEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1"
ROLE = "arn:aws:iam::111122223333:role/MediaConvert_Default_Role"
QUEUE = "arn:aws:mediaconvert:eu-west-1:111122223333:queues/mediagate"
INPUT = ("https://store.example/media/uploads/in.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
         "&X-Amz-Expires=3600&X-Amz-Signature=0a1b2c")
LADDER = {"name": "mc-ladder", "encoder": "mediaconvert", "packaging": ["hls", "mp4"],
          "renditions": [{"height": 720, "video_kbps": 2800, "codec": "h264", "audio_kbps": 128},
                         {"height": 360, "codec": "h265", "audio_kbps": -1}]}


@pytest.fixture
def mc():
    s = MediaConvertStandin(AK, SK, REGION)
    yield s
    s.close()


def settings(mc, **extra):
    env = {"MEDIAGATE_DATABASE_URL": "postgresql:///unused",
           "MEDIAGATE_MEDIACONVERT_ENDPOINT": mc.url + "/",
           "MEDIAGATE_MEDIACONVERT_REGION": REGION,
           "MEDIAGATE_MEDIACONVERT_ROLE": ROLE,
           "MEDIAGATE_MEDIACONVERT_QUEUE": QUEUE,
           "MEDIAGATE_MEDIACONVERT_STATUS_INTERVAL": "SECONDS_12",
           "MEDIAGATE_AWS_ACCESS_KEY_ID": AK,
           "MEDIAGATE_AWS_SECRET_ACCESS_KEY": SK}
    env.update(extra)
    return env


def run(mc, op, job, attempt=1, **env):
    if not os.access(ENCODER_EXEC, os.X_OK):
        pytest.fail("no encoder_exec: set MG_ENCODER_EXEC (meson test sets it)")
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
    r = subprocess.run([ENCODER_EXEC, op, "mediaconvert", json.dumps(job), str(attempt)],
                       capture_output=True, text=True, timeout=120,
                       env={**base, **settings(mc, **{
                           # where outputs go on local storage (check-config asks for it)
                           "MEDIAGATE_MEDIACONVERT_DESTINATION": "s3://media-bucket/site/media/",
                           **env})})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def new_job(profile=LADDER, **kw):
    jid = str(uuid.uuid4())
    job = {"id": jid, "input_url": INPUT, "input_file": "in.mp4", "profile": profile,
           "destination": f"s3://media-bucket/site/media/{jid}/", "age_s": 1}
    job.update(kw)
    return job


def test_create_sends_the_documented_job(mc):
    job = new_job()
    out = run(mc, "create", job)
    assert out["outcome"] == "done", out
    made = mc.created()
    assert len(made) == 1 and made[0]["answer"] == 201
    assert out["job_event"] == {"backend_job_id": made[0]["job_id"]}
    body = json.loads(made[0]["body"])
    assert body["role"] == ROLE and body["queue"] == QUEUE
    assert body["clientRequestToken"] == job["id"]
    assert body["userMetadata"] == {"mediagate_job_id": job["id"], "input_file": "in.mp4"}
    assert body["statusUpdateInterval"] == "SECONDS_12"
    s = body["settings"]
    assert s["inputs"][0]["fileInput"] == INPUT
    hls, mp4 = s["outputGroups"]
    assert hls["outputGroupSettings"]["type"] == "HLS_GROUP_SETTINGS"
    assert hls["outputGroupSettings"]["hlsGroupSettings"]["destination"] == \
        job["destination"] + "master"
    top, low = hls["outputs"]
    assert top["videoDescription"]["height"] == 720 and "width" not in top["videoDescription"]
    h264 = top["videoDescription"]["codecSettings"]
    assert h264["codec"] == "H_264" and h264["h264Settings"]["maxBitrate"] == 2800000
    assert top["audioDescriptions"][0]["codecSettings"]["aacSettings"]["bitrate"] == 128000
    assert low["videoDescription"]["codecSettings"]["codec"] == "H_265"
    assert "audioDescriptions" not in low
    assert mp4["outputGroupSettings"]["fileGroupSettings"]["destination"] == \
        job["destination"] + "video"
    assert mp4["outputs"][0]["containerSettings"]["container"] == "MP4"


def test_wrong_secret_is_refused_by_the_signature_check(mc):
    out = run(mc, "create", new_job(), MEDIAGATE_AWS_SECRET_ACCESS_KEY="not" + SK)
    assert out["outcome"] == "failed" and out["code"] == 403, out
    assert "InvalidSignatureException" in out["message"]
    assert not mc.jobs


def test_throttled_create_is_retried(mc):
    mc.script = ["throttle"]
    job = new_job()
    out = run(mc, "create", job)
    assert out["outcome"] == "retry" and out["code"] == 429, out
    assert "TooManyRequestsException" in out["message"]
    assert not mc.jobs
    out = run(mc, "create", job, attempt=2)
    assert out["outcome"] == "done" and len(mc.jobs) == 1, out


def test_retry_after_cancel_makes_nothing(mc):
    """`mediagate jobs cancel` while a throttled create waits for its retry:
    the retry finds no job at MediaConvert and makes none."""
    mc.script = ["throttle"]
    job = new_job()
    assert run(mc, "create", job)["outcome"] == "retry"
    job["status"] = "CANCELED"
    out = run(mc, "create", job, attempt=2)
    assert out["outcome"] == "done" and not out.get("job_event"), out
    assert not mc.jobs and not [c for c in mc.calls[1:] if c["method"] == "POST"], mc.calls


def test_server_error_is_retried_and_refusal_is_final(mc):
    mc.script = ["http500"]
    out = run(mc, "create", new_job())
    assert out["outcome"] == "retry" and out["code"] == 500, out
    # A URL MediaConvert cannot read: the model's pattern refuses it.
    out = run(mc, "create", new_job(input_url="ftp://store.example/in.mp4"))
    assert out["outcome"] == "failed" and out["code"] == 400, out
    assert "BadRequestException" in out["message"]
    assert out["job_event"]["status"] == "ERROR" and out["job_event"]["error_code"] == 400


def test_no_destination_fails_at_once(mc):
    out = run(mc, "create", new_job(destination=None))
    assert out["outcome"] == "failed" and "destination" in out["message"], out
    assert not mc.calls


@pytest.mark.parametrize("fault", ["drop_after_create", "drop"])
def test_retry_after_a_lost_answer_makes_one_job(mc, fault):
    """The answer is lost (the job made or not); the retry comes after
    ClientRequestToken's one minute: it looks for the job before it sends."""
    mc.script = [fault]
    mc.token_window_s = 0
    job = new_job()
    out = run(mc, "create", job)
    assert out["outcome"] == "retry", out
    out = run(mc, "create", job, attempt=2)
    assert out["outcome"] == "done", out
    assert len(mc.jobs) == 1
    (jid,) = mc.jobs
    assert out["job_event"] == {"backend_job_id": jid}
    posts = [c for c in mc.calls if c["method"] == "POST"]
    assert len(posts) == (1 if fault == "drop_after_create" else 2)
    lists = [c for c in mc.calls if c["method"] == "GET"]
    assert len(lists) == 1 and "queue=" in lists[0]["query"]


def test_default_queue(mc):
    """No queue set: the account's Default queue, and a retry's look goes
    through every queue's jobs."""
    mc.script = ["drop_after_create"]
    mc.token_window_s = 0
    job = new_job()
    run(mc, "create", job, MEDIAGATE_MEDIACONVERT_QUEUE="")
    assert "queue" not in json.loads(mc.calls[0]["body"])
    (jid,) = mc.jobs
    assert mc.jobs[jid]["queue"].endswith(":queues/Default")
    out = run(mc, "create", job, attempt=2, MEDIAGATE_MEDIACONVERT_QUEUE="")
    assert out["job_event"] == {"backend_job_id": jid}, out
    assert "queue=" not in mc.calls[1]["query"] and len(mc.jobs) == 1


def test_retry_within_the_token_window_is_deduped_by_aws(mc):
    mc.script = ["drop_after_create"]
    job = new_job()
    run(mc, "create", job)
    # Even a resend would be answered with the first job.
    assert run(mc, "create", job, attempt=1)["outcome"] == "done"
    assert len(mc.jobs) == 1 and mc.calls[-1].get("deduped")


def test_poll_reads_getjob_as_an_event(mc):
    job = new_job()
    jid = run(mc, "create", job)["job_event"]["backend_job_id"]
    job["backend_job_id"] = jid
    out = run(mc, "poll", job)
    assert out["rc"] == 0 and out["event"]["status"] == "SUBMITTED", out
    assert out["event"]["mediagate_job_id"] == job["id"]
    mc.set_status(jid, "PROGRESSING", percent=40)
    out = run(mc, "poll", job)
    assert out["event"]["status"] == "PROGRESSING" and out["event"]["progress_rate"] == 40
    assert out["event_id"] == f"poll:{jid}:PROGRESSING:40"
    assert json.loads(out["body"])["job"]["id"] == jid
    mc.set_status(jid, "COMPLETE")
    ev = run(mc, "poll", job)["event"]
    assert ev["status"] == "COMPLETE" and ev["backend_job_id"] == jid
    assert ev["output_path"] == job["destination"]
    assert ev["playlists"] == {".m3u8": "master.m3u8", ".mp4": "video.mp4"}
    assert ev["duration_ms"] == 4000 and ev["height_px"] == 240


def test_poll_of_a_failed_and_an_unknown_job(mc):
    job = new_job()
    jid = run(mc, "create", job)["job_event"]["backend_job_id"]
    mc.set_status(jid, "ERROR", error=(1030, "Unsupported codec in input"))
    ev = run(mc, "poll", {**job, "backend_job_id": jid})["event"]
    assert ev["status"] == "ERROR" and ev["error_code"] == 1030
    assert ev["error_message"] == "Unsupported codec in input"
    out = run(mc, "poll", {**job, "backend_job_id": "1700000000000-nosuch"})
    assert out["rc"] == -1 and "NotFoundException" in out["err"], out


def test_cancel(mc):
    job = new_job()
    jid = run(mc, "create", job)["job_event"]["backend_job_id"]
    assert run(mc, "cancel", {**job, "backend_job_id": jid})["rc"] == 0
    assert mc.jobs[jid]["status"] == "CANCELED"
    # Final already: nothing to cancel.
    assert run(mc, "cancel", {**job, "backend_job_id": jid})["rc"] == 0
    # The create's answer never came: the job is found by its metadata.
    mc.script = ["drop_after_create"]
    job2 = new_job()
    run(mc, "create", job2)
    assert run(mc, "cancel", job2)["rc"] == 0
    (jid2,) = [j for j in mc.jobs if j != jid]
    assert mc.jobs[jid2]["status"] == "CANCELED"


@pytest.mark.parametrize("rendition,ok", [
    ({"height": 1080, "codec": "h264", "audio_kbps": 128}, True),
    ({"width": 3840, "height": 2160, "codec": "h265"}, True),
    ({"height": 4320, "codec": "h264"}, False),
    ({"height": 16, "codec": "h264"}, False),
    ({"height": 720, "codec": "h264", "audio_kbps": 100}, False),
])
def test_check(mc, rendition, ok):
    profile = {"name": "p", "encoder": "mediaconvert", "packaging": ["hls"],
               "renditions": [rendition]}
    out = run(mc, "check", {"id": "x", "profile": profile})
    assert (out["rc"] == 0) == ok, out
    if not ok:
        assert out["err"].startswith("rendition 1:")


# End to end: a real worker creates the job at the stand-in, the test posts
# MediaConvert's documented events as the EventBridge API destination does,
# /media/status and a signed webhook follow; or, the events lost, the
# reconciler's GetJob completes the job.

import time  # noqa: E402
import urllib.request  # noqa: E402

import s3_settings  # noqa: E402
from mgstack import MG_BIN, MG_ROOT, wait_until  # noqa: E402
from test_webhooks import add_endpoint, check_signed, receiver, Receiver  # noqa: E402,F401

FIXTURES = MG_ROOT / "tests" / "fixtures" / "providers"
MC_SECRET = "mediaconvert-eventbridge-key-0123"
HLS = {"name": "mc-hls", "encoder": "mediaconvert", "packaging": ["hls"],
       "renditions": [{"height": 720, "video_kbps": 2800, "codec": "h264", "audio_kbps": 128},
                      {"height": 360, "video_kbps": 800, "codec": "h264", "audio_kbps": 96}]}


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-mc")


@pytest.fixture
def mg_env(request, rundir):
    if "bucket" not in request.fixturenames:
        return {}
    s3 = request.getfixturevalue("s3")
    mc = request.getfixturevalue("mc")
    return {
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_PUBLIC_URL": "https://media.example.com",
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
        "MEDIAGATE_WEBHOOK_RETRY_UNIT_MS": "50",
        "MEDIAGATE_RECONCILE_AFTER": getattr(request.function, "reconcile_after", "3600"),
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": s3.endpoint,
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": request.getfixturevalue("bucket"),
        "MEDIAGATE_STORAGE_PREFIX": "",
        "MEDIAGATE_STORAGE_ADDRESSING": "path",
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIAGATE_MEDIACONVERT_SECRET": MC_SECRET,
        **{k: v for k, v in settings(mc).items() if k != "MEDIAGATE_DATABASE_URL"},
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


def reconcile_after(seconds):
    def mark(f):
        f.reconcile_after = str(seconds)
        return f
    return mark


def start_job(stack, s3, bucket, profile=HLS):
    """`mediagate profiles add` (once), then an upload with profile=: POST
    /uploads, the PUT to the presigned URL, the completion. Returns the
    job's id and the upload's key."""
    f = stack.run / f"{profile['name']}.json"
    if not f.exists():
        f.write_text(json.dumps({k: v for k, v in profile.items() if k not in ("name",)}))
        stack.mg("profiles", "add", profile["name"], "--encoder", "mediaconvert", f)
    key = stack.mg("apikey", "create", f"uploader-{uuid.uuid4().hex[:8]}")
    clip = b"mp4 bytes"
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}",
                   "--data-urlencode", "name=clip.mp4", "--data-urlencode", "content_type=video/mp4",
                   "--data-urlencode", f"size={len(clip)}",
                   "--data-urlencode", f"profile={profile['name']}", "/uploads")
    assert r.status == 201, r
    up = r.json()["upload"]
    src = stack.run / "clip.mp4"
    src.write_bytes(clip)
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
            "--data-binary", f"@{src}"]
    for k, v in up["headers"].items():
        args += ["-H", f"{k}: {v}"]
    put = subprocess.run([*args, up["url"]], capture_output=True, text=True, timeout=60)
    assert put.stdout == "200", put
    done = stack.curl("-X", "POST", up["complete_url"])
    assert done.status == 201, done
    jid = done.json()["job_id"]
    assert stack.db.one("SELECT backend, profile FROM jobs WHERE id = %s", jid) == \
        ("mediaconvert", profile["name"])
    return jid, up["input_file"]


def backend_id(stack, jid):
    return stack.db.one("SELECT backend_job_id FROM jobs WHERE id = %s", jid)


def create_done(stack):
    return stack.db.one("SELECT count(*) FROM tasks WHERE kind = 'mediaconvert.create' "
                        "AND state = 'done'") == 1


def event(stack, name, **detail):
    """POSTs MediaConvert's documented event NAME (DETAIL's fields replaced)
    as the EventBridge API destination sends it: the event as the body, the
    connection's API key in its header."""
    ev = json.loads((FIXTURES / f"aws-mediaconvert-{name}.json").read_text())
    ev["detail"].update(detail)
    ev["detail"]["timestamp"] = int(time.time() * 1000)
    f = stack.run / "event.json"
    f.write_text(json.dumps(ev))
    r = stack.curl("-X", "POST", "-H", f"X-Api-Key: {MC_SECRET}", "-H",
                   "Content-Type: application/json", "--data-binary", f"@{f}",
                   "/notifications/mediaconvert")
    assert r.status == 200, r
    return r


def status(stack, jid):
    r = stack.curl(f"/media/status?job_id={jid}")
    assert r.status == 200, r
    return r.json()


def test_upload_to_complete_with_events(stack, workers, mc, s3, bucket, receiver):
    eid, secret = add_endpoint(stack, receiver.url("/hook"))
    receiver.plan("/hook", secret)
    jid, key = start_job(stack, s3, bucket)
    workers.start()
    assert wait_until(lambda: mc.created(), 60), mc.calls
    (call,) = mc.created()
    body = json.loads(call["body"])
    assert body["userMetadata"]["mediagate_job_id"] == jid
    assert body["clientRequestToken"] == jid
    dest = f"s3://{bucket}/media/{jid}/"
    hls = body["settings"]["outputGroups"][0]["outputGroupSettings"]["hlsGroupSettings"]
    assert hls["destination"] == dest + "master"
    # The input: a presigned GET of the upload, which expires; the object
    # itself is private.
    url = body["settings"]["inputs"][0]["fileInput"]
    assert url.startswith(f"{s3.endpoint}/{bucket}/{key}?") and "X-Amz-Expires=" in url, url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"mp4 bytes"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.split("?")[0], timeout=30)
    assert e.value.code == 403
    mcid = call["job_id"]
    assert wait_until(lambda: backend_id(stack, jid) == mcid, 30)

    meta = {"mediagate_job_id": jid}
    event(stack, "progressing", jobId=mcid, userMetadata=meta)
    event(stack, "status-update", jobId=mcid, userMetadata=meta,
          jobProgress={"jobPercentComplete": 50})
    assert status(stack, jid)["progress_rate"] == 50
    groups = [{"type": "HLS_GROUP", "playlistFilePaths": [dest + "master.m3u8"],
               "outputDetails": [{"outputFilePaths": [dest + "master_720p.m3u8"],
                                  "durationInMs": 4000,
                                  "videoDetails": {"widthInPx": 1280, "heightInPx": 720}}]}]
    event(stack, "complete", jobId=mcid, userMetadata=meta, outputGroupDetails=groups)
    st = status(stack, jid)
    assert st["job_status"] == "COMPLETE", st
    assert st["output_path"] and st["playlists"], st
    assert wait_until(lambda: [b for b in (check_signed(e) for e in receiver.log("/hook"))
                               if b["type"] == "job.complete"], 60), receiver.log()
    done = [b for b in (check_signed(e) for e in receiver.log("/hook"))
            if b["type"] == "job.complete"]
    assert done[0]["data"]["job_id"] == jid
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    assert len(mc.jobs) == 1


def test_an_event_before_the_answer_finds_the_job(stack, workers, mc, s3, bucket):
    """The create's answer is lost; MediaConvert's events name the job by
    its userMetadata before the retry learns its id."""
    mc.script = ["drop_after_create"]
    mc.token_window_s = 0
    jid, _ = start_job(stack, s3, bucket)
    workers.start()
    assert wait_until(lambda: mc.jobs, 60), mc.calls
    (mcid,) = mc.jobs
    event(stack, "progressing", jobId=mcid, userMetadata={"mediagate_job_id": jid})
    assert backend_id(stack, jid) == mcid
    assert status(stack, jid)["job_status"] == "PROGRESSING"
    # The retry knows the job by then, and makes no second one.
    assert wait_until(lambda: create_done(stack), 60)
    assert len(mc.jobs) == 1 and len([c for c in mc.calls if c["method"] == "POST"]) == 1
    assert stack.db.one("SELECT count(*) FROM jobs") == 1


def test_a_retry_after_a_lost_answer_makes_one_job(stack, workers, mc, s3, bucket):
    """The job is made but the answer is lost, and no event comes; the
    retry comes after ClientRequestToken's minute (token_window_s 0): it
    finds the job by ListJobs instead of sending again."""
    mc.script = ["drop_after_create"]
    mc.token_window_s = 0
    jid, _ = start_job(stack, s3, bucket)
    workers.start()
    assert wait_until(lambda: create_done(stack), 90), mc.calls
    (mcid,) = mc.jobs
    assert backend_id(stack, jid) == mcid
    assert [c["method"] for c in mc.calls] == ["POST", "GET"], mc.calls
    assert "queue=" in mc.calls[1]["query"]


def test_a_throttled_create_is_retried_into_one_job(stack, workers, mc, s3, bucket):
    mc.script = ["throttle", "http500"]
    jid, _ = start_job(stack, s3, bucket)
    workers.start()
    assert wait_until(lambda: create_done(stack), 90), mc.calls
    assert [c["answer"] for c in mc.calls if c["method"] == "POST"] == [429, 500, 201], mc.calls
    assert mc.calls[0]["error_type"] == "TooManyRequestsException"
    (mcid,) = mc.jobs
    assert backend_id(stack, jid) == mcid
    assert status(stack, jid)["job_status"] == "SUBMITTED"


def test_a_refused_create_is_the_jobs_error(stack, workers, mc, s3, bucket):
    jid, key = start_job(stack, s3, bucket, profile={**HLS, "name": "mc-bad"})
    # MediaConvert refuses the job for good: the job is ERROR with the
    # provider's status and error type.
    mc.script = ["refuse"]
    workers.start()
    assert wait_until(lambda: status(stack, jid)["job_status"] == "ERROR", 60), mc.calls
    st = status(stack, jid)
    assert st["error_code"] == 400 and "BadRequestException" in st["error_message"], st
    assert not mc.jobs


@reconcile_after(5)
def test_lost_events_the_reconciler_completes_the_job(stack, workers, mc, s3, bucket):
    jid, _ = start_job(stack, s3, bucket)
    workers.start()
    assert wait_until(lambda: mc.jobs, 60), mc.calls
    (mcid,) = mc.jobs
    mc.set_status(mcid, "PROGRESSING", percent=30)
    assert wait_until(lambda: status(stack, jid).get("progress_rate") == 30, 60), mc.calls
    mc.set_status(mcid, "COMPLETE")
    assert wait_until(lambda: status(stack, jid)["job_status"] == "COMPLETE", 60), mc.calls
    st = status(stack, jid)
    assert st["output_path"] and st["playlists"], st
    rows = stack.db.rows("SELECT source, event_id FROM notifications WHERE job_id = %s "
                         "ORDER BY received_at", jid)
    assert rows and all(r[0] == "poll" for r in rows), rows
    assert f"poll:{mcid}:COMPLETE:-1" in [r[1] for r in rows]
    gets = [c for c in mc.calls if c["method"] == "GET" and c["path"].endswith(mcid)]
    assert gets and all(c["answer"] == 200 for c in gets)


def test_jobs_cancel_cancels_at_mediaconvert(stack, workers, mc, s3, bucket):
    jid, _ = start_job(stack, s3, bucket)
    workers.start()
    assert wait_until(lambda: mc.jobs and backend_id(stack, jid), 60), mc.calls
    (mcid,) = mc.jobs
    stack.mg("jobs", "cancel", jid)
    assert status(stack, jid)["job_status"] == "CANCELED"
    assert wait_until(lambda: mc.jobs[mcid]["status"] == "CANCELED", 60), mc.calls
    (d,) = [c for c in mc.calls if c["method"] == "DELETE"]
    assert d["path"].endswith("/" + mcid) and d["answer"] == 202


@pytest.mark.parametrize("rendition,reason", [
    ({"height": 4320, "codec": "h264"}, "h264 goes up to 4096x2304"),
    ({"height": 720, "codec": "h264", "audio_kbps": 100}, "AAC"),
])
def test_profiles_mediaconvert_cannot_honour_are_refused(stack, rendition, reason):
    f = stack.run / "p.json"
    f.write_text(json.dumps({"renditions": [rendition], "packaging": ["hls"]}))
    r = subprocess.run([str(MG_BIN), "profiles", "add", "bad", "--encoder", "mediaconvert",
                        str(f)], env=stack.env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and reason in r.stderr, (r.returncode, r.stderr)
    assert stack.db.one("SELECT count(*) FROM profiles WHERE name = 'bad'") == 0


@reconcile_after(5)
def test_a_job_past_mediaconverts_48_hours_becomes_error(stack, workers, mc, s3, bucket):
    jid, _ = start_job(stack, s3, bucket)
    workers.start()
    assert wait_until(lambda: mc.jobs and backend_id(stack, jid), 60), mc.calls
    (mcid,) = mc.jobs
    mc.set_status(mcid, "PROGRESSING", percent=10)
    # PROGRESSING for 49 h: the limit counts from then.
    stack.db.conn.execute("UPDATE jobs SET status = 'PROGRESSING', "
                          "progressing_at = now() - interval '49 hours' WHERE id = %s", (jid,))
    assert wait_until(lambda: status(stack, jid)["job_status"] == "ERROR", 60), mc.calls
    msg = stack.db.one("SELECT error_message FROM jobs WHERE id = %s", jid)
    assert msg == "mediaconvert: stuck in PROGRESSING past the encoder's 48 h limit", msg
    # Ended here, it is canceled at MediaConvert too.
    assert wait_until(lambda: mc.jobs[mcid]["status"] == "CANCELED", 60), mc.calls
    (d,) = [c for c in mc.calls if c["method"] == "DELETE"]
    assert d["path"].endswith("/" + mcid), d


@reconcile_after(5)
def test_the_48_hours_count_only_while_the_job_is_progressing(stack, workers, mc, s3, bucket):
    """A job that waited long before it ran (queued, its create retried) is
    not ended for MediaConvert's limit: that counts from when it went
    PROGRESSING."""
    jid, _ = start_job(stack, s3, bucket)
    stack.db.conn.execute("UPDATE jobs SET created_at = now() - interval '49 hours' "
                          "WHERE id = %s", (jid,))
    workers.start()
    assert wait_until(lambda: mc.jobs and backend_id(stack, jid), 60), mc.calls
    (mcid,) = mc.jobs

    def polled(state):
        """The reconciler stored MediaConvert's answer saying state, and
        its attempt ended (or the job ended)."""
        return stack.db.one("SELECT status FROM jobs WHERE id = %s", jid) == "ERROR" or (
            stack.db.one("SELECT count(*) FROM notifications WHERE source = 'poll' AND job_id = %s "
                         "AND event_id LIKE %s", jid, f"poll:%:{state}:%") > 0
            and stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'encoder.poll' AND "
                             "locked_by IS NULL AND last_error = 'the job is not final yet'") == 1)

    assert wait_until(lambda: polled("SUBMITTED"), 60, 0.2), stack.db.rows("SELECT * FROM tasks")
    assert stack.db.one("SELECT status, progressing_at FROM jobs WHERE id = %s", jid) == \
        ("SUBMITTED", None)
    mc.set_status(mcid, "PROGRESSING", percent=10)
    assert wait_until(lambda: polled("PROGRESSING"), 60, 0.2), stack.db.rows("SELECT * FROM tasks")
    assert stack.db.one("SELECT status, progressing_at > now() - interval '1 hour' FROM jobs "
                        "WHERE id = %s", jid) == ("PROGRESSING", True)
    assert mc.jobs[mcid]["status"] == "PROGRESSING"
