"""Uploads straight to the platforms (POST /uploads target=tencent, mux),
end to end through real PostgreSQL, nginx, mediagate serve and worker,
against the stand-ins of Tencent's VOD API (tencent_standin.py: its
client_upload checks the signature as VOD does) and Mux's API
(mux_standin.py: HTTP Basic, the documented direct upload body and
answer, cancel):

- tencent: the answer's signature, taken apart and recomputed here with
  python's hmac/base64/urllib.parse alone (every field, the lifetime, the
  job id as sourceContext); the browser's upload with it (once: it is
  oneTimeValid) gives a NewFileUpload that ties back to the job and starts
  the job's profile's ProcessMedia, then ProcedureStateChanged completes
  it; the settings change the signature's fields; the slot's expiry
  cancels a job whose file never came;
- mux: the stand-in gets the documented body (new_asset_settings from the
  profile and ACL, passthrough = the job id, cors_origin = the page's
  allowed Origin, else MEDIAGATE_PUBLIC_URL's; none is 400, a disallowed
  Origin is refused and never sent), the answer carries Mux's URL; the upload's
  video.upload.asset_created and video.asset.ready complete the job; the
  slot's expiry cancels the upload at Mux and the job; Mux's refusals end
  the job in ERROR;
- the profile of a platform target: the first one on its encoder when the
  caller's default is not; another encoder's is 400;
- per API key: `mediagate apikey create NAME --profiles … --targets …`
  (the command docs/uploads.md shows), `apikey list`; another target is
  403; an unknown or unconfigured target is 400, and so is hostile input.
"""

import base64
import hashlib
import hmac
import json
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, parse_qsl

import pytest

from mgstack import MG_BIN, Curl, wait_until
from test_mux_encoder import HOOK_SECRET, PROFILE as MUX_PROFILE, TOKEN_ID, TOKEN_SECRET, post_event
from test_mux_encoder import mux  # noqa: F401 (a fixture)
from test_tencent import SECRET_ID, SECRET_KEY, TOKEN, tencent  # noqa: F401 (a fixture)
from test_tencent_encoder import SPEC as TENCENT_PROFILE, notify, served

ALLOWED = "https://app.example.com"
PUBLIC = "https://media.example.com"


@pytest.fixture
def mg_env(rundir, request, tencent, mux):
    env = {
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_ALLOWED_ORIGINS": r"https://app\.example\.com",
        "MEDIAGATE_TENCENT_TOKEN": TOKEN,
        "MEDIAGATE_TENCENT_SECRET_ID": SECRET_ID,
        "MEDIAGATE_TENCENT_SECRET_KEY": SECRET_KEY,
        "MEDIAGATE_TENCENT_DEFINITIONS": "100210",
        "MEDIAGATE_TENCENT_SUBAPPID": "1500000001",
        "MEDIAGATE_TENCENT_API_URL": tencent.url,
        "MEDIAGATE_MUX_TOKEN_ID": TOKEN_ID,
        "MEDIAGATE_MUX_TOKEN_SECRET": TOKEN_SECRET,
        "MEDIAGATE_MUX_API_URL": mux.url,
        "MEDIAGATE_MUX_SECRET": HOOK_SECRET,
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
        "MEDIAGATE_RECONCILE_AFTER": "3600",
    }
    if "settings" in request.node.name:
        env.update(MEDIAGATE_TENCENT_UPLOAD_LIFETIME="600", MEDIAGATE_TENCENT_UPLOAD_ONE_TIME="off",
                   MEDIAGATE_TENCENT_UPLOAD_PROCEDURE="QuickFlow.v2",
                   MEDIAGATE_TENCENT_UPLOAD_CLASS_ID="7", MEDIAGATE_TENCENT_SUBAPPID="0")
    if "public_url" in request.node.name:
        env.update(MEDIAGATE_PUBLIC_URL=PUBLIC + "/mg")
    return env


