"""The mux encoder end to end, through real PostgreSQL, nginx, mediagate
serve and worker, a stand-in of Mux's assets API (mux_standin.py: HTTP
Basic, the documented create body and answer, get, list, delete) and the
webhook receiver of the customer (tests/webhook-receiver, Standard
Webhooks checked by the npm package):

- an upload with a mux profile (or an input elsewhere, POST /media/jobs
  with input_url): the worker creates the asset (the stand-in
  checks the call: credentials, the documented fields, the job id as
  passthrough, the policy from the ACL, the tier and MP4 from the profile)
  and Mux fetches the input by its signed, expiring URL (nginx's for a
  local upload, the store's presigned GET in a bucket); Mux's documented
  webhooks, signed as Mux signs them, make the job COMPLETE with its
  playback id's playlist in /media/status, and the customer gets a signed
  job.complete;
- a webhook that comes before the create's answer is recorded applies to
  the job (the passthrough names it) and never makes a second one;
- an answer lost after the asset was made: the retry finds the asset by
  its passthrough and makes no second one; throttling and 5xx are retried,
  Mux's refusals are final with its status and messages;
- the reconciler: no webhook ever comes, the job completes by polling,
  stored as a poll; an asset Mux no longer knows ends the job in ERROR;
- mediagate jobs cancel deletes the asset; a profile Mux cannot honour is
  refused when it is written.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import s3_settings
from mgstack import MG_BIN, wait_until
from mux_standin import MuxStandin
from test_webhooks import Receiver  # the customer's receiver

TOKEN_ID = "mux-token-id-4d2f"
TOKEN_SECRET = "mux-token-secret-0123456789abcdef"
HOOK_SECRET = "mux-signing-secret-0123456789abcdef"
PROFILE = {"encoder": "mux", "renditions": [{"height": 1080}], "packaging": ["hls"]}
PROFILE_MP4 = {"encoder": "mux", "renditions": [{"width": 3840}], "packaging": ["hls", "mp4"]}
CLIP = b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 40


@pytest.fixture
def mux():
    s = MuxStandin(TOKEN_ID, TOKEN_SECRET)
    yield s
    s.close()


def s3_storage(f):
    """The test keeps uploads in a bucket of the session's store (Ceph
    RGW, started for the first such test)."""
    f.s3_storage = True
    return f


@pytest.fixture
def mg_env(rundir, mux, request):
    s3 = {}
    if getattr(request.function, "s3_storage", False):
        store = request.getfixturevalue("s3")
        s3 = s3_settings.env(store, s3_settings.new_bucket(store, "mg-mux"))
    return {
        **s3,
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_MUX_TOKEN_ID": TOKEN_ID,
        "MEDIAGATE_MUX_TOKEN_SECRET": TOKEN_SECRET,
        "MEDIAGATE_MUX_API_URL": mux.url,
        "MEDIAGATE_MUX_SECRET": HOOK_SECRET,
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
        "MEDIAGATE_MEDIA_SIGNING_SECRET": "media-signing-secret-0123456789abcdef",
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture
def receiver(rundir, logs):
    r = Receiver(rundir)
    logs.add("receiver", r.out_path)
    yield r
    r.stop()


@pytest.fixture
def key(stack):
    # As packaged, nginx reads uploads through its group: the directory is
    # setgid to nginx's group (2750), so each upload's files are in it.
    up = stack.run / "upload" / "uploads"
    shutil.chown(up, group="www-data")
    os.chmod(up, 0o2750)
    for name, spec in (("mux-hd", PROFILE), ("mux-4k-mp4", PROFILE_MP4)):
        f = stack.run / f"{name}.json"
        f.write_text(json.dumps(spec))
        stack.mg("profiles", "add", name, "--encoder", "mux", f)
    return stack.mg("apikey", "create", "uploader")


def start_worker(stack, workers, **env):
    """A worker that reaches this stack's nginx as MEDIAGATE_PUBLIC_URL."""
    return workers.start(MEDIAGATE_PUBLIC_URL=stack.base, **env)


def upload(stack, key, profile="mux-hd", *form):
    """POST /uploads with the profile, then the PUT: the job's id."""
    args = ["-X", "POST", "-H", f"Authorization: Bearer {key}"]
    for f in ("name=talk.mp4", f"profile={profile}", *form):
        args += ["--data-urlencode", f]
    r = stack.curl(*args, "/uploads")
    assert r.status == 201, r
    src = stack.run / "talk.mp4"
    src.write_bytes(CLIP)
    put = stack.curl("-X", "PUT", "--data-binary", f"@{src}", r.json()["upload"]["url"])
    assert put.status == 201, put
    return r.json()["job_id"]


