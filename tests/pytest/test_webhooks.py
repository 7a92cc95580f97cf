"""Webhooks to the customer's app (Standard Webhooks), through real
PostgreSQL, nginx, mediagate serve and worker, and a receiver that checks
every delivery with the npm package standardwebhooks, an independent
implementation (tests/webhook-receiver/receiver.mjs):

- job and stream state changes, made by the real routes (MediaConvert's
  documented events, nginx-rtmp's callbacks, /stream/stop), arrive signed,
  with the body /media/status or /stream/status answers; events filter;
  job.progressing at most once per job per 5 s;
- a failing receiver (500 then 200): retried, same webhook-id, the
  attempt's own timestamp; a 302 is a failure, not followed; a slow
  receiver times out and is retried;
- 410 disables the endpoint; 429 and 503 with Retry-After are honoured;
- a URL whose name resolves to 127.0.0.1 with the loopback setting off is
  refused before any connect, and the delivery fails with that reason;
- kill -9 of the worker after the send and before its outcome is recorded:
  the event arrives again under the same webhook-id, nothing is lost;
- the CLI refuses bad URLs and event names; no secret reaches a log.
"""

import json
import os
import re
import signal
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import mgstack
from mgstack import wait_until

RECEIVER = mgstack.MG_ROOT / "tests" / "webhook-receiver"
FIXTURES = mgstack.MG_ROOT / "tests" / "fixtures" / "providers"
MC_SECRET = "mediaconvert-secret-0123456789"
# The retry schedule in units of 50 ms: 0.25 s after the first failure,
# 15 s after the second.
UNIT_MS = 50


@pytest.fixture
def mg_env(rundir):
    return {
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_LEASE_SECONDS": "3",
        "MEDIAGATE_MEDIACONVERT_SECRET": MC_SECRET,
        "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on",
        "MEDIAGATE_WEBHOOK_TIMEOUT_MS": "1000",
        "MEDIAGATE_WEBHOOK_RETRY_UNIT_MS": str(UNIT_MS),
        "MEDIAGATE_RTMP_URL": "rtmp://127.0.0.1:1935/live",
        "MEDIAGATE_HLS_URL": "http://127.0.0.1/hls",
        # HTTP PUT ingest (nginx/mediagate-upload.conf): the token check
        # reads only the URL's path; the tests PUT to their own nginx.
        "MEDIAGATE_UPLOAD_URL": "http://127.0.0.1/live",
    }


@pytest.fixture
def nginx_includes():
    return ("upload_conf",)


