"""POST /notifications/sns and /notifications/mux end to end, through real
nginx, PostgreSQL, mediagate serve and the worker.

SNS, against a loopback stand-in of SNS's certificate and confirmation
endpoints on port 443 with its own CA (sns_standin.py; MEDIAGATE_SNS_CERT_HOST
admits its address, MEDIAGATE_OUTBOUND_CA_FILE trusts the CA): the documented
MediaConvert events wrapped as SNS delivers them (an EventBridge event as
the Message string, text/plain), signed with SignatureVersion 1 and 2, end
in the same /media/status answers as /notifications/mediaconvert gives;
the certificate is fetched once; redeliveries (same MessageId, or the same
inner event under another MessageId) are applied once; tampered messages,
other hosts, other ports, http, unknown versions, other topics, another key and an
expired certificate get 401/403 and nothing is written; a
SubscriptionConfirmation is confirmed by the worker's GET of SubscribeURL.

Mux, with Mux-Signature computed here: the fixtures end to end, bad, stale
and future signatures, duplicates, ready before created."""

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import pytest

from mgstack import MG_ROOT, Curl, wait_until
from sns_standin import SnsStandin

FIX = Path(MG_ROOT) / "tests" / "fixtures" / "providers"
TOPIC = "arn:aws:sns:us-east-1:123456789012:mediaconvert-events"
MUX_SECRET = "mux-signing-secret-0123456789abcdef"
MC_SECRET = "mc-api-key-0123456789abcdef"


@pytest.fixture
def sns(rundir):
    s = SnsStandin(rundir)
    yield s
    s.close()


@pytest.fixture
def mg_env(sns):
    return {
        "MEDIAGATE_SNS_TOPIC_ARNS": f"arn:aws:sns:us-east-1:123456789012:other {TOPIC}",
        "MEDIAGATE_SNS_CERT_HOST": sns.host_re,
        "MEDIAGATE_OUTBOUND_CA_FILE": str(sns.ca_file),
        "MEDIAGATE_MUX_SECRET": MUX_SECRET,
        "MEDIAGATE_MEDIACONVERT_SECRET": MC_SECRET,
        "MEDIAGATE_LEASE_SECONDS": "3",
    }


def fixture(name):
    return json.loads((FIX / name).read_text())


def counts(stack):
    return stack.db.one("SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM jobs), "
                        "(SELECT count(*) FROM outbox)")


def sns_message(sns, event, version="1", message_id=None, **extra):
    """event (an EventBridge event) as SNS delivers it, signed."""
    msg = {"Type": "Notification", "MessageId": message_id or str(uuid.uuid4()), "TopicArn": TOPIC,
           "Message": json.dumps(event, separators=(",", ":")),
           "Timestamp": "2022-12-19T19:07:12.124Z",
           "UnsubscribeURL": f"{sns.base}/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1", **extra}
    return sns.sign(msg, version=version)


def post_sns(stack, msg, raw=None):
    body = raw if raw is not None else json.dumps(msg, indent=2)
    return stack.curl("-X", "POST", "-H", "Content-Type: text/plain; charset=UTF-8",
                      "-H", f"x-amz-sns-message-type: {msg['Type']}",
                      "-H", f"x-amz-sns-message-id: {msg.get('MessageId', '')}",
                      "-H", f"x-amz-sns-topic-arn: {msg.get('TopicArn', '')}",
                      "-H", "User-Agent: Amazon Simple Notification Service Agent",
                      "--data-binary", body, "/notifications/sns")


def status(stack, job_id):
    return stack.curl("-G", "--data-urlencode", f"job_id={job_id}", "/media/status").body