@pytest.fixture
def nginx_includes():
    return ("upload_conf",)


@pytest.fixture
def profiles(stack):
    for name, enc, spec in (("tc", "tencent", TENCENT_PROFILE), ("mux-hd", "mux", MUX_PROFILE),
                            ("tc-b", "tencent", TENCENT_PROFILE)):
        f = stack.run / f"{name}.json"
        f.write_text(json.dumps(spec))
        stack.mg("profiles", "add", name, "--encoder", enc, f)


@pytest.fixture
def key(stack, profiles):
    return stack.mg("apikey", "create", "app")


def create(stack, key, *form, origin=None):
    """POST /uploads with the form fields (and an Origin)."""
    args = ["-X", "POST", "-H", f"Authorization: Bearer {key}"]
    if origin:
        args += ["-H", f"Origin: {origin}"]
    for f in form:
        args += ["--data-urlencode", f]
    return stack.curl(*args, "/uploads")


def job_row(stack, job):
    return stack.db.one("SELECT backend, backend_job_id, profile, status, input_file FROM jobs "
                        "WHERE id = %s", job)


def expire(stack, upload_id):
    """The slot's expiry, now: its upload.expire task runs at once."""
    stack.db.conn.execute("UPDATE uploads SET expires_at = now() - interval '1 s' WHERE id = %s",
                          (upload_id,))
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'upload.expire' "
                          "AND payload->>'upload_id' = %s", (upload_id,))