class Receiver:
    """The node receiver on a free loopback port."""

    def __init__(self, run):
        self.log_path = Path(run) / "receiver.log"
        self.out_path = Path(run) / "receiver.out"
        with self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(["node", str(RECEIVER / "receiver.mjs"), str(self.log_path)],
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        line = wait_until(lambda: re.search(r"listening (\d+)", self.out_path.read_text()), 10, 0.05)
        if not line:
            self.proc.kill()
            raise RuntimeError(f"the receiver did not start: {self.out_path.read_text()}")
        self.port = int(line.group(1))

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def _call(self, path, body=None):
        req = urllib.request.Request(self.url(path), data=None if body is None else json.dumps(body).encode(),
                                     method="GET" if body is None else "POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def plan(self, path, secret, answers=()):
        """The next deliveries to PATH get ANSWERS in turn (then 200), and are
        verified with SECRET."""
        self._call("/_plan", {"path": path, "secret": secret, "answers": list(answers)})

    def log(self, path=None):
        return [e for e in self._call("/_log") if path is None or e["path"] == path]

    def wait(self, path, n, timeout=15):
        """The deliveries to PATH once there are at least N."""
        got = wait_until(lambda: len(self.log(path)) >= n and self.log(path), timeout, 0.05)
        assert got and len(got) >= n, f"{len(self.log(path))} deliveries to {path}, expected {n}: {self.log()}"
        return got

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def receiver(rundir, logs):
    if not (RECEIVER / "node_modules" / "standardwebhooks" / "package.json").exists():
        pytest.fail(f"{RECEIVER}/node_modules lacks standardwebhooks: run "
                    "'npm ci --prefix tests/webhook-receiver' (scripts/deps does it)")
    r = Receiver(rundir)
    logs.add("receiver", r.out_path)
    yield r
    r.stop()


SECRETS = []


def add_endpoint(stack, url, *args):
    """`mediagate webhook add URL ARGS...`: the endpoint's id and secret."""
    secret = stack.mg("webhook", "add", url, *args)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret), secret
    SECRETS.append(secret)
    eid = stack.db.one("SELECT id FROM webhook_endpoints WHERE secret = %s", secret)
    return eid, secret


def endpoint(stack, receiver, path, answers=(), events=None, host="127.0.0.1"):
    eid, secret = add_endpoint(stack, receiver.url(path, host), *(["--events", events] if events else []))
    receiver.plan(path, secret, answers)
    return eid


def mediaconvert(stack, name, **detail):
    """POSTs the documented MediaConvert event NAME (with DETAIL's fields
    replaced) as the EventBridge API destination does; asserts the 200."""
    ev = json.loads((FIXTURES / f"aws-mediaconvert-{name}.json").read_text())
    ev["detail"].update(detail)
    f = stack.run / "event.json"
    f.write_text(json.dumps(ev))
    r = stack.curl("-X", "POST", "-H", f"X-Api-Key: {MC_SECRET}", "-H", "Content-Type: application/json",
                   "--data-binary", f"@{f}", "/notifications/mediaconvert")
    assert r.status == 200, r
    return ev["detail"]["jobId"]


def delivery(stack, msg_id):
    return stack.db.one("SELECT state, attempts, last_status, last_error FROM webhook_deliveries "
                        "WHERE msg_id = %s", msg_id)


def scheduled(workers):
    """The retry delays the worker chose, in seconds, in order (its log's
    "retry in N.Ns" lines): what the schedule says, measured inside the
    process; the receiver's gaps only show that no retry came early."""
    return [float(d) for d in re.findall(r"task \d+: retry in ([0-9.]+)s", workers.log())]


def drained(stack):
    """No delivery task is queued or running: nothing more will be sent."""
    return stack.db.one("SELECT count(*) FROM tasks WHERE kind = 'webhook.deliver' "
                        "AND state IN ('queued', 'running')") == 0


def wait_state(stack, msg_id, state, timeout=15):
    assert wait_until(lambda: delivery(stack, msg_id)[0] == state, timeout, 0.05), delivery(stack, msg_id)
    return delivery(stack, msg_id)


def media_status(stack, job):
    r = stack.curl(f"/media/status?job_id={job}")
    assert r.status == 200, r
    return r.json()


def check_signed(entry):
    """What every delivery carries: a signature standardwebhooks accepts, a
    webhook-id fixed at creation, this attempt's timestamp, a JSON body."""
    assert entry["verified"], entry
    assert entry["method"] == "POST" and entry["content_type"] == "application/json", entry
    assert re.fullmatch(r"msg_[0-9a-f-]{36}", entry["id"]), entry
    # Signed before it arrived (whole seconds), and not long before: this
    # attempt's time, not the event's (a minute: a loaded machine is slow).
    assert -1 <= entry["at"] / 1000 - int(entry["timestamp"]) < 60, entry
    body = json.loads(entry["body"])
    assert set(body) == {"type", "timestamp", "data"}, body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"]), body
    return body


def test_job_events_arrive_signed_with_the_status_routes_body(stack, workers, receiver):
    endpoint(stack, receiver, "/all")
    endpoint(stack, receiver, "/done", events="job.complete,job.errored")
    workers.start()

    job = mediaconvert(stack, "progressing")
    mediaconvert(stack, "status-update")       # within 5 s: no second job.progressing
    # Within 5 s by the database's clock (a loaded machine may take longer
    # between the two requests: then a second one is right).
    apart = stack.db.one("SELECT extract(epoch FROM max(received_at) - min(received_at)) "
                         "FROM notifications WHERE job_id = %s", job)
    progressing = 1 if apart < 5 else 2
    receiver.wait("/all", 1)
    done = mediaconvert(stack, "complete")
    err = mediaconvert(stack, "error")
    canceled = mediaconvert(stack, "canceled", jobId="1515368087458-cancel")
    got = receiver.wait("/all", 3 + progressing)
    by_type = {}
    for e in got:
        body = check_signed(e)
        by_type.setdefault(body["type"], []).append(body)
    assert sorted(by_type) == ["job.canceled", "job.complete", "job.errored", "job.progressing"], by_type
    assert len(by_type["job.progressing"]) == progressing, (apart, by_type["job.progressing"])
    # data is what /media/status answers now, plus the job's id.
    for kind, j in (("job.complete", done), ("job.errored", err), ("job.canceled", canceled)):
        (body,) = by_type[kind]
        assert body["data"] == {**media_status(stack, j), "job_id": j}, (kind, body)
    p = by_type["job.progressing"][0]["data"]
    assert p == {"success": True, "job_status": "PROGRESSING", "progress_rate": 0, "job_id": job}, p
    assert media_status(stack, done)["job_status"] == "COMPLETE"
    assert "playlists" in by_type["job.complete"][0]["data"]
    # Each delivery its own webhook-id; the filtered endpoint got only its events.
    assert len({e["id"] for e in got}) == len(got)
    filtered = receiver.wait("/done", 2)
    assert wait_until(lambda: drained(stack), 30), "deliveries still queued"
    assert sorted(check_signed(e)["type"] for e in receiver.log("/done")) == ["job.complete", "job.errored"]
    assert all(e["verified"] for e in filtered)
    # Every delivery is recorded as delivered, once, with its 200.
    rows = stack.db.rows("SELECT state, attempts, last_status FROM webhook_deliveries")
    assert rows and all(r == ("delivered", 1, 200) for r in rows), rows
    out = stack.mg("webhook", "deliveries")
    assert "delivered" in out and "job.complete" in out, out
    # No secret in any log of the test.
    for path in (workers.log_path, stack.app.log_path, stack.cli_log, stack.nginx.error_log):
        text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
        for s in SECRETS:
            assert s not in text and s[6:] not in text, f"a webhook secret is in {path}"


def test_job_progressing_at_most_once_per_job_per_5_s(stack, workers, receiver):
    endpoint(stack, receiver, "/p")
    stack.db.rows("INSERT INTO jobs (id, backend, input_file) VALUES ('p1', 'local', 'a') RETURNING id")
    for pct in range(1, 21):
        stack.db.rows("UPDATE jobs SET status = 'PROGRESSING', progress_rate = %s WHERE id = 'p1' "
                      "RETURNING id", pct)
    assert stack.db.one("SELECT count(*) FROM webhook_deliveries WHERE event_type = 'job.progressing'") == 1
    stack.db.rows("UPDATE webhook_throttle SET last_at = last_at - interval '5 seconds' RETURNING 1")
    stack.db.rows("UPDATE jobs SET progress_rate = 30 WHERE id = 'p1' RETURNING id")
    stack.db.rows("UPDATE jobs SET status = 'COMPLETE', progress_rate = 100 WHERE id = 'p1' RETURNING id")
    assert stack.db.rows("SELECT event_type FROM webhook_deliveries ORDER BY id") == [
        ("job.progressing",), ("job.progressing",), ("job.complete",)]
    # A rolled-back change queues nothing.
    with stack.db.pg.connect(stack.db.name) as c:
        c.autocommit = False
        c.execute("INSERT INTO jobs (id, backend, input_file, status) VALUES ('p2', 'local', 'b', 'ERROR')")
        c.rollback()
    assert stack.db.one("SELECT count(*) FROM webhook_deliveries") == 3
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'webhook.deliver'") == 3
    workers.start()
    got = receiver.wait("/p", 3)
    assert [check_signed(e)["data"]["progress_rate"] for e in got] == [1, 30, 100]


@pytest.mark.parametrize("row", [
    {"status": "COMPLETE", "progress_rate": 100, "duration_ms": 596461, "width_px": 1920, "height_px": 1080,
     "output_path": "s3://bucket/out/", "playlists": '{".m3u8": "Big Buck Bunny.m3u8"}',
     "variations": '[{"format": "hls", "width": 1280, "height": 720, "bitrate": 2500000, "size": 123}]'},
    {"status": "COMPLETE", "progress_rate": 100},                  # NULL results, no playlists
    {"status": "ERROR", "progress_rate": 40, "error_code": 1010, "error_message": "bad \"input\"\n"},
    {"status": "ERROR", "progress_rate": 0},                       # NULL code and message
    {"status": "CANCELED", "progress_rate": 12},
    {"status": "PROGRESSING", "progress_rate": 99},
], ids=["complete", "complete-bare", "error", "error-bare", "canceled", "progressing"])
def test_the_body_is_what_media_status_answers(stack, row):
    """Every field of /media/status, NULLs included, as the event's data."""
    add_endpoint(stack, "http://127.0.0.1:9/unused")
    cols = ", ".join(row)
    stack.db.rows(f"INSERT INTO jobs (id, backend, input_file, {cols}) "
                  f"VALUES ('cmp', 'local', 'x', {', '.join(['%s'] * len(row))}) RETURNING id", *row.values())
    (body,) = stack.db.rows("SELECT body FROM webhook_deliveries")[0]
    ev = json.loads(body)
    assert ev["type"] == {"COMPLETE": "job.complete", "ERROR": "job.errored", "CANCELED": "job.canceled",
                          "PROGRESSING": "job.progressing"}[row["status"]]
    assert ev["data"] == {**media_status(stack, "cmp"), "job_id": "cmp"}, (ev, media_status(stack, "cmp"))


def start_stream(stack, receiver, path, workers, name):
    """An endpoint at PATH, the workers, and a stream NAME started with a new
    API key: (the key's curl arguments, /stream/start's answer, stream id)."""
    endpoint(stack, receiver, path)
    workers.start()
    key = stack.mg("apikey", "create", "broadcaster")
    auth = ["-H", f"Authorization: Bearer {key}"]
    r = stack.curl("-X", "POST", *auth, "-d", "type=hls", "-d", f"name={name}", "/stream/start")
    assert r.status == 200, r
    return auth, r, r.json()["stream"]["id"]


def test_stream_events_carry_the_stream_status_answer(stack, workers, receiver):
    auth, r, sid = start_stream(stack, receiver, "/s", workers, "Morning show")
    stream_key = r.json()["endpoint"]["RTMP"]["stream_key"]
    secret = stream_key.split("key=")[1]
    rtmp = ["-X", "POST", "-d", f"name={sid}", "-d", "clientid=7"]
    assert stack.curl(*rtmp, "-d", "call=publish", "-d", f"key={secret}", "/notifications/rtmp").status == 200
    live = receiver.wait("/s", 1)[0]
    assert check_signed(live)["data"] == stack.curl(*auth, f"/stream/status?id={sid}").json()
    assert stack.curl(*rtmp, "-d", "call=publish_done", "/notifications/rtmp").status == 200
    idle = receiver.wait("/s", 2)[1]
    assert check_signed(idle)["data"] == stack.curl(*auth, f"/stream/status?id={sid}").json()
    stop = stack.curl("-X", "POST", *auth, "-d", f"id={sid}", "/stream/stop")
    assert stop.status == 200, stop
    stopped = receiver.wait("/s", 3)[2]
    body = check_signed(stopped)
    assert body["data"] == stack.curl(*auth, f"/stream/status?id={sid}").json() == stop.json(), body
    assert [check_signed(e)["type"] for e in receiver.log("/s")] == ["stream.live", "stream.idle",
                                                                     "stream.stopped"]
    assert body["data"]["stream"]["status"] == "STOPPED" and "stop_date" in body["data"]["stream"]


def test_an_http_put_broadcast_goes_live_with_its_webhook(stack, workers, receiver):
    """ffmpeg's HLS muxer PUTs a broadcast through nginx's PUT ingest: the
    first accepted file makes the stream LIVE, and stream.live is queued
    with it, as an RTMP publish does; more files change nothing."""
    auth, r, sid = start_stream(stack, receiver, "/put", workers, "By PUT")
    assert r.json()["stream"]["status"] == "STARTED"
    http = r.json()["endpoint"]["HTTP"]
    url = stack.base + urllib.parse.urlsplit(http["url"]).path
    ff = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                         "-i", "testsrc=size=160x120:rate=25", "-c:v", "libx264", "-preset", "ultrafast",
                         "-g", "25", "-t", "3", "-f", "hls", "-hls_time", "1", "-method", "PUT",
                         "-headers", f"Authorization: {http['headers']['Authorization']}\r\n",
                         url + "index.m3u8"], capture_output=True, text=True, timeout=60)
    assert ff.returncode == 0, ff.stderr
    assert stack.db.one("SELECT uploaded FROM streams WHERE id = %s", sid)
    status = stack.curl(*auth, f"/stream/status?id={sid}").json()
    assert status["stream"]["status"] == "LIVE", status
    live = receiver.wait("/put", 1)[0]
    body = check_signed(live)
    assert body["type"] == "stream.live" and body["data"] == status, body
    # Every later PUT of the broadcast (segments, the playlist) leaves it be.
    assert stack.db.one("SELECT count(*) FROM webhook_deliveries") == 1
    stop = stack.curl("-X", "POST", *auth, "-d", f"id={sid}", "/stream/stop")
    assert stop.status == 200, stop
    receiver.wait("/put", 2)
    assert [check_signed(e)["type"] for e in receiver.log("/put")] == ["stream.live", "stream.stopped"]
    # After the stop, the token is refused and the stream stays STOPPED.
    seg = stack.run / "late.ts"
    seg.write_bytes(b"late")
    late = stack.curl("-X", "PUT", "-H", f"Authorization: {http['headers']['Authorization']}",
                      "--data-binary", f"@{seg}", urllib.parse.urlsplit(url).path + "late.ts")
    assert late.status == 403, late
    assert stack.curl(*auth, f"/stream/status?id={sid}").json()["stream"]["status"] == "STOPPED"