MC_FLOW = [  # fixture, job, /media/status after it (as tests/integration/notifications.sh)
    ("aws-mediaconvert-input-information.json", "1671476818694-phptj0", None),
    ("aws-mediaconvert-complete.json", "1671476818694-phptj0",
     '{"success":true,"job_status":"COMPLETE","progress_rate":100,"duration_ms":30041,"width_px":1920,'
     '"height_px":1080,"output_path":"s3://DOC-EXAMPLE-BUCKET/file/","playlists":{}}'),
    ("aws-mediaconvert-progressing.json", "1671477617078-2886ye",
     '{"success":true,"job_status":"PROGRESSING","progress_rate":0}'),
    ("aws-mediaconvert-status-update.json", "1671477617078-2886ye",
     '{"success":true,"job_status":"PROGRESSING","progress_rate":7}'),
    ("aws-mediaconvert-complete-hls-group.json", "1536964333549-opn151",
     '{"success":true,"job_status":"COMPLETE","progress_rate":100,"duration_ms":180041,"width_px":1280,'
     '"height_px":720,"output_path":"s3://DOC-EXAMPLE-BUCKET/hls/","playlists":{".m3u8":"main.m3u8"}}'),
    ("aws-mediaconvert-error.json", "1515368087458-qnoxtd",
     '{"success":true,"job_status":"ERROR","progress_rate":0,"error_code":1040,'
     '"error_message":"Example error message"}'),
    ("aws-mediaconvert-canceled.json", "1515368087458-qnoxtd",
     '{"success":true,"job_status":"ERROR","progress_rate":0,"error_code":1040,'
     '"error_message":"Example error message"}'),
]


def test_mediaconvert_events_through_sns(stack, sns):
    for i, (name, job, want) in enumerate(MC_FLOW):
        msg = sns_message(sns, fixture(name), version="1" if i % 2 else "2")
        r = post_sns(stack, msg)
        assert r.status == 200 and r.json()["result"] == "applied", r
        assert r.json()["event_id"] == msg["MessageId"]
        if want:
            assert status(stack, job) == want, name
    r = stack.curl("/media/job_id?input_file=s3://DOC-EXAMPLE-BUCKET/file/file.mp4")
    assert r.json() == {"success": True, "job_id": "1671476818694-phptj0"}
    # The jobs are MediaConvert's, holding the inner event, as the direct route makes them.
    assert stack.db.rows("SELECT DISTINCT backend FROM jobs") == [("mediaconvert",)]
    assert stack.db.one("SELECT resource->'detail'->>'status' FROM jobs WHERE id = '1671476818694-phptj0'") == "COMPLETE"
    assert stack.db.one("SELECT count(*) FROM notifications WHERE backend = 'sns' AND result = 'applied' "
                        "AND job_id IS NOT NULL") == len(MC_FLOW)
    # One certificate URL, fetched once, cached after.
    assert sns.cert_fetches() == 1, sns.calls


def test_same_answers_as_the_direct_route(stack, sns):
    """Each fixture under another job id: once through SNS, once through
    /notifications/mediaconvert; the two jobs answer the same."""
    for name, _, _ in MC_FLOW:
        ev = fixture(name)
        job = ev["detail"]["jobId"]
        via_sns = dict(ev, detail={**ev["detail"], "jobId": "sns-" + job})
        direct = dict(ev, detail={**ev["detail"], "jobId": "api-" + job})
        assert post_sns(stack, sns_message(sns, via_sns)).status == 200
        r = stack.curl("-X", "POST", "-H", f"X-Api-Key: {MC_SECRET}", "-H", "Content-Type: application/json",
                       "--data-binary", json.dumps(direct), "/notifications/mediaconvert")
        assert r.status == 200, r
    for job in {ev_job for _, ev_job, _ in MC_FLOW}:
        assert status(stack, "sns-" + job) == status(stack, "api-" + job), job
    cols = "status, progress_rate, input_file, duration_ms, width_px, height_px, output_path, playlists, " \
           "error_code, error_message, event_time, resource - 'detail', (resource->'detail') - 'jobId'"
    assert stack.db.rows(f"SELECT {cols} FROM jobs WHERE id LIKE 'sns-%' ORDER BY id") == \
        stack.db.rows(f"SELECT {cols} FROM jobs WHERE id LIKE 'api-%' ORDER BY id")