def open_signature(sig):
    """Tencent's client upload signature taken apart, as Tencent documents
    it: base64(HMAC-SHA1(SecretKey, original) || original). Returns the
    query's (name, value) pairs in order; asserts the HMAC."""
    raw = base64.b64decode(sig, validate=True)
    mac, original = raw[:20], raw[20:]
    assert hmac.compare_digest(mac, hmac.new(SECRET_KEY.encode(), original, hashlib.sha1).digest())
    pairs = parse_qsl(original.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    assert len({k for k, _ in pairs}) == len(pairs), pairs  # each once
    return pairs


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Tencent VOD


def test_tencent_signature_then_new_file_upload_runs_the_profile(stack, workers, tencent, key):
    workers.start()
    assert wait_until(lambda: served(stack), 10, 0.05)
    before = int(time.time())
    r = create(stack, key, "target=tencent", "name=talk.mp4")
    after = int(time.time())
    assert r.status == 201, r
    assert r.header("Cache-Control") == "no-store"
    job, up = r.json()["job_id"], r.json()["upload"]
    assert set(up) == {"id", "target", "signature", "expires_at", "source_context", "vod_sub_app_id"}, up
    assert up["target"] == "tencent" and up["source_context"] == job, up
    assert up["vod_sub_app_id"] == 1500000001, up
    pairs = open_signature(up["signature"])
    assert [k for k, _ in pairs] == ["secretId", "currentTimeStamp", "expireTime", "random",
                                     "oneTimeValid", "vodSubAppId", "sourceContext"], pairs
    q = dict(pairs)
    assert q["secretId"] == SECRET_ID and q["sourceContext"] == job, q
    assert before <= int(q["currentTimeStamp"]) <= after, q
    assert int(q["expireTime"]) - int(q["currentTimeStamp"]) == 3600, q  # the lifetime's default
    assert up["expires_at"] == iso(int(q["expireTime"])), (up, q)
    assert 0 <= int(q["random"]) < 2 ** 32 and q["random"] == str(int(q["random"])), q
    assert q["oneTimeValid"] == "1" and q["vodSubAppId"] == "1500000001", q
    # Without profile=, the first on the tencent encoder (no 'default' is).
    assert job_row(stack, job)[:4] == ("tencent", None, "tc", "SUBMITTED"), job_row(stack, job)
    assert stack.db.one("SELECT target, stored_at FROM uploads WHERE id = %s", up["id"]) == ("tencent", None)

    # The browser uploads with it (Tencent checks it: once only), and
    # Tencent's NewFileUpload carries the job as its SourceContext.
    code, ev = tencent.client_upload(up["signature"])
    assert code == "", code
    assert tencent.client_upload(up["signature"]) == ("AuthFailure.SignatureFailure", None)
    assert ev["FileUploadEvent"]["MediaBasicInfo"]["SourceInfo"]["SourceContext"] == job
    fid = ev["FileUploadEvent"]["FileId"]
    assert notify(stack, ev) == "applied"
    # That job's profile's ProcessMedia (its four templates, not the
    # MEDIAGATE_TENCENT_DEFINITIONS of a file nobody asked for).
    assert wait_until(lambda: tencent.started_by("ProcessMedia"), 20, 0.05), tencent.calls
    (call,) = tencent.started_by("ProcessMedia")
    body = json.loads(call["body"])
    assert body["FileId"] == fid and body["SessionContext"] == job, body
    assert [t["Definition"] for t in body["MediaProcessTask"]["TranscodeTaskSet"]] == \
        [100230, 100210, 100030, 100010], body
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    assert stack.db.one("SELECT stored_at IS NOT NULL FROM uploads WHERE id = %s", up["id"])
    assert wait_until(lambda: job_row(stack, job)[1] == fid, 15, 0.05), job_row(stack, job)
    tencent.finish(call["answer"])
    assert notify(stack, tencent.procedure_event(call["answer"])) == "applied"
    assert job_row(stack, job)[3] == "COMPLETE", job_row(stack, job)
    # The slot's expiry later changes nothing: the file came.
    expire(stack, up["id"])
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM outbox WHERE kind = 'upload.expire' AND done_at IS NOT NULL") == 1, 15)
    assert job_row(stack, job)[3] == "COMPLETE"


def test_tencent_settings_shape_the_signature(stack, key):
    r = create(stack, key, "target=tencent", "profile=tc-b", "acl=USER_alice")
    assert r.status == 201, r
    job, up = r.json()["job_id"], r.json()["upload"]
    assert "vod_sub_app_id" not in up, up
    pairs = open_signature(up["signature"])
    assert [k for k, _ in pairs] == ["secretId", "currentTimeStamp", "expireTime", "random",
                                     "classId", "procedure", "sourceContext"], pairs
    q = dict(pairs)
    assert int(q["expireTime"]) - int(q["currentTimeStamp"]) == 600, q
    assert q["classId"] == "7" and q["procedure"] == "QuickFlow.v2" and q["sourceContext"] == job, q
    assert stack.db.one("SELECT profile, acl FROM jobs WHERE id = %s", job) == ("tc-b", "USER_alice")
    # The slot lasts the signature's lifetime and a grace for the callback.
    # (The database's clock reads the slot's start a moment after the signer's.)
    left = stack.db.one("SELECT floor(extract(epoch FROM expires_at))::bigint FROM uploads "
                        "WHERE id = %s", up["id"]) - int(q["expireTime"])
    assert left in (600, 601), left


def test_tencent_settings_a_reused_signature_makes_no_second_job(stack, workers, tencent, key):
    # MEDIAGATE_TENCENT_UPLOAD_ONE_TIME=off: the signature takes several
    # uploads. The first file is the slot's job's; a further one is never a
    # job of its own (it would have no owner, ACL or profile) nor processed.
    workers.start()
    assert wait_until(lambda: served(stack), 10, 0.05)
    r = create(stack, key, "target=tencent", "profile=tc", "acl=USER_alice")
    assert r.status == 201, r
    job, up = r.json()["job_id"], r.json()["upload"]
    code, first = tencent.client_upload(up["signature"])
    assert code == "", code
    code, again = tencent.client_upload(up["signature"])
    assert code == "", code
    fid, fid2 = first["FileUploadEvent"]["FileId"], again["FileUploadEvent"]["FileId"]
    assert fid != fid2
    assert notify(stack, first) == "applied"
    assert wait_until(lambda: tencent.started_by("ProcessMedia"), 20, 0.05), tencent.calls
    assert notify(stack, again) == "stored"
    assert stack.db.rows("SELECT id, backend_job_id, acl, profile FROM jobs") == \
        [(job, fid, "USER_alice", "tc")]
    assert stack.db.one("SELECT error FROM notifications WHERE job_id = %s AND error IS NOT NULL",
                        job) == (f"a further file ({fid2}) for upload job {job}, which has its file "
                                 f"({fid}) already: no job made, nothing processed")
    assert stack.curl(f"/media/status?job_id={fid2}").json()["message"] == "Not found item."
    assert f"a further file ({fid2}) for upload job {job}" in stack.mg("notifications", "list", "--all")
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'tencent.process_media'") == 1


def test_tencent_slot_expiry_cancels_a_job_whose_file_never_came(stack, workers, tencent, key):
    workers.start()
    r = create(stack, key, "target=tencent")
    assert r.status == 201, r
    job, up = r.json()["job_id"], r.json()["upload"]
    expire(stack, up["id"])
    assert wait_until(lambda: job_row(stack, job)[3] == "CANCELED", 15), job_row(stack, job)
    # A NewFileUpload that comes after all starts nothing.
    code, ev = tencent.client_upload(up["signature"])
    assert code == ""
    assert notify(stack, ev) == "applied"
    assert job_row(stack, job)[3] == "CANCELED"
    assert tencent.started_by("ProcessMedia") == []


# Mux


def mux_creates(mux):
    return [c for c in mux.calls if c["method"] == "POST" and c["path"] == "/video/v1/uploads"]


def test_mux_direct_upload_to_complete(stack, mux, key):
    r = create(stack, key, "target=mux", "name=talk.mp4", origin=ALLOWED)
    assert r.status == 201, r
    assert r.header("Access-Control-Allow-Origin") == ALLOWED
    job, up = r.json()["job_id"], r.json()["upload"]
    (call,) = mux_creates(mux)
    assert call["answer"] == 201, call
    user, _, pw = base64.b64decode(call["headers"]["Authorization"][6:]).decode().partition(":")
    assert (user, pw) == (TOKEN_ID, TOKEN_SECRET)
    assert call["headers"]["Content-Type"] == "application/json"
    body = json.loads(call["body"])
    assert body == {"new_asset_settings": {"playback_policies": ["public"], "passthrough": job,
                                           "max_resolution_tier": "1080p"},
                    "cors_origin": ALLOWED, "timeout": 3600}, body
    uid = call["upload"]
    assert up == {"id": uid, "target": "mux", "url": mux.uploads[uid]["url"], "method": "PUT",
                  "expires_at": up["expires_at"]}, up
    assert datetime.strptime(up["expires_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp() == \
        pytest.approx(time.time() + 3600, abs=120)
    assert job_row(stack, job) == ("mux", None, "mux-hd", "SUBMITTED", uid)
    assert stack.db.one("SELECT target, platform_upload_id FROM uploads WHERE job_id = %s", job) == ("mux", uid)

    # The browser's PUT reached Mux: its asset, and the webhooks.
    ev = mux.upload_done(uid)
    asset = ev["data"]["asset_id"]
    assert ev["data"]["new_asset_settings"]["passthrough"] == job
    assert post_event(stack, ev)["result"] == "applied"
    assert job_row(stack, job)[:2] == ("mux", asset), job_row(stack, job)
    assert stack.db.one("SELECT stored_at IS NOT NULL FROM uploads WHERE job_id = %s", job)
    pid = mux.ready(asset)["playback_ids"][0]["id"]
    assert post_event(stack, mux.event(asset, "ready"))["result"] == "applied"
    row = stack.db.one("SELECT status, output_path, playlists FROM jobs WHERE id = %s", job)
    assert row == ("COMPLETE", "https://stream.mux.com/", {".m3u8": f"{pid}.m3u8"}), row
    assert stack.db.one("SELECT count(*) FROM jobs") == 1


def test_mux_signed_acl_and_no_origin_is_refused(stack, mux, key):
    r = create(stack, key, "target=mux")
    assert r.status == 400, r
    assert "MEDIAGATE_PUBLIC_URL" in r.json()["message"], r
    # An Origin that is not allowed is refused, as on every route: never sent to Mux.
    r = create(stack, key, "target=mux", origin="https://app.example.com.evil.net")
    assert r.status == 422, r
    assert mux_creates(mux) == []
    assert stack.db.one("SELECT count(*) FROM jobs") == 0
    r = create(stack, key, "target=mux", "acl=USER_alice", origin=ALLOWED)
    assert r.status == 201, r
    body = json.loads(mux_creates(mux)[0]["body"])
    assert body["new_asset_settings"]["playback_policies"] == ["signed"], body


def test_mux_without_origin_takes_the_public_url(stack, mux, key):
    r = create(stack, key, "target=mux", "profile=mux-hd")
    assert r.status == 201, r
    assert json.loads(mux_creates(mux)[0]["body"])["cors_origin"] == PUBLIC


def test_mux_slot_expiry_cancels_the_upload_at_mux(stack, workers, mux, key):
    workers.start()
    r = create(stack, key, "target=mux", origin=ALLOWED)
    assert r.status == 201, r
    job, uid = r.json()["job_id"], r.json()["upload"]["id"]
    slot = stack.db.one("SELECT id::text FROM uploads WHERE job_id = %s", job)
    # The slot outlives Mux's timeout by a grace for the asset's webhook.
    left = stack.db.one("SELECT extract(epoch FROM expires_at - created_at)::int FROM uploads "
                        "WHERE id = %s", slot)
    assert left == 3600 + 600, left
    expire(stack, slot)
    assert wait_until(lambda: mux.uploads[uid]["status"] == "cancelled", 15), mux.calls
    (cancel,) = [c for c in mux.calls if c["method"] == "PUT"]
    assert cancel["path"] == f"/video/v1/uploads/{uid}/cancel" and cancel["answer"] == 200
    assert wait_until(lambda: job_row(stack, job)[3] == "CANCELED", 15), job_row(stack, job)
    assert stack.db.one("SELECT error_message FROM jobs WHERE id = %s", job) == \
        "the upload URL expired before a file arrived"


def test_mux_job_canceled_cancels_the_upload_and_deletes_a_late_asset(stack, workers, mux, key):
    workers.start()
    # Canceled before the file came: the direct upload is canceled at Mux
    # at once (the slot's upload.expire task, brought forward).
    r = create(stack, key, "target=mux", origin=ALLOWED)
    assert r.status == 201, r
    job, uid = r.json()["job_id"], r.json()["upload"]["id"]
    out = stack.mg("jobs", "cancel", job)
    assert out == (f"job {job}: CANCELED\nIts direct upload is canceled at mux too (an "
                   "upload.expire task, retried; an asset made of it\nall the same is "
                   "deleted there)."), out
    assert wait_until(lambda: mux.uploads[uid]["status"] == "cancelled", 15), mux.calls
    assert [c["path"] for c in mux.calls if c["method"] == "PUT"] == [f"/video/v1/uploads/{uid}/cancel"]
    assert job_row(stack, job)[3] == "CANCELED"
    # The browser's file reached Mux before the cancel did: the asset that
    # names the canceled job is deleted at Mux; the job stays CANCELED.
    r = create(stack, key, "target=mux", origin=ALLOWED)
    assert r.status == 201, r
    job, uid = r.json()["job_id"], r.json()["upload"]["id"]
    ev = mux.upload_done(uid)
    asset = ev["data"]["asset_id"]
    stack.mg("jobs", "cancel", job)
    assert wait_until(lambda: len([c for c in mux.calls if c["method"] == "PUT"]) == 2, 15), mux.calls
    assert post_event(stack, ev)["result"] == "applied"
    assert wait_until(lambda: asset not in mux.assets, 15), mux.calls
    assert [c["path"] for c in mux.calls if c["method"] == "DELETE"] == [f"/video/v1/assets/{asset}"]
    assert job_row(stack, job)[3] == "CANCELED"
    # Its later events change nothing and delete nothing twice.
    post_event(stack, ev)
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'encoder.cancel' "
                        "AND payload->>'job_id' = %s AND done_at IS NULL AND failed_at IS NULL", job) == 0
    assert job_row(stack, job)[3] == "CANCELED"


def upload_event(mux, uid, kind, **data):
    """The webhook Mux sends when direct upload uid ends without an asset
    (video.upload.<kind>), in the documented envelope."""
    up = dict(mux.uploads[uid], status=kind, **data)
    return {"type": f"video.upload.{kind}", "object": {"type": "upload", "id": uid},
            "id": str(uuid.uuid4()), "environment": {"name": "Production", "id": "j0863n"},
            "data": up, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "accessor_source": None, "accessor": None, "request_id": None}


def test_mux_upload_errored_cancelled_timed_out_end_the_job(stack, mux, key):
    jobs = {}
    for kind in ("errored", "cancelled", "timed_out"):
        r = create(stack, key, "target=mux", origin=ALLOWED)
        assert r.status == 201, r
        jobs[kind] = (r.json()["job_id"], r.json()["upload"]["id"])
    job, uid = jobs["errored"]
    ev = upload_event(mux, uid, "errored",
                      error={"type": "invalid_input", "message": "The file is not a video"})
    assert post_event(stack, ev)["result"] == "applied"
    assert stack.db.one("SELECT status, error_message FROM jobs WHERE id = %s", job) == \
        ("ERROR", "invalid_input: The file is not a video")
    job, uid = jobs["cancelled"]
    assert post_event(stack, upload_event(mux, uid, "cancelled"))["result"] == "applied"
    assert stack.db.one("SELECT status, error_message FROM jobs WHERE id = %s", job) == \
        ("CANCELED", "the upload was cancelled at Mux")
    job, uid = jobs["timed_out"]
    assert post_event(stack, upload_event(mux, uid, "timed_out"))["result"] == "applied"
    assert stack.db.one("SELECT status, error_message FROM jobs WHERE id = %s", job) == \
        ("CANCELED", "the upload URL expired before a file arrived")
    # Anyone's upload (a passthrough that is no job of ours): stored, no job made.
    ev = upload_event(mux, uid, "errored", new_asset_settings={"passthrough": str(uuid.uuid4())})
    assert post_event(stack, ev)["result"] == "stored"
    assert stack.db.one("SELECT count(*) FROM jobs") == 3


def test_a_slow_mux_takes_at_most_its_share_of_the_threads(stack, mux, key):
    # MEDIAGATE_THREADS=2: one request at a time may wait on Mux. While Mux
    # sits on a create, a second one is 503 at once (Retry-After), made
    # nowhere, and the other thread answers the rest of the API.
    entered, release, first = threading.Event(), threading.Event(), []
    real = mux.handle_upload

    def slow(method, path, raw, call):
        if method == "POST":
            entered.set()
            release.wait(30)
        return real(method, path, raw, call)

    mux.handle_upload = slow
    other = Curl(stack.base, stack.run / "curl-other")
    t = threading.Thread(target=lambda: first.append(other(
        "-X", "POST", "-H", f"Authorization: Bearer {key}", "-H", f"Origin: {ALLOWED}",
        "--data-urlencode", "target=mux", "/uploads")))
    t.start()
    try:
        assert entered.wait(15)
        r = create(stack, key, "target=mux", origin=ALLOWED)
        assert r.status == 503, r
        assert r.json()["message"] == "Mux is busy with other uploads being made: retry shortly.", r
        assert r.header("Retry-After"), r
        assert len(mux_creates(mux)) == 1
        assert stack.db.one("SELECT count(*) FROM jobs") == 1
        r = stack.curl(f"/media/status?job_id={stack.db.one('SELECT id FROM jobs')}")
        assert r.status == 200, r
    finally:
        release.set()
        t.join(30)
    assert first[0].status == 201, first
    # The place is given back: the next create goes through.
    mux.handle_upload = real
    assert create(stack, key, "target=mux", origin=ALLOWED).status == 201


def test_mux_refusals_end_the_job(stack, mux, key):
    mux.script = ["500"]
    r = create(stack, key, "target=mux", origin=ALLOWED)
    assert r.status == 503, r
    (job,) = [j for (j,) in stack.db.rows("SELECT id FROM jobs")]
    row = stack.db.one("SELECT status, error_message FROM jobs WHERE id = %s", job)
    assert row[0] == "ERROR" and "HTTP 500" in row[1], row
    # Credentials Mux refuses: 502 with Mux's own words.
    mux.token_secret = "another"
    r = create(stack, key, "target=mux", origin=ALLOWED)
    assert r.status == 502, r
    assert "HTTP 401 unauthorized" in r.json()["message"], r
    assert stack.db.one("SELECT count(*) FROM jobs WHERE status = 'ERROR'") == 2
    # Made at Mux, the answer lost: 503 and the job's ERROR; the upload Mux
    # holds (whose URL nobody has) names the job, never another.
    mux.token_secret = TOKEN_SECRET
    mux.script = ["drop"]
    r = create(stack, key, "target=mux", origin=ALLOWED)
    assert r.status == 503, r
    (lost,) = mux.uploads.values()
    job = lost["new_asset_settings"]["passthrough"]
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "ERROR"
    assert stack.db.one("SELECT count(*) FROM uploads WHERE platform_upload_id IS NOT NULL") == 0


# Profiles, keys, refusals


def apikey(stack, *args):
    return subprocess.run([str(MG_BIN), "apikey", *args], env=stack.env, capture_output=True,
                          text=True, timeout=60)


def test_profiles_of_a_platform_target(stack, mux, profiles):
    # The key's default is on mux: taken as is; another encoder's profile is 400.
    k = stack.mg("apikey", "create", "muxer", "--profiles", "mux-hd,tc")
    r = create(stack, k, "target=mux", origin=ALLOWED)
    assert r.status == 201, r
    assert job_row(stack, r.json()["job_id"])[2] == "mux-hd"
    r = create(stack, k, "target=tencent")
    assert r.status == 201, r
    assert job_row(stack, r.json()["job_id"])[2] == "tc"  # its first on tencent
    r = create(stack, k, "target=mux", "profile=tc", origin=ALLOWED)
    assert r.status == 400, r
    assert r.json()["message"] == ("This upload target takes a profile on the mux encoder; "
                                   "profile 'tc' runs on tencent."), r
    # A key with no profile on that encoder.
    k2 = stack.mg("apikey", "create", "tconly", "--profiles", "tc")
    r = create(stack, k2, "target=mux", origin=ALLOWED)
    assert r.status == 400, r
    assert r.json()["message"].startswith("No profile on the mux encoder that this caller may use"), r
    assert len(mux_creates(mux)) == 1


def test_per_key_targets(stack, mux, profiles):
    p = apikey(stack, "create", "limited", "--profiles", "mux-hd", "--targets", "tencent,mux")
    assert p.returncode == 0, p.stderr
    k = p.stdout.strip()
    # The flags in the other order, too.
    p2 = apikey(stack, "create", "both", "--targets", "local", "--profiles", "tc")
    assert p2.returncode == 0, p2.stderr
    lines = apikey(stack, "list").stdout.splitlines()
    assert lines[0].split()[-2:] == ["profiles", "targets"], lines[0]
    limited = next(line for line in lines if " limited " in line)
    assert limited.split()[-2:] == ["mux-hd", "tencent,mux"], limited
    both = next(line for line in lines if " both " in line)
    assert both.split()[-2:] == ["tc", "local"], both
    assert stack.db.one("SELECT targets FROM api_keys WHERE name = 'limited'") == ["tencent", "mux"]

    r = create(stack, k, "target=mux", origin=ALLOWED)
    assert r.status == 201, r
    for target in ("local", None):
        r = create(stack, k, *([f"target={target}"] if target else []))
        assert r.status == 403, r
        assert r.json()["message"] == "This API key may not upload to target local.", r
    # A PUT with the key makes a slot of the storage's own target: refused
    # the same way, before its body is read.
    r = stack.curl("-X", "PUT", "--data-binary", "not stored", "-H", f"Authorization: Bearer {k}",
                   "/uploads/limited.mp4")
    assert r.status == 403, r
    assert r.json()["message"] == "This API key may not upload to target local.", r
    assert stack.db.one("SELECT count(*) FROM uploads WHERE name = 'limited.mp4'") == 0
    # Refused before the database: unknown names, twice, empty.
    for bad in ("mux,vimeo", "mux,mux", "", ",", "MUX", "mux;drop"):
        p = apikey(stack, "create", "x", "--targets", bad)
        assert p.returncode == 2, (bad, p)
        assert "--targets" in p.stderr, (bad, p.stderr)
    assert "no upload target 'vimeo' (one of: local, s3, tencent, mux, jwplatform)" in \
        apikey(stack, "create", "x", "--targets", "mux,vimeo").stderr
    assert apikey(stack, "create", "x", "--targets").returncode != 0
    assert apikey(stack, "create", "x", "--targets", "mux", "--targets", "tencent").returncode != 0
    assert stack.db.one("SELECT count(*) FROM api_keys WHERE name = 'x'") == 0


def test_unknown_unconfigured_and_hostile_targets(stack, mux, key):
    r = create(stack, key, "target=jwplatform")
    assert r.status == 400, r
    assert r.json()["message"] == "Upload target jwplatform is not configured here.", r
    for bad in ("vimeo", "MUX", "mux ", "mux%00", "m" * 5000, "../mux", "mux,tencent", ""):
        r = create(stack, key, f"target={bad}", origin=ALLOWED)
        assert r.status == 400, (bad, r)
    # Hostile fields around a good target: a name made plain, a profile
    # that is no name, an ACL that is none.
    r = create(stack, key, "target=mux", "name=../../etc/passwd\x01", origin=ALLOWED)
    assert r.status == 201, r
    assert stack.db.one("SELECT name FROM uploads WHERE target = 'mux'") == "_._.._etc_passwd_"
    for form in ("profile=../mux-hd", "profile=MUX-HD", "acl=USER_", "max_bytes=-1",
                 "content_type=\x01"):
        r = create(stack, key, "target=mux", form, origin=ALLOWED)
        assert r.status == 400, (form, r)
    assert len(mux_creates(mux)) == 1
    # Each refused before a job was made, or Mux asked.
    assert stack.db.one("SELECT count(*) FROM jobs") == 1


def test_a_mux_answer_without_an_https_url_is_refused(stack, mux, key):
    real = mux.handle_upload

    def bad(method, path, raw, call):
        status, answer = real(method, path, raw, call)
        if isinstance(answer, dict) and "data" in answer:
            answer["data"]["url"] = "javascript:alert(1)"
        return status, answer

    mux.handle_upload = bad
    r = create(stack, key, "target=mux", origin=ALLOWED)
    assert r.status == 502, r
    assert "an answer without an upload id and an https url" in r.json()["message"], r
    assert stack.db.one("SELECT status FROM jobs") == "ERROR"
