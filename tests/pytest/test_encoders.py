"""The encoders mediagate drives, as every encoder shares them
(app/worker/encoders.c, sql/functions/): a job mediagate created is found by
its own id before the encoder's answer names it, the answer's id is kept
once, a create that fails before any answer still reaches the job, the
reconciler's task is queued with the create's result.

The first tests run the SQL alone against the session's PostgreSQL; the
end-to-end ones below drive real workers against a stand-in encoder.
"""

import json

import pytest


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


def test_a_create_answer_never_takes_another_jobs_id(db):
    cloud_job(db, "other", backend_job_id="Z1")
    cloud_job(db, "j1")
    db.one("SELECT mediagate_job_event('j1', %s::jsonb)", json.dumps({"backend_job_id": "Z1"}))
    assert job_row(db, "j1")[1] is None
    assert job_row(db, "other")[1] == "Z1"


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
