"""The console's sessions (POST, GET, DELETE /media/session) through real
PostgreSQL, nginx and curl:

- an API key makes a session: 201 with an mgs_ token (shown once, stored
  as its SHA-256), its expiry (MEDIAGATE_SESSION_LIFETIME), the user and
  whether it administers; never cached;
- the token is then the key's caller everywhere a key is: a private job's
  /media/status, POST /uploads, /stream/start own what the key owns, and
  the key's limits (--profiles, --targets) hold through it;
- it dies when it expires, when it signs out (DELETE: 204) and when its
  key is revoked, each with its reason; a session cannot make a session;
- an unknown or malformed token: 401, the same answer whether the job
  asked about exists or not;
- it is looked up on the primary: a read route on a replica that has not
  seen the session yet still knows it;
- the token is in no log; expired rows are purged at the next session;
- sites that sign their users in themselves (REMOTE_USER) need none;
- browsers of allowed origins: the preflight and CORS on the answers.
"""

import hashlib
import json
import re
import urllib.parse
from datetime import datetime, timezone

import pytest

import mgstack
from mgstack import LoopbackServer

ALLOWED = "https://app.example.com"
# The one answer to every dead session token, whatever the reason.
REFUSED = {"success": False,
           "message": "The console session is not valid (expired, signed out or unknown); sign in again."}
TWO = {"renditions": [{"width": 160, "video_kbps": 150, "audio_kbps": -1},
                      {"height": 240, "video_kbps": 300, "audio_kbps": 64}]}


def settings(rundir):
    return {
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_THREADS": "2",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_ALLOWED_ORIGINS": r"https://app\.example\.com",
        "MEDIAGATE_ADMIN_USERS": "alice",
    }


@pytest.fixture
def env_extra():
    """Settings a test adds (parametrize env_extra to change them)."""
    return {}


@pytest.fixture
def mg_env(rundir, env_extra):
    return {**settings(rundir), **env_extra}


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


def bearer(token):
    return ["-H", f"Authorization: Bearer {token}"]


def sign_in(stack, key, *more):
    r = stack.curl("-X", "POST", *bearer(key), *more, "/media/session")
    assert r.status == 201, r
    return r


def whoami(stack, token):
    return stack.curl(*(bearer(token) if token else []), "/media/session")


def upload(stack, token, *form):
    args = ["-X", "POST", *bearer(token)]
    for f in form:
        args += ["--data-urlencode", f]
    return stack.curl(*args, "/uploads")


def status(stack, job_id, token=None):
    return stack.curl(*(bearer(token) if token else []), "-G", "--data-urlencode", f"job_id={job_id}",
                      "/media/status")


def key_id(stack, name):
    return stack.db.one("SELECT id FROM api_keys WHERE name = %s", name)


def comparable(r):
    """What a client sees of an answer, but its date and request id."""
    return r.status, r.body, sorted((k.lower(), v) for k, v in r.headers
                                    if k.lower() not in ("date", "x-request-id"))