def test_redeliveries_are_applied_once(stack, sns):
    ev = fixture("aws-mediaconvert-status-update.json")
    msg = sns_message(sns, ev)
    assert post_sns(stack, msg).json()["result"] == "applied"
    # SNS's retry: the same MessageId.
    r = post_sns(stack, msg)
    assert r.status == 200 and r.json()["result"] == "duplicate", r
    # EventBridge published the event twice: another MessageId, same inner event.
    again = sns_message(sns, ev, version="2")
    r = post_sns(stack, again)
    assert r.status == 200 and r.json()["result"] == "duplicate", r
    first = stack.db.one("SELECT id FROM notifications WHERE event_id = %s", msg["MessageId"])
    assert stack.db.one("SELECT error FROM notifications WHERE event_id = %s", again["MessageId"]) == \
        f"duplicate of notification {first}"
    assert stack.db.one("SELECT count(*) FROM notifications") == 2   # both stored raw
    assert stack.db.one("SELECT progress_rate FROM jobs WHERE id = '1671477617078-2886ye'") == 7
    # A later event of the same job is applied.
    done = dict(ev, detail={**ev["detail"], "status": "COMPLETE", "timestamp": ev["detail"]["timestamp"] + 1000,
                            "outputGroupDetails": []})
    assert post_sns(stack, sns_message(sns, done)).json()["result"] == "applied"
    assert json.loads(status(stack, "1671477617078-2886ye"))["job_status"] == "COMPLETE"


def test_concurrent_copies_of_one_event(stack, sns):
    """Two MessageIds of one inner event at the same moment: one applies."""
    import concurrent.futures
    ev = fixture("aws-mediaconvert-progressing.json")
    msgs = [sns_message(sns, ev) for _ in range(6)]
    curls = [Curl(stack.base, stack.run / f"curl-{i}") for i in range(6)]

    def post(i):
        m = msgs[i]
        return curls[i]("-X", "POST", "-H", f"x-amz-sns-message-type: {m['Type']}",
                        "--data-binary", json.dumps(m), "/notifications/sns")
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        results = list(ex.map(post, range(6)))
    assert all(r.status == 200 for r in results), results
    assert sorted(r.json()["result"] for r in results) == ["applied"] + ["duplicate"] * 5
    assert stack.db.one("SELECT count(*) FROM notification_keys") == 1


def tamper(msg, **change):
    return {**msg, **change}


@pytest.mark.parametrize("case", ["message", "topic-swap", "signature", "version-3", "version-missing",
                                  "other-host", "other-port", "http", "not-pem", "no-cert", "other-key", "expired",
                                  "unlisted-topic", "not-json", "type-header"])
def test_refusals_write_nothing(stack, sns, case):
    msg = sns_message(sns, fixture("aws-mediaconvert-complete.json"))
    raw = None
    want = 401
    if case == "message":
        msg = tamper(msg, Message=msg["Message"].replace("COMPLETE", "ERROR"))
    elif case == "topic-swap":
        msg = tamper(msg, TopicArn="arn:aws:sns:us-east-1:123456789012:other")
    elif case == "signature":
        msg = tamper(msg, Signature="A" + msg["Signature"][1:])
    elif case == "version-3":
        msg = tamper(msg, SignatureVersion="3")
    elif case == "version-missing":
        msg = {k: v for k, v in msg.items() if k != "SignatureVersion"}
    elif case == "other-host":
        msg = tamper(msg, SigningCertURL=sns.cert_url().replace(sns.host, "localhost"))
    elif case == "other-port":
        # The stand-in serves the certificate there too: only the rule refuses it.
        msg = tamper(msg, SigningCertURL=sns.cert_url().replace(sns.base, sns.other_base))
    elif case == "http":
        msg = tamper(msg, SigningCertURL=sns.cert_url().replace("https:", "http:"))
    elif case == "not-pem":
        msg = tamper(msg, SigningCertURL=sns.cert_url()[:-4] + ".txt")
    elif case == "no-cert":
        msg = tamper(msg, SigningCertURL=sns.cert_url("missing"))
    elif case == "other-key":
        sns.add_signer("other")
        msg = tamper(msg, SigningCertURL=sns.cert_url("other"))
    elif case == "expired":
        sns.add_signer("old", days=(60, -1))
        msg = sns.sign({k: v for k, v in msg.items() if k not in ("Signature", "SigningCertURL")}, cert="old")
    elif case == "unlisted-topic":
        msg = sns.sign(tamper(msg, TopicArn="arn:aws:sns:us-east-1:123456789012:unlisted"))
        want = 403
    elif case == "not-json":
        raw = "Type=Notification"
    elif case == "type-header":
        msg = tamper(msg, Type="Notification")
        r = stack.curl("-X", "POST", "-H", "x-amz-sns-message-type: SubscriptionConfirmation",
                       "--data-binary", json.dumps(msg), "/notifications/sns")
        assert r.status == 401 and counts(stack) == (0, 0, 0), r
        return
    before = counts(stack)
    r = post_sns(stack, msg, raw)
    assert r.status == want, r
    assert r.json()["message"].startswith("Notification refused: "), r
    assert counts(stack) == before == (0, 0, 0)
    if case in ("other-host", "other-port", "http", "not-pem", "version-3", "version-missing",
                "unlisted-topic"):
        assert sns.calls == [], sns.calls       # refused before any fetch
    if case == "other-port":
        assert "the SigningCertURL names a port other than 443" in r.json()["message"], r


