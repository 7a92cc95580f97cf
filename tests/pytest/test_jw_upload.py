"""Uploads straight to JW Platform and the write-back of changes, as the
seed's mediaplatform_jwp did them, through the real stack (nginx,
mediagate serve, the worker, PostgreSQL) against the JW stand-in
(jwplatform_standin.py), which recomputes every call's v1 signature and
refuses stale timestamps and reused nonces:

- POST /uploads target=jwplatform creates the video (/v1/videos/create:
  title, description " ", custom.sms_acl) and answers JW's upload link,
  https forced unless MEDIAGATE_JWPLATFORM_FORCE_HTTPS_UPLOAD is off; the
  job is jwplatform:<key>, and JW's webhooks move it;
- `mediagate jobs acl` and `mediagate jobs title` reach /v1/videos/update
  (jwplatform.update tasks), through 429 and 5xx answers, the newest state
  winning; MEDIAGATE_JWPLATFORM_SYNC_ITEMS=off keeps them here;
- JW down or refusing at create: a clear refusal and nothing made; a
  create whose answer was lost: nothing visible, and the video JW made
  anyway is deleted; a slow JW holds at most its share of the request
  threads, for 10 s at most;
- refusals of an update are retried and the ACL set here holds until JW
  took it; what the write-back cannot send is refused before anything
  changes; a link never used expires (the empty video deleted, the job
  CANCELED), and so does a canceled upload job's video.
"""

import subprocess
import threading
import urllib.parse

import pytest

from mgstack import MG_BIN, Curl, wait_until
# The stand-in fixture and the webhook helpers of the mirror's suite, the
# uploads suite's API key and nginx includes.
from test_jwplatform import API_KEY, API_SECRET, HOOK_SECRET, event, hook, jw, jwt_for  # noqa: F401
from test_uploads import create as create_upload
from test_uploads import key, nginx_includes  # noqa: F401


@pytest.fixture
def mg_env(jw, request):
    return {
        "MEDIAGATE_JWPLATFORM_API_URL": jw.url,
        "MEDIAGATE_JWPLATFORM_API_KEY": API_KEY,
        "MEDIAGATE_JWPLATFORM_API_SECRET": API_SECRET,
        "MEDIAGATE_JWPLATFORM_WEBHOOK_SECRET": HOOK_SECRET,
        "MEDIAGATE_LEASE_SECONDS": "3",
        **getattr(request, "param", {}),
    }


def create(stack, key, *form):
    return create_upload(stack, key, "target=jwplatform", *form)


def mg(stack, *args):
    """`mediagate ARGS` with its exit status and both outputs."""
    return subprocess.run([str(MG_BIN), *args], env=stack.env, capture_output=True, text=True,
                          timeout=60)


def start_worker(stack, workers, **env):
    workers.start(**env)
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM task_kinds WHERE name IN ('jwplatform.update', 'jwplatform.refresh')")
        == 2, 10, 0.05)


def updates(jw):
    return [(p.get("title"), p.get("custom.sms_acl"), s) for p, s in jw.video_calls("update")]


def status(stack, job_id):
    return stack.curl("-G", "--data-urlencode", f"job_id={job_id}", "/media/status")


