"""Tencent VOD as an encoder mediagate drives (app/encoders/tencent.c),
end to end through real nginx, PostgreSQL, mediagate serve and the worker,
against the TC3-checking stand-in of Tencent's API (tencent_standin.py):

- a FileId on demand (POST /media/jobs with file_id): the job's create task calls ProcessMedia with one
  preset template per rendition and packaging, SessionContext = the job
  id, SessionId from the job id; the answer names the job (FileId, TaskId);
  Tencent's documented ProcedureStateChanged (with the SessionContext it
  echoes) completes it, /media/status says where the outputs are
  (output_path, playlists, variations) and a signed webhook reaches the
  customer's receiver;
- an upload (PUT /uploads with a tencent profile, on S3 storage): PullUpload
  of the upload's presigned, expiring URL (the stand-in
  fetches it as Tencent does) with the job id in SourceContext; the
  NewFileUpload Tencent sends ties back to the job (no second job) and
  queues its ProcessMedia, then ProcedureStateChanged completes it;
- a final error is the job's ERROR with Tencent's code; a retry after a
  lost answer starts one transcode, not two (SessionId);
- the reconciler: with every notification dropped, the job completes by
  polling DescribeTaskDetail (stored as notifications marked 'poll'), the
  pulled file's too (its PullUploadTask ties back and queues ProcessMedia);
- `mediagate jobs cancel` marks the job (Tencent cannot stop a task); a
  create retried after the cancel starts nothing;
- a profile Tencent cannot honour (no preset template, h265, its own
  bitrates) is refused when it is written (`mediagate profiles add`).
"""

import json
import subprocess
import uuid

import pytest

import s3_settings
from mgstack import MG_BIN, wait_until
from test_tencent import FIX, SECRET_ID, SECRET_KEY, TOKEN, tencent  # noqa: F401 (a fixture)
from test_webhooks import check_signed, endpoint, receiver  # noqa: F401 (a fixture)

SPEC = {"encoder": "tencent", "packaging": ["hls", "mp4"],
        "renditions": [{"height": 720}, {"height": 360}]}


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "tc")


@pytest.fixture
def mg_env(request, tencent):
    """The Tencent API's settings; a test that asks for a bucket stores in it."""
    env = {
        "MEDIAGATE_TENCENT_TOKEN": TOKEN,
        "MEDIAGATE_TENCENT_SECRET_ID": SECRET_ID,
        "MEDIAGATE_TENCENT_SECRET_KEY": SECRET_KEY,
        # For the files mediagate did not ask for (NewFileUpload alone).
        "MEDIAGATE_TENCENT_DEFINITIONS": "100210",
        "MEDIAGATE_TENCENT_SUBAPPID": "1500000001",
        "MEDIAGATE_TENCENT_API_URL": tencent.url,
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
        # The reconciler's tests poll a job quiet for 5 s; the others never.
        "MEDIAGATE_RECONCILE_AFTER": "5" if "reconciler" in request.node.name else "3600",
    }
    if "bucket" in request.fixturenames:
        env.update(s3_settings.env(request.getfixturevalue("s3"),
                                   request.getfixturevalue("bucket")))
    return env


def notify(stack, ev):
    r = stack.curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                   json.dumps(ev), f"/notifications/tencent?token={TOKEN}")
    assert r.status == 200, r
    return r.json()["result"]


@pytest.fixture
def nginx_includes():
    return ("upload_conf",)


def add_profile(stack, name="tc", spec=SPEC):
    """`mediagate profiles add NAME --encoder tencent FILE`; its exit status."""
    f = stack.run / f"{name}.json"
    f.write_text(json.dumps(spec))
    return subprocess.run([str(MG_BIN), "profiles", "add", name, "--encoder", "tencent", str(f)],
                          env=stack.env, capture_output=True, text=True, timeout=60)


def api_key(stack):
    return stack.mg("apikey", "create", "app")


def process_file(stack, file_id, profile="tc"):
    """POST /media/jobs with a FileId and a tencent profile: the job's id."""
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {api_key(stack)}",
                   "--data-urlencode", f"profile={profile}", "--data-urlencode",
                   f"file_id={file_id}", "/media/jobs")
    assert r.status == 201, r
    return r.json()["job_id"]