def test_certificate_host_down_is_a_retry(stack, sns):
    msg = sns_message(sns, fixture("aws-mediaconvert-complete.json"))
    sns.close()
    r = post_sns(stack, msg)
    assert r.status == 503, r
    assert counts(stack) == (0, 0, 0)


def test_subscription_confirmation(stack, sns, workers):
    sub = fixture("aws-sns-subscription-confirmation.json")
    token = sub["Token"]
    sub.update(TopicArn=TOPIC, SubscribeURL=sns.subscribe_url(TOPIC, token),
               Message=f"You have chosen to subscribe to the topic {TOPIC}.\n"
                       "To confirm the subscription, visit the SubscribeURL included in this message.")
    for k in ("Signature", "SigningCertURL", "SignatureVersion"):
        sub.pop(k)
    msg = sns.sign(sub)
    sns.fail_confirms = 1       # SNS unavailable once: retried
    r = post_sns(stack, msg)
    assert r.status == 200 and r.json()["result"] == "stored", r
    assert post_sns(stack, msg).json()["result"] == "duplicate"
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'sns.confirm'") == 1
    workers.start()

    def confirmed():
        stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'sns.confirm' "
                              "AND done_at IS NULL AND locked_by IS NULL")
        return sns.confirmed
    assert wait_until(confirmed, 30, 0.2), (sns.calls, stack.db.rows("SELECT * FROM outbox"))
    assert sns.confirmed == [token]
    assert wait_until(lambda: stack.db.one("SELECT done_at IS NOT NULL FROM outbox WHERE kind = 'sns.confirm'"), 10)
    assert stack.db.one("SELECT attempts FROM outbox WHERE kind = 'sns.confirm'") == 2
    assert f"SNS subscription confirmed: {TOPIC}:" in workers.log()
    assert stack.db.one("SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize("where, why", [("host", "is on a host MEDIAGATE_SNS_CERT_HOST does not admit"),
                                        ("port", "names a port other than 443")])
def test_subscribe_url_on_another_host_or_port_is_refused(stack, sns, where, why):
    sub = fixture("aws-sns-subscription-confirmation.json")
    url = sns.subscribe_url(TOPIC, sub["Token"])
    sub.update(TopicArn=TOPIC, SubscribeURL=url.replace(sns.host, "localhost") if where == "host"
               else url.replace(sns.base, sns.other_base))
    for k in ("Signature", "SigningCertURL", "SignatureVersion"):
        sub.pop(k)
    r = post_sns(stack, sns.sign(sub))
    assert r.status == 401 and r.json()["message"].startswith(f"Notification refused: the SubscribeURL {why}"), r
    assert counts(stack) == (0, 0, 0)


def test_unsubscribe_confirmation_is_logged_and_stored(stack, sns):
    un = fixture("aws-sns-unsubscribe-confirmation.json")
    un["TopicArn"] = TOPIC
    for k in ("Signature", "SigningCertURL", "SignatureVersion"):
        un.pop(k)
    msg = sns.sign(un, version="2")
    r = post_sns(stack, msg)
    assert r.status == 200 and r.json()["result"] == "stored", r
    assert stack.db.one("SELECT count(*) FROM notifications WHERE backend = 'sns' AND event_id = %s",
                        un["MessageId"]) == 1
    assert counts(stack)[1:] == (0, 0)
    assert f"UnsubscribeConfirmation for {TOPIC}" in stack.app.log_path.read_text()