def one_job_event(stack):
    """A job that turns ERROR, by SQL: one delivery per endpoint."""
    n = stack.db.one("SELECT count(*) FROM jobs")
    stack.db.rows("INSERT INTO jobs (id, backend, input_file, status, error_code, error_message) "
                  "VALUES (%s, 'local', 'x', 'ERROR', 3, 'ffmpeg failed') RETURNING id", f"e{n}")
    return f"e{n}"


def test_a_failing_receiver_gets_the_same_webhook_id_again_with_a_new_timestamp(stack, workers, receiver):
    endpoint(stack, receiver, "/flaky", answers=[{"status": 500}, {"status": 500}, {"status": 200}])
    workers.start()
    one_job_event(stack)
    got = receiver.wait("/flaky", 3, timeout=30)
    assert [e["status"] for e in got] == [500, 500, 200]
    assert len({e["id"] for e in got}) == 1, "the same webhook-id on every attempt"
    assert len({e["body"] for e in got}) == 1, "the same bytes on every attempt"
    for e in got:
        check_signed(e)
    # The schedule: 5 units (0.25 s) after the first failure, 300 units
    # (15 s) after the second, each with 0.8 to 1.2 jitter (the log has one
    # decimal); no attempt came before its time.
    delays = scheduled(workers)
    assert len(delays) == 2, workers.log()
    assert 0.8 * 5 * UNIT_MS / 1000 - 0.05 <= delays[0] <= 1.2 * 5 * UNIT_MS / 1000 + 0.05, delays
    assert 0.8 * 300 * UNIT_MS / 1000 - 0.05 <= delays[1] <= 1.2 * 300 * UNIT_MS / 1000 + 0.05, delays
    gaps = [(b["at"] - a["at"]) / 1000 for a, b in zip(got, got[1:])]
    assert gaps[0] >= 0.8 * 5 * UNIT_MS / 1000 and gaps[1] >= 0.8 * 300 * UNIT_MS / 1000, gaps
    assert int(got[2]["timestamp"]) > int(got[0]["timestamp"]), "each attempt's own timestamp"
    assert wait_state(stack, got[0]["id"], "delivered") == ("delivered", 3, 200, None)