def upload(stack, data):
    """PUT /uploads/in.mp4?profile=tc with an API key (on S3 storage the
    file goes into the bucket, the job's create is queued with it): the
    job's id."""
    f = stack.run / "in.mp4"
    f.write_bytes(data)
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {api_key(stack)}", "-H",
                   "Content-Type: video/mp4", "--data-binary", f"@{f}", "/uploads/in.mp4?profile=tc")
    assert r.status == 201, r
    return r.json()["job_id"]


def job_row(stack, job):
    return stack.db.one("SELECT status, backend_job_id, backend_task_id, error_code, "
                        "error_message FROM jobs WHERE id = %s", job)


def status(stack, job):
    r = stack.curl("-G", "--data-urlencode", f"job_id={job}", "/media/status")
    assert r.status == 200, r
    return r.json()


def served(stack):
    return stack.db.one("SELECT count(*) FROM task_kinds WHERE name = 'tencent.process_media'") == 1


def start_worker(stack, workers, **env):
    workers.start(**env)
    assert wait_until(lambda: served(stack), 10, 0.05), "the worker never registered the kind"


def one_call(tencent, action, timeout=20):
    assert wait_until(lambda: tencent.started_by(action), timeout, 0.05), tencent.calls
    (call,) = tencent.started_by(action)
    return call, json.loads(call["body"])


def check_complete(stack, job, fid):
    st = status(stack, job)
    assert st["job_status"] == "COMPLETE", st
    assert st["output_path"] == f"https://1400000000.vod2.myqcloud.com/xxx/{fid}/", st
    assert st["playlists"] == {".m3u8": "v.f100230.m3u8"}, st
    got = sorted((v["format"], v["height"]) for v in st["variations"])
    assert got == [("hls", 360), ("hls", 720), ("mp4", 360), ("mp4", 720)], st
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    return st


def test_a_file_id_on_demand_is_processed_then_completes(stack, workers, tencent, receiver):
    endpoint(stack, receiver, "/hooks", events="job.complete")
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    fid = "5285890784246869930"
    job = process_file(stack, fid)
    call, body = one_call(tencent, "ProcessMedia")
    assert body == {"FileId": fid, "SubAppId": 1500000001, "SessionContext": job,
                    "SessionId": f"pm-{job}",
                    "MediaProcessTask": {"TranscodeTaskSet": [
                        {"Definition": 100230}, {"Definition": 100210},
                        {"Definition": 100030}, {"Definition": 100010}]}}
    assert call["headers"]["X-TC-Action"] == "ProcessMedia"
    task_id = call["answer"]
    assert wait_until(lambda: job_row(stack, job)[2], 15, 0.05), job_row(stack, job)
    assert job_row(stack, job) == ("SUBMITTED", fid, task_id, None, None)
    # Tencent's callback, as it sends it: the SessionContext it was given.
    tencent.finish(task_id)
    ev = tencent.procedure_event(task_id)
    assert ev["ProcedureStateChangeEvent"]["SessionContext"] == job
    assert notify(stack, ev) == "applied"
    check_complete(stack, job, fid)
    (hook,) = receiver.wait("/hooks", 1)
    body = check_signed(hook)
    assert body["type"] == "job.complete" and body["data"]["job_id"] == job, body
    assert body["data"]["playlists"] == {".m3u8": "v.f100230.m3u8"}, body


def test_an_event_before_the_answer_finds_the_job_by_its_session_context(stack, workers, tencent):
    """ProcedureStateChanged may come before the create's answer is
    committed (the job has no FileId yet): the SessionContext Tencent
    echoes names the job; another's SessionContext names nothing."""
    start_worker(stack, workers)
    job = str(uuid.uuid4())
    stack.db.conn.execute("INSERT INTO jobs (id, backend, input_file, profile) "
                          "VALUES (%s, 'tencent', 'f', 'tc')", (job,))
    ev = json.loads((FIX / "tencent-vod-ProcedureStateChanged.json").read_text())
    ev["ProcedureStateChangeEvent"]["SessionContext"] = job
    assert notify(stack, ev) == "applied"
    fid = ev["ProcedureStateChangeEvent"]["FileId"]
    st = status(stack, job)
    assert st["job_status"] == "COMPLETE" and st["output_path"].endswith("/xxx/xxx/"), st
    assert job_row(stack, job)[1] == fid
    assert stack.db.one("SELECT count(*) FROM jobs") == 1


