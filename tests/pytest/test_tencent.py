"""Tencent VOD ProcessMedia on upload, end to end through real nginx,
PostgreSQL, mediagate serve and the worker, against a stand-in of Tencent's
API that checks the TC3 signature, the timestamp window, the action, the
version and the body (tencent_standin.py):

- the documented NewFileUpload queues tencent.process_media in the same
  transaction that creates the job; the worker's signed call starts one
  transcode per template; the TaskId is kept on the job;
- a transient error (InternalError, RequestLimitExceeded, a 503, no answer)
  is retried with backoff and then succeeds;
- a final error (InvalidParameterValue.FileId, a bad signature) makes the
  job ERROR with Tencent's code and message in /media/status;
- a redelivered NewFileUpload never starts a second transcode, and a start
  Tencent deduplicated by SessionId is not an error;
- ProcedureStateChanged then completes the job;
- without MEDIAGATE_TENCENT_SECRET_ID nothing is queued.
"""

import json
import subprocess
from pathlib import Path

import pytest

from mgstack import MG_BIN, MG_ROOT, wait_until
from tencent_standin import TencentStandin

FIX = Path(MG_ROOT) / "tests" / "fixtures" / "providers"
TOKEN = "tc-token-0123456789abcdef"
SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"


@pytest.fixture
def tencent():
    s = TencentStandin(SECRET_ID, SECRET_KEY)
    yield s
    s.close()


@pytest.fixture
def mg_env(tencent):
    return {
        "MEDIAGATE_TENCENT_TOKEN": TOKEN,
        "MEDIAGATE_TENCENT_SECRET_ID": SECRET_ID,
        "MEDIAGATE_TENCENT_SECRET_KEY": SECRET_KEY,
        "MEDIAGATE_TENCENT_DEFINITIONS": "100210,100220,100230",
        "MEDIAGATE_TENCENT_SUBAPPID": "1500000001",
        "MEDIAGATE_TENCENT_API_URL": tencent.url,
        "MEDIAGATE_LEASE_SECONDS": "3",
    }


def new_file_upload(file_id, handle=None):
    ev = json.loads((FIX / "tencent-vod-NewFileUpload-matching.json").read_text())
    ev["FileUploadEvent"]["FileId"] = file_id
    if handle:
        ev["EventHandle"] = handle
    return ev


def notify(stack, ev):
    return stack.curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                      json.dumps(ev), f"/notifications/tencent?token={TOKEN}")


def job_of(stack, file_id):
    return stack.db.conn.execute(
        "SELECT id, status, backend_task_id, error_code, error_message FROM jobs "
        "WHERE backend = 'tencent' AND backend_job_id = %s", (file_id,)).fetchone()


def task_of(stack, file_id):
    return stack.db.conn.execute(
        "SELECT attempts, done_at IS NOT NULL, failed_at IS NOT NULL, last_error FROM outbox "
        "WHERE kind = 'tencent.process_media' AND payload->>'file_id' = %s", (file_id,)).fetchall()


def status(stack, job_id):
    return stack.curl("-G", "--data-urlencode", f"job_id={job_id}", "/media/status").json()


def served(stack):
    return stack.db.conn.execute(
        "SELECT count(*) FROM task_kinds WHERE name = 'tencent.process_media'").fetchone()[0] == 1


def idle(stack):
    """No ProcessMedia task is queued or running."""
    return stack.db.conn.execute(
        "SELECT count(*) FROM tasks WHERE kind = 'tencent.process_media' "
        "AND state IN ('queued', 'running')").fetchone()[0] == 0


def claiming(stack):
    """A worker's connection has run the claim (its last statement)."""
    return stack.db.conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mediagate-worker' "
        "AND query LIKE 'UPDATE outbox SET locked_by%'").fetchone()[0] > 0


def start_worker(stack, workers, **env):
    workers.start(**env)
    assert wait_until(lambda: served(stack), 10, 0.05), "the worker never registered the kind"


def fast_retries(stack):
    """Retries of tencent.process_media run at once (the backoff's own
    schedule is unit-tested): each pending task's run_after is now."""
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'tencent.process_media' "
                          "AND done_at IS NULL AND failed_at IS NULL AND locked_by IS NULL")