def test_the_video_is_created_and_its_upload_link_answered_with_https_forced(stack, jw, key,
                                                                              workers):
    r = create(stack, key, "name=lecture 1.mp4", "title=Lecture one", "acl=USER_alice,GROUP_x")
    assert r.status == 201, r
    body = r.json()
    [(params, st)] = jw.video_calls("create")
    vkey = body["upload"]["video_key"]
    assert st == 200 and vkey in jw.videos
    # What the seed's management.py sends: title, a description JW takes, the ACL.
    assert params["title"] == "Lecture one" and params["description"] == " "
    assert params["custom.sms_acl"] == "acl:USER_alice,GROUP_x:"
    link = body["upload"]["url"]
    u = urllib.parse.urlsplit(link)
    assert (u.scheme, u.netloc, u.path) == ("https", "upload.jwplatform.com", "/v1/videos/upload")
    q = urllib.parse.parse_qsl(u.query)
    assert [k for k, _ in q] == ["api_format", "key", "token"] and dict(q)["api_format"] == "json"
    assert dict(q)["key"] == vkey and len(dict(q)["token"]) == 32
    assert r.header("Location") == link and r.header("Cache-Control") == "no-store"
    assert body["job_id"] == f"jwplatform:{vkey}" and body["upload"]["target"] == "jwplatform"
    # The job and the upload row, in one transaction with the answer.
    assert stack.db.one("SELECT backend, backend_job_id, status, title FROM jobs WHERE id = %s",
                        body["job_id"]) == ("jwplatform", vkey, "SUBMITTED", "Lecture one")
    assert stack.db.one("SELECT target, owner LIKE 'key:%%', name FROM uploads WHERE id = %s",
                        body["upload"]["id"]) == ("jwplatform", True, "lecture_1.mp4")
    # Its ACL holds before the mirror has the video: an anonymous caller sees nothing.
    assert status(stack, body["job_id"]).json() == status(stack, "jwplatform:nosuchvideo").json()

    # JW's webhooks make the mirror, and so the job, follow the video.
    start_worker(stack, workers)
    jw.videos[vkey]["status"] = "processing"
    assert hook(stack, event("media_available", vkey), jwt_for(event("media_available", vkey))).status == 200
    assert wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", body["job_id"])
                      == "PROGRESSING", 30)
    jw.videos[vkey]["status"] = "ready"
    ev = event("conversions_complete", vkey)
    assert hook(stack, ev, jwt_for(ev)).status == 200
    assert wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", body["job_id"])
                      == "COMPLETE", 30)
    assert stack.db.one("SELECT data->'custom'->>'sms_acl' FROM cached_resource WHERE key = %s",
                        vkey) == "acl:USER_alice,GROUP_x:"
    assert stack.db.one("SELECT count(*) FROM jobs WHERE backend = 'jwplatform'") == 1


def test_the_title_is_the_file_name_when_none_is_given(stack, jw, key):
    r = create(stack, key, "name=clip.mp4")
    assert r.status == 201, r
    [(params, _)] = jw.video_calls("create")
    assert params["title"] == "clip.mp4" and params["custom.sms_acl"] == "acl:WORLD:"
    # A WORLD video's job answers anyone at once.
    assert status(stack, r.json()["job_id"]).json()["job_status"] == "SUBMITTED"


@pytest.mark.parametrize("mg_env", [{"MEDIAGATE_JWPLATFORM_FORCE_HTTPS_UPLOAD": "off"}],
                         indirect=True)
def test_without_forced_https_the_link_is_as_jw_gives_it_and_takes_the_file(stack, jw, key,
                                                                            workers, rundir):
    jw.upload_address = f"127.0.0.1:{jw.port}"
    r = create(stack, key, "name=clip.mp4")
    assert r.status == 201, r
    up = r.json()["upload"]
    assert up["url"].startswith(f"http://127.0.0.1:{jw.port}/v1/videos/upload?api_format=json&key=")
    # The browser's part, as JW's own upload form does it: multipart field "file".
    src = rundir / "clip.mp4"
    src.write_bytes(bytes(range(256)) * 1000)
    out = subprocess.run(["curl", "-sS", "-F", f"{up['form_field']}=@{src}", up["url"]],
                         capture_output=True, text=True, timeout=60)
    assert '"status": "ok"' in out.stdout, out
    assert jw.uploaded[up["video_key"]] == src.read_bytes()
    start_worker(stack, workers)
    ev = event("media_available", up["video_key"])
    assert hook(stack, ev, jwt_for(ev)).status == 200
    assert wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s",
                                           r.json()["job_id"]) == "PROGRESSING", 30)


