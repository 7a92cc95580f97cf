"""DELETE /media/jobs/<id> and the retention purge, through real
PostgreSQL, nginx, mediagate serve and worker, ffmpeg, Ceph RGW and a
Zencoder stand-in:
- the owner deletes a COMPLETE local job: 202; from then on it answers as
  an unknown job everywhere; the job.delete task removes its outputs and
  its upload's file; its notifications are kept; a signed job.deleted
  webhook arrives; a stranger's DELETE is the unknown job's 422 and
  changes nothing;
- a running local encode: CANCELED, its ffmpeg stops, and no file of it is
  left once the task ran (it waits for the canceled encode to stop);
- an upload slot that got no file: closed with its job (the PUT refused);
- S3 storage: every object under media/<job>/ and the upload's object go,
  another job's stay;
- a Zencoder job: canceled at Zencoder; a late notification of it is
  stored and changes nothing;
- MEDIAGATE_RETENTION_DAYS: jobs and notifications past it are purged the
  same way (files, then rows), a hostile job id removes nothing outside
  its own paths;
- PostgreSQL down: the DELETE is a 503 and changes nothing; restarted
  between the DELETE and its task: the task still completes.
"""

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

import mgstack
import s3_settings
from mgstack import processes_matching, wait_until
from test_encoder import clips, encoder_env, progress, put, status, wait_status  # noqa: F401
from test_webhooks import check_signed, endpoint, receiver  # noqa: F401
from test_zencoder_encoder import LADDER, common_env as zencoder_env, made, zen  # noqa: F401
from test_mux_encoder import upload as profile_upload

NOT_FOUND = {"success": False, "message": "Not found item."}


@pytest.fixture
def mg_env(request, rundir):
    env = {**encoder_env(rundir), "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
           "MEDIAGATE_WEBHOOK_RETRY_UNIT_MS": "50"}
    if "zen" in request.fixturenames:
        env.update(zencoder_env(rundir, request.getfixturevalue("zen")))
    if "bucket" in request.fixturenames:
        (rundir / "tmp").mkdir()
        env.update({"TMPDIR": str(rundir / "tmp"),
                    "MEDIAGATE_UPLOAD_MAX_BYTES": str(64 * 1024 * 1024),
                    **s3_settings.env(request.getfixturevalue("s3"), request.getfixturevalue("bucket"))})
    return env


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-del")


SHORT = ("del-short.mp4", 3, "320x240")
LONG = ("del-long.mp4", 40, "1280x720")


def upload(stack, clip, key, name="c.mp4"):
    """KEY's upload of CLIP (a PUT with the API key): (job id, upload id)."""
    r = put(stack, clip, f"/uploads/{name}", f"Authorization: Bearer {key}")
    assert r.status == 201, r
    job = r.json()["job_id"]
    return job, str(stack.db.one("SELECT id FROM uploads WHERE job_id = %s", job))


def delete(stack, key, job):
    return stack.curl("-X", "DELETE", "-H", f"Authorization: Bearer {key}", f"/media/jobs/{job}")


def removed(stack, job):
    """The job's files are removed (its job.delete task done)."""
    return stack.db.one("SELECT files_removed_at IS NOT NULL FROM jobs WHERE id = %s", job)


def wait_removed(stack, job):
    assert wait_until(lambda: removed(stack, job), 300, 0.2), \
        stack.db.rows("SELECT kind, state, last_error FROM tasks WHERE payload->>'job_id' = %s", job)


def unknown(stack, job, key, input_file):
    """Every lookup a caller makes answers JOB as an unknown job."""
    for path in (f"/media/status?job_id={job}", f"/media/job_id?input_file={input_file}",
                 f"/media/thumbnail?job_id={job}&time=1&width=320"):
        r = stack.curl("-H", f"Authorization: Bearer {key}", path)
        assert (r.status, r.json()) == (422, NOT_FOUND), r
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: text/vtt",
                   "--data-binary", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n",
                   f"/media/captions/{job}/en")
    assert r.status == 404 and r.json()["success"] is False, r
    r = stack.curl("-H", f"Authorization: Bearer {key}", f"/media/key/{job}/1")
    assert r.status == 404, r
    r = delete(stack, key, job)
    assert (r.status, r.json()) == (422, NOT_FOUND), r