def test_upload_starts_process_media_then_completes(stack, workers, tencent):
    start_worker(stack, workers)
    ev = json.loads((FIX / "tencent-vod-NewFileUpload-matching.json").read_text())
    fid = ev["FileUploadEvent"]["FileId"]
    r = notify(stack, ev)
    assert r.status == 200 and r.json()["result"] == "applied", r
    assert wait_until(lambda: job_of(stack, fid) and job_of(stack, fid)[2], 15, 0.05), tencent.calls
    job_id, st, task_id, _, _ = job_of(stack, fid)
    assert st == "SUBMITTED"
    assert task_id == tencent.started()[0]["answer"]
    # The signed call the stand-in accepted: one transcode per template,
    # SessionId = FileId, the SubAppId, Tencent's headers.
    (call,) = tencent.started()
    body = json.loads(call["body"])
    assert body == {"FileId": fid, "SessionId": fid, "SubAppId": 1500000001,
                    "MediaProcessTask": {"TranscodeTaskSet": [
                        {"Definition": 100210}, {"Definition": 100220}, {"Definition": 100230}]}}
    assert call["headers"]["X-TC-Action"] == "ProcessMedia"
    assert call["headers"]["X-TC-Version"] == "2018-07-17"
    assert "X-TC-Region" not in call["headers"]
    assert task_of(stack, fid) == [(1, True, False, None)]
    # Redelivered (same body, then a new EventHandle): no second call.
    assert notify(stack, ev).json()["result"] == "duplicate"
    assert notify(stack, new_file_upload(fid, "other-handle")).status == 200
    # Nothing left for the worker to do: whatever it would call, it has.
    assert wait_until(lambda: idle(stack), 30), task_of(stack, fid)
    assert len(tencent.calls) == 1, tencent.calls
    assert len(task_of(stack, fid)) == 1
    # ProcedureStateChanged completes it as before.
    done = json.loads((FIX / "tencent-vod-ProcedureStateChanged.json").read_text())
    assert notify(stack, done).status == 200
    s = status(stack, job_id)
    assert s["job_status"] == "COMPLETE", s
    assert job_of(stack, fid)[2] == task_id


@pytest.mark.parametrize("transient", [
    ["InternalError"], ["RequestLimitExceeded", "InternalError"], ["http503"], ["hang"]])
def test_transient_errors_are_retried(stack, workers, tencent, transient):
    fid = "5285890784246870001"
    tencent.script[fid] = list(transient)
    start_worker(stack, workers)
    assert notify(stack, new_file_upload(fid, f"h-{fid}")).status == 200
    n = len(transient) + 1

    def started():
        fast_retries(stack)
        return job_of(stack, fid) and job_of(stack, fid)[2]
    assert wait_until(started, 60, 0.2), (tencent.calls, task_of(stack, fid))
    assert job_of(stack, fid)[1] == "SUBMITTED"
    assert len(tencent.calls) == n and len(tencent.started()) == 1
    attempts, done, failed, last_error = task_of(stack, fid)[0]
    assert (attempts, done, failed) == (n, True, False)
    assert last_error.startswith("Tencent ProcessMedia: "), last_error


@pytest.mark.parametrize("code", ["InvalidParameterValue.FileId", "ResourceNotFound.FileNotExist"])
def test_final_error_is_the_jobs_error(stack, workers, tencent, code):
    fid = "5285890784246870002"
    tencent.script[fid] = [code]
    start_worker(stack, workers)
    assert notify(stack, new_file_upload(fid, f"h-{fid}")).status == 200
    assert wait_until(lambda: job_of(stack, fid)[1] == "ERROR", 15, 0.05), tencent.calls
    s = status(stack, job_of(stack, fid)[0])
    assert s["job_status"] == "ERROR" and s["error_code"] == 21, s
    assert s["error_message"].startswith(f"Tencent ProcessMedia: {code}: "), s
    assert len(tencent.calls) == 1
    assert task_of(stack, fid)[0][:3] == (1, False, True)