def created(mux, n=1):
    """The first n create calls that made an asset, once there are n."""
    got = wait_until(lambda: len(mux.creates()) >= n and mux.creates(), 60, 0.05)
    assert got and len(got) >= n, mux.calls
    return got[:n]


def mux_sign(body, t=None, secret=HOOK_SECRET):
    t = int(time.time()) if t is None else t
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def post_event(stack, ev):
    """The webhook as Mux sends it, Mux-Signature and all."""
    body = json.dumps(ev).encode()
    r = stack.curl("-X", "POST", "-H", "Content-Type: application/json", "-H",
                   f"Mux-Signature: {mux_sign(body)}", "--data-binary", body.decode(),
                   "/notifications/mux")
    assert r.status == 200, r
    return r.json()


def status(stack, job):
    r = stack.curl(f"/media/status?job_id={job}")
    assert r.status == 200, r
    return r.json()


def job_row(stack, job):
    return stack.db.one("SELECT backend, backend_job_id, profile, status FROM jobs WHERE id = %s", job)


def wait_status(stack, job, want, timeout=60):
    got = wait_until(lambda: status(stack, job)["job_status"] == want, timeout, 0.1)
    assert got, status(stack, job)
    return status(stack, job)


def test_upload_to_complete_with_a_signed_webhook(stack, key, workers, mux, receiver):
    secret = stack.mg("webhook", "add", receiver.url("/hooks"), "--events", "job.complete")
    receiver.plan("/hooks", secret)
    start_worker(stack, workers)
    job = upload(stack, key)
    (call,) = created(mux)
    body = json.loads(call["body"])
    # The documented create body, nothing else.
    assert set(body) == {"inputs", "playback_policies", "passthrough", "max_resolution_tier"}, body
    assert body["passthrough"] == job and body["playback_policies"] == ["public"], body
    assert body["max_resolution_tier"] == "1080p", body
    assert call["headers"]["Content-Type"] == "application/json"
    # Mux fetched the input by its URL: the upload's bytes, from this site.
    (inp,) = body["inputs"]
    assert inp["url"].startswith(stack.base + "/"), inp
    asset = call["asset"]
    assert wait_until(lambda: asset in mux.fetched, 60, 0.05), mux.fetched
    assert mux.fetched[asset] == (200, CLIP), mux.fetched[asset][0]
    # Signed and expiring (<media URL>/in/<sig>/<exp>/<upload>/<name>): a
    # later expiry or another signature is refused, and so is no signature.
    m = re.fullmatch(re.escape(stack.base) + r"(/\S+/in/)([A-Za-z0-9_-]{22})/(\d+)/(\S+)", inp["url"])
    assert m, inp
    lifetime = int(m.group(3)) - time.time()
    assert 86400 - 600 < lifetime <= 86400, lifetime  # MEDIAGATE_ENCODER_INPUT_LIFETIME's default
    for bad in (f"{m.group(1)}{m.group(2)}/{int(m.group(3)) + 1}/{m.group(4)}",
                f"{m.group(1)}{'A' * 22}/{m.group(3)}/{m.group(4)}", f"{m.group(1)}{m.group(4)}"):
        r = stack.curl(bad)
        assert r.status == 403, (bad, r)
    assert wait_until(lambda: job_row(stack, job)[1] == asset, 60, 0.1), job_row(stack, job)
    assert job_row(stack, job) == ("mux", asset, "mux-hd", "SUBMITTED")

    assert post_event(stack, mux.event(asset, "created"))["result"] == "applied"
    assert wait_status(stack, job, "PROGRESSING")
    pid = mux.ready(asset)["playback_ids"][0]["id"]
    assert post_event(stack, mux.event(asset, "ready"))["result"] == "applied"
    s = status(stack, job)
    assert s == {"success": True, "job_status": "COMPLETE", "progress_rate": 100, "duration_ms": 12500,
                 "width_px": 1920, "height_px": 1080, "output_path": "https://stream.mux.com/",
                 "playlists": {".m3u8": f"{pid}.m3u8"}, **({"job_id": job} if "job_id" in s else {})}, s
    # The upload's name stays the job's input: the passthrough named the job.
    assert stack.db.one("SELECT input_file FROM jobs WHERE id = %s", job).endswith("/talk.mp4")
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    (hook,) = receiver.wait("/hooks", 1)
    assert hook["verified"], hook
    sent = json.loads(hook["body"])
    assert sent["type"] == "job.complete" and sent["data"]["job_id"] == job, sent
    assert sent["data"]["playlists"] == {".m3u8": f"{pid}.m3u8"}, sent