def test_acl_and_title_changes_are_written_back(stack, jw, key, workers):
    job = create(stack, key, "name=clip.mp4", "acl=USER_alice").json()["job_id"]
    vkey = job.split(":", 1)[1]
    start_worker(stack, workers)
    r = mg(stack, "jobs", "acl", job, "USER_bob,GROUP_x")
    assert r.returncode == 0 and "jwplatform.update task writes it" in r.stdout, r
    assert wait_until(lambda: updates(jw) == [(None, "acl:USER_bob,GROUP_x:", 200)], 30), updates(jw)
    assert jw.videos[vkey]["custom"]["sms_acl"] == "acl:USER_bob,GROUP_x:"
    r = mg(stack, "jobs", "title", job, "A better title")
    assert r.returncode == 0, r
    assert wait_until(lambda: len(updates(jw)) == 2, 30)
    # The newest state: the title, and the ACL set before (still mediagate's).
    assert updates(jw)[1] == ("A better title", "acl:USER_bob,GROUP_x:", 200)
    assert jw.videos[vkey]["title"] == "A better title"
    assert stack.db.one("SELECT title FROM jobs WHERE id = %s", job) == "A better title"
    # --world is WORLD on the platform too, and anyone may see the job at once.
    assert mg(stack, "jobs", "acl", job, "--world").returncode == 0
    assert wait_until(lambda: len(updates(jw)) == 3, 30)
    assert updates(jw)[2][1] == "acl:WORLD:"
    assert status(stack, job).json()["job_status"] == "SUBMITTED"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update' "
                        "AND done_at IS NULL") == 0


def test_rate_limits_and_outages_are_retried_until_written(stack, jw, key, workers):
    job = create(stack, key, "name=clip.mp4").json()["job_id"]
    vkey = job.split(":", 1)[1]
    jw.answers["/v1/videos/update"] = [429, 503, 500]
    start_worker(stack, workers)
    assert mg(stack, "jobs", "acl", job, "INST_eng").returncode == 0
    assert wait_until(lambda: [s for _, _, s in updates(jw)] == [429, 503, 500, 200], 90), updates(jw)
    assert jw.videos[vkey]["custom"]["sms_acl"] == "acl:INST_eng:"
    assert wait_until(lambda: stack.db.one(
        "SELECT done_at IS NOT NULL, attempts FROM outbox WHERE kind = 'jwplatform.update'")
        == (True, 4), 10)


def test_two_quick_changes_the_last_wins(stack, jw, key, workers):
    job = create(stack, key, "name=clip.mp4").json()["job_id"]
    vkey = job.split(":", 1)[1]
    # No worker yet: the changes coalesce into one waiting task.
    for acl in ("USER_a", "USER_b"):
        assert mg(stack, "jobs", "acl", job, acl).returncode == 0
    for t in ("first", "second"):
        assert mg(stack, "jobs", "title", job, t).returncode == 0
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update'") == 1
    start_worker(stack, workers)
    assert wait_until(lambda: updates(jw) == [("second", "acl:USER_b:", 200)], 30), updates(jw)

    assert stack.db.one("SELECT version = sent_version FROM jwplatform_writes WHERE key = %s", vkey)


def test_a_change_made_while_an_update_is_on_its_way_lands_last(stack, jw, key, workers):
    job = create(stack, key, "name=clip.mp4").json()["job_id"]
    vkey = job.split(":", 1)[1]
    start_worker(stack, workers, MEDIAGATE_WORKER_CONCURRENCY="2")

    # While the platform holds the update to USER_z, USER_c is set: its
    # task, claimed by the other slot, waits for the first send (one send
    # of a video at a time), and the newest state is sent after it.
    def meanwhile(params):
        jw.on_update = None
        assert mg(stack, "jobs", "acl", job, "USER_c").returncode == 0
        assert wait_until(lambda: stack.db.one(
            "SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update' AND attempts >= 1 "
            "AND last_error LIKE 'another task is sending%%'") >= 1, 30)
    jw.on_update = meanwhile
    assert mg(stack, "jobs", "acl", job, "USER_z").returncode == 0
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update' AND done_at IS NULL") == 0, 60)
    assert [a for _, a, _ in updates(jw)] == ["acl:USER_z:", "acl:USER_c:"], updates(jw)
    assert jw.videos[vkey]["custom"]["sms_acl"] == "acl:USER_c:"
    assert stack.db.one("SELECT version = sent_version FROM jwplatform_writes WHERE key = %s", vkey)