def test_the_owner_deletes_a_complete_job_its_files_go_its_history_stays(
        stack, workers, clips, rundir, receiver):
    endpoint(stack, receiver, "/hooks", events="job.deleted")
    owner = stack.mg("apikey", "create", "owner")
    stranger = stack.mg("apikey", "create", "stranger")
    job, up = upload(stack, clips(*SHORT), owner)
    other, other_up = upload(stack, clips(*SHORT), owner, "d.mp4")
    workers.start()
    assert wait_status(stack, job, ("COMPLETE",), 600) and wait_status(stack, other, ("COMPLETE",), 600)
    media, uploads = rundir / "media", Path(stack.env["MEDIAGATE_UPLOADS_DIR"])
    assert (media / job / "master.m3u8").exists() and (uploads / up / "c.mp4").exists()
    input_file = stack.db.one("SELECT input_file FROM jobs WHERE id = %s", job)
    # A stored notification of the job (as a provider's would be).
    stack.db.conn.execute("INSERT INTO notifications (backend, event_id, body, result, job_id) "
                          "VALUES ('local', 'e-1', '\\x7b7d', 'applied', %s)", (job,))

    # Anyone but its owner: the unknown job's answer, and nothing changes.
    for who in (stranger, None):
        r = stack.curl(*(["-H", f"Authorization: Bearer {who}"] if who else []), "-X", "DELETE",
                       f"/media/jobs/{job}")
        assert (r.status, r.json()) == ((422, NOT_FOUND) if who else (401, r.json())), r
    assert (delete(stack, owner, "no-such-job").status, delete(stack, owner, "a.b").status) == (422, 422)
    assert stack.db.one("SELECT deleted_at FROM jobs WHERE id = %s", job) is None
    assert status(stack, job)["job_status"] == "COMPLETE"

    # docs/library.md's commands, run as shown (the same DELETE twice),
    # answer as shown.
    text = (mgstack.MG_ROOT / "docs" / "library.md").read_text()
    m = re.search(r"```sh\n(curl -s -X DELETE -H .*?)\n```\n\n```\n(.*?)\n```", text, re.S)
    assert m, "docs/library.md shows the delete"
    r = subprocess.run(["bash", "-c", m.group(1).replace("https://media.example.com", stack.base)],
                       capture_output=True, text=True, env={"key": owner, "job": job, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == m.group(2).replace("…", job).replace("\n", ""), r.stdout
    unknown(stack, job, owner, input_file)
    wait_removed(stack, job)
    assert not (media / job).exists() and not (uploads / up).exists()
    assert [p.name for p in media.iterdir() if p.name.startswith(".")] == []
    # The other job of the same owner keeps everything.
    assert (media / other / "master.m3u8").exists() and (uploads / other_up / "d.mp4").exists()
    assert status(stack, other)["job_status"] == "COMPLETE"
    # The history stays (the row, its notifications) until the retention purge.
    assert stack.db.one("SELECT count(*) FROM notifications WHERE job_id = %s", job) == 1
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "COMPLETE"
    # Retention is off by default: no purge task.
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jobs.purge'") == 0

    (entry,) = receiver.wait("/hooks", 1)
    body = check_signed(entry)
    assert body["type"] == "job.deleted", body
    assert (body["data"]["job_id"], body["data"]["reason"], body["data"]["job_status"]) == \
        (job, "owner", "COMPLETE"), body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["data"]["deleted_at"]), body


def test_a_running_encode_is_canceled_and_leaves_no_file(stack, workers, clips, rundir):
    owner = stack.mg("apikey", "create", "owner")
    job, up = upload(stack, clips(*LONG), owner)
    workers.start()
    assert wait_until(lambda: progress(stack, job) > 0, 300), "the encode started"
    uploads = Path(stack.env["MEDIAGATE_UPLOADS_DIR"])
    ffmpeg = "ffmpeg.*" + re.escape(str(uploads / up))
    assert processes_matching(ffmpeg), "an ffmpeg encodes the upload"

    r = delete(stack, owner, job)
    assert (r.status, r.json()) == (202, {"success": True, "job_id": job, "job_status": "CANCELED"}), r
    assert stack.curl(f"/media/status?job_id={job}").status == 422
    # The holder learns it at its next heartbeat and stops its ffmpeg.
    wait_until(lambda: not processes_matching(ffmpeg), 120, 0.05)
    assert not processes_matching(ffmpeg), "its ffmpeg stopped"
    wait_removed(stack, job)
    media = rundir / "media"
    assert not (media / job).exists() and not (uploads / up).exists()
    assert [p.name for p in media.iterdir() if job in p.name] == [], "no partial outputs left"
    # Files removed only once the canceled encode had stopped.
    enc = stack.db.one("SELECT id FROM outbox WHERE kind = 'local.encode' AND payload->>'job_id' = %s", job)
    assert f"task {enc}: lost its lease" in workers.log()
    assert stack.db.one("SELECT status, deleted_at IS NOT NULL FROM jobs WHERE id = %s", job) == \
        ("CANCELED", True)
    # Nothing appears later (a late write of the encode would).
    time.sleep(2)
    assert not (media / job).exists()


def test_an_open_upload_slot_is_closed_with_its_job(stack, workers, clips):
    """A slot that got no file yet: its job deleted, the slot refuses the
    file and keeps nothing of it."""
    owner = stack.mg("apikey", "create", "owner")
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {owner}", "--data-urlencode", "name=s.mp4",
                   "/uploads")
    assert r.status == 201, r
    job, url, up = r.json()["job_id"], r.json()["upload"]["url"], r.json()["upload"]["id"]
    workers.start()
    r = delete(stack, owner, job)
    assert (r.status, r.json()) == (202, {"success": True, "job_id": job, "job_status": "CANCELED"}), r
    r = stack.curl("-X", "PUT", "--data-binary", f"@{clips(*SHORT)}", url)
    assert (r.status, r.json()["message"]) == (403, "This upload URL has expired. Ask for a new one."), r
    wait_removed(stack, job)
    assert not (Path(stack.env["MEDIAGATE_UPLOADS_DIR"]) / up).exists()
    assert stack.db.one("SELECT stored_at IS NULL AND expires_at <= now() FROM uploads WHERE id = %s", up)
    assert stack.db.one("SELECT state FROM tasks WHERE kind = 'upload.expire' "
                        "AND payload->>'upload_id' = %s", up) == "done", "its expiry ran at once"