def test_410_disables_the_endpoint(stack, workers, receiver):
    eid = endpoint(stack, receiver, "/gone", answers=[{"status": 410}])
    other = endpoint(stack, receiver, "/fine")
    one_job_event(stack)
    one_job_event(stack)   # queued before the 410: never sent
    workers.start()
    receiver.wait("/fine", 2)
    (e,) = receiver.wait("/gone", 1)
    st = wait_state(stack, e["id"], "failed")
    assert st == ("failed", 1, 410, "HTTP 410 Gone: the endpoint is disabled"), st
    assert stack.db.one("SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = %s", eid) == (
        False, "HTTP 410 Gone")
    assert stack.db.one("SELECT enabled FROM webhook_endpoints WHERE id = %s", other) is True
    second = stack.db.one("SELECT msg_id FROM webhook_deliveries WHERE endpoint_id = %s AND msg_id <> %s",
                          eid, e["id"])
    assert wait_state(stack, second, "failed") == ("failed", 0, None,
                                                   "the endpoint is disabled (HTTP 410 Gone)")
    # No further deliveries to it; the other endpoint goes on.
    one_job_event(stack)
    receiver.wait("/fine", 3)
    assert wait_until(lambda: drained(stack), 30), "deliveries still queued"
    assert len(receiver.log("/gone")) == 1
    assert stack.db.one("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = %s", eid) == 2
    assert re.search(rf"(?m)^{eid} +disabled .*\n +disabled: HTTP 410 Gone at ", stack.mg("webhook", "list"))
    did = stack.db.one("SELECT id FROM webhook_deliveries WHERE msg_id = %s", e["id"])
    r = subprocess.run([str(mgstack.MG_BIN), "webhook", "redeliver", str(did)], env=stack.env,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "disabled" in r.stderr, r
    # The task is over (failed), not left to retry.
    assert stack.db.one("SELECT count(*) FROM tasks WHERE kind = 'webhook.deliver' AND state = 'dead'") == 2


def test_retry_after_on_429_and_503_is_honoured(stack, workers, receiver):
    endpoint(stack, receiver, "/busy", answers=[{"status": 429, "headers": {"Retry-After": "2"}},
                                                {"status": 503, "headers": {"Retry-After": "1"}}])
    workers.start()
    one_job_event(stack)
    got = receiver.wait("/busy", 3, timeout=20)
    assert [e["status"] for e in got] == [429, 503, 200]
    gaps = [(b["at"] - a["at"]) / 1000 for a, b in zip(got, got[1:])]
    # Not the schedule's 0.25 s and 15 s, but the server's 2 s and 1 s.
    assert scheduled(workers) == [2.0, 1.0], workers.log()
    assert gaps[0] >= 2 and gaps[1] >= 1, gaps
    assert wait_state(stack, got[0]["id"], "delivered")[1:] == (3, 200, None)


def test_a_302_is_a_failure_and_is_not_followed(stack, workers, receiver):
    endpoint(stack, receiver, "/moved", answers=[{"status": 302, "headers": {"Location": "/elsewhere"}}])
    workers.start()
    one_job_event(stack)
    got = receiver.wait("/moved", 2)
    assert [e["status"] for e in got] == [302, 200] and got[0]["id"] == got[1]["id"]
    assert receiver.log("/elsewhere") == []
    assert wait_state(stack, got[0]["id"], "delivered")[1:] == (2, 200, None)
    assert "HTTP 302: a redirect, not followed" in workers.log()


def test_a_slow_receiver_times_out_and_is_retried(stack, workers, receiver):
    endpoint(stack, receiver, "/slow", answers=[{"status": 200, "delay_ms": 3000}])
    workers.start()
    one_job_event(stack)
    got = receiver.wait("/slow", 2)
    # The first attempt ended at the 1 s timeout (the receiver answers 200
    # after 3 s: had the worker waited, there would be no second attempt);
    # the retry is the schedule's 0.25 s.
    gap = (got[1]["at"] - got[0]["at"]) / 1000
    assert gap >= 1.0, gap
    assert len(scheduled(workers)) == 1 and scheduled(workers)[0] <= 0.35, workers.log()
    assert got[0]["id"] == got[1]["id"]
    assert wait_state(stack, got[0]["id"], "delivered")[1:] == (2, 200, None)
    assert re.search(r"attempt 1: pending: no answer: Timeout", workers.log()), workers.log()


def test_a_name_resolving_to_loopback_is_refused_before_any_connect(stack, workers, receiver):
    endpoint(stack, receiver, "/local", host="localhost")
    workers.start(MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK="off")
    one_job_event(stack)
    msg = stack.db.one("SELECT msg_id FROM webhook_deliveries")
    st = wait_state(stack, msg, "failed")
    assert st == ("failed", 1, None, "refused address: refused a loopback address"), st
    # Its task is dead: nothing more will be sent. The worker records the
    # delivery's outcome, then ends its task: wait for the second.
    task = lambda: stack.db.one("SELECT state, attempts FROM tasks WHERE kind = 'webhook.deliver'")
    assert wait_until(lambda: task() == ("dead", 1), 10), task()
    assert receiver.log() == [], "nothing reached the receiver"
    assert "refused a loopback address" in stack.mg("webhook", "deliveries")


def test_kill_9_after_the_send_before_the_record_sends_again_with_the_same_id(stack, workers, receiver):
    endpoint(stack, receiver, "/k")
    one_job_event(stack)
    did, msg = stack.db.one("SELECT id, msg_id FROM webhook_deliveries")
    # Hold the delivery row: the worker sends, then waits to record.
    with stack.db.pg.connect(stack.db.name) as lock:
        lock.autocommit = False
        lock.execute("SELECT 1 FROM webhook_deliveries WHERE id = %s FOR UPDATE", (did,))
        w = workers.start()
        receiver.wait("/k", 1)
        assert wait_until(lambda: stack.db.one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mediagate-worker' "
            "AND wait_event_type = 'Lock'") == 1, 5, 0.02), "the worker is not waiting to record"
        w.kill(signal.SIGKILL)
        w.wait()
        # Its connection dies with it (PostgreSQL would notice only when it
        # answers, after the lock): the outcome is never recorded.
        stack.db.rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'mediagate-worker' AND wait_event_type = 'Lock'")
        lock.rollback()
    assert delivery(stack, msg)[:2] == ("pending", 0), "the outcome was never recorded"
    workers.start()
    got = receiver.wait("/k", 2, timeout=20)
    assert [e["id"] for e in got] == [msg, msg]
    assert all(e["verified"] for e in got)
    assert wait_state(stack, msg, "delivered") == ("delivered", 1, 200, None)
    # Its task is done (recorded after the delivery's outcome): nothing more
    # will be sent.
    task = lambda: stack.db.one("SELECT state, attempts FROM tasks WHERE kind = 'webhook.deliver'")
    assert wait_until(lambda: task() == ("done", 2), 10), task()
    assert len(receiver.log("/k")) == 2