@pytest.mark.parametrize("mg_env", [{"MEDIAGATE_JWPLATFORM_SYNC_ITEMS": "off"}], indirect=True)
def test_without_sync_items_changes_stay_here(stack, jw, key):
    job = create(stack, key, "name=clip.mp4").json()["job_id"]
    r = mg(stack, "jobs", "acl", job, "USER_bob")
    assert r.returncode == 0 and "MEDIAGATE_JWPLATFORM_SYNC_ITEMS is off" in r.stdout, r
    assert mg(stack, "jobs", "title", job, "kept here").returncode == 0
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update'") == 0
    # Here, the job follows the change all the same.
    assert status(stack, job).json() == status(stack, "jwplatform:nosuchvideo").json()


def nothing_made(stack):
    return (stack.db.one("SELECT count(*) FROM jobs"), stack.db.one("SELECT count(*) FROM uploads"))


def test_jw_down_at_create_is_a_503_and_nothing_is_made(stack, jw, key):
    jw.drop = 1
    r = create(stack, key, "name=clip.mp4")
    assert r.status == 503 and r.header("Retry-After"), r
    assert "JW Platform did not answer" in r.json()["message"]
    assert nothing_made(stack) == (0, 0)
    jw.answers["/v1/videos/create"] = [500]
    r = create(stack, key, "name=clip.mp4")
    assert r.status == 503 and nothing_made(stack) == (0, 0), r
    # A refusal (a bad parameter, a signature) is said as such.
    jw.answers["/v1/videos/create"] = [400]
    r = create(stack, key, "name=clip.mp4")
    assert r.status == 502 and r.json()["message"] == "JW Platform refused to create the video.", r
    assert nothing_made(stack) == (0, 0)
    assert stack.db.rows("SELECT state FROM jwplatform_creates ORDER BY created_at") == \
        [("creating",), ("creating",), ("failed",)]
    # Up again: the upload goes through.
    assert create(stack, key, "name=clip.mp4").status == 201
    assert nothing_made(stack) == (1, 1)


def test_a_lost_create_answer_leaves_nothing_visible_and_the_video_is_deleted(stack, jw, key, workers):
    jw.lose_create = 1
    r = create(stack, key, "name=clip.mp4", "title=lost")
    assert r.status == 503, r
    [vkey] = list(jw.videos)       # JW made it all the same
    assert nothing_made(stack) == (0, 0)
    upload_id = stack.db.one("SELECT id::text FROM jwplatform_creates WHERE state = 'creating'")
    assert jw.videos[vkey]["custom"]["mediagate_upload"] == upload_id
    # A webhook (or a sync) brings the video into the mirror: still no job.
    start_worker(stack, workers)
    ev = event("media_available", vkey)
    assert hook(stack, ev, jwt_for(ev)).status == 200
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM cached_resource WHERE key = %s", vkey) == 1, 30)
    assert stack.db.one("SELECT count(*) FROM jobs") == 0
    # The discard task (due 10 min after the create) deletes it on JW.
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'jwplatform.discard' "
                          "AND payload->>'upload_id' = %s", (upload_id,))
    assert wait_until(lambda: vkey not in jw.videos, 30)
    assert wait_until(lambda: stack.db.one("SELECT state, key FROM jwplatform_creates WHERE id = %s",
                                           upload_id) == ("discarded", vkey), 10)
    assert stack.db.one("SELECT count(*) FROM jobs") == 0


def test_the_discard_task_of_an_answered_create_does_nothing(stack, jw, key, workers):
    assert create(stack, key, "name=clip.mp4").status == 201
    start_worker(stack, workers)
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'jwplatform.discard'")
    assert wait_until(lambda: stack.db.one(
        "SELECT done_at IS NOT NULL FROM outbox WHERE kind = 'jwplatform.discard'"), 30)
    assert jw.video_calls("delete") == [] and len(jw.videos) == 1


