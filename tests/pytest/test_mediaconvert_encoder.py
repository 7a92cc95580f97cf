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
                       env={**base, **settings(mc, **env)})
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


def test_destination_setting_wins(mc):
    job = new_job()
    out = run(mc, "create", job, MEDIAGATE_MEDIACONVERT_DESTINATION="s3://mc-out/encodes")
    assert out["outcome"] == "done", out
    body = json.loads(mc.created()[0]["body"])
    dest = body["settings"]["outputGroups"][0]["outputGroupSettings"]["hlsGroupSettings"]
    assert dest["destination"] == f"s3://mc-out/encodes/{job['id']}/master"


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