def test_cli_refuses_bad_urls_and_event_names_and_redelivers(stack, workers, receiver):
    def mg(*args):
        return subprocess.run([str(mgstack.MG_BIN), *args], env=stack.env, capture_output=True, text=True)
    for url, why in (("ftp://example.com/h", "its scheme must be http or https"),
                     ("example.com/h", "it is not a URL"),
                     ("https:// bad host/", "it is not a URL"),
                     ("https://example.com/" + "x" * 2100, "longer than 2048 bytes")):
        r = mg("webhook", "add", url)
        assert r.returncode == 2 and why in r.stderr and r.stdout == "", (url, r)
    r = mg("webhook", "add", "https://example.com/h", "--events", "job.complete,job.done")
    assert r.returncode == 2 and "unknown event 'job.done'" in r.stderr and "stream.stopped" in r.stderr, r
    r = mg("webhook", "add")
    assert r.returncode == 2 and "usage: mediagate" in r.stderr, r
    r = mg("webhook", "remove", "x1")
    assert r.returncode == 2, r
    assert stack.db.one("SELECT count(*) FROM webhook_endpoints") == 0
    eid = endpoint(stack, receiver, "/r", events="job.errored,job.errored")
    assert stack.db.one("SELECT events FROM webhook_endpoints") == ["job.errored"]
    w = workers.start()
    one_job_event(stack)
    (first,) = receiver.wait("/r", 1)
    did = stack.db.one("SELECT id FROM webhook_deliveries")
    wait_state(stack, first["id"], "delivered")
    assert "delivery %d queued again" % did in stack.mg("webhook", "redeliver", did)
    again = receiver.wait("/r", 2)[1]
    assert again["id"] == first["id"] and again["body"] == first["body"] and again["verified"]
    assert wait_state(stack, first["id"], "delivered")[1] == 2
    listing = stack.mg("webhook", "list")
    assert re.search(rf"(?m)^{eid} +enabled +0 +1 +0  job\.errored +http://127", listing), listing
    assert "whsec_" not in listing
    assert stack.mg("webhook", "remove", eid) == f"webhook endpoint {eid} removed, with its deliveries"
    assert stack.db.one("SELECT count(*) FROM webhook_deliveries") == 0
    assert mg("webhook", "remove", str(eid)).returncode == 1
    assert mg("webhook", "redeliver", str(did)).returncode == 1
    # A delivery whose task is canceled (or reaped dead) is failed, not left
    # pending. The receiver never accepts it, and the task is canceled once
    # it waits for its next attempt after a second one (a state that lasts
    # the schedule's 15 s; the moment the attempt is counted is not one: the
    # task may still be held, or, on a slow machine, held again).
    eid = endpoint(stack, receiver, "/never", answers=[{"status": 500}] * 20)
    one_job_event(stack)
    msg = stack.db.one("SELECT msg_id FROM webhook_deliveries WHERE endpoint_id = %s", eid)
    waiting = wait_until(lambda: stack.db.rows(
        "SELECT t.id FROM tasks t JOIN webhook_deliveries d ON t.payload->>'delivery_id' = d.id::text "
        "WHERE d.msg_id = %s AND t.kind = 'webhook.deliver' AND t.state = 'queued' AND d.attempts >= 2", msg), 120, 0.05)
    assert waiting, (delivery(stack, msg), stack.db.rows("SELECT id, state, attempts FROM tasks"))
    assert "canceled" in stack.mg("tasks", "cancel", waiting[0][0])
    state, attempts, last_status, last_error = delivery(stack, msg)
    assert (state, last_status, last_error) == ("failed", 500, "canceled by an operator") and attempts >= 2, \
        delivery(stack, msg)
    # A clean stop after deliveries (under AddressSanitizer: no leak).
    assert w.stop() == 0, workers.log()