def test_an_upload_in_the_bucket_is_pulled_then_processed(stack, workers, tencent, s3, bucket):
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    data = b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 64
    job = upload(stack, data)
    call, body = one_call(tencent, "PullUpload")
    assert body["SourceContext"] == job and body["SessionContext"] == job, body
    assert body["SessionId"] == f"pull-{job}" and body["SubAppId"] == 1500000001, body
    assert body["MediaType"] == "mp4", body
    # A presigned URL of the private upload, that expires; Tencent's fetch
    # of it got the upload's bytes, an unsigned GET gets nothing.
    assert "X-Amz-Expires=" in body["MediaUrl"] and "X-Amz-Signature=" in body["MediaUrl"], body
    assert s3_settings.unsigned_status(body["MediaUrl"].split("?")[0]) == 403
    pull_id = call["answer"]
    assert wait_until(lambda: tencent.pulls.get(pull_id), 20, 0.05), tencent.pulls
    assert tencent.pulls[pull_id] == {"status": 200, "bytes": len(data)}
    assert wait_until(lambda: job_row(stack, job)[2] == pull_id, 15, 0.05), job_row(stack, job)
    # Tencent's NewFileUpload for the pulled file names the job.
    up = tencent.new_file_upload(pull_id)
    fid = up["FileUploadEvent"]["FileId"]
    assert up["FileUploadEvent"]["MediaBasicInfo"]["SourceInfo"]["SourceContext"] == job
    assert notify(stack, up) == "applied"
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    call2, body2 = one_call(tencent, "ProcessMedia")
    assert body2["FileId"] == fid and body2["SessionContext"] == job, body2
    assert len(body2["MediaProcessTask"]["TranscodeTaskSet"]) == 4, body2
    # The transcode's TaskId replaces the pull's on the job.
    assert wait_until(lambda: job_row(stack, job)[2] == call2["answer"], 15, 0.05), \
        job_row(stack, job)
    tencent.finish(call2["answer"])
    assert notify(stack, tencent.procedure_event(call2["answer"])) == "applied"
    check_complete(stack, job, fid)
    # A redelivered NewFileUpload starts nothing more.
    assert notify(stack, dict(up, EventHandle="again")) == "applied"
    assert len(tencent.started_by("ProcessMedia")) == 1


def test_a_failed_pull_is_the_jobs_error(stack, workers, tencent, s3, bucket):
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    tencent.unreachable = True
    job = upload(stack, b"\0" * 4096)
    call, _ = one_call(tencent, "PullUpload")
    assert wait_until(lambda: call["answer"] in tencent.pulls, 20, 0.05)
    # Tencent's documented PullComplete, with the SessionContext it was given.
    ev = tencent.pull_complete(call["answer"])
    assert ev["PullCompleteEvent"]["SessionContext"] == job and ev["PullCompleteEvent"]["ErrCode"]
    assert notify(stack, ev) == "applied"
    st = status(stack, job)
    assert (st["job_status"], st["error_code"], st["error_message"]) == \
        ("ERROR", 70000, "pull failed"), st
    assert tencent.started_by("ProcessMedia") == []


def test_a_final_error_is_the_jobs_error(stack, workers, tencent):
    fid = "5285890784246869932"
    tencent.script[fid] = ["InvalidParameterValue.FileId"]
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    job = process_file(stack, fid)
    assert wait_until(lambda: job_row(stack, job)[0] == "ERROR", 20, 0.05), tencent.calls
    st = status(stack, job)
    assert st["error_code"] == 21, st
    assert st["error_message"] == ("Tencent ProcessMedia: InvalidParameterValue.FileId: "
                                   "The FileId does not exist"), st