def test_on_s3_storage_the_jobs_objects_and_its_upload_go(stack, workers, clips, s3, bucket):
    owner = stack.mg("apikey", "create", "owner")
    job, up = upload(stack, clips(*SHORT), owner)
    other, other_up = upload(stack, clips(*SHORT), owner, "d.mp4")
    workers.start()
    assert wait_status(stack, job, ("COMPLETE",), 600) and wait_status(stack, other, ("COMPLETE",), 600)
    assert s3_settings.keys(s3, bucket, f"media/{job}/") and s3_settings.keys(s3, bucket, f"uploads/{up}/")
    kept = {**s3_settings.keys(s3, bucket, f"media/{other}/"), **s3_settings.keys(s3, bucket, f"uploads/{other_up}/")}

    r = delete(stack, owner, job)
    assert r.status == 202, r
    wait_removed(stack, job)
    assert s3_settings.keys(s3, bucket, f"media/{job}/") == {}
    assert s3_settings.keys(s3, bucket, f"uploads/{up}/") == {}
    assert {**s3_settings.keys(s3, bucket, f"media/{other}/"),
            **s3_settings.keys(s3, bucket, f"uploads/{other_up}/")} == kept, "another job's objects stay"
    assert stack.curl(f"/media/status?job_id={job}").status == 422