def test_add_resolves_the_host_and_refuses_what_no_delivery_could_reach(db):
    """`webhook add` resolves the host now: a name that does not exist, or
    one whose every address the worker's outbound client refuses, exits 2
    naming why (and the setting that admits loopback), and adds nothing;
    --no-check adds it without resolving."""
    # The suite's resolver must say NXDOMAIN for names under .invalid (RFC 6761).
    with pytest.raises(socket.gaierror) as e:
        socket.getaddrinfo("mediagate-test.invalid", 80)
    assert e.value.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)), \
        f"this machine's resolver cannot tell that a name does not exist: {e.value}"

    def add(url, *args, loopback="off"):
        env = {**os.environ, "MEDIAGATE_DATABASE_URL": db.url, "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": loopback}
        return subprocess.run([str(mgstack.MG_BIN), "webhook", "add", url, *args], env=env,
                              capture_output=True, text=True, timeout=60)

    r = add("https://hooks.mediagate-test.invalid/h")
    assert r.returncode == 2 and r.stdout == "", r
    assert "host 'hooks.mediagate-test.invalid' does not resolve" in r.stderr and "--no-check" in r.stderr, r
    # What docs/webhooks.md shows, word for word.
    r = add("http://127.0.0.1:8080/hooks")
    readme = (mgstack.MG_ROOT / "docs" / "webhooks.md").read_text()
    assert r.returncode == 2 and "$ mediagate webhook add http://127.0.0.1:8080/hooks\n" + r.stderr in readme, r
    for url, shown, why in (("http://127.0.0.1:9/h", "127.0.0.1", "loopback"),
                            ("http://[::1]:9/h", "::1", "loopback"),
                            ("http://localhost:9/h", "", "loopback"),
                            ("http://10.1.2.3/h", "10.1.2.3", "private"),
                            ("http://169.254.169.254/latest/meta-data", "169.254.169.254", "link-local"),
                            ("http://[fd00::1]/h", "fd00::1", "private")):
        r = add(url)
        assert r.returncode == 2 and r.stdout == "", (url, r)
        assert "resolves only to addresses deliveries may not reach" in r.stderr, (url, r)
        assert f"{shown}, {why})" in r.stderr, (url, r)
        assert "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK" in r.stderr and "--no-check" in r.stderr, (url, r)
        if why == "loopback":
            assert "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK=on" in r.stderr, r
    # The setting admits loopback, and nothing else.
    assert add("http://10.1.2.3/h", loopback="on").returncode == 2
    assert db.one("SELECT count(*) FROM webhook_endpoints") == 0
    added = []
    for url, args, loopback in (("http://127.0.0.1:9/h", (), "on"),
                                ("http://localhost:9/h", (), "on"),
                                ("http://93.184.215.14/h", (), "off"),
                                ("https://hooks.mediagate-test.invalid/h", ("--no-check",), "off"),
                                ("http://10.1.2.3/h", ("--events", "job.complete", "--no-check"), "off")):
        r = add(url, *args, loopback=loopback)
        assert r.returncode == 0 and r.stdout.startswith("whsec_"), (url, r)
        added.append(url)
    assert [u for (u,) in db.rows("SELECT url FROM webhook_endpoints ORDER BY id")] == added