def test_signed_acl_and_mp4(stack, key, workers, mux):
    start_worker(stack, workers)
    job = upload(stack, key, "mux-4k-mp4", "acl=USER_alice")
    (call,) = created(mux)
    body = json.loads(call["body"])
    assert body["playback_policies"] == ["signed"], body
    assert body["max_resolution_tier"] == "2160p", body
    assert body["static_renditions"] == [{"resolution": "highest"}], body
    asset = call["asset"]
    assert wait_until(lambda: job_row(stack, job)[1] == asset, 60, 0.1)
    pid = mux.ready(asset)["playback_ids"][0]
    assert pid["policy"] == "signed"
    post_event(stack, mux.event(asset, "ready"))
    row = stack.db.one("SELECT status, output_path, playlists, outputs FROM jobs WHERE id = %s", job)
    assert row[:3] == ("COMPLETE", "https://stream.mux.com/", {".m3u8": f"{pid['id']}.m3u8"}), row
    assert [o["name"] for o in row[3]] == ["highest.mp4"], row


@s3_storage
def test_an_upload_in_the_bucket_is_fetched_by_a_presigned_url(stack, key, workers, mux):
    start_worker(stack, workers)
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", "--data-urlencode", "name=talk.mp4",
                   "--data-urlencode", "profile=mux-hd", "--data-urlencode", f"size={len(CLIP)}", "/uploads")
    assert r.status == 201, r
    up = r.json()["upload"]
    src = stack.run / "talk.mp4"
    src.write_bytes(CLIP)
    put = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                          "--data-binary", f"@{src}", *sum((["-H", f"{k}: {v}"] for k, v in up["headers"].items()), []),
                          up["url"]], capture_output=True, text=True, timeout=120)
    assert put.stdout == "200", put
    assert stack.curl("-X", "POST", up["complete_url"]).status == 201
    (call,) = created(mux)
    (inp,) = json.loads(call["body"])["inputs"]
    # The store's own presigned GET of the upload, expiring with
    # MEDIAGATE_ENCODER_INPUT_LIFETIME; Mux fetched it there.
    store = stack.env["MEDIAGATE_STORAGE_ENDPOINT"]
    assert inp["url"].startswith(f"{store}/{stack.env['MEDIAGATE_STORAGE_BUCKET']}/{up['input_file']}?"), inp
    assert "X-Amz-Signature=" in inp["url"] and "X-Amz-Expires=86400" in inp["url"], inp
    assert wait_until(lambda: call["asset"] in mux.fetched, 60, 0.05), mux.fetched
    assert mux.fetched[call["asset"]] == (200, CLIP), mux.fetched[call["asset"]][0]
    assert s3_settings.unsigned_status(inp["url"].split("?")[0]) == 403


def test_an_input_elsewhere_by_post_media_jobs(stack, key, workers, mux):
    start_worker(stack, workers)
    url = "https://cdn.example.com/talks/keynote.mp4?X-Amz-Expires=3600&X-Amz-Signature=abc"
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", "--data-urlencode", f"input_url={url}",
                   "--data-urlencode", "profile=mux-hd", "--data-urlencode", "acl=GROUP_staff", "/media/jobs")
    assert r.status == 201, r
    job = r.json()["job_id"]
    (call,) = created(mux)
    body = json.loads(call["body"])
    assert body["inputs"] == [{"url": url}] and body["passthrough"] == job, body
    assert body["playback_policies"] == ["signed"], body
    assert wait_until(lambda: job_row(stack, job)[1] == call["asset"], 60, 0.1)
    assert job_row(stack, job) == ("mux", call["asset"], "mux-hd", "SUBMITTED")


def test_webhook_before_the_create_answer_names_the_job(stack, key, workers, mux):
    # The answer is lost: the asset exists at Mux, mediagate does not know it.
    mux.script = ["drop"]
    start_worker(stack, workers)
    job = upload(stack, key)
    (call,) = created(mux)
    asset = call["asset"]
    # Mux's webhook may well come first: it applies to the job.
    r = post_event(stack, mux.event(asset, "created"))
    assert r["result"] == "applied", r
    assert job_row(stack, job)[1] == asset
    assert status(stack, job)["job_status"] == "PROGRESSING"
    # The retry knows the asset from the webhook: one asset, one job.
    assert wait_until(lambda: stack.db.one("SELECT state FROM tasks WHERE kind = 'mux.create'") == "done",
                      60, 0.1), stack.db.rows("SELECT state, attempts, last_error FROM tasks")
    assert len(mux.assets) == 1 and len(mux.creates()) == 1, mux.calls
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    assert job_row(stack, job)[1] == asset