def test_a_zencoder_job_is_canceled_there_and_a_late_event_changes_nothing(stack, workers, zen):
    up = Path(stack.env["MEDIAGATE_UPLOADS_DIR"])
    up.mkdir(parents=True, exist_ok=True)
    f = stack.run / "zen.json"
    f.write_text(json.dumps(LADDER))
    stack.mg("profiles", "add", "zen", "--encoder", "zencoder", f)
    owner = stack.mg("apikey", "create", "owner", "--profiles", "zen")
    job = profile_upload(stack, owner, "zen")
    workers.start(MEDIAGATE_PUBLIC_URL=stack.base)
    (jid, _), = made(zen).items()
    assert wait_until(lambda: stack.db.one("SELECT backend_job_id FROM jobs WHERE id = %s", job) == str(jid),
                      60, 0.1)

    r = delete(stack, owner, job)
    assert (r.status, r.json()) == (202, {"success": True, "job_id": job, "job_status": "CANCELED"}), r
    assert wait_until(lambda: zen.created()[jid]["state"] == "cancelled", 120, 0.1), zen.calls
    assert [c["path"] for c in zen.calls if c["method"] == "PUT"] == [f"/api/v2/jobs/{jid}/cancel"]
    wait_removed(stack, job)

    # Zencoder's notification arriving late: stored, and the job stays a
    # deleted, CANCELED tombstone.
    zen.set_state(jid, "finished")
    from test_zencoder_encoder import notify
    assert notify(stack, zen.notification(jid)).status == 200
    assert stack.db.one("SELECT count(*) FROM notifications WHERE job_id = %s", job) >= 1
    assert stack.db.one("SELECT status, deleted_at IS NOT NULL FROM jobs WHERE id = %s", job) == \
        ("CANCELED", True)
    assert stack.curl(f"/media/status?job_id={job}").status == 422


@pytest.fixture
def retention(mg_env):
    mg_env["MEDIAGATE_RETENTION_DAYS"] = "2"
    return mg_env