def test_other_notifications_are_stored_as_failed(stack, sns):
    """AWS's own EventBridge-to-SNS example: signed, not MediaConvert."""
    eb = fixture("aws-sns-eventbridge-notification.json")
    msg = sns_message(sns, json.loads(eb["Message"]))
    r = post_sns(stack, msg)
    assert r.status == 400 and "MediaConvert" in r.json()["message"], r
    assert stack.db.one("SELECT result FROM notifications") == "failed"


# --- Mux ---------------------------------------------------------------------------

def mux_sign(body, t=None, secret=MUX_SECRET):
    t = int(time.time()) if t is None else t
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def post_mux(stack, ev, header=None):
    body = json.dumps(ev).encode() if not isinstance(ev, bytes) else ev
    args = ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body.decode()]
    h = mux_sign(body) if header is None else header
    if h:
        args[0:0] = ["-H", f"Mux-Signature: {h}"]
    return stack.curl(*args, "/notifications/mux")


ASSET = "z3K6DX4yhJJ2CAe7ZcXCuWpNd501wa9axPmtROO5I5tc"
UPLOAD = "gjjg48rGLX4hBM9NVLzfTs13r8nr02CkYWE02Byd8jgV00"
READY = ('{"success":true,"job_status":"COMPLETE","progress_rate":100,"duration_ms":2976,"width_px":1920,'
         '"height_px":1080,"output_path":"https://stream.mux.com/",'
         '"playlists":{".m3u8":"pZRRUL8HyLpvw8Cc01SZyKKgAzwT01lF02FUK5CFmw013HQ.m3u8"}}')


def asset_created():
    ev = fixture("mux-video.asset.ready-direct-upload.json")
    ev.update(type="video.asset.created", id=str(uuid.uuid4()), created_at="2022-06-27T20:36:34.000000Z")
    ev["data"].update(status="preparing")
    for k in ("duration", "tracks", "playback_ids"):
        ev["data"].pop(k)
    return ev


def test_mux_direct_upload_end_to_end(stack):
    r = post_mux(stack, fixture("mux-video.upload.asset_created.json"))
    assert r.status == 200 and r.json() == {"success": True, "result": "applied",
                                            "event_id": "03a81509-049a-4c46-bc39-113e9b6638d4"}, r
    assert json.loads(status(stack, ASSET))["job_status"] == "SUBMITTED"
    assert post_mux(stack, asset_created()).json()["result"] == "applied"
    assert status(stack, ASSET) == '{"success":true,"job_status":"PROGRESSING","progress_rate":0}'
    assert post_mux(stack, fixture("mux-video.asset.ready-direct-upload.json")).json()["result"] == "applied"
    assert status(stack, ASSET) == READY
    r = stack.curl(f"/media/job_id?input_file={UPLOAD}")
    assert r.json() == {"success": True, "job_id": ASSET}, r
    assert stack.db.one("SELECT backend, backend_job_id FROM jobs") == ("mux", ASSET)


def test_mux_docs_example_and_passthrough(stack):
    ev = fixture("mux-video.asset.ready.json")
    ev["data"]["passthrough"] = json.dumps({"input_file": "s3://bucket/in/talk.mp4"})
    assert post_mux(stack, ev).json()["result"] == "applied"
    s = json.loads(status(stack, "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002"))
    assert s == {"success": True, "job_status": "COMPLETE", "progress_rate": 100, "duration_ms": 153362,
                 "width_px": 1280, "height_px": 544, "output_path": None, "playlists": {}}, s
    r = stack.curl("/media/job_id?input_file=s3://bucket/in/talk.mp4")
    assert r.json()["job_id"] == "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002", r


