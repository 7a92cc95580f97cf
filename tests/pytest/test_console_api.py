"""The console's API over webhooks, a job's history and a job's edit,
through real PostgreSQL, nginx (with the shipped micro-cache), mediagate
serve and worker, ffmpeg, and the webhook receiver of test_webhooks.py
(tests/webhook-receiver, verifying with the npm package standardwebhooks):

- GET /media/webhooks, GET /media/webhooks/deliveries and POST
  /media/webhooks/deliveries/<id>/redeliver: anonymous 401, a caller not in
  MEDIAGATE_ADMIN_USERS 403, an administrator 200/202; a failing endpoint's
  deliveries show failed with their status codes; redeliver sends the same
  webhook-id and bytes (the receiver verifies them); paging by cursor
  neither repeats nor skips; no answer ever holds a secret;
- GET /media/events: an upload encoded by the local encoder shows its
  creation, its tasks, its webhook delivery and its state, oldest first, to
  its owner and an administrator; a stranger gets the unknown job's 422; a
  provider's job shows its notifications;
- PATCH /media/jobs/<id>: an ACL makes an anonymous /media/status of the
  job 422 at once from mediagate and through nginx's micro-cache within
  MEDIAGATE_CACHE_MAX_AGE + 1 s; a title; `mediagate jobs acl`/`title` share
  its SQL; strangers and administrators get 422; bad bodies 400;
- hostile inputs (huge ids, NUL, bad UTF-8, wrong JSON types) never 500.
Every answer is validated against openapi.yaml (the stack fixture).
"""

import json
import re
import subprocess
import time

import pytest

import mgstack
from mgstack import wait_past, wait_until
from test_captions import short_clip, upload  # noqa: F401
from test_encoder import encoder_env, status, wait_status
from test_webhooks import (MC_SECRET, SECRETS, add_endpoint, delivery, mediaconvert,  # noqa: F401
                           one_job_event, receiver, wait_state)

NOT_FOUND = {"success": False, "message": "Not found item."}
NOT_ADMIN = {"success": False, "message": "Only administrators (MEDIAGATE_ADMIN_USERS) may see webhooks."}
CACHE_MAX_AGE = 2


@pytest.fixture
def mg_env(rundir):
    return {**encoder_env(rundir), **mgstack.micro_cache_env(rundir),
            "MEDIAGATE_CACHE_MAX_AGE": str(CACHE_MAX_AGE),
            "MEDIAGATE_ADMIN_USERS": "admin",
            "MEDIAGATE_MEDIACONVERT_SECRET": MC_SECRET,
            "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
            "MEDIAGATE_WEBHOOK_TIMEOUT_MS": "1000",
            "MEDIAGATE_WEBHOOK_RETRY_UNIT_MS": "50"}


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture
def keys(stack):
    """API keys: the administrator, a job's owner, a stranger."""
    return {name: stack.mg("apikey", "create", name) for name in ("admin", "alice", "mallory")}


def call(stack, key, *args):
    auth = ["-H", f"Authorization: Bearer {key}"] if key else []
    return stack.curl(*auth, *args)


def patch(stack, key, job_path, body):
    f = stack.run / "patch.json"
    f.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
    return call(stack, key, "-X", "PATCH", "-H", "Content-Type: application/json",
                "--data-binary", f"@{f}", f"/media/jobs/{job_path}")


def answers(stack):
    """Every answer the test's curl kept (headers and bodies)."""
    p = stack.run / "curl" / "answers.jsonl"
    return p.read_text() if p.exists() else ""


def no_secret_in_answers(stack):
    text = answers(stack)
    assert "whsec_" not in text
    for s in SECRETS:
        assert s[6:] not in text


def doc_block(page, first):
    """The ```sh block of docs/PAGE starting with FIRST, and the block after
    it when that one is an answer (or None)."""
    text = (mgstack.MG_ROOT / "docs" / page).read_text()
    m = re.search(r"```sh\n(" + re.escape(first) + r".*?)\n```\n(?:\n```\n(.*?)\n```)?", text, re.S)
    assert m, f"docs/{page} shows a block starting {first!r}"
    return m.group(1), m.group(2)


