"""The encoders mediagate drives, as every encoder shares them
(app/worker/encoders.c, sql/functions/): a job mediagate created is found by
its own id before the encoder's answer names it, the answer's id is kept
once, a create that fails before any answer still reaches the job, the
reconciler's task is queued with the create's result.

The first tests run the SQL alone against the session's PostgreSQL; the
end-to-end ones below drive real workers against a stand-in encoder.
"""

import base64
import hashlib
import json
import os
import shutil
import time
import uuid

import pytest

from mgstack import MG_ROOT, wait_until
from mux_standin import MuxStandin

MEDIA_SECRET = "media-signing-secret-0123456789abcdef"
TOKEN_ID, TOKEN_SECRET = "mux-token-id-7e1a", "mux-token-secret-0123456789abcdef"
MUX_PROFILE = {"name": "mux-hd", "encoder": "mux", "renditions": [{"height": 1080}],
               "packaging": ["hls"]}


@pytest.fixture
def mux():
    s = MuxStandin(TOKEN_ID, TOKEN_SECRET)
    yield s
    s.close()


@pytest.fixture
def mg_env(rundir, mux):
    return {
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_MEDIA_SIGNING_SECRET": MEDIA_SECRET,
        "MEDIAGATE_MUX_TOKEN_ID": TOKEN_ID,
        "MEDIAGATE_MUX_TOKEN_SECRET": TOKEN_SECRET,
        "MEDIAGATE_MUX_API_URL": mux.url,
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


def cloud_job(db, job, backend="zencoder", backend_job_id=None):
    db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, profile) "
                    "VALUES (%s, %s, %s, 'uploads/u/in.mp4', 'p')", (job, backend, backend_job_id))


def job_row(db, job):
    return db.one("SELECT status, backend_job_id, progress_rate FROM jobs WHERE id = %s", job)


def test_a_create_answer_names_the_job_once(db):
    cloud_job(db, "j1")
    assert db.one("SELECT mediagate_job_event('j1', %s::jsonb)",
                  json.dumps({"backend_job_id": "Z1"})) == "j1"
    assert job_row(db, "j1") == ("SUBMITTED", "Z1", 0)
    # A later answer (a retry's) never replaces it.
    db.one("SELECT mediagate_job_event('j1', %s::jsonb)",
           json.dumps({"backend_job_id": "Z2", "status": "PROGRESSING"}))
    assert job_row(db, "j1") == ("PROGRESSING", "Z1", 0)


def test_a_create_answer_takes_its_id_from_a_job_registered_with_it(db):
    # Someone registered the id the encoder was about to give our job.
    db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, registered) "
                    "VALUES ('squat', 'zencoder', 'Z1', 'x.mp4', true)")
    cloud_job(db, "j1")
    db.one("SELECT mediagate_job_event('j1', %s::jsonb)", json.dumps({"backend_job_id": "Z1"}))
    assert job_row(db, "j1")[1] == "Z1"
    assert job_row(db, "squat")[1] is None
    # The first answer stays.
    db.one("SELECT mediagate_job_event('j1', %s::jsonb)", json.dumps({"backend_job_id": "Z2"}))
    assert job_row(db, "j1")[1] == "Z1"


def test_an_event_naming_our_job_goes_to_it_not_to_a_job_registered_with_its_id(db):
    db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, registered) "
                    "VALUES ('squat', 'zencoder', 'Z1', 'x.mp4', true)")
    cloud_job(db, "j1")
    ev = {"backend_job_id": "Z1", "mediagate_job_id": "j1", "status": "COMPLETE",
          "output_path": "https://cdn/out/j1/"}
    assert db.one("SELECT mediagate_apply_job_event('zencoder', %s::jsonb)", json.dumps(ev)) == "j1"
    assert job_row(db, "j1") == ("COMPLETE", "Z1", 100)
    assert db.one("SELECT status, backend_job_id, output_path FROM jobs WHERE id = 'squat'") == \
        ("SUBMITTED", None, None)
    # An event without our id still finds a job by the encoder's id.
    ev = {"backend_job_id": "Z1", "status": "PROGRESSING"}
    assert db.one("SELECT mediagate_apply_job_event('zencoder', %s::jsonb)", json.dumps(ev)) == "j1"