def test_no_log_carries_the_secret_or_the_upload_token(stack, jw, key, workers):
    r = create(stack, key, "name=clip.mp4")
    token = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.json()["upload"]["url"]).query))["token"]
    start_worker(stack, workers)
    assert mg(stack, "jobs", "acl", r.json()["job_id"], "USER_x").returncode == 0
    assert wait_until(lambda: len(updates(jw)) == 1, 30)
    logs = "".join(text for _, text in stack.logs.sections())
    assert API_SECRET not in logs and token not in logs


@pytest.mark.parametrize("title", ["é" * 450, "x" * 1001, "line\nbreak"])
def test_a_title_jw_cannot_take_is_refused_before_jw_is_called(stack, jw, key, title):
    r = create(stack, key, "name=clip.mp4", f"title={title}")
    assert r.status == 400, r
    assert jw.video_calls("create") == [] and nothing_made(stack) == (0, 0)


def test_a_mirrored_video_s_acl_change_reaches_jw_and_the_job_at_once(stack, jw, workers):
    from jwplatform_standin import make_video
    v = make_video("mirr0001", 1700000000, custom={"sms_acl": "acl:USER_alice:"})
    jw.videos[v["key"]] = v
    stack.mg("sync")
    job = "jwplatform:mirr0001"
    assert status(stack, job).json() == status(stack, "jwplatform:nosuchvideo").json()
    # Made WORLD here: the job answers anyone at once, and the platform follows.
    r = mg(stack, "jobs", "acl", job, "WORLD")
    assert r.returncode == 0 and "jwplatform.update task writes it" in r.stdout, r
    assert status(stack, job).json()["job_status"] == "COMPLETE"
    start_worker(stack, workers)
    assert wait_until(lambda: updates(jw) == [(None, "acl:WORLD:", 200)], 30), updates(jw)
    # The next sync brings the platform's state, which is the same.
    stack.mg("sync")
    assert stack.db.one("SELECT data->'custom'->>'sms_acl' FROM cached_resource WHERE key = %s",
                        "mirr0001") == "acl:WORLD:"
    assert status(stack, job).json()["job_status"] == "COMPLETE"
    # A change made on the platform afterwards wins, as the mirror shows it.
    jw.videos["mirr0001"]["custom"]["sms_acl"] = "acl:USER_bob:"
    jw.videos["mirr0001"]["updated"] += 1
    stack.mg("sync")
    assert status(stack, job).json() == status(stack, "jwplatform:nosuchvideo").json()


@pytest.mark.parametrize("title", ["a\u0085b", "a\u009fb", "a\u2028b", "tab\there", "del\x7f"])
def test_a_control_character_in_a_title_is_refused_before_jw_is_called(stack, jw, key, title):
    # One rule, the same for POST /uploads and `mediagate jobs title`: C0,
    # DEL and C1 (what PostgreSQL's [[:cntrl:]] refuses in jobs.title) and
    # the line/paragraph separators are refused with a clear message.
    r = create(stack, key, "name=clip.mp4", f"title={title}")
    assert r.status == 400, r
    assert r.json()["message"] == "title must be 1 to 1000 bytes without control characters."
    assert jw.video_calls("create") == [] and jw.video_calls("delete") == []
    assert nothing_made(stack) == (0, 0)
    assert stack.db.one("SELECT count(*) FROM jwplatform_creates") == 0
    job = create(stack, key, "name=clip.mp4", "title=fine").json()["job_id"]
    r = mg(stack, "jobs", "title", job, title)
    assert r.returncode == 2 and "without control characters" in r.stderr, r
    assert stack.db.one("SELECT title FROM jobs WHERE id = %s", job) == "fine"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update'") == 0