def run_doc(stack, cmd, **env):
    r = subprocess.run(["bash", "-c", cmd.replace("https://media.example.com", stack.base)],
                       capture_output=True, text=True, env={**env, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def never_500(r):
    assert isinstance(r.status, int) and r.status < 500, r


def test_webhook_routes_are_for_administrators_only(stack, keys):
    eid, _ = add_endpoint(stack, "http://127.0.0.1:9/h", "--no-check", "--events", "job.complete")
    routes = (("GET", "/media/webhooks"), ("GET", "/media/webhooks/deliveries"),
              ("POST", "/media/webhooks/deliveries/1/redeliver"))
    for method, path in routes:
        r = call(stack, None, "-X", method, path)
        assert r.status == 401, r
        r = call(stack, keys["alice"], "-X", method, path)
        assert (r.status, r.json()) == (403, NOT_ADMIN), r
    r = call(stack, keys["admin"], "/media/webhooks")
    assert r.status == 200 and r.header("Cache-Control") == "no-store", r
    (ep,) = r.json()["endpoints"]
    assert ep["id"] == eid and ep["url"] == "http://127.0.0.1:9/h" and ep["events"] == ["job.complete"], ep
    assert ep["enabled"] is True and ep["disabled_reason"] is None, ep
    assert ep["deliveries"] == {"pending": 0, "delivered": 0, "failed": 0}, ep
    assert "secret" not in ep
    r = call(stack, keys["admin"], "/media/webhooks/deliveries")
    assert r.status == 200 and r.json() == {"success": True, "deliveries": [], "next_cursor": None}, r
    # A console session is its API key's user: an administrator's is one.
    for name, want in (("admin", 200), ("alice", 403)):
        r = call(stack, keys[name], "-X", "POST", "/media/session")
        assert r.status == 201, r
        assert call(stack, r.json()["token"], "/media/webhooks").status == want
    r = call(stack, keys["admin"], "-X", "POST", "/media/webhooks/deliveries/1/redeliver")
    assert (r.status, r.json()["message"]) == (404, "No such delivery."), r
    # The path is digits then /redeliver, nothing else; ids past a bigint are none.
    for path in ("abc/redeliver", "1/redeliverx", "1/redeliver/", "/redeliver", "1", "-1/redeliver",
                 "1%2F/redeliver", "0/redeliver", "99999999999999999999/redeliver",
                 "9223372036854775808/redeliver", "1%00/redeliver"):
        r = call(stack, keys["admin"], "-X", "POST", f"/media/webhooks/deliveries/{path}")
        never_500(r)
        assert r.status in (400, 404), (path, r)
    for query, why in (("endpoint_id=x", "endpoint_id"), ("endpoint_id=99999999999999999999", "endpoint_id"),
                       ("state=gone", "state"), ("limit=0", "limit"), ("limit=201", "limit"),
                       ("limit=1e2", "limit"), ("cursor=-5", "cursor"), ("cursor=abc", "cursor"),
                       ("job_id=" + "j" * 300, "job_id")):
        r = call(stack, keys["admin"], f"/media/webhooks/deliveries?{query}")
        assert r.status == 400 and why in r.json()["message"], (query, r)
    for query in ("job_id=%00", "job_id=%FF", "state=%00"):
        r = call(stack, keys["admin"], f"/media/webhooks/deliveries?{query}")
        assert r.status == 400, (query, r)
    no_secret_in_answers(stack)


def test_a_failing_endpoint_and_its_redelivery(stack, keys, workers, receiver):
    eid, secret = add_endpoint(stack, receiver.url("/fail"))
    receiver.plan("/fail", secret, [{"status": 500}] * 20)
    workers.start()
    job = one_job_event(stack)
    # After two attempts (both 500), the task waits for its third (the
    # schedule's 15 s); canceling it then fails the delivery for good.
    waiting = wait_until(lambda: stack.db.rows(
        "SELECT t.id FROM tasks t JOIN webhook_deliveries d ON t.payload->>'delivery_id' = d.id::text "
        "WHERE t.kind = 'webhook.deliver' AND t.state = 'queued' AND d.attempts >= 2"), 120, 0.05)
    assert waiting, stack.db.rows("SELECT id, state, attempts FROM tasks")
    stack.mg("tasks", "cancel", waiting[0][0])
    sent = receiver.log("/fail")
    assert len(sent) >= 2 and {e["status"] for e in sent} == {500}, sent
    msg = sent[0]["id"]
    assert delivery(stack, msg)[0] == "failed"

    r = call(stack, keys["admin"], "/media/webhooks/deliveries")
    assert r.status == 200, r
    (d,) = r.json()["deliveries"]
    did = d["id"]
    assert d["webhook_id"] == msg and d["endpoint_id"] == eid and d["event"] == "job.errored", d
    assert (d["state"], d["last_status"], d["job_id"], d["stream_id"]) == ("failed", 500, job, None), d
    assert d["attempts"] >= 2 and d["last_error"] == "canceled by an operator", d
    assert d["next_attempt_at"] is None and d["created_at"] <= d["updated_at"], d
    for query, n in ((f"endpoint_id={eid}&job_id={job}&state=failed", 1), ("state=delivered", 0),
                     ("job_id=another", 0), (f"endpoint_id={eid + 1}", 0)):
        r = call(stack, keys["admin"], f"/media/webhooks/deliveries?{query}")
        assert r.status == 200 and len(r.json()["deliveries"]) == n, (query, r)
    r = call(stack, keys["admin"], "/media/webhooks")
    assert r.json()["endpoints"][0]["deliveries"] == {"pending": 0, "delivered": 0, "failed": 1}, r

    # A stranger's redeliver changes nothing; the administrator's sends the
    # same webhook-id and bytes, and the endpoint (fixed) takes it.
    r = call(stack, keys["mallory"], "-X", "POST", f"/media/webhooks/deliveries/{did}/redeliver")
    assert (r.status, r.json()) == (403, NOT_ADMIN), r
    assert delivery(stack, msg)[0] == "failed"
    receiver.plan("/fail", secret, [])
    # docs/webhooks.md's example: the latest failed delivery, sent again.
    cmd, _ = doc_block("webhooks.md", 'id=$(curl -s -H "Authorization: Bearer $key"')
    assert run_doc(stack, cmd, key=keys["admin"]) == "pending\n"
    got = receiver.wait("/fail", len(sent) + 1)[-1]
    assert got["verified"] and got["status"] == 200, got
    assert got["id"] == msg and got["body"] == sent[0]["body"], (got, sent[0])
    wait_state(stack, msg, "delivered")
    r = call(stack, keys["admin"], f"/media/webhooks/deliveries?endpoint_id={eid}")
    (d,) = r.json()["deliveries"]
    assert (d["state"], d["last_status"], d["last_error"]) == ("delivered", 200, None), d
    r = call(stack, keys["admin"], "-X", "POST", f"/media/webhooks/deliveries/{did}/redeliver")
    assert r.status == 202 and r.header("Cache-Control") == "no-store", r
    again = r.json()["delivery"]
    assert (again["id"], again["webhook_id"], again["state"]) == (did, msg, "pending"), again
    got = receiver.wait("/fail", len(sent) + 2)[-1]
    assert got["id"] == msg and got["body"] == sent[0]["body"] and got["verified"], got
    wait_state(stack, msg, "delivered")

    # Pages by cursor, newest first: none repeated, none skipped.
    for _ in range(4):
        one_job_event(stack)
    everything = [i for (i,) in stack.db.rows("SELECT id::text FROM webhook_deliveries ORDER BY id DESC")]
    assert len(everything) == 5
    seen, cursor = [], None
    while True:
        r = call(stack, keys["admin"], "/media/webhooks/deliveries?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        page = r.json()
        seen += [x["id"] for x in page["deliveries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    no_secret_in_answers(stack)


def test_events_of_an_upload_job(stack, keys, workers, receiver, short_clip):  # noqa: F811
    eid, secret = add_endpoint(stack, receiver.url("/done"), "--events", "job.complete")
    receiver.plan("/done", secret)
    workers.start()
    job = upload(stack, short_clip, keys["alice"])
    assert wait_status(stack, job, ("COMPLETE", "ERROR"), 900), status(stack, job)
    assert status(stack, job)["job_status"] == "COMPLETE"
    (sent,) = receiver.wait("/done", 1)
    wait_state(stack, sent["id"], "delivered")

    r = call(stack, keys["alice"], f"/media/events?job_id={job}")
    assert r.status == 200 and r.header("Cache-Control") == "no-store", r
    body = r.json()
    assert body["success"] is True and body["job_id"] == job, body
    ev = body["events"]
    assert [e["at"] for e in ev] == sorted(e["at"] for e in ev), ev
    assert ev[0]["kind"] == "job" and ev[0]["summary"] == "Job created (encoder local)", ev
    now = [e for e in ev if e["kind"] == "job"][-1]
    assert (now["job_status"], now["summary"]) == ("COMPLETE", "Job COMPLETE"), ev
    encodes = [e for e in ev if e["kind"] == "task" and e["task_kind"] == "local.encode"]
    assert len(encodes) == 1 and encodes[0]["state"] == "done" and encodes[0]["attempts"] >= 1, ev
    assert encodes[0]["summary"].startswith("local.encode done, "), encodes
    hooks = [e for e in ev if e["kind"] == "webhook"]
    assert len(hooks) == 1, ev
    assert (hooks[0]["event"], hooks[0]["state"], hooks[0]["last_status"]) == \
        ("job.complete", "delivered", 200), hooks
    assert hooks[0]["summary"] == "job.complete: delivered (HTTP 200), 1 attempt", hooks
    # Its administrator sees the same, and the delivery's endpoint and ids;
    # a stranger and the anonymous see nothing.
    r = call(stack, keys["admin"], f"/media/events?job_id={job}")
    assert r.status == 200, r
    admin = r.json()["events"]
    assert [e for e in admin if e["kind"] != "webhook"] == [e for e in ev if e["kind"] != "webhook"], r
    (hook,) = [e for e in admin if e["kind"] == "webhook"]
    assert (hook["webhook_id"], hook["endpoint_id"]) == (sent["id"], eid), hook
    assert hook["summary"] == f"job.complete to endpoint {eid}: delivered (HTTP 200), 1 attempt", hook
    r = call(stack, keys["mallory"], f"/media/events?job_id={job}")
    assert (r.status, r.json()) == (422, NOT_FOUND), r
    unknown = call(stack, keys["mallory"], "/media/events?job_id=no-such-job")
    assert (unknown.status, unknown.json()) == (422, NOT_FOUND), unknown
    assert call(stack, None, f"/media/events?job_id={job}").status == 401

    # A provider's job (no owner): its notifications, for an administrator.
    mc = mediaconvert(stack, "progressing")
    r = call(stack, keys["admin"], f"/media/events?job_id={mc}")
    assert r.status == 200, r
    notes = [e for e in r.json()["events"] if e["kind"] == "notification"]
    assert len(notes) == 1 and notes[0]["backend"] == "mediaconvert" and notes[0]["result"] == "applied", notes
    assert "body" not in notes[0], notes
    assert call(stack, keys["alice"], f"/media/events?job_id={mc}").status == 422

    for query in ("job_id=" + "9" * 5000, "job_id=%00", "job_id=%FF", "job_id=", "x=1"):
        r = call(stack, keys["admin"], f"/media/events?{query}")
        never_500(r)
        assert r.status in (400, 422), (query, r)
    no_secret_in_answers(stack)


def test_patch_acl_and_title(stack, keys):
    r = call(stack, keys["alice"], "-X", "POST", "--data-urlencode", "name=film.mp4", "/uploads")
    assert r.status == 201, r
    job = r.json()["job_id"]
    stack.db.rows("UPDATE jobs SET status = 'COMPLETE', progress_rate = 100, output_path = %s "
                  "WHERE id = %s RETURNING id", f"/media-files/{job}/", job)
    # An anonymous caller's answer, now in nginx's micro-cache.
    cached = f"/media/status?job_id={job}"
    for _ in range(2):
        r = stack.curl(cached)
        assert r.status == 200 and r.json()["job_status"] == "COMPLETE", r

    r = patch(stack, keys["alice"], job, {"acl": "USER_alice, GROUP_team"})
    changed = time.monotonic()
    assert r.status == 200 and r.header("Cache-Control") == "no-store", r
    assert r.json() == {"success": True, "job_id": job, "acl": "USER_alice,GROUP_team", "title": None}, r
    # From mediagate at once (a URL nginx never stored), through the cache
    # within MEDIAGATE_CACHE_MAX_AGE + 1 s (counted from the change).
    r = stack.curl(f"/media/status?job_id={job}&fresh=1")
    assert (r.status, r.json()) == (422, NOT_FOUND), r
    wait_past(changed + CACHE_MAX_AGE + 1)
    r = stack.curl(cached)
    assert (r.status, r.json()) == (422, NOT_FOUND), r
    r = call(stack, keys["alice"], cached)
    assert r.status == 200, r

    # docs/library.md's example, as shown.
    cmd, shown = doc_block("library.md", 'curl -s -X PATCH -H "Authorization: Bearer $key"')
    assert run_doc(stack, cmd, key=keys["alice"], job=job) == shown.replace("…", job)
    r = patch(stack, keys["alice"], job, {"acl": "USER_alice,GROUP_team", "title": None})
    assert r.status == 400, r
    r = patch(stack, keys["alice"], job, {"title": "My film"})
    assert r.json() == {"success": True, "job_id": job, "acl": "USER_alice,GROUP_editors", "title": "My film"}, r
    assert stack.db.one("SELECT title FROM jobs WHERE id = %s", job) == "My film"
    r = patch(stack, keys["alice"], job, {"acl": None, "title": "Shared"})
    assert r.json() == {"success": True, "job_id": job, "acl": None, "title": "Shared"}, r
    assert stack.curl(f"/media/status?job_id={job}&fresh=2").status == 200
    # The CLI runs the same SQL (mediagate_job_edit).
    stack.mg("jobs", "acl", job, "USER_bob")
    stack.mg("jobs", "title", job, "From the CLI")
    assert stack.db.rows("SELECT acl, title FROM jobs WHERE id = %s", job) == [("USER_bob", "From the CLI")]

    # Only its owner: a stranger, an administrator, an unknown job alike.
    for key, path in ((keys["mallory"], job), (keys["admin"], job), (keys["alice"], "no-such-job"),
                      (keys["alice"], "9" * 5000)):
        r = patch(stack, key, path, {"title": "Mine now"})
        assert (r.status, r.json()) == (422, NOT_FOUND), (path, r)
    assert patch(stack, keys["alice"], f"{job}/x", {"title": "Mine now"}).status == 404
    assert patch(stack, None, job, {"title": "x"}).status == 401
    assert stack.db.one("SELECT title FROM jobs WHERE id = %s", job) == "From the CLI"

    for body, why in ((b"", "JSON object with acl and/or title"),
                      (b"nope", "not JSON"),
                      (b'{"title": "a"', "not JSON"),
                      (b"[]", "JSON object"),
                      (b"{}", "acl and/or title"),
                      (b'{"owner": "x"}', "Unknown field"),
                      (b'{"acl": 5}', "acl must be a string or null"),
                      (b'{"acl": ["USER_a"]}', "acl must be a string or null"),
                      (b'{"title": null}', "title must be a string"),
                      (b'{"title": 7}', "title must be a string"),
                      (b'{"title": "a\\u0000b"}', "title must be a string"),
                      (b'{"acl": "USER_a\\u0000"}', "acl must be a string"),
                      (b'{"title": ""}', "1 to 1000 bytes"),
                      (b'{"title": "a\\nb"}', "control characters"),
                      (json.dumps({"title": "x" * 1001}).encode(), "1 to 1000 bytes"),
                      (b'{"acl": ""}', "acl is refused: "),
                      (b'{"acl": "FRIENDS_bob"}', "acl is refused: "),
                      (b'{"acl": "USER_a b"}', "acl is refused: "),
                      (b'{"title": "\xff"}', "not JSON")):
        r = patch(stack, keys["alice"], job, body)
        assert r.status == 400 and why in r.json()["message"], (body[:40], r)
    assert stack.db.rows("SELECT acl, title FROM jobs WHERE id = %s", job) == [("USER_bob", "From the CLI")]
    r = patch(stack, keys["alice"], "a%00b", {"title": "x"})
    never_500(r)
    # Past the location's 16k: nginx refuses it before mediagate reads it.
    r = patch(stack, keys["alice"], job, {"title": "x" * 20000})
    assert r.status == 413, r


def test_a_jobs_history_and_its_deliveries_are_index_scans(db):
    """Each lookup by job (notifications, tasks, deliveries) is a scan of an
    index by job (sql/047), never of a whole table: the plans of the
    statements mediagate_job_events and mediagate_webhook_deliveries run,
    as auto_explain shows them with sequential scans priced out."""
    plans = []
    with db.pg.connect(db.name) as conn:
        conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                        "client_min_messages = log", "enable_seqscan = off"):
            conn.execute(f"SET {setting}")
        conn.execute("SELECT mediagate_job_events('j1', true)")
        conn.execute("SELECT count(*) FROM mediagate_webhook_deliveries(NULL, 'j1', NULL, NULL, 51)")
    text = "\n".join(plans)
    for table, index in (("notifications", "notifications_job"), ("outbox", "outbox_job"),
                         ("webhook_deliveries", "webhook_deliveries_subject")):
        assert f"Seq Scan on {table}" not in text, (table, text)
        assert re.search(rf"using {index} on {table} |Bitmap Index Scan on {index} ", text), (table, text)


def test_patch_has_the_clis_effects_on_the_store_and_at_jw_platform(stack, keys):
    """A job on the object store gets its media.acl task (it shows in the
    job's history); a JW Platform video's job has its change written back
    (jwplatform_writes and a jwplatform.update task), and a title too long
    for the write-back is refused before anything changes."""
    r = call(stack, keys["alice"], "-X", "POST", "--data-urlencode", "name=s3.mp4", "/uploads")
    assert r.status == 201, r
    job = r.json()["job_id"]
    owner = stack.db.one("SELECT owner FROM jobs WHERE id = %s", job)
    assert owner and owner.startswith("key:"), owner
    stack.db.rows("UPDATE jobs SET status = 'COMPLETE', progress_rate = 100, storage = 's3' "
                  "WHERE id = %s RETURNING id", job)
    stack.db.rows("DELETE FROM outbox WHERE kind = 'media.acl' RETURNING id")
    assert patch(stack, keys["alice"], job, {"acl": "USER_alice"}).status == 200
    assert stack.db.one("SELECT count(*) FROM tasks WHERE kind = 'media.acl' AND payload->>'media_job' = %s",
                        job) == 1
    r = call(stack, keys["alice"], f"/media/events?job_id={job}")
    assert [e["state"] for e in r.json()["events"] if e["kind"] == "task" and e["task_kind"] == "media.acl"] \
        == ["queued"], r

    stack.db.rows("INSERT INTO jobs (id, backend, backend_job_id, input_file, owner) "
                  "VALUES ('jw-1', 'jwplatform', 'AbCd1234', 'jw', %s) RETURNING id", owner)
    r = patch(stack, keys["alice"], "jw-1", {"title": "Written back", "acl": "USER_alice"})
    assert r.status == 200, r
    assert stack.db.rows("SELECT title, sms_acl FROM jwplatform_writes WHERE key = 'AbCd1234'") == \
        [("Written back", "acl:USER_alice:")]
    assert stack.db.one("SELECT count(*) FROM tasks WHERE kind = 'jwplatform.update' "
                        "AND payload->>'key' = 'AbCd1234'") == 1
    r = patch(stack, keys["alice"], "jw-1", {"title": "\u00e9" * 500})
    assert r.status == 400 and "too long for JW Platform" in r.json()["message"], r
    assert stack.db.one("SELECT title FROM jobs WHERE id = 'jw-1'") == "Written back"


def test_events_show_webhook_endpoints_to_administrators_only(stack, keys):
    """The webhook endpoints are the administrators' (GET /media/webhooks
    is 403 to others): a job's owner sees its deliveries' event, state,
    HTTP status and attempts, never the endpoint, the delivery's ids or
    curl's error text (the receiver's host and address)."""
    owner = stack.db.one("SELECT 'key:' || id FROM api_keys WHERE name = 'alice'")
    stack.db.rows("INSERT INTO jobs (id, backend, input_file, owner) VALUES ('ev1', 'local', 'a.mp4', %s) "
                  "RETURNING id", owner)
    eid, _ = add_endpoint(stack, "https://hooks.internal.corp:8443/h", "--no-check")
    error = "connect: Failed to connect to hooks.internal.corp port 8443 after 3 ms: Couldn't connect"
    stack.db.rows("INSERT INTO webhook_deliveries (endpoint_id, msg_id, event_type, subject, body, state, "
                  "attempts, last_status, last_error) VALUES (%s, 'msg_ev1', 'job.complete', 'job:ev1', '{}', "
                  "'pending', 3, 502, %s) RETURNING id", eid, error)
    r = call(stack, keys["alice"], "/media/events?job_id=ev1")
    assert r.status == 200, r
    (hook,) = [e for e in r.json()["events"] if e["kind"] == "webhook"]
    assert hook == {"at": hook["at"], "kind": "webhook", "summary": "job.complete: pending (HTTP 502), 3 attempts",
                    "event": "job.complete", "state": "pending", "last_status": 502, "attempts": 3}, hook
    assert "hooks.internal.corp" not in r.body and "8443" not in r.body, r
    r = call(stack, keys["admin"], "/media/events?job_id=ev1")
    assert r.status == 200, r
    (hook,) = [e for e in r.json()["events"] if e["kind"] == "webhook"]
    assert hook["endpoint_id"] == eid and hook["last_error"] == error and hook["webhook_id"] == "msg_ev1", hook
    assert hook["summary"] == f"job.complete to endpoint {eid}: pending (HTTP 502), 3 attempts", hook


def test_job_edit_without_an_owner_edits_nothing(db):
    """mediagate_job_edit's owner NULL is no job at all (an owner-less
    caller); only the CLI's explicit '*' is any job."""
    with db.pg.connect(db.name) as conn:
        conn.execute("INSERT INTO jobs (id, backend, input_file, owner, acl) "
                     "VALUES ('e1', 'local', 'a.mp4', 'key:1', 'USER_a')")
        none = conn.execute("SELECT * FROM mediagate_job_edit('e1', NULL, true, NULL, false, NULL, false, true)")
        assert none.fetchall() == []
        assert conn.execute("SELECT acl FROM jobs WHERE id = 'e1'").fetchone() == ("USER_a",)
        (row,) = conn.execute("SELECT result, acl FROM mediagate_job_edit('e1', '*', true, NULL, false, NULL, "
                              "false, true)").fetchall()
        assert row == ("ok", None)