def test_a_failed_create_reaches_a_job_without_a_backend_id(db):
    cloud_job(db, "j1")
    ev = {"status": "ERROR", "error_code": 22, "error_message": "refused"}
    assert db.one("SELECT mediagate_job_event('j1', %s::jsonb)", json.dumps(ev)) == "j1"
    assert db.one("SELECT status, error_message FROM jobs WHERE id = 'j1'") == ("ERROR", "refused")


def test_an_event_finds_its_job_by_mediagate_job_id_before_the_answer(db):
    cloud_job(db, "j1")
    ev = {"backend_job_id": "Z9", "mediagate_job_id": "j1", "status": "PROGRESSING",
          "progress_rate": 40}
    assert db.one("SELECT mediagate_apply_job_event('zencoder', %s::jsonb)", json.dumps(ev)) == "j1"
    assert job_row(db, "j1") == ("PROGRESSING", "Z9", 40)
    # The create's answer, committed later, agrees and changes nothing.
    db.one("SELECT mediagate_job_event('j1', %s::jsonb)", json.dumps({"backend_job_id": "Z9"}))
    assert job_row(db, "j1") == ("PROGRESSING", "Z9", 40)
    assert db.one("SELECT count(*) FROM jobs") == 1


@pytest.mark.parametrize("sender,own_id,event_id", [
    ("mux", None, "Z9"),            # another encoder's event never names our job
    ("zencoder", "Z1", "Z9"),       # the job is another encoder job's already
])
def test_a_tie_back_takes_only_the_senders_unnamed_job(db, sender, own_id, event_id):
    cloud_job(db, "j1", backend_job_id=own_id)
    ev = {"backend_job_id": event_id, "mediagate_job_id": "j1", "status": "COMPLETE"}
    assert db.one("SELECT mediagate_apply_job_event(%s, %s::jsonb)", sender, json.dumps(ev)) is None
    assert job_row(db, "j1") == ("SUBMITTED", own_id, 0)
    assert db.one("SELECT count(*) FROM jobs") == 1


def test_a_pushed_notification_ties_back_and_an_unknown_id_is_refused(db):
    cloud_job(db, "j1")
    ev = {"backend_job_id": "Z9", "mediagate_job_id": "j1", "status": "COMPLETE"}
    assert db.one("SELECT mediagate_notify('zencoder', 'e1', 'x'::bytea, %s::jsonb)",
                  json.dumps(ev)) == "applied"
    assert job_row(db, "j1") == ("COMPLETE", "Z9", 100)
    assert db.one("SELECT job_id, source FROM notifications WHERE event_id = 'e1'") == ("j1", "push")
    forged = {"backend_job_id": "Z10", "mediagate_job_id": "nope", "status": "COMPLETE"}
    with pytest.raises(Exception, match="unknown job"):
        db.one("SELECT mediagate_notify('zencoder', 'e2', 'x'::bytea, %s::jsonb)",
               json.dumps(forged))


def test_a_poll_is_stored_as_one_and_deduped_like_a_push(db):
    cloud_job(db, "j1", backend_job_id="Z1")
    ev = json.dumps({"backend_job_id": "Z1", "status": "PROGRESSING", "progress_rate": 10})
    q = "SELECT mediagate_notify_poll('zencoder', 'poll:Z1:PROGRESSING:10', 'b'::bytea, %s::jsonb)"
    assert db.one(q, ev) == "applied"
    assert db.one(q, ev) == "duplicate"
    assert db.one("SELECT count(*), min(source) FROM notifications") == (1, "poll")
    assert job_row(db, "j1") == ("PROGRESSING", "Z1", 10)


def test_the_create_result_queues_the_reconciler_once(db):
    cloud_job(db, "j1")
    for _ in range(2):
        db.one("SELECT mediagate_job_event('j1', %s::jsonb)",
               json.dumps({"backend_job_id": "Z1", "poll_after": 60}))
    rows = db.rows("SELECT payload->>'job_id', run_after > now() + interval '50 s' FROM outbox "
                   "WHERE kind = 'encoder.poll'")
    assert rows == [("j1", True)]
    assert db.one("SELECT last_event_at IS NOT NULL FROM jobs WHERE id = 'j1'")


CREATE_KINDS = "{local.encode,mediaconvert.create,zencoder.create,mux.create}"
REMOTE = "{mediaconvert,zencoder,mux}"