def test_a_session_is_its_key_everywhere(stack):
    key = stack.mg("apikey", "create", "alice")
    kid = key_id(stack, "alice")
    r = sign_in(stack, key)
    body = r.json()
    token = body["token"]
    assert re.fullmatch(r"mgs_[0-9a-f]{64}", token), body
    assert body["success"] is True and body["user"] == "alice" and body["admin"] is True, body
    assert r.header("Cache-Control") == "no-store", r.headers
    # Stored as its digest only, for MEDIAGATE_SESSION_LIFETIME's default.
    row = stack.db.one("SELECT token_hash, key_id, owner, user_name, "
                       "ceil(extract(epoch FROM expires_at - created_at))::int, "
                       "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                       "FROM console_sessions")
    assert bytes(row[0]) == hashlib.sha256(token.encode()).digest(), row
    assert row[1:5] == (kid, f"key:{kid}", "alice", 3600), row
    assert body["expires_at"] == row[5], (body, row)
    assert datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) > \
        datetime.now(timezone.utc)
    # Who the console is signed in as.
    r = whoami(stack, token)
    assert r.status == 200 and r.header("Cache-Control") == "no-store", r
    assert r.json() == {"success": True, "user": "alice", "kind": "session", "admin": True,
                        "expires_at": body["expires_at"]}, r
    assert whoami(stack, key).json() == {"success": True, "user": "alice", "kind": "apikey",
                                         "admin": True, "expires_at": None}
    r = whoami(stack, None)
    assert r.status == 401 and r.json()["success"] is False, r
    # Another key's session: its own user, no administrator.
    other = sign_in(stack, stack.mg("apikey", "create", "bob")).json()
    assert (other["user"], other["admin"]) == ("bob", False), other

    # POST /uploads with the session: the key's upload, a job private to alice.
    r = upload(stack, token, "name=private.mp4", "acl=USER_alice")
    assert r.status == 201, r
    job = r.json()["job_id"]
    assert stack.db.one("SELECT owner FROM uploads WHERE job_id = %s", job) == f"key:{kid}"
    assert stack.db.one("SELECT owner FROM jobs WHERE id = %s", job) == f"key:{kid}"
    # Its status: for alice's key and her session, not for bob's or anyone.
    mine = status(stack, job, token)
    assert mine.status == 200 and mine.json()["job_status"] == "SUBMITTED", mine
    assert comparable(status(stack, job, key))[:2] == comparable(mine)[:2]
    assert status(stack, job, other["token"]).status == 422
    assert status(stack, job).status == 422
    # A broadcast started with the session is the key's.
    r = stack.curl("-X", "POST", *bearer(token), "-d", "type=hls", "-d", "name=Console show",
                   "/stream/start")
    assert r.status == 200, r
    sid = r.json()["stream"]["id"]
    assert stack.db.one("SELECT owner FROM streams WHERE id = %s", sid) == f"key:{kid}"
    r = stack.curl(*bearer(key), f"/stream/status?id={sid}")
    assert r.status == 200 and r.json()["stream"]["name"] == "Console show", r


def test_a_session_cannot_make_a_session(stack):
    token = sign_in(stack, stack.mg("apikey", "create", "alice")).json()["token"]
    r = stack.curl("-X", "POST", *bearer(token), "/media/session")
    assert r.status == 403, r
    assert r.json() == {"success": False,
                        "message": "A console session cannot make another; sign in with an API key."}
    assert r.header("Cache-Control") == "no-store", r.headers
    assert stack.db.one("SELECT count(*) FROM console_sessions") == 1
    # Neither anonymous nor an unknown key.
    assert stack.curl("-X", "POST", "/media/session").status == 401
    assert stack.curl("-X", "POST", *bearer("mgk_" + "0" * 64), "/media/session").status == 401
    assert stack.db.one("SELECT count(*) FROM console_sessions") == 1


@pytest.mark.parametrize("env_extra", [{"MEDIAGATE_SESSION_LIFETIME": "60"}])
def test_an_expired_session_is_refused_and_purged(stack):
    key = stack.mg("apikey", "create", "alice")
    body = sign_in(stack, key).json()
    token = body["token"]
    assert stack.db.one("SELECT ceil(extract(epoch FROM expires_at - created_at))::int "
                        "FROM console_sessions") == 60
    job = upload(stack, token, "name=a.mp4").json()["job_id"]
    # Its hour has passed (moved in the database rather than waited for).
    stack.db.conn.execute("UPDATE console_sessions SET expires_at = now() - interval '1 second'")
    expired = REFUSED
    for r in (whoami(stack, token), upload(stack, token, "name=b.mp4"), status(stack, job, token),
              stack.curl("-X", "DELETE", *bearer(token), "/media/session")):
        assert r.status == 401 and r.json() == expired, r
    assert stack.db.one("SELECT count(*) FROM uploads") == 1
    # Rows expired a day ago go when a session is made; the others stay
    # (their refusal says why) until then.
    stack.db.conn.execute("UPDATE console_sessions SET expires_at = now() - interval '25 hours', "
                          "created_at = now() - interval '26 hours'")
    fresh = sign_in(stack, key).json()["token"]
    assert stack.db.one("SELECT count(*) FROM console_sessions") == 1
    assert whoami(stack, fresh).status == 200
    r = whoami(stack, token)
    assert r.status == 401 and r.json() == REFUSED, r