def test_a_wrong_key_is_refused_by_the_signature_check(stack, workers, tencent):
    fid = "5285890784246870003"
    start_worker(stack, workers, MEDIAGATE_TENCENT_SECRET_KEY="not-the-key-0123456789")
    assert notify(stack, new_file_upload(fid, f"h-{fid}")).status == 200
    assert wait_until(lambda: job_of(stack, fid)[1] == "ERROR", 15, 0.05), tencent.calls
    assert tencent.calls[0]["answer"] == "AuthFailure.SignatureFailure"
    assert "AuthFailure.SignatureFailure" in job_of(stack, fid)[4]
    assert not tencent.started()


def test_a_start_tencent_deduplicated_is_not_an_error(stack, workers, tencent):
    """The answer to a first start was lost (Tencent started it): the retry
    meets InvalidParameterValue.SessionId and the task is done."""
    fid = "5285890784246870004"
    tencent.sessions[fid] = "125xxx65-procedurev2-started-before"
    start_worker(stack, workers)
    assert notify(stack, new_file_upload(fid, f"h-{fid}")).status == 200
    assert wait_until(lambda: task_of(stack, fid) and task_of(stack, fid)[0][1], 15, 0.05), \
        tencent.calls
    assert job_of(stack, fid)[1:4] == ("SUBMITTED", None, None)
    assert [c["answer"] for c in tencent.calls] == ["InvalidParameterValue.SessionId"]


def test_api_down_then_up(stack, workers, tencent, mg_env):
    """Nothing listens at the API URL: retried, then the API comes back."""
    fid = "5285890784246870005"
    port = tencent.port
    tencent.close()
    start_worker(stack, workers)
    assert notify(stack, new_file_upload(fid, f"h-{fid}")).status == 200
    assert wait_until(lambda: task_of(stack, fid) and task_of(stack, fid)[0][0] >= 1
                      and task_of(stack, fid)[0][3], 15, 0.05)
    assert "no answer" in task_of(stack, fid)[0][3], task_of(stack, fid)
    revived = TencentStandin(SECRET_ID, SECRET_KEY, port=port)   # the worker's setting names it
    try:
        def started():
            fast_retries(stack)
            return job_of(stack, fid)[2]
        assert wait_until(started, 30, 0.2), task_of(stack, fid)
        assert len(revived.started()) == 1
    finally:
        revived.close()


def test_without_the_api_settings_nothing_is_queued(stack, workers, tencent, db):
    fid = "5285890784246870006"
    workers.start(MEDIAGATE_TENCENT_SECRET_ID="", MEDIAGATE_TENCENT_SECRET_KEY="",
                  MEDIAGATE_TENCENT_DEFINITIONS="")
    # Claiming: it has written the kinds it serves (a slot syncs them first).
    assert wait_until(lambda: claiming(stack), 30), "the worker never claimed"
    assert not served(stack)
    assert notify(stack, new_file_upload(fid, f"h-{fid}")).status == 200
    assert job_of(stack, fid)[1] == "SUBMITTED"
    assert task_of(stack, fid) == []
    assert tencent.calls == []


@pytest.mark.parametrize("env, message", [
    ({"MEDIAGATE_TENCENT_SECRET_KEY": ""}, "MEDIAGATE_TENCENT_SECRET_KEY is required"),
    ({"MEDIAGATE_TENCENT_DEFINITIONS": ""}, "MEDIAGATE_TENCENT_DEFINITIONS (transcoding template ids) is required"),
    ({"MEDIAGATE_TENCENT_DEFINITIONS": "10,abc"}, "MEDIAGATE_TENCENT_DEFINITIONS must be 1 to 16"),
    ({"MEDIAGATE_TENCENT_DEFINITIONS": "10,"}, "MEDIAGATE_TENCENT_DEFINITIONS must be 1 to 16"),
    ({"MEDIAGATE_TENCENT_API_URL": "ftp://x"}, "MEDIAGATE_TENCENT_API_URL must be an http(s) URL"),
    ({"MEDIAGATE_TENCENT_REGION": "AP Guangzhou"}, "MEDIAGATE_TENCENT_REGION must be a region"),
])
def test_check_config_names_bad_tencent_settings(stack, env, message):
    r = subprocess.run([str(MG_BIN), "check-config"], env={**stack.env, **env},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and message in r.stderr, r.stderr