def task(db, kind, job, **cols):
    names = ", ".join(["kind", "payload", *cols])
    marks = ", ".join(["%s"] * (2 + len(cols)))
    return db.one(f"INSERT INTO outbox ({names}) VALUES ({marks}) RETURNING id", kind,
                  json.dumps({"job_id": job}), *cols.values())


def task_state(db, tid):
    return db.one("SELECT done_at IS NOT NULL, failed_at IS NOT NULL FROM outbox WHERE id = %s", tid)


def cancel(db, job, remote=REMOTE):
    return db.one("SELECT mediagate_job_cancel(%s, %s::text[], %s::text[])", job, CREATE_KINDS,
                  remote)


def cancel_tasks(db, job):
    return db.rows("SELECT payload->>'job_id' FROM outbox WHERE kind = 'encoder.cancel'")


def test_cancel_before_the_create_ran_stops_it_and_asks_no_encoder(db):
    cloud_job(db, "j1", backend="mux")
    t = task(db, "mux.create", "j1")
    assert cancel(db, "j1") == "canceled"
    assert job_row(db, "j1")[0] == "CANCELED"
    assert task_state(db, t) == (False, True)
    assert cancel_tasks(db, "j1") == []


def test_cancel_of_a_create_in_flight_waits_for_it_and_cancels_at_the_encoder(db):
    cloud_job(db, "j1", backend="mux")
    # Tried once already (its answer lost): it runs again and names the job.
    t = task(db, "mux.create", "j1", attempts=1)
    assert cancel(db, "j1") == "canceling"
    assert job_row(db, "j1")[0] == "CANCELED"
    assert task_state(db, t) == (False, False)
    assert cancel_tasks(db, "j1") == [("j1",)]


def test_cancel_of_a_created_job_cancels_at_the_encoder_unless_it_cannot(db):
    cloud_job(db, "j1", backend="mux", backend_job_id="A1")
    cloud_job(db, "j2", backend="tencent", backend_job_id="F2")
    assert cancel(db, "j1") == "canceling"
    assert cancel(db, "j2", "{mux}") == "canceled"
    assert cancel_tasks(db, None) == [("j1",)]
    # An event after the cancel changes nothing: CANCELED is final.
    db.one("SELECT mediagate_apply_job_event('mux', %s::jsonb)",
           json.dumps({"backend_job_id": "A1", "status": "COMPLETE"}))
    assert job_row(db, "j1")[0] == "CANCELED"


def test_cancel_of_a_local_job_stops_its_encode_even_running(db):
    cloud_job(db, "j1", backend="local", backend_job_id="upload:1")
    t = task(db, "local.encode", "j1", attempts=1, locked_by="w:1:0")
    db.conn.execute("UPDATE outbox SET locked_until = now() + interval '1 min' WHERE id = %s", (t,))
    assert cancel(db, "j1") == "canceled"
    assert task_state(db, t) == (False, True)
    assert db.one("SELECT locked_by FROM outbox WHERE id = %s", t) is None


@pytest.mark.parametrize("status", ["COMPLETE", "ERROR", "CANCELED"])
def test_cancel_of_a_final_job_changes_nothing(db, status):
    cloud_job(db, "j1", backend="mux", backend_job_id="A1")
    db.conn.execute("UPDATE jobs SET status = %s WHERE id = 'j1'", (status,))
    assert cancel(db, "j1") == "finished"
    assert cancel(db, "nope") == "no_such_job"
    assert job_row(db, "j1")[0] == status
    assert cancel_tasks(db, None) == []


def test_a_bucket_job_of_a_cloud_encoder_answers_the_local_layout(db):
    cloud_job(db, "j1", backend="zencoder", backend_job_id="Z1")
    # As the create left it (W_ENC_STORAGE): in the bucket, at its public URL.
    db.conn.execute("UPDATE jobs SET storage = 's3', output_path = 'https://cdn/media/j1/', "
                    "playlists = '{\".m3u8\": \"master.m3u8\"}' WHERE id = 'j1'")
    ev = {"backend_job_id": "Z1", "status": "COMPLETE", "output_path": "s3://b/media/j1/",
          "playlists": {".m3u8": "s3://b/media/j1/master.m3u8"}}
    db.one("SELECT mediagate_apply_job_event('zencoder', %s::jsonb)", json.dumps(ev))
    assert db.one("SELECT output_path, playlists FROM jobs WHERE id = 'j1'") == \
        ("https://cdn/media/j1/", {".m3u8": "master.m3u8"})
    assert db.one("SELECT mediagate_job_status_json(j) FROM jobs j WHERE id = 'j1'")["playlists"] == \
        {".m3u8": "master.m3u8"}