def start_with_a_lost_answer(stack, workers, tencent, fid):
    """POST /media/jobs with fid whose ProcessMedia starts but answers 503;
    waits for the retry's SessionId repeat: the job's id."""
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    tencent.lose_answer[fid] = 1
    job = process_file(stack, fid)
    assert wait_until(lambda: any(c["answer"] == "InvalidParameterValue.SessionId"
                                  for c in tencent.calls), 60, 0.1), tencent.calls
    return job


def test_a_retry_after_a_lost_answer_starts_one_transcode(stack, workers, tencent):
    """The first call reaches Tencent but its answer is lost (the stand-in
    starts the task and answers 503): the retry's SessionId is refused as a
    repeat, the job is not an error, one transcode runs."""
    fid = "5285890784246869933"
    job = start_with_a_lost_answer(stack, workers, tencent, fid)
    assert len(tencent.tasks) == 1
    assert wait_until(lambda: job_row(stack, job)[1] == fid, 15, 0.05), job_row(stack, job)
    assert job_row(stack, job)[0] == "SUBMITTED"


@pytest.mark.parametrize("rendition,why", [
    ({"height": 480}, "rendition 1: Tencent has no preset template of 0x480"),
    ({"height": 720, "codec": "h265"}, "rendition 1: Tencent's preset templates are H.264"),
    ({"height": 720, "video_kbps": 2800}, "set their own bitrates"),
])
def test_a_profile_tencent_cannot_honour_is_refused_when_written(stack, tencent, rendition, why):
    r = add_profile(stack, "odd", dict(SPEC, renditions=[rendition]))
    assert r.returncode == 2 and why in r.stderr, r
    assert stack.db.one("SELECT count(*) FROM profiles WHERE name = 'odd'") == 0
    assert tencent.calls == []


def polls(stack, job):
    return stack.db.rows("SELECT source, event_id FROM notifications WHERE job_id = %s "
                         "ORDER BY id", job)


def test_the_reconciler_completes_a_file_id_job_without_notifications(stack, workers, tencent):
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    fid = "5285890784246869935"
    job = process_file(stack, fid)
    call, _ = one_call(tencent, "ProcessMedia")
    # No notification ever comes; Tencent finishes the task.
    tencent.finish(call["answer"])
    assert wait_until(lambda: status(stack, job)["job_status"] == "COMPLETE", 60, 0.2), \
        (job_row(stack, job), polls(stack, job))
    check_complete(stack, job, fid)
    got = polls(stack, job)
    assert got and all(src == "poll" for src, _ in got), got
    assert any(c.get("action") == "DescribeTaskDetail" for c in tencent.calls)


def test_the_reconciler_completes_a_pulled_job_without_notifications(stack, workers, tencent,
                                                                     s3, bucket):
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    job = upload(stack, b"\0" * 4096)
    # The pull's NewFileUpload is lost: the reconciler's DescribeTaskDetail
    # of the pull names the file, which queues ProcessMedia.
    call, _ = one_call(tencent, "PullUpload")
    call2, body2 = one_call(tencent, "ProcessMedia", timeout=60)
    assert body2["SessionContext"] == job, body2
    tencent.finish(call2["answer"])
    assert wait_until(lambda: status(stack, job)["job_status"] == "COMPLETE", 60, 0.2), \
        (job_row(stack, job), polls(stack, job))
    check_complete(stack, job, body2["FileId"])
    assert all(src == "poll" for src, _ in polls(stack, job)), polls(stack, job)


def create_task(stack, job):
    return stack.db.one("SELECT attempts, done_at IS NOT NULL, failed_at IS NOT NULL FROM outbox "
                        "WHERE kind = 'tencent.process_media' AND payload->>'job_id' = %s", job)