def test_mux_a_uuid_passthrough_of_no_job_of_ours_is_the_customers_own(stack):
    # Anyone's own assets may carry a UUID as passthrough (their video's
    # id): unless mediagate made a Mux job of that id, the asset is a job
    # of its own with the passthrough as input_file, as for any passthrough.
    mine = fixture("mux-video.asset.ready.json")["data"]["id"]
    video = str(uuid.uuid4())
    local = str(uuid.uuid4())  # mediagate's job, but not a Mux one
    stack.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, profile) "
                          "VALUES (%s, 'local', 'upload:x', 'uploads/x/a.mp4', 'default')", (local,))
    for n, pt in enumerate((video, local)):
        ev = fixture("mux-video.asset.ready.json")
        ev.update(id=f"uuid-{n}")
        ev["data"].update(passthrough=pt, id=f"{mine}{n}")
        r = post_mux(stack, ev)
        assert r.status == 200 and r.json()["result"] == "applied", r
        assert stack.db.one("SELECT backend, input_file, status, profile FROM jobs WHERE id = %s",
                            f"{mine}{n}") == ("mux", pt, "COMPLETE", None)
        r = stack.curl(f"/media/job_id?input_file={pt}")
        assert r.json() == {"success": True, "job_id": f"{mine}{n}"}, r
    assert stack.db.one("SELECT backend_job_id, input_file, status FROM jobs WHERE id = %s", local) == \
        ("upload:x", "uploads/x/a.mp4", "SUBMITTED")


def test_mux_a_uuid_passthrough_of_a_mux_job_mediagate_made_is_that_job(stack):
    # The mux encoder's asset (passthrough = the job's id), its create
    # answer not yet committed: the event completes that job, keeps its
    # input, and its signed playback id says where it plays.
    job = str(uuid.uuid4())
    stack.db.conn.execute("INSERT INTO jobs (id, backend, input_file, profile) "
                          "VALUES (%s, 'mux', 'uploads/y/b.mp4', 'mux-hd')", (job,))
    ev = fixture("mux-video.asset.ready.json")
    ev["data"].update(passthrough=job, playback_ids=[{"id": "SignedP1", "policy": "signed"}])
    r = post_mux(stack, ev)
    assert r.status == 200 and r.json()["result"] == "applied", r
    assert stack.db.rows("SELECT id, backend_job_id, input_file, status FROM jobs") == \
        [(job, ev["data"]["id"], "uploads/y/b.mp4", "COMPLETE")]
    s = json.loads(status(stack, job))
    assert (s["output_path"], s["playlists"]) == ("https://stream.mux.com/", {".m3u8": "SignedP1.m3u8"}), s


def test_mux_errored(stack):
    ev = asset_created()
    ev.update(type="video.asset.errored", id="err-1")
    ev["data"].update(status="errored", errors={"type": "invalid_input",
                                                "messages": ["The input file could not be decoded."]})
    assert post_mux(stack, ev).status == 200
    s = json.loads(status(stack, ASSET))
    assert s["job_status"] == "ERROR" and s["error_message"] == \
        "invalid_input: The input file could not be decoded.", s


def test_mux_ready_then_created_ends_complete(stack):
    assert post_mux(stack, fixture("mux-video.asset.ready-direct-upload.json")).status == 200
    assert post_mux(stack, asset_created()).json()["result"] == "applied"
    assert post_mux(stack, fixture("mux-video.upload.asset_created.json")).status == 200
    late_error = dict(asset_created(), type="video.asset.errored", id="late")
    assert post_mux(stack, late_error).status == 200
    assert status(stack, ASSET) == READY


def test_mux_duplicates(stack):
    ev = fixture("mux-video.asset.ready-direct-upload.json")
    assert post_mux(stack, ev).json()["result"] == "applied"
    r = post_mux(stack, ev)      # Mux redelivers, newly signed
    assert r.status == 200 and r.json()["result"] == "duplicate", r
    assert stack.db.one("SELECT count(*) FROM notifications") == 1


def test_mux_other_events_are_acknowledged(stack):
    ev = {"type": "video.live_stream.idle", "id": "ls-1", "object": {"type": "live_stream", "id": "L1"},
          "data": {"id": "L1", "status": "idle"}, "created_at": "2024-01-01T00:00:00Z"}
    r = post_mux(stack, ev)
    assert r.status == 200 and r.json()["result"] == "stored", r
    assert counts(stack) == (1, 0, 0)