def input_path(upload_id, name, exp, secret=MEDIA_SECRET):
    """The signed input URL's path as app/worker/encoders.c makes it:
    base64url(MD5("<exp>/in/<upload id> <secret>"))."""
    d = hashlib.md5(f"{exp}/in/{upload_id} {secret}".encode()).digest()
    sig = base64.urlsafe_b64encode(d).decode().rstrip("=")
    return f"/media-files/in/{sig}/{exp}/{upload_id}/{name}"


def stored_upload(stack, up, text):
    """An upload on local storage, as mediagate stores it (0750, 0640), in
    the uploads directory nginx reads through its group, as packaged
    (2750 mediagate:<nginx's group>). Its key."""
    root = stack.run / "upload" / "uploads"
    (root / up).mkdir(parents=True)
    (root / up / "talk.mp4").write_text(text)
    for p in (root, root / up, root / up / "talk.mp4"):
        shutil.chown(p, group="www-data")
        os.chmod(p, 0o2750 if p.is_dir() else 0o640)
    return f"uploads/{up}/talk.mp4"


def test_a_local_upload_reaches_an_encoder_only_by_its_signed_expiring_url(stack):
    up, other = str(uuid.uuid4()), str(uuid.uuid4())
    for u in (up, other):
        stored_upload(stack, u, f"the upload {u}\n")
    exp = int(time.time()) + 600
    good = input_path(up, "talk.mp4", exp)
    r = stack.curl(good)
    assert r.status == 200 and r.body == f"the upload {up}\n", r
    assert r.header("Cache-Control") == "private, no-store"
    sig = good.split("/")[3]
    refused = [
        good.replace(up, other),                                  # another upload
        input_path(up, "talk.mp4", exp, "another-secret-0123456789abcdef"),
        good.replace(f"/{exp}/", f"/{exp + 1}/"),                 # a longer life
        input_path(up, "talk.mp4", int(time.time()) - 1),         # expired
        f"/media-files/in/{sig}/{exp}/{up}/../{other}/talk.mp4",
        f"/media-files/{up}/talk.mp4",                            # unsigned
        f"/media-files/uploads/{up}/talk.mp4",
    ]
    for path in refused:
        got = stack.curl("--path-as-is", path)
        assert got.status in (403, 404), (path, got)
        assert "the upload" not in got.body, (path, got)
    assert stack.curl("-X", "POST", good).status in (403, 405)


def queue_create(stack, key, profile=MUX_PROFILE):
    """A mux job and its create task as an upload queues them (the
    payload's profile a snapshot, the input the upload's key). Its id."""
    job = str(uuid.uuid4())
    stack.db.conn.execute("INSERT INTO jobs (id, backend, input_file, profile) VALUES (%s, 'mux', %s, %s)",
                          (job, key, profile["name"]))
    payload = {"job_id": job, "profile": profile, "input": {"storage": "local", "key": key}}
    stack.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('mux.create', %s)",
                          (json.dumps(payload),))
    return job


def backend_job_id(stack, job):
    return stack.db.one("SELECT backend_job_id FROM jobs WHERE id = %s", job)


@pytest.mark.parametrize("prefix", ["", "/video-api"])
def test_a_create_signs_the_local_input_names_the_job_and_queues_the_reconciler(stack, workers, mux,
                                                                                 prefix):
    key = stored_upload(stack, str(uuid.uuid4()), "the talk\n")
    # The API under a prefix: the media location is still the site's own.
    workers.start(MEDIAGATE_PUBLIC_URL=stack.base + prefix, MEDIAGATE_RECONCILE_AFTER="600")
    job = queue_create(stack, key)
    assert wait_until(lambda: mux.creates(), 60, 0.05), mux.calls
    (call,) = mux.creates()
    body = json.loads(call["body"])
    assert body["passthrough"] == job, body
    (inp,) = body["inputs"]
    # The encoder fetched the upload through nginx by a signed, expiring URL.
    assert inp["url"].startswith(stack.base + "/media-files/in/"), inp
    exp = int(inp["url"].split("/")[-3])
    assert 86400 - 120 < exp - time.time() <= 86400, exp
    assert wait_until(lambda: call["asset"] in mux.fetched, 60, 0.05), mux.fetched
    assert mux.fetched[call["asset"]] == (200, b"the talk\n"), mux.fetched
    assert wait_until(lambda: backend_job_id(stack, job) == call["asset"], 60, 0.1)
    # The reconciler waits MEDIAGATE_RECONCILE_AFTER from the create.
    assert stack.db.one("SELECT payload->>'job_id', extract(epoch FROM run_after - now()) > 550 "
                        "FROM outbox WHERE kind = 'encoder.poll'") == (job, True)