def test_cancel_marks_the_job_and_a_retried_create_starts_nothing(stack, workers, tencent):
    """Tencent cannot stop a started task: `mediagate jobs cancel` marks
    the job CANCELED and its later events change nothing; a create retried
    after the cancel starts nothing at Tencent."""
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    fid = "5285890784246869936"
    tencent.script[fid] = ["InternalError"]
    job = process_file(stack, fid)
    assert wait_until(lambda: create_task(stack, job)[0] == 1 and tencent.calls, 20, 0.05)
    stack.mg("jobs", "cancel", job)
    assert status(stack, job)["job_status"] == "CANCELED"
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'tencent.process_media' "
                          "AND payload->>'job_id' = %s AND done_at IS NULL", (job,))
    assert wait_until(lambda: create_task(stack, job)[1:] in [(True, False), (False, True)], 30,
                      0.1), create_task(stack, job)
    assert tencent.started() == [], tencent.calls
    # A file id job canceled after its start: Tencent's events change nothing.
    fid2 = "5285890784246869937"
    job2 = process_file(stack, fid2)
    call, _ = one_call(tencent, "ProcessMedia")
    assert wait_until(lambda: job_row(stack, job2)[2], 15, 0.05)
    stack.mg("jobs", "cancel", job2)
    tencent.finish(call["answer"])
    assert notify(stack, tencent.procedure_event(call["answer"])) == "applied"
    assert status(stack, job2)["job_status"] == "CANCELED"


def post_file_id(stack, file_id, profile="tc"):
    """POST /media/jobs with a FileId, under a new API key (another customer)."""
    return stack.curl("-X", "POST", "-H", f"Authorization: Bearer {api_key(stack)}",
                      "--data-urlencode", f"profile={profile}", "--data-urlencode",
                      f"file_id={file_id}", "/media/jobs")


def test_a_file_id_another_job_holds_is_refused_and_that_job_keeps_it(stack, workers, tencent):
    """A FileId is one job's: another key's POST /media/jobs with it is 409
    (not naming the job), and the holder completes from its own events,
    whether mediagate created it (file_id) or an event did (NewFileUpload)."""
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    fid = "5285890784246869940"
    a = process_file(stack, fid)
    call, _ = one_call(tencent, "ProcessMedia")
    # Refused while A's create is pending as well as once A holds the FileId.
    r = post_file_id(stack, fid)
    assert r.status == 409 and a not in str(r.body), r
    assert wait_until(lambda: job_row(stack, a)[1] == fid, 15, 0.05), job_row(stack, a)
    r = post_file_id(stack, fid)
    assert r.status == 409 and a not in str(r.body), r
    assert r.json()["message"] == "Another job is processing that file_id already.", r
    assert stack.db.one("SELECT count(*) FROM jobs") == 1
    # Tencent's event without SessionContext (its task flow) finds A by its FileId.
    tencent.finish(call["answer"])
    ev = tencent.procedure_event(call["answer"])
    ev["ProcedureStateChangeEvent"]["SessionContext"] = ""
    assert notify(stack, ev) == "applied"
    check_complete(stack, a, fid)
    # A file uploaded to the account (NewFileUpload): its job holds the FileId.
    up = json.loads((FIX / "tencent-vod-NewFileUpload.json").read_text())
    fid2 = up["FileUploadEvent"]["FileId"]
    assert notify(stack, up) == "applied"
    auto = stack.db.one("SELECT id FROM jobs WHERE backend_job_id = %s", fid2)
    r = post_file_id(stack, fid2)
    assert r.status == 409 and auto not in str(r.body), r
    assert stack.db.one("SELECT count(*) FROM jobs") == 2