def test_a_refused_update_is_retried_and_the_acl_set_here_holds_until_jw_takes_it(stack, jw,
                                                                                  workers):
    # A refusal (a skewed clock's TimestampExpired, a key being rotated)
    # is no reason to give up: the task retries with backoff, says why
    # (log, `mediagate tasks list`), and until JW took the change the ACL
    # set here is the job's, whatever the mirror is rewritten with.
    from jwplatform_standin import make_video
    v = make_video("mirr0001", 1700000000, custom={"sms_acl": "acl:WORLD:"})
    jw.videos[v["key"]] = v
    stack.mg("sync")
    job = "jwplatform:mirr0001"
    hidden = status(stack, "jwplatform:nosuchvideo").json()
    assert status(stack, job).json()["job_status"] == "COMPLETE"
    jw.answers["/v1/videos/update"] = [403] * 4
    assert mg(stack, "jobs", "acl", job, "USER_alice").returncode == 0
    assert status(stack, job).json() == hidden
    start_worker(stack, workers)
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update' AND attempts >= 1 "
        "AND failed_at IS NULL AND last_error LIKE 'JW Platform refused /videos/update: %%'") == 1,
        30)
    listed = mg(stack, "tasks", "list")
    assert "jwplatform.update" in listed.stdout and "refused /videos/update" in listed.stdout, listed
    # JW touches the video meanwhile (a thumbnail, a conversion) and the
    # mirror is rewritten with the old ACL: the job stays private.
    jw.videos["mirr0001"]["updated"] += 1
    stack.mg("sync")
    assert stack.db.one("SELECT data->'custom'->>'sms_acl' FROM cached_resource WHERE key = %s",
                        "mirr0001") == "acl:WORLD:"
    assert status(stack, job).json() == hidden
    # Once JW takes it, the platform has the ACL set here.
    assert wait_until(lambda: updates(jw)[-1:] == [(None, "acl:USER_alice:", 200)], 120), updates(jw)
    assert [s for _, _, s in updates(jw)] == [403, 403, 403, 403, 200]
    assert jw.videos["mirr0001"]["custom"]["sms_acl"] == "acl:USER_alice:"
    stack.mg("sync")
    assert status(stack, job).json() == hidden
    logs = "".join(text for _, text in stack.logs.sections())
    assert "JW Platform refused the update of video mirr0001" in logs
    assert "check MEDIAGATE_JWPLATFORM_API_KEY and _SECRET and this host's clock" in logs


@pytest.mark.parametrize("mg_env", [{"MEDIAGATE_JWPLATFORM_SYNC_ITEMS": "off"}], indirect=True)
def test_without_sync_items_an_acl_set_here_outlives_a_mirror_rewrite(stack, jw):
    from jwplatform_standin import make_video
    v = make_video("mirr0001", 1700000000, custom={"sms_acl": "acl:WORLD:"})
    jw.videos[v["key"]] = v
    stack.mg("sync")
    job = "jwplatform:mirr0001"
    hidden = status(stack, "jwplatform:nosuchvideo").json()
    r = mg(stack, "jobs", "acl", job, "USER_alice")
    assert r.returncode == 0 and "MEDIAGATE_JWPLATFORM_SYNC_ITEMS is off" in r.stdout, r
    assert "the ACL set here stays the job's" in r.stdout, r
    assert status(stack, job).json() == hidden
    # JW touches the video; the mirror is rewritten with JW's own ACL.
    jw.videos["mirr0001"]["updated"] += 1
    stack.mg("sync")
    assert stack.db.one("SELECT data->'custom'->>'sms_acl' FROM cached_resource WHERE key = %s",
                        "mirr0001") == "acl:WORLD:"
    assert status(stack, job).json() == hidden
    # --world here makes it public again.
    assert mg(stack, "jobs", "acl", job, "--world").returncode == 0
    assert status(stack, job).json()["job_status"] == "COMPLETE"