def test_cancel_while_a_create_answer_is_lost_cancels_what_it_made(stack, workers, mux):
    key = stored_upload(stack, str(uuid.uuid4()), "the talk\n")
    mux.script = ["drop"]  # the asset is made, its answer lost: the job is not named
    workers.start(MEDIAGATE_PUBLIC_URL=stack.base)
    job = queue_create(stack, key)
    assert wait_until(lambda: mux.creates(), 60, 0.05), mux.calls
    (call,) = mux.creates()
    out = stack.mg("jobs", "cancel", job)
    # What docs/encoder.md shows.
    doc = (MG_ROOT / "docs" / "encoder.md").read_text()
    block = doc.split("$ mediagate jobs cancel ", 1)[1].split("```", 1)[0].splitlines()[1:]
    shown = [line.replace("5f0c3d1e-8a6b-4c2d-9e1f-000000000001", job) for line in block if line]
    assert out.splitlines() == shown, out
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "CANCELED"
    # The create's next attempt finds the asset; then it is deleted there.
    assert wait_until(lambda: call["asset"] not in mux.assets, 90, 0.1), mux.calls
    assert [c["path"] for c in mux.calls if c["method"] == "DELETE"] == \
        [f"/video/v1/assets/{call['asset']}"], mux.calls
    assert len(mux.creates()) == 1, mux.calls
    assert stack.db.one("SELECT status, backend_job_id FROM jobs WHERE id = %s", job) == \
        ("CANCELED", call["asset"])
    assert stack.db.rows("SELECT kind, state FROM tasks ORDER BY id") == \
        [("mux.create", "done"), ("encoder.cancel", "done")]


@pytest.mark.parametrize("status, quiet", [("PROGRESSING", "1 hour"), ("PROGRESSING", "0 s"),
                                           ("SUBMITTED", "1 hour")])
def test_a_job_past_the_encoders_own_limit_ends_in_error(stack, workers, status, quiet):
    """MediaConvert runs a job at most 48 h: one still PROGRESSING past that
    ends ERROR, whether its events stopped or keep coming; one still queued
    there (SUBMITTED) does not."""
    from mediaconvert_standin import MediaConvertStandin
    from test_mediaconvert_encoder import AK, QUEUE, REGION, ROLE, SK
    mc = MediaConvertStandin(AK, SK, REGION)
    try:
        mcid = mc.new_job({"role": ROLE, "settings": {}, "userMetadata": {}})["id"]
        if status == "PROGRESSING":
            mc.set_status(mcid, "PROGRESSING", percent=40)
        job = str(uuid.uuid4())
        stack.db.conn.execute(
            "INSERT INTO jobs (id, backend, backend_job_id, input_file, profile, status, created_at, "
            "progressing_at, last_event_at) VALUES (%s, 'mediaconvert', %s, 'in.mp4', 'p', %s, "
            "now() - interval '49 hours', now() - interval '49 hours', now() - %s::interval)",
            (job, mcid, status, quiet))
        stack.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('encoder.poll', %s)",
                              (json.dumps({"job_id": job}),))
        workers.start(MEDIAGATE_MEDIACONVERT_ENDPOINT=mc.url + "/", MEDIAGATE_MEDIACONVERT_REGION=REGION,
                      MEDIAGATE_MEDIACONVERT_ROLE=ROLE, MEDIAGATE_MEDIACONVERT_QUEUE=QUEUE,
                      MEDIAGATE_MEDIACONVERT_DESTINATION="s3://media-bucket/media/",
                      MEDIAGATE_AWS_ACCESS_KEY_ID=AK, MEDIAGATE_AWS_SECRET_ACCESS_KEY=SK,
                      MEDIAGATE_RECONCILE_AFTER="600")
        polled = "SELECT count(*) FROM notifications WHERE source = 'poll' AND job_id = %s"
        # It asks MediaConvert first (the answer, stored as a poll).
        assert wait_until(lambda: stack.db.one(polled, job) == 1, 60, 0.1), \
            stack.db.rows("SELECT state, last_error FROM tasks")
        assert [c["path"] for c in mc.calls if c["method"] == "GET"], mc.calls
        if status == "SUBMITTED":
            assert wait_until(lambda: stack.db.one("SELECT state FROM tasks WHERE kind = 'encoder.poll'")
                              == "queued", 60, 0.1)
            assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "SUBMITTED"
            return
        assert wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "ERROR",
                          60, 0.1), stack.db.rows("SELECT state, last_error FROM tasks")
        r = stack.curl(f"/media/status?job_id={job}")
        assert r.json()["error_message"] == \
            "mediaconvert: stuck in PROGRESSING past the encoder's 48 h limit", r
        assert r.json()["error_code"] == 22, r
        assert stack.db.one("SELECT state FROM tasks WHERE kind = 'encoder.poll'") == "done"
        # ... and MediaConvert is told to stop it.
        assert wait_until(lambda: [c for c in mc.calls if c["method"] == "DELETE"], 60, 0.1), mc.calls
        assert [c["path"] for c in mc.calls if c["method"] == "DELETE"][0].endswith("/" + mcid), mc.calls
        assert wait_until(lambda: stack.db.one("SELECT state FROM tasks WHERE kind = 'encoder.cancel'")
                          == "done", 60, 0.1)
    finally:
        mc.close()