def test_revoking_the_key_ends_its_sessions(stack):
    key = stack.mg("apikey", "create", "alice")
    kid = key_id(stack, "alice")
    tokens = [sign_in(stack, key).json()["token"] for _ in range(2)]
    job = upload(stack, tokens[0], "name=a.mp4", "acl=USER_alice").json()["job_id"]
    assert status(stack, job, tokens[1]).status == 200
    stack.mg("apikey", "revoke", kid)
    revoked = REFUSED
    for t in tokens:
        for r in (whoami(stack, t), status(stack, job, t), upload(stack, t, "name=b.mp4"),
                  stack.curl("-X", "POST", *bearer(t), "-d", "type=hls", "/stream/start")):
            assert r.status == 401 and r.json() == revoked, r
    assert sign_in_refused(stack, key) == 401
    # A key deleted outright takes its sessions with it.
    stack.db.conn.execute("DELETE FROM api_keys")
    assert stack.db.one("SELECT count(*) FROM console_sessions") == 0


def sign_in_refused(stack, key):
    r = stack.curl("-X", "POST", *bearer(key), "/media/session")
    assert r.status != 201, r
    return r.status


def test_sign_out(stack):
    key = stack.mg("apikey", "create", "alice")
    token, other = (sign_in(stack, key).json()["token"] for _ in range(2))
    r = stack.curl("-X", "DELETE", *bearer(token), "/media/session")
    assert r.status == 204 and r.body == "", r
    assert r.header("Cache-Control") == "no-store", r.headers
    signed_out = REFUSED
    for r in (whoami(stack, token), upload(stack, token, "name=a.mp4"),
              stack.curl("-X", "DELETE", *bearer(token), "/media/session")):
        assert r.status == 401 and r.json() == signed_out, r
    # The key's other session lives on; the key itself signs nothing out.
    assert whoami(stack, other).status == 200
    r = stack.curl("-X", "DELETE", *bearer(key), "/media/session")
    assert r.status == 400, r
    assert r.json()["message"].startswith("Only a console session signs out"), r
    assert whoami(stack, key).status == 200 and whoami(stack, other).status == 200
    assert stack.curl("-X", "DELETE", "/media/session").status == 401


def test_the_keys_limits_hold_through_its_session(stack, rundir):
    spec = rundir / "two.json"
    spec.write_text(json.dumps(TWO))
    for name in ("small", "other"):
        stack.mg("profiles", "add", name, "--encoder", "local", spec)
    limited = sign_in(stack, stack.mg("apikey", "create", "limited", "--profiles", "small")).json()
    token = limited["token"]
    r = upload(stack, token, "name=a.mp4")
    assert r.status == 201, r
    assert stack.db.one("SELECT profile FROM jobs WHERE id = %s", r.json()["job_id"]) == "small"
    for profile in ("other", "default"):
        r = upload(stack, token, "name=a.mp4", f"profile={profile}")
        assert r.status == 403, r
        assert r.json()["message"] == f"This API key may not use profile '{profile}'.", r
    elsewhere = sign_in(stack, stack.mg("apikey", "create", "elsewhere", "--targets", "mux")).json()
    r = upload(stack, elsewhere["token"], "name=a.mp4")
    assert r.status == 403, r
    assert r.json()["message"] == "This API key may not upload to target local.", r
    assert stack.db.one("SELECT count(*) FROM uploads") == 1


def test_unknown_tokens_are_refused_alike(stack):
    key = stack.mg("apikey", "create", "alice")
    job = upload(stack, key, "name=a.mp4", "acl=USER_alice").json()["job_id"]
    real = sign_in(stack, key).json()["token"]
    refusals = []
    for t in ("mgs_" + "0" * 64, "mgs_", "mgs_zz'; DROP TABLE console_sessions; --",
              real[:-1] + ("1" if real[-1] != "1" else "2"), real.upper().replace("MGS_", "mgs_")):
        for j in (job, "no-such-job"):
            r = status(stack, j, t)
            assert r.status == 401, r
            assert r.json() == REFUSED
            refusals.append(comparable(r))
        assert comparable(whoami(stack, t))[:2] == refusals[-1][:2]
    assert all(c == refusals[0] for c in refusals), refusals
    assert stack.db.one("SELECT count(*) FROM console_sessions") == 1