@pytest.mark.parametrize("case", ["wrong-secret", "stale", "future", "missing", "garbage", "v2-only",
                                  "body-changed"])
def test_mux_bad_signatures_write_nothing(stack, case):
    ev = fixture("mux-video.asset.ready-direct-upload.json")
    body = json.dumps(ev).encode()
    now = int(time.time())
    header = {"wrong-secret": mux_sign(body, secret="not-the-secret-0123456789"),
              "stale": mux_sign(body, now - 400),
              "future": mux_sign(body, now + 400),
              "missing": "",
              "garbage": "854ece4c22acef7c66b57d4e504153bc512595e8e9c772ece2a68150548c19a7",
              "v2-only": mux_sign(body).replace("v1=", "v2="),
              "body-changed": mux_sign(body + b" ")}[case]
    r = post_mux(stack, body, header)
    assert r.status == 401, r
    assert r.json()["message"].startswith("Notification refused: ") or "secret" in r.json()["message"], r
    assert counts(stack) == (0, 0, 0)


def test_mux_within_tolerance_and_rotated_secret(stack):
    ev = fixture("mux-video.asset.ready-direct-upload.json")
    body = json.dumps(ev).encode()
    t = int(time.time()) - 250
    good = mux_sign(body, t).split(",v1=")[1]
    header = f"t={t},v1={'0' * 64},v1={good}"
    assert post_mux(stack, body, header).status == 200


def test_replay_of_sns_notifications(stack, sns):
    """mediagate notifications replay parses the stored SNS body again and
    applies it to the mediaconvert job; a stored confirmation queues again."""
    msg = sns_message(sns, fixture("aws-mediaconvert-status-update.json"))
    assert post_sns(stack, msg).json()["result"] == "applied"
    nid = stack.db.one("SELECT id FROM notifications WHERE event_id = %s", msg["MessageId"])
    stack.mg("notifications", "replay", nid)
    assert stack.db.one("SELECT replays, result, job_id FROM notifications WHERE id = %s", nid) == \
        (1, "applied", "1671477617078-2886ye")
    assert stack.db.rows("SELECT backend, progress_rate FROM jobs") == [("mediaconvert", 7)]
    un = fixture("aws-sns-unsubscribe-confirmation.json")
    un["TopicArn"] = TOPIC
    for k in ("Signature", "SigningCertURL", "SignatureVersion"):
        un.pop(k)
    assert post_sns(stack, sns.sign(un)).json()["result"] == "stored"
    uid = stack.db.one("SELECT id FROM notifications WHERE event_id = %s", un["MessageId"])
    stack.mg("notifications", "replay", uid)
    assert stack.db.one("SELECT result, job_id, replays FROM notifications WHERE id = %s", uid) == \
        ("applied", None, 1)


@pytest.mark.parametrize("env, message", [
    ({"MEDIAGATE_SNS_CERT_HOST": "^sns(\\.$"}, "MEDIAGATE_SNS_CERT_HOST is not a POSIX extended regex"),
    ({"MEDIAGATE_SNS_CERT_HOST": ""}, "MEDIAGATE_SNS_CERT_HOST is not a POSIX extended regex"),
    ({"MEDIAGATE_SNS_TOPIC_ARNS": "mediaconvert-events"}, "MEDIAGATE_SNS_TOPIC_ARNS must hold topic ARNs"),
    ({"MEDIAGATE_OUTBOUND_CA_FILE": "/nonexistent/ca.pem"}, "MEDIAGATE_OUTBOUND_CA_FILE: cannot read"),
    ({"MEDIAGATE_MUX_SECRET": "short"}, "MEDIAGATE_MUX_SECRET is too short"),
])
def test_check_config_names_bad_sns_and_mux_settings(stack, env, message):
    import subprocess
    from mgstack import MG_BIN
    r = subprocess.run([str(MG_BIN), "check-config"], env={**stack.env, **env},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and message in r.stderr, r.stderr