def test_an_mp4_only_bucket_job_names_no_master_playlist(db):
    cloud_job(db, "j1", backend="mediaconvert", backend_job_id="M1")
    db.conn.execute("UPDATE jobs SET storage = 's3', output_path = 'https://cdn/media/j1/', "
                    "playlists = '{}' WHERE id = 'j1'")
    ev = {"backend_job_id": "M1", "status": "COMPLETE",
          "playlists": {".m3u8": "s3://b/media/j1/master.m3u8"}}
    db.one("SELECT mediagate_apply_job_event('mediaconvert', %s::jsonb)", json.dumps(ev))
    assert db.one("SELECT mediagate_job_status_json(j) FROM jobs j WHERE id = 'j1'")["playlists"] == {}


def test_an_error_message_never_carries_a_signed_input_url(db):
    cloud_job(db, "j1", backend="mediaconvert", backend_job_id="M1")
    msg = ("Unable to open input file [https://store.example/b/uploads/u/in.mp4?X-Amz-Algorithm="
           "AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261207&X-Amz-Signature=0a1b2c]: "
           "[Failed probe/open]; also http://site.example/media-files/in/"
           "AbCdEfGhIjKlMnOpQrStUv/1765200000/u/in.mp4#x and HTTPS://X.example/a?sig=1")
    ev = {"backend_job_id": "M1", "status": "ERROR", "error_code": 1010, "error_message": msg}
    db.one("SELECT mediagate_apply_job_event('mediaconvert', %s::jsonb)", json.dumps(ev))
    got = db.one("SELECT mediagate_job_status_json(j) FROM jobs j WHERE id = 'j1'")["error_message"]
    assert got == ("Unable to open input file [https://store.example/b/uploads/u/in.mp4]: "
                   "[Failed probe/open]; also http://site.example/media-files/in/u/in.mp4 and "
                   "HTTPS://X.example/a"), got


def test_a_reconciler_that_cannot_reach_the_encoder_waits_and_never_dies(stack, workers):
    from mgstack import free_port
    job = str(uuid.uuid4())
    stack.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, profile, "
                          "last_event_at) VALUES (%s, 'mux', 'A1', 'in.mp4', 'p', now() - interval '1 hour')",
                          (job,))
    # As after hours of an outage: one attempt short of the kind's cap.
    stack.db.conn.execute("INSERT INTO outbox (kind, payload, attempts) VALUES ('encoder.poll', %s, 19)",
                          (json.dumps({"job_id": job}),))
    workers.start(MEDIAGATE_MUX_API_URL=f"http://127.0.0.1:{free_port()}",
                  MEDIAGATE_RECONCILE_AFTER="600")
    q = "SELECT state, attempts, last_error, run_after > now() + interval '500 s' FROM tasks " \
        "WHERE kind = 'encoder.poll'"
    assert wait_until(lambda: stack.db.one(q)[2], 60, 0.1), stack.db.one(q)
    state, attempts, err, later = stack.db.one(q)
    assert (state, attempts, later) == ("queued", 19, True), stack.db.one(q)
    assert err.startswith("mux: "), err
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "SUBMITTED"