def test_retention_purges_old_jobs_files_rows_and_notifications(retention, stack, workers, clips, rundir):
    owner = stack.mg("apikey", "create", "owner")
    old, old_up = upload(stack, clips(*SHORT), owner)
    new, new_up = upload(stack, clips(*SHORT), owner, "d.mp4")
    w = workers.start(MEDIAGATE_RETENTION_DAYS="0")  # encodes only
    assert wait_status(stack, old, ("COMPLETE",), 600) and wait_status(stack, new, ("COMPLETE",), 600)
    w.stop()
    media, uploads = rundir / "media", Path(stack.env["MEDIAGATE_UPLOADS_DIR"])
    q = stack.db.conn.execute
    # Past retention: job OLD (its last change 3 days ago), a notification,
    # a deleted job whose files are gone, and a job whose id is hostile
    # (it must remove nothing outside its own paths).
    q("UPDATE jobs SET updated_at = now() - interval '3 days' WHERE id = %s", (old,))
    q("INSERT INTO notifications (backend, event_id, body, result, job_id, received_at) VALUES "
      "('local', 'old', '\\x7b7d', 'applied', %s, now() - interval '3 days'), "
      "('local', 'new', '\\x7b7d', 'applied', %s, now())", (old, new))
    q("INSERT INTO jobs (id, backend, input_file, status, deleted_at, files_removed_at, updated_at) VALUES "
      "('gone', 'local', 'x', 'COMPLETE', now() - interval '3 days', now() - interval '3 days', "
      "now() - interval '3 days'), "
      "('../sentinel', 'local', 'y', 'COMPLETE', NULL, NULL, now() - interval '3 days'), "
      "('.', 'local', 'z', 'COMPLETE', NULL, NULL, now() - interval '3 days')")
    sentinel = rundir / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_text("keep")

    workers.start()  # with the setting: its purge task runs at once
    wait_removed(stack, old)
    assert not (media / old).exists() and not (uploads / old_up).exists()
    assert (media / new / "master.m3u8").exists() and (uploads / new_up / "d.mp4").exists()
    assert (sentinel / "keep").read_text() == "keep" and media.is_dir()
    assert wait_until(lambda: removed(stack, "../sentinel") and removed(stack, "."), 120, 0.2)
    assert stack.curl(f"/media/status?job_id={old}").status == 422
    assert status(stack, new)["job_status"] == "COMPLETE"
    assert stack.db.rows("SELECT event_id FROM notifications ORDER BY id") == [("new",)]
    assert stack.db.rows("SELECT id FROM jobs WHERE id = 'gone'") == []
    # One purge task, waiting an hour for its next run.
    assert stack.db.one("SELECT count(*), min(run_after) > now() + interval '50 minutes' FROM outbox "
                        "WHERE kind = 'jobs.purge' AND done_at IS NULL AND failed_at IS NULL") == (1, True)

    # Its next run, once OLD was deleted past retention: its row goes too
    # (with its upload's); NEW stays.
    q("UPDATE jobs SET deleted_at = now() - interval '3 days' WHERE id = %s", (old,))
    q("UPDATE outbox SET run_after = now() WHERE kind = 'jobs.purge'")
    assert wait_until(lambda: not stack.db.rows("SELECT 1 FROM jobs WHERE id = %s", old), 120, 0.2)
    assert stack.db.rows("SELECT 1 FROM uploads WHERE id = %s", old_up) == []
    assert stack.db.one("SELECT deleted_at FROM jobs WHERE id = %s", new) is None


def test_postgres_down_then_restarted_between_the_delete_and_its_task(stack, workers, clips, rundir, pg):
    owner = stack.mg("apikey", "create", "owner")
    job, up = upload(stack, clips(*SHORT), owner)
    w = workers.start()
    assert wait_status(stack, job, ("COMPLETE",), 600)
    w.stop(signal.SIGTERM)
    # Captions given while no worker runs: their captions.publish task
    # (it names the job as media_job) waits.
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {owner}", "-H", "Content-Type: text/vtt",
                   "--data-binary", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n", f"/media/captions/{job}/en")
    assert r.status == 201, r
    pg.stop("fast")
    try:
        r = delete(stack, owner, job)
        assert r.status == 503, r
    finally:
        pg.start()
        stack.db.conn = pg.connect(stack.db.name)
    assert stack.db.one("SELECT deleted_at FROM jobs WHERE id = %s", job) is None, "the 503 changed nothing"
    r = wait_until(lambda: (lambda x: x if x.status == 202 else None)(delete(stack, owner, job)), 60, 0.5)
    assert r and r.json()["job_status"] == "COMPLETE", r
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'job.delete' "
                        "AND payload->>'job_id' = %s", job) == 1
    # The job's pending work is dropped with it: the captions are never written.
    assert stack.db.one("SELECT state, last_error FROM tasks WHERE kind = 'captions.publish' "
                        "AND payload->>'media_job' = %s", job) == ("dead", "its job was deleted")
    # Restarted between the DELETE and its task (a clean stop: the test
    # cluster runs with synchronous_commit off): the task is durable.
    pg.stop("fast")
    pg.start()
    stack.db.conn = pg.connect(stack.db.name)
    workers.start()
    wait_removed(stack, job)
    assert not (rundir / "media" / job).exists()
    assert not (Path(stack.env["MEDIAGATE_UPLOADS_DIR"]) / up).exists()