def test_jobs_title_and_acl_refuse_what_the_write_back_cannot_send(stack, jw, key, workers):
    job = create(stack, key, "name=clip.mp4", "title=kept", "acl=USER_alice").json()["job_id"]
    vkey = job.split(":", 1)[1]
    too_long = "mediagate: the title or the ACL is too long for JW Platform (1500 bytes each, " \
        "percent-encoded)"
    r = mg(stack, "jobs", "title", job, "é" * 500)         # 1000 bytes, 3000 encoded
    assert r.returncode == 2 and too_long in r.stderr, r
    wide = ",".join(f"USER_{'@' * 120}{i}" for i in range(5))   # '@' is %40
    r = mg(stack, "jobs", "acl", job, wide)
    assert r.returncode == 2 and too_long in r.stderr, r
    # Nothing changed, nothing queued.
    assert stack.db.one("SELECT title, acl FROM jobs WHERE id = %s", job) == ("kept", None)
    assert stack.db.one("SELECT version, sms_acl FROM jwplatform_writes WHERE key = %s", vkey) == \
        (1, "acl:USER_alice:")
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jwplatform.update'") == 0
    # What fits is sent, both in one update.
    users = ",".join(f"USER_u{i:03d}" for i in range(80))
    assert mg(stack, "jobs", "acl", job, users).returncode == 0
    assert mg(stack, "jobs", "title", job, "é" * 250).returncode == 0   # 1500 encoded
    start_worker(stack, workers)
    assert wait_until(lambda: updates(jw) == [("é" * 250, f"acl:{users}:", 200)], 30), updates(jw)
    assert stack.db.one("SELECT version = sent_version FROM jwplatform_writes WHERE key = %s", vkey)


def test_an_upload_link_never_used_expires_its_empty_video_deleted_and_its_job_canceled(
        stack, jw, key, workers):
    unused = create(stack, key, "name=a.mp4").json()
    used = create(stack, key, "name=b.mp4").json()
    ukey, fkey = unused["upload"]["video_key"], used["upload"]["video_key"]
    jw.videos[fkey]["status"] = "processing"    # its file came through JW's link
    # Each slot expires with JW's link (7 days): its upload.expire task is there.
    assert stack.db.rows("SELECT payload->>'job_id' FROM outbox WHERE kind = 'upload.expire' "
                         "AND run_after > now() + interval '6 days' ORDER BY id") == \
        [(unused["job_id"],), (used["job_id"],)]
    # The mirror has the empty video (a webhook, or a sync).
    start_worker(stack, workers)
    ev = event("media_available", ukey)
    assert hook(stack, ev, jwt_for(ev)).status == 200
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM cached_resource WHERE key = %s", ukey) == 1, 30)
    stack.db.conn.execute("UPDATE uploads SET expires_at = now() - interval '1 second'")
    jw.answers["/v1/videos/delete"] = [503]       # JW down at first: retried
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'upload.expire'")
    assert wait_until(lambda: ukey not in jw.videos, 60)
    assert [(p["video_key"], s) for p, s in jw.video_calls("delete")] == [(ukey, 503), (ukey, 200)]
    assert wait_until(lambda: stack.db.one(
        "SELECT status, error_message FROM jobs WHERE id = %s", unused["job_id"]) ==
        ("CANCELED", "the upload URL expired before a file arrived"), 30)
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM outbox WHERE kind = 'upload.expire' AND done_at IS NULL") == 0, 30)
    # The video that got its file stays, and so does its job.
    assert fkey in jw.videos
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", used["job_id"]) == "SUBMITTED"
    # JW's webhook for the deletion does not turn the canceled job into an error.
    ev = event("media_deleted", ukey)
    assert hook(stack, ev, jwt_for(ev)).status == 200
    assert wait_until(lambda: stack.db.one(
        "SELECT deleted_at IS NOT NULL FROM cached_resource WHERE key = %s", ukey), 30)
    stack.mg("sync")
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", unused["job_id"]) == "CANCELED"
    assert stack.db.one("SELECT state FROM jwplatform_creates WHERE key = %s", ukey) == "discarded"