def test_the_token_is_in_no_log(stack, rundir):
    key = stack.mg("apikey", "create", "alice")
    token = sign_in(stack, key).json()["token"]
    whoami(stack, token)
    upload(stack, token, "name=a.mp4")
    stack.curl("-X", "POST", *bearer(token), "/media/session")
    stack.curl("-X", "DELETE", *bearer(token), "/media/session")
    whoami(stack, token)
    stack.app.stop()
    stack.nginx.stop()  # flush
    applog = stack.app.log_path.read_text(errors="replace")
    assert re.search(r" access POST /media/session 201 ", applog), applog[-2000:]
    assert re.search(r" access DELETE /media/session 204 ", applog), applog[-2000:]
    logs = list(rundir.rglob("*.log")) + [stack.db.pg.log_path]
    assert len(logs) >= 3, logs
    for p in logs:
        text = p.read_text(errors="replace")
        assert token[4:] not in text, f"{p} carries the session's token"


@pytest.mark.parametrize("env_extra", [{"MEDIAGATE_DB_READ_TIMEOUT_MS": "5000"}])
def test_read_routes_on_a_replica_know_a_new_session(stack, pg):
    """A replica that has not seen the session yet (a database of its own,
    with the key and the job copied but no session rows): /media/status
    reads the job there, and still knows the caller."""
    key = stack.mg("apikey", "create", "alice")
    job = upload(stack, key, "name=a.mp4", "acl=USER_alice").json()["job_id"]
    replica = mgstack.Database(pg, stack.db.name + "_replica")
    replica.create("mediagate_template")
    try:
        for (row,) in stack.db.rows("SELECT row_to_json(k)::text FROM api_keys k"):
            replica.conn.execute("INSERT INTO api_keys SELECT * FROM json_populate_record(NULL::api_keys, %s)",
                                 (row,))
        for (row,) in stack.db.rows("SELECT row_to_json(j)::text FROM jobs j"):
            replica.conn.execute("INSERT INTO jobs SELECT * FROM json_populate_record(NULL::jobs, %s)", (row,))
        stack.app.stop()
        stack.app = mgstack.App(stack.run, {**stack.env, "MEDIAGATE_DATABASE_READ_URL":
                                            f"{replica.url}&options=-c%20default_transaction_read_only%3Don"})
        token = sign_in(stack, key).json()["token"]
        assert replica.one("SELECT count(*) FROM console_sessions") == 0
        r = status(stack, job, token)
        assert r.status == 200 and r.json()["job_status"] == "SUBMITTED", r
        # The job is read on the replica: changed there only, the answer follows.
        replica.conn.execute("UPDATE jobs SET status = 'PROGRESSING', progress_rate = 7")
        r = status(stack, job, token)
        assert r.status == 200 and r.json()["job_status"] == "PROGRESSING", r
        # Signed out a moment ago: refused at once, whatever the replica holds.
        stack.curl("-X", "DELETE", *bearer(token), "/media/session")
        assert status(stack, job, token).status == 401
    finally:
        stack.app.stop()
        replica.drop()


@pytest.fixture
def site_auth():
    """The site's own auth step: X-User for the cookie session=s-<user>."""
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            m = re.fullmatch(r"session=s-([a-z]+)", self.headers.get("Cookie", ""))
            self.send_response(200)
            if m:
                self.send_header("X-User", m.group(1))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    with LoopbackServer(H) as s:
        yield s


@pytest.fixture
def remote_user_env(site_auth):
    return {"MEDIAGATE_STREAM_AUTH": "remote_user", "NGINX_SITE_EXTRA": f"""auth_request /_site_auth;
    auth_request_set $mediagate_user $upstream_http_x_user;
    location = /_site_auth {{
        internal;
        proxy_pass {site_auth.url};
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }}"""}