def test_a_create_answer_or_event_never_takes_the_file_id_of_a_job_mediagate_made(stack, tencent):
    """Two jobs naming one FileId (e.g. two POSTs at once): the one holding
    it keeps it whatever the other's create answer or events say; only a
    job registered with the id (the registration form) gives it up."""
    db = stack.db.conn
    fid, a, b = "5285890784246869941", str(uuid.uuid4()), str(uuid.uuid4())
    db.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, profile) "
               "VALUES (%s, 'tencent', %s, %s, 'tc'), (%s, 'tencent', NULL, %s, 'tc')",
               (a, fid, fid, b, fid))
    db.execute("SELECT mediagate_job_event(%s, %s::jsonb)",
               (b, json.dumps({"backend_job_id": fid, "backend_task_id": "t-b"})))
    assert job_row(stack, a)[1] == fid and job_row(stack, b)[1:3] == (None, "t-b")
    # B's own event (its SessionContext) is B's, and leaves A its FileId.
    ev = json.loads((FIX / "tencent-vod-ProcedureStateChanged.json").read_text())
    ev["ProcedureStateChangeEvent"].update(SessionContext=b, FileId=fid)
    assert notify(stack, ev) == "applied"
    assert job_row(stack, a)[:2] == ("SUBMITTED", fid)
    assert job_row(stack, b)[:2] == ("COMPLETE", None)
    # A registered job gives its id up to the job mediagate made for it.
    reg = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {api_key(stack)}",
                     "--data-urlencode", "backend=tencent", "--data-urlencode",
                     "backend_job_id=5285890784246869942", "--data-urlencode", "input_file=x.mp4",
                     "/media/jobs")
    assert reg.status == 201, reg
    c = str(uuid.uuid4())
    db.execute("INSERT INTO jobs (id, backend, input_file, profile) VALUES (%s, 'tencent', 'x', "
               "'tc')", (c,))
    db.execute("SELECT mediagate_job_event(%s, %s::jsonb)",
               (c, json.dumps({"backend_job_id": "5285890784246869942"})))
    assert job_row(stack, c)[1] == "5285890784246869942"
    assert job_row(stack, reg.json()["job_id"])[1] is None


def test_the_reconciler_finds_the_task_of_a_start_whose_answer_was_lost(stack, workers, tencent):
    """ProcessMedia's answer is lost and its retry meets the SessionId
    repeat (no TaskId reaches mediagate); the notification is lost too: the
    reconciler finds the task by the job's FileId and SessionId
    (DescribeTasks), and the job completes."""
    fid = "5285890784246869950"
    job = start_with_a_lost_answer(stack, workers, tencent, fid)
    (tid,) = list(tencent.tasks)
    tencent.finish(tid)
    assert wait_until(lambda: status(stack, job)["job_status"] == "COMPLETE", 60, 0.2), \
        (job_row(stack, job), polls(stack, job))
    check_complete(stack, job, fid)
    listed = [json.loads(c["body"]) for c in tencent.calls if c.get("action") == "DescribeTasks"]
    assert listed and listed[0]["FileId"] == fid, tencent.calls
    assert any(c.get("action") == "DescribeTaskDetail" and json.loads(c["body"])["TaskId"] == tid
               for c in tencent.calls)


def test_the_reconciler_follows_the_transcode_of_a_file_pulled_before_the_pull_answer(
        stack, workers, tencent, s3, bucket):
    """Tencent's NewFileUpload for a pulled file arrives before mediagate
    has the PullUpload's answer: the job ends with the transcode's TaskId
    (the late pull answer sets nothing), so the reconciler sees the
    transcode finish when its notification is lost."""
    start_worker(stack, workers)
    assert add_profile(stack).returncode == 0
    handle, seen = tencent.handle, []

    def early(method, path, headers, raw):
        code, body = handle(method, path, headers, raw)
        tid = (body or {}).get("Response", {}).get("TaskId")
        if headers.get("X-TC-Action") == "PullUpload" and tid:
            assert wait_until(lambda: tencent.pulls.get(tid), 20, 0.05)
            seen.append(notify(stack, tencent.new_file_upload(tid)))
        return code, body

    tencent.handle = early
    job = upload(stack, b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 16)
    call, body = one_call(tencent, "ProcessMedia", timeout=60)
    assert seen == ["applied"] and body["SessionContext"] == job, (seen, body)
    pull = tencent.started_by("PullUpload")[0]["answer"]
    # Both answers are in (the pull's create task done), the transcode's kept.
    assert wait_until(lambda: stack.db.one(
        "SELECT bool_and(done_at IS NOT NULL) FROM outbox WHERE kind = 'tencent.process_media' "
        "AND payload->>'job_id' = %s", job), 30, 0.1)
    assert job_row(stack, job)[1:3] == (body["FileId"], call["answer"]), (pull, job_row(stack, job))
    tencent.finish(call["answer"])
    assert wait_until(lambda: status(stack, job)["job_status"] == "COMPLETE", 60, 0.2), \
        (job_row(stack, job), polls(stack, job))
    check_complete(stack, job, body["FileId"])