def test_lost_answer_throttling_and_5xx_make_one_asset(stack, key, workers, mux):
    mux.script = ["500", "429", "drop"]
    start_worker(stack, workers)
    job = upload(stack, key)
    assert wait_until(lambda: stack.db.one("SELECT state FROM tasks WHERE kind = 'mux.create'") == "done",
                      120, 0.1), stack.db.rows("SELECT state, attempts, last_error FROM tasks")
    (call,) = mux.creates()
    assert len(mux.assets) == 1, mux.calls
    assert job_row(stack, job) == ("mux", call["asset"], "mux-hd", "SUBMITTED")
    # 500 and 429 were answered, the drop not; the next attempt looked first and found it.
    posts = [c["answer"] for c in mux.calls if c["method"] == "POST"]
    assert posts == ["500", "429", "drop"], mux.calls
    last = mux.calls[-1]
    assert last["method"] == "GET" and last["path"].startswith("/video/v1/assets?"), mux.calls
    assert stack.db.one("SELECT attempts FROM tasks WHERE kind = 'mux.create'") == 4


def test_a_create_slower_than_the_lease_is_not_made_twice(stack, key, workers, mux):
    # Mux makes the asset 4 s after the POST; the lease is 3 s and a second
    # slot would claim the task once it lapsed. The create waits at most
    # half a lease, after renewing it: one attempt at a time, one asset.
    mux.script = ["slow"]
    start_worker(stack, workers, MEDIAGATE_WORKER_CONCURRENCY="2")
    job = upload(stack, key)
    assert wait_until(lambda: stack.db.one("SELECT state FROM tasks WHERE kind = 'mux.create'") == "done",
                      120, 0.1), stack.db.rows("SELECT state, attempts, last_error FROM tasks")
    assert len(mux.assets) == 1 and len([c for c in mux.calls if c["method"] == "POST"]) == 1, mux.calls
    assert job_row(stack, job)[1] in mux.assets


def test_an_operators_retry_of_a_dead_create_makes_no_second_asset(stack, key, workers, mux):
    mux.script = ["drop"]
    w = start_worker(stack, workers)
    job = upload(stack, key)
    (call,) = created(mux)
    # The worker is gone before it looks again, and the task is dead (its
    # attempts used up): the operator retries it, from attempt 1.
    w.stop(signal.SIGKILL)
    task = stack.db.one("SELECT id FROM outbox WHERE kind = 'mux.create'")
    stack.db.conn.execute("UPDATE outbox SET failed_at = now(), locked_by = NULL, locked_until = NULL "
                          "WHERE id = %s", (task,))
    stack.mg("tasks", "retry", task)
    start_worker(stack, workers)
    assert wait_until(lambda: job_row(stack, job)[1] == call["asset"], 60, 0.1), mux.calls
    assert len(mux.assets) == 1 and len([c for c in mux.calls if c["method"] == "POST"]) == 1, mux.calls


def test_refusal_is_final_with_mux_status_and_messages(stack, key, workers, mux):
    mux.script = ["400"]
    start_worker(stack, workers)
    job = upload(stack, key)
    s = wait_status(stack, job, "ERROR")
    assert s["error_code"] == 400, s
    # Mux quoted the signed input URL: the job's message does not.
    assert s["error_message"] == ("Mux: creating the asset: HTTP 400 invalid_parameters: "
                                  "The input URL could not be downloaded: <input URL>"), s
    # A new job's first attempt: no earlier asset to look for; asked once.
    assert [c["answer"] for c in mux.calls] == ["400"], mux.calls


def test_wrong_token_is_final(stack, key, workers, mux):
    start_worker(stack, workers, MEDIAGATE_MUX_TOKEN_SECRET="not-the-secret-0123")
    job = upload(stack, key)
    s = wait_status(stack, job, "ERROR")
    assert s["error_code"] == 401 and "unauthorized" in s["error_message"], s
    assert TOKEN_SECRET not in workers.log() and "not-the-secret" not in workers.log()