def test_sites_that_sign_their_users_in_need_no_session(rundir, db, logs, remote_user_env):
    s = mgstack.Stack(rundir, db, {**settings(rundir), **remote_user_env}, ("media_conf", "upload_conf"),
                      logs)
    try:
        alice = ["-H", "Cookie: session=s-alice"]
        r = s.curl("-X", "POST", *alice, "/media/session")
        assert r.status == 400, r
        assert r.json()["message"] == ("This site signs its users in itself (MEDIAGATE_STREAM_AUTH="
                                       "remote_user): the console needs no session."), r
        r = s.curl(*alice, "/media/session")
        assert r.status == 200, r
        assert r.json() == {"success": True, "user": "alice", "kind": "remote_user", "admin": True,
                            "expires_at": None}, r
        r = s.curl("-H", "Cookie: session=s-bob", "/media/session")
        assert r.json()["admin"] is False, r
        r = s.curl("-X", "DELETE", *alice, "/media/session")
        assert r.status == 400 and "signs its users in and out itself" in r.json()["message"], r
        assert s.curl("/media/session").status == 401
        assert s.curl("-X", "POST", "/media/session").status == 401
        assert db.one("SELECT count(*) FROM console_sessions") == 0
    finally:
        assert s.close() == 0
        ok, out = s.curl.validate_contract()
        assert ok, f"answers drift from openapi.yaml:\n{out}"


def test_browsers_of_allowed_origins(stack):
    key = stack.mg("apikey", "create", "alice")
    for method in ("POST", "GET", "DELETE"):
        r = stack.curl("-X", "OPTIONS", "-H", f"Origin: {ALLOWED}", "-H", f"Access-Control-Request-Method: {method}",
                       "-H", "Access-Control-Request-Headers: authorization", "/media/session")
        assert r.status == 204, r
        assert r.header("Access-Control-Allow-Origin") == ALLOWED, r.headers
        assert set(r.header("Access-Control-Allow-Methods").replace(" ", "").split(",")) >= \
            {"POST", "GET", "DELETE"}, r.headers
        assert "authorization" in r.header("Access-Control-Allow-Headers").lower(), r.headers
    origin = ["-H", f"Origin: {ALLOWED}"]
    r = stack.curl("-X", "POST", *origin, *bearer(key), "/media/session")
    assert r.status == 201 and r.header("Access-Control-Allow-Origin") == ALLOWED, r
    token = r.json()["token"]
    r = stack.curl(*origin, *bearer(token), "/media/session")
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") == ALLOWED, r
    r = stack.curl(*origin, *bearer("mgs_" + "1" * 64), "/media/session")
    assert r.status == 401 and r.header("Access-Control-Allow-Origin") == ALLOWED, r
    r = stack.curl("-X", "DELETE", *origin, *bearer(token), "/media/session")
    assert r.status == 204 and r.header("Access-Control-Allow-Origin") == ALLOWED, r
    # Another origin: refused before anything runs.
    r = stack.curl("-X", "POST", "-H", "Origin: https://evil.example", *bearer(key), "/media/session")
    assert r.status == 422 and r.header("Access-Control-Allow-Origin") is None, r
    assert stack.db.one("SELECT count(*) FROM console_sessions") == 1


def test_dead_tokens_are_refused_alike_and_the_log_says_why(stack):
    """Expired, signed out, key revoked, never issued: one answer; only
    mediagate's log tells them apart."""
    key = stack.mg("apikey", "create", "alice")
    doomed = stack.mg("apikey", "create", "bob")
    job = upload(stack, key, "name=a.mp4", "acl=USER_alice").json()["job_id"]
    expired, signed_out = (sign_in(stack, key).json()["token"] for _ in range(2))
    revoked = sign_in(stack, doomed).json()["token"]
    stack.db.conn.execute("UPDATE console_sessions SET expires_at = now() - interval '1 second' "
                          "WHERE token_hash = %s", (hashlib.sha256(expired.encode()).digest(),))
    assert stack.curl("-X", "DELETE", *bearer(signed_out), "/media/session").status == 204
    stack.mg("apikey", "revoke", key_id(stack, "bob"))
    answers = []
    for t in (expired, signed_out, revoked, "mgs_" + "7" * 64):
        for r in (whoami(stack, t), status(stack, job, t), upload(stack, t, "name=b.mp4")):
            assert r.status == 401 and r.json() == REFUSED, r
            answers.append(comparable(r)[:2])
    assert all(a == answers[0] for a in answers), answers
    log = stack.app.log_path
    for why in ("expired", "signed_out", "key_revoked", "unknown"):
        assert mgstack.wait_until(lambda: f"console session refused: {why}" in log.read_text(), 10), \
            log.read_text()[-2000:]