@pytest.mark.parametrize("mg_env", [{"MEDIAGATE_THREADS": "2"}], indirect=True)
def test_a_slow_jw_takes_at_most_its_share_of_the_threads_for_a_short_while(stack, jw, key):
    # MEDIAGATE_THREADS=2: one request at a time may wait on JW's create,
    # and for its deadline at most. While JW sits on a create, a second one
    # is 503 at once (Retry-After), made nowhere, and the other thread
    # answers the rest of the API.
    entered, release, first = threading.Event(), threading.Event(), []
    real = jw._create

    def slow(params):
        entered.set()
        release.wait(60)
        return real(params)

    jw._create = slow
    other = Curl(stack.base, stack.run / "curl-other")
    t = threading.Thread(target=lambda: first.append(other(
        "-X", "POST", "-H", f"Authorization: Bearer {key}", "--data-urlencode", "target=jwplatform",
        "--data-urlencode", "name=a.mp4", "/uploads")))
    t.start()
    try:
        assert entered.wait(15)
        r = create(stack, key, "name=b.mp4")
        assert r.status == 503 and r.header("Retry-After"), r
        assert r.json()["message"] == \
            "JW Platform is busy with other uploads being made: retry shortly.", r
        assert len(jw.video_calls("create")) == 0 and nothing_made(stack) == (0, 0)
        assert stack.db.one("SELECT count(*) FROM jwplatform_creates") == 1
        assert status(stack, "jwplatform:nosuchvideo").json()["message"] == "Not found item."
        # JW never answers the first: the request gives up at its deadline
        # (curl's timer, 10 s), not jw_api_get's 60 s.
        t.join(40)
        assert not t.is_alive()
        assert first[0].status == 503, first
        assert "JW Platform did not answer" in first[0].json()["message"]
    finally:
        release.set()
        t.join(60)
    logs = "".join(text for _, text in stack.logs.sections())
    assert "JW Platform /videos/create: no answer" in logs, logs[-3000:]
    # The place is given back: the next create goes through.
    jw._create = real
    assert create(stack, key, "name=c.mp4").status == 201


def test_jobs_cancel_of_an_upload_job_deletes_its_video_and_the_job_stays_canceled(stack, jw, key,
                                                                                   workers):
    job = create(stack, key, "name=clip.mp4").json()["job_id"]
    vkey = job.split(":", 1)[1]
    jw.answers["/v1/videos/delete"] = [503, 503]     # JW down at first: retried
    r = mg(stack, "jobs", "cancel", job)
    assert r.returncode == 0 and f"Its JW Platform video {vkey} is deleted too" in r.stdout, r
    # Meanwhile the browser uploads all the same and JW converts it: the
    # mirror has the ready video, and the job stays CANCELED.
    jw.videos[vkey]["status"] = "ready"
    start_worker(stack, workers)
    ev = event("conversions_complete", vkey)
    assert hook(stack, ev, jwt_for(ev)).status == 200
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM cached_resource WHERE key = %s AND data->>'status' = 'ready'",
        vkey) == 1 or vkey not in jw.videos, 60)
    stack.mg("sync")
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "CANCELED"
    assert wait_until(lambda: vkey not in jw.videos, 60)
    assert [s for _, s in jw.video_calls("delete")] == [503, 503, 200]
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "CANCELED"


def test_jobs_cancel_of_a_mirrored_video_is_refused(stack, jw):
    from jwplatform_standin import make_video
    v = make_video("mirr0001", 1700000000, status="processing")
    jw.videos[v["key"]] = v
    stack.mg("sync")
    r = mg(stack, "jobs", "cancel", "jwplatform:mirr0001")
    assert r.returncode == 1 and "managed on the platform: delete the video there" in r.stderr, r
    assert stack.db.one("SELECT status FROM jobs WHERE id = 'jwplatform:mirr0001'") == "PROGRESSING"


def test_jobs_cancel_after_the_link_expired_with_a_file_deletes_the_video_too(stack, jw, key,
                                                                              workers):
    job = create(stack, key, "name=clip.mp4").json()["job_id"]
    vkey = job.split(":", 1)[1]
    jw.videos[vkey]["status"] = "processing"
    stack.db.conn.execute("UPDATE uploads SET expires_at = now() - interval '1 second'")
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'upload.expire'")
    start_worker(stack, workers)
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM outbox WHERE kind = 'upload.expire' AND done_at IS NOT NULL") == 1, 30)
    assert vkey in jw.videos and stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == \
        "SUBMITTED"
    r = mg(stack, "jobs", "cancel", job)
    assert r.returncode == 0 and f"Its JW Platform video {vkey} is deleted too" in r.stdout, r
    assert wait_until(lambda: vkey not in jw.videos, 30)
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "CANCELED"