def test_reconciler_completes_without_webhooks(stack, key, workers, mux, receiver):
    secret = stack.mg("webhook", "add", receiver.url("/hooks"), "--events", "job.complete")
    receiver.plan("/hooks", secret)
    start_worker(stack, workers, MEDIAGATE_RECONCILE_AFTER="5")
    job = upload(stack, key)
    (call,) = created(mux)
    asset = call["asset"]
    # Mux is still preparing: a poll says PROGRESSING.
    assert wait_status(stack, job, "PROGRESSING", 120)
    pid = mux.ready(asset)["playback_ids"][0]["id"]
    s = wait_status(stack, job, "COMPLETE", 120)
    assert s["playlists"] == {".m3u8": f"{pid}.m3u8"} and s["output_path"] == "https://stream.mux.com/", s
    assert stack.db.one("SELECT count(*) FROM notifications WHERE source = 'push'") == 0
    assert stack.db.one("SELECT count(*) FROM notifications WHERE source = 'poll' AND job_id = %s", job) >= 2
    (hook,) = receiver.wait("/hooks", 1)
    assert json.loads(hook["body"])["data"]["job_id"] == job


def test_reconciler_learns_that_mux_failed(stack, key, workers, mux):
    start_worker(stack, workers, MEDIAGATE_RECONCILE_AFTER="5")
    job = upload(stack, key)
    (call,) = created(mux)
    assert wait_until(lambda: job_row(stack, job)[1] == call["asset"], 60, 0.1)
    mux.errored(call["asset"], "invalid_input", "The input file could not be decoded.")
    s = wait_status(stack, job, "ERROR", 120)
    assert s["error_message"] == "invalid_input: The input file could not be decoded.", s
    assert stack.db.one("SELECT source FROM notifications WHERE job_id = %s ORDER BY id DESC LIMIT 1",
                        job) == "poll"


def test_reconciler_ends_a_job_whose_asset_is_gone(stack, key, workers, mux):
    start_worker(stack, workers, MEDIAGATE_RECONCILE_AFTER="5")
    job = upload(stack, key)
    (call,) = created(mux)
    assert wait_until(lambda: job_row(stack, job)[1] == call["asset"], 60, 0.1)
    with mux.lock:
        del mux.assets[call["asset"]]
    s = wait_status(stack, job, "ERROR", 120)
    assert call["asset"] in s["error_message"], s


def test_cancel_deletes_the_asset(stack, key, workers, mux):
    start_worker(stack, workers)
    job = upload(stack, key)
    (call,) = created(mux)
    assert wait_until(lambda: job_row(stack, job)[1] == call["asset"], 60, 0.1)
    stack.mg("jobs", "cancel", job)
    assert status(stack, job)["job_status"] == "CANCELED"
    assert wait_until(lambda: call["asset"] not in mux.assets, 60, 0.1), mux.calls
    deletes = [c for c in mux.calls if c["method"] == "DELETE"]
    assert [c["path"] for c in deletes] == [f"/video/v1/assets/{call['asset']}"], mux.calls


def test_cancel_after_a_lost_answer_deletes_the_asset(stack, key, workers, mux):
    mux.script = ["drop"]
    start_worker(stack, workers)
    job = upload(stack, key)
    (call,) = created(mux)
    # The job names no asset yet; the create retries later.
    stack.mg("jobs", "cancel", job)
    assert status(stack, job)["job_status"] == "CANCELED"
    # The retry only looks for the asset, the cancel deletes it: none is left.
    assert wait_until(lambda: not mux.assets, 60, 0.1), mux.calls
    assert len([c for c in mux.calls if c["method"] == "POST"]) == 1, mux.calls
    assert [c["path"] for c in mux.calls if c["method"] == "DELETE"] == \
        [f"/video/v1/assets/{call['asset']}"], mux.calls
    assert wait_until(lambda: stack.db.one("SELECT count(*) FROM tasks WHERE state IN ('queued', 'running') "
                                           "AND kind <> 'upload.expire'") == 0,
                      60, 0.1), stack.db.rows("SELECT kind, state, last_error FROM tasks")
    assert status(stack, job)["job_status"] == "CANCELED"


@pytest.mark.parametrize("spec, reason", [
    ({"renditions": [{"height": 1080}, {"height": 720}]}, "one rendition"),
    ({"renditions": [{"height": 720}]}, "max_resolution_tier"),
    ({"renditions": [{"height": 1080, "codec": "h265"}]}, "h265"),
    ({"renditions": [{"height": 1080, "video_kbps": 4000}]}, "bitrates"),
])
def test_profiles_mux_cannot_honour_are_refused(stack, spec, reason):
    f = stack.run / "p.json"
    f.write_text(json.dumps({"encoder": "mux", **spec}))
    r = subprocess.run([str(MG_BIN), "profiles", "add", "bad", "--encoder", "mux", str(f)],
                       env=stack.env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and reason in r.stderr, (r.returncode, r.stderr)
    assert stack.db.one("SELECT count(*) FROM profiles WHERE name = 'bad'") == 0
    assert re.search(r"\bmux\b", r.stderr), r.stderr