def test_check_config_refuses_mediaconvert_without_the_keys_that_sign_its_calls():
    import subprocess
    from mgstack import MG_BIN
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
    env = {**base, "MEDIAGATE_DATABASE_URL": "postgresql:///unused",
           "MEDIAGATE_MEDIACONVERT_ENDPOINT": "https://abcd1234.mediaconvert.us-east-1.amazonaws.com",
           "MEDIAGATE_MEDIACONVERT_ROLE": "arn:aws:iam::111122223333:role/MediaConvert"}
    r = subprocess.run([str(MG_BIN), "check-config"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "MEDIAGATE_AWS_ACCESS_KEY_ID" in r.stderr, (r.returncode, r.stderr)
    env.update(MEDIAGATE_AWS_ACCESS_KEY_ID="AKIDEXAMPLE", MEDIAGATE_AWS_SECRET_ACCESS_KEY="s" * 40,
               MEDIAGATE_MEDIACONVERT_DESTINATION="s3://media-bucket/media/")
    r = subprocess.run([str(MG_BIN), "check-config"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_an_operators_retry_of_a_dead_create_looks_before_it_sends_again(stack, workers):
    """The create's answer was lost, its task died; `mediagate tasks retry`
    starts its attempts again, yet the encoder's row is told that a create
    was sent before: it finds that job instead of making a second one."""
    import signal
    from mediaconvert_standin import MediaConvertStandin
    from test_mediaconvert_encoder import AK, QUEUE, REGION, ROLE, SK
    mc = MediaConvertStandin(AK, SK, REGION)
    mc.script = ["drop_after_create"]
    mc.token_window_s = 0  # past ClientRequestToken's minute: AWS would make a second job
    env = dict(MEDIAGATE_MEDIACONVERT_ENDPOINT=mc.url + "/", MEDIAGATE_MEDIACONVERT_REGION=REGION,
               MEDIAGATE_MEDIACONVERT_ROLE=ROLE, MEDIAGATE_MEDIACONVERT_QUEUE=QUEUE,
               MEDIAGATE_MEDIACONVERT_DESTINATION="s3://out-bucket/site/",
               MEDIAGATE_AWS_ACCESS_KEY_ID=AK, MEDIAGATE_AWS_SECRET_ACCESS_KEY=SK)
    try:
        job = str(uuid.uuid4())
        profile = {"name": "mc-hls", "encoder": "mediaconvert", "renditions": [{"height": 720}],
                   "packaging": ["hls"]}
        stack.db.conn.execute("INSERT INTO jobs (id, backend, input_file, profile) "
                              "VALUES (%s, 'mediaconvert', 'https://store.example/in.mp4', 'mc-hls')",
                              (job,))
        payload = {"job_id": job, "profile": profile, "input": {"url": "https://store.example/in.mp4"}}
        tid = stack.db.one("INSERT INTO outbox (kind, payload) VALUES ('mediaconvert.create', %s) "
                           "RETURNING id", json.dumps(payload))
        w = workers.start(**env)
        assert wait_until(lambda: mc.jobs, 60, 0.02), mc.calls
        w.kill(signal.SIGKILL)
        w.wait()
        (made,) = mc.jobs
        # The task is dead (as after its attempts ran out), then retried by hand.
        stack.db.conn.execute("UPDATE outbox SET failed_at = now(), last_error = 'no answer', "
                              "locked_by = NULL, locked_until = NULL WHERE id = %s", (tid,))
        stack.mg("tasks", "retry", tid)
        workers.start(**env)
        assert wait_until(lambda: stack.db.one("SELECT backend_job_id FROM jobs WHERE id = %s", job),
                          60, 0.1), mc.calls
        assert list(mc.jobs) == [made], mc.calls
        assert stack.db.one("SELECT backend_job_id, create_tries FROM jobs WHERE id = %s", job) == \
            (made, 2)
    finally:
        mc.close()
