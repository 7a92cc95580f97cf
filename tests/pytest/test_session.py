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
from datetime import datetime, timezone

import pytest

import mgstack
from mgstack import LoopbackServer

ALLOWED = "https://app.example.com"
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
                       "extract(epoch FROM expires_at - created_at)::int, "
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
    assert stack.db.one("SELECT extract(epoch FROM expires_at - created_at)::int "
                        "FROM console_sessions") == 60
    job = upload(stack, token, "name=a.mp4").json()["job_id"]
    # Its hour has passed (moved in the database rather than waited for).
    stack.db.conn.execute("UPDATE console_sessions SET expires_at = now() - interval '1 second'")
    expired = {"success": False, "message": "The console session has expired; sign in again."}
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
    assert r.status == 401 and r.json()["message"] == "Unknown console session; sign in again.", r


def test_revoking_the_key_ends_its_sessions(stack):
    key = stack.mg("apikey", "create", "alice")
    kid = key_id(stack, "alice")
    tokens = [sign_in(stack, key).json()["token"] for _ in range(2)]
    job = upload(stack, tokens[0], "name=a.mp4", "acl=USER_alice").json()["job_id"]
    assert status(stack, job, tokens[1]).status == 200
    stack.mg("apikey", "revoke", kid)
    revoked = {"success": False, "message": "The API key of this console session was revoked."}
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
    signed_out = {"success": False, "message": "The console session was signed out; sign in again."}
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
            assert r.json() == {"success": False, "message": "Unknown console session; sign in again."}
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