@pytest.mark.parametrize("env_extra", [{"MEDIAGATE_SESSION_LIFETIME": "600"}])
def test_expires_at_is_a_whole_second_and_refused_from_it(stack):
    key = stack.mg("apikey", "create", "alice")
    body = sign_in(stack, key).json()
    token = body["token"]
    # Stored as shown, to the microsecond: the shown second is the end.
    stored = stack.db.one("SELECT to_char(expires_at AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM console_sessions")
    assert stored == body["expires_at"][:-1] + ".000000Z", (stored, body)
    # At that second it is refused (moved there in the database) ...
    stack.db.conn.execute("UPDATE console_sessions SET expires_at = date_trunc('second', now())")
    r = whoami(stack, token)
    assert r.status == 401 and r.json() == REFUSED, r
    # ... and a second before it, what GET shows is that second.
    stack.db.conn.execute("UPDATE console_sessions SET expires_at = date_trunc('second', now()) "
                          "+ interval '1 hour'")
    shown = stack.db.one("SELECT to_char(expires_at AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM console_sessions")
    r = whoami(stack, token)
    assert r.status == 200 and r.json()["expires_at"] == shown, r


def test_sessions_per_key_are_capped_listed_and_ended(stack):
    key = stack.mg("apikey", "create", "alice")
    kid = key_id(stack, "alice")
    tokens = [sign_in(stack, key).json()["token"] for _ in range(21)]
    # The 21st ended the oldest; 20 live.
    assert whoami(stack, tokens[0]).json() == REFUSED
    assert all(whoami(stack, t).status == 200 for t in tokens[1:])
    assert stack.db.one("SELECT count(*) FROM console_sessions WHERE revoked_at IS NULL") == 20
    listed = stack.mg("apikey", "sessions", kid).splitlines()
    assert listed[0].split()[:2] == ["session", "created"], listed
    ids = [line.split()[0] for line in listed[1:]]
    assert ids == [str(i) for (i,) in stack.db.rows(
        "SELECT id FROM console_sessions WHERE revoked_at IS NULL ORDER BY id")], listed
    # Another key's session is not its.
    other = sign_in(stack, stack.mg("apikey", "create", "bob")).json()["token"]
    out = stack.mg("apikey", "sessions", kid, "--end")
    assert out == f"20 console sessions of API key {kid} ended", out
    assert all(whoami(stack, t).json() == REFUSED for t in tokens)
    assert whoami(stack, other).status == 200
    # The key itself works on, and makes sessions again.
    assert whoami(stack, key).json()["kind"] == "apikey"
    assert stack.mg("apikey", "sessions", kid).splitlines()[1:] == []
    assert whoami(stack, sign_in(stack, key).json()["token"]).status == 200
    import subprocess
    for args in (("sessions", "999"), ("sessions", "999", "--end")):
        r = subprocess.run([str(mgstack.MG_BIN), "apikey", *args], env=stack.env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 1 and r.stderr == "mediagate: no API key 999\n", r


LIVE = {"MEDIAGATE_RTMP_URL": "rtmp://127.0.0.1:1935/live", "MEDIAGATE_HLS_URL": "http://127.0.0.1/hls",
        "MEDIAGATE_UPLOAD_URL": "http://127.0.0.1/live"}


@pytest.mark.parametrize("env_extra", [LIVE])
def test_revoking_the_key_ends_what_its_sessions_made(stack, workers):
    """A session's broadcast and upload slots outlive its sign-out (they are
    the key's); revoking the key ends them: the RTMP publish check, the
    ingest check and the slots' PUT and PATCH refuse them."""
    key = stack.mg("apikey", "create", "alice")
    kid = key_id(stack, "alice")
    token = sign_in(stack, key).json()["token"]
    started = []
    for name in ("live", "idle"):
        r = stack.curl("-X", "POST", *bearer(token), "-d", "type=hls", "-d", f"name={name}", "/stream/start")
        assert r.status == 200, r
        started.append(r.json())
    sid = started[0]["stream"]["id"]
    secret = started[0]["endpoint"]["RTMP"]["stream_key"].split("key=")[1]
    ingest = started[0]["endpoint"]["HTTP"]
    seg = stack.run / "seg0.ts"
    seg.write_bytes(b"G" * 188)

    def publish():
        return stack.curl("-X", "POST", "-d", f"name={sid}", "-d", "clientid=7", "-d", "call=publish",
                          "-d", f"key={secret}", "/notifications/rtmp")

    def put(name, auth=ingest["headers"]["Authorization"]):
        return stack.curl("-X", "PUT", "-H", f"Authorization: {auth}", "--data-binary", f"@{seg}",
                          stack.base + urllib.parse.urlsplit(ingest["url"]).path + name)

    direct = upload(stack, token, "name=a.mp4").json()
    tus = upload(stack, token, "name=b.mp4").json()
    stored = upload(stack, token, "name=c.mp4").json()
    f = stack.run / "a.mp4"
    f.write_bytes(b"\0" * 1000)
    assert stack.curl("-X", "PUT", "--data-binary", f"@{f}", stored["upload"]["url"]).status == 201
    tus_url = urllib.parse.urlsplit(tus["upload"]["tus_endpoint"])
    tus_url = tus_url.path + ("?" + tus_url.query if tus_url.query else "")
    r = stack.curl("-X", "POST", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Length: 100", tus_url)
    assert r.status == 201, r
    # Signed out: all of it still works (it is the key's, not the session's).
    assert stack.curl("-X", "DELETE", *bearer(token), "/media/session").status == 204
    assert publish().status == 200
    assert put("seg0.ts").status == 201
    # Several spaces after Bearer (RFC 6750) are no part of the token.
    assert put("seg1.ts", ingest["headers"]["Authorization"].replace("Bearer ", "Bearer   ")).status == 201
    # Revoked: the key, its sessions, its streams, its waiting slots end.
    out = stack.mg("apikey", "revoke", kid).splitlines()
    assert out[0] == f"API key {kid} revoked; its console sessions ended", out
    assert sorted(out[1:]) == sorted([f"stream {s['stream']['id']} stopped" for s in started] +
                                     [f"upload {u['upload']['id']} expired (job {u['job_id']} CANCELED)"
                                      for u in (direct, tus)]), out
    r = publish()
    assert r.status == 403 and r.json()["message"] == "Unknown or stopped stream, or wrong key.", r
    r = stack.curl("-X", "POST", "-d", f"name={sid}", "-d", "clientid=7", "-d", "call=update_publish",
                   "/notifications/rtmp")
    assert r.status == 403, r  # nginx-rtmp drops a publisher still connected
    assert put("seg2.ts").status == 403
    assert {s for (s,) in stack.db.rows("SELECT status FROM streams")} == {"STOPPED"}
    r = stack.curl("-X", "PUT", "--data-binary", f"@{f}", direct["upload"]["url"])
    assert r.status in (403, 410) and r.json()["message"].startswith("This upload URL has expired"), r
    r = stack.curl("-X", "PATCH", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0",
                   "-H", "Content-Type: application/offset+octet-stream", "--data-binary", "x" * 10, tus_url)
    assert r.status == 410, r
    # The worker cancels their jobs at once (the expiry task brought forward);
    # the upload that got its file is left alone.
    workers.start()
    assert mgstack.wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM jobs WHERE status = 'CANCELED'") == 2, 30), workers.log()
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", stored["job_id"]) != "CANCELED"
    # Revoking again: nothing more to end.
    assert stack.mg("apikey", "revoke", kid) == f"API key {kid} revoked; its console sessions ended"


@pytest.fixture
def idp():
    """An OAuth2 introspection endpoint that records every token it is sent
    and calls each active."""
    import http.server
    import time
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            seen.append(urllib.parse.parse_qs(self.rfile.read(n).decode()).get("token", [""])[0])
            body = json.dumps({"active": True, "sub": "mallory", "aud": "https://media.example/",
                               "token_type": "Bearer", "exp": int(time.time()) + 600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    with LoopbackServer(H) as s:
        s.seen = seen
        yield s


def test_bearer_spaces_and_prefixes_never_reach_introspection(rundir, db, logs, idp):
    env = {**settings(rundir), "MEDIAGATE_OAUTH2_INTROSPECTION_URL": f"{idp.url}/introspect",
           "MEDIAGATE_OAUTH2_CLIENT_ID": "mg", "MEDIAGATE_OAUTH2_CLIENT_SECRET": "s",
           "MEDIAGATE_OAUTH2_AUDIENCE": "https://media.example/"}
    s = mgstack.Stack(rundir, db, env, ("media_conf", "upload_conf"), logs)
    try:
        key = s.mg("apikey", "create", "alice")
        token = sign_in(s, key).json()["token"]
        # One or more spaces after the scheme (RFC 6750's 1*SP).
        for spaces in (" ", "  ", "    "):
            r = s.curl("-H", f"Authorization: Bearer{spaces}{token}", "/media/session")
            assert r.status == 200 and r.json()["kind"] == "session", (spaces, r)
            r = s.curl("-H", f"Authorization: bearer{spaces}{key}", "/media/session")
            assert r.status == 200 and r.json()["kind"] == "apikey", (spaces, r)
        r = s.curl("-X", "POST", "-H", f"Authorization: Bearer  {key}", "/media/session")
        assert r.status == 201, r
        r = s.curl("-H", "Authorization: Bearer    ", "/media/session")
        assert r.status == 401, r
        # mgs_ and mgk_ are mediagate's own: looked up here, never introspected.
        r = s.curl("-H", "Authorization: Bearer mgs_oauth2-opaque", "/media/session")
        assert r.status == 401 and r.json() == REFUSED, r
        assert idp.seen == [], idp.seen
        # Anything else is an OAuth2 token (the stand-in is reached).
        r = s.curl("-H", "Authorization: Bearer  opaque-oauth", "/media/session")
        assert r.status == 200 and r.json()["kind"] == "oauth2", r
        assert idp.seen == ["opaque-oauth"], idp.seen
    finally:
        assert s.close() == 0
        ok, out = s.curl.validate_contract()
        assert ok, f"answers drift from openapi.yaml:\n{out}"


def metric(stack, name):
    for line in stack.curl("/metrics").body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


@pytest.mark.parametrize("env_extra", [{"MEDIAGATE_DB_READ_TIMEOUT_MS": "5000"}])
def test_a_primary_down_is_not_the_replicas_failure(stack, pg):
    """A session is looked up on the primary also on a read route: the
    primary down, that lookup's 503 is answered as is, neither counted as a
    replica failure nor run again on the primary."""
    key = stack.mg("apikey", "create", "alice")
    job = upload(stack, key, "name=a.mp4", "acl=USER_alice").json()["job_id"]
    replica = mgstack.Database(pg, stack.db.name + "_replica")
    replica.create("mediagate_template")
    try:
        for table in ("api_keys", "jobs"):
            for (row,) in stack.db.rows(f"SELECT row_to_json(t)::text FROM {table} t"):
                replica.conn.execute(f"INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, %s)",
                                     (row,))
        stack.app.stop()
        stack.app = mgstack.App(stack.run, {**stack.env, "MEDIAGATE_DATABASE_READ_URL":
                                            f"{replica.url}&options=-c%20default_transaction_read_only%3Don"})
        token = sign_in(stack, key).json()["token"]
        assert status(stack, job, token).status == 200
        before = [metric(stack, m) for m in ("mediagate_db_read_fallbacks_total",
                                             "mediagate_db_replica_trips_total")]
        with pg.connect() as c:
            c.execute(f'ALTER DATABASE "{stack.db.name}" WITH ALLOW_CONNECTIONS false')
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (stack.db.name,))
        try:
            for _ in range(2):
                r = status(stack, job, key)  # the key: read on the replica
                assert r.status == 200, r
                r = status(stack, job, token)
                assert r.status == 503 and r.json()["message"] == \
                    "The database is unavailable; retry later.", r
            after = [metric(stack, m) for m in ("mediagate_db_read_fallbacks_total",
                                                "mediagate_db_replica_trips_total")]
            assert after == before, (before, after)
        finally:
            with pg.connect() as c:
                c.execute(f'ALTER DATABASE "{stack.db.name}" WITH ALLOW_CONNECTIONS true')
        assert mgstack.wait_until(lambda: status(stack, job, token).status == 200, 30)
    finally:
        stack.app.stop()
        replica.drop()
