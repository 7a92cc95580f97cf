"""Jobs with an ACL, through real nginx and PostgreSQL, with a real OAuth2
authorization server (npm oidc-provider, tests/oauth2/server.mjs) for
token introspection:

- the ACL matrix: each entry kind (WORLD, CAM, USER_, GROUP_, INST_, none)
  against anonymous, an API key, REMOTE_USER from the site's own auth step,
  and OAuth2 tokens minting user, group and institution claims;
- a caller the ACL does not admit gets exactly the unknown job's answer
  (status, body, headers), from /media/status and /media/job_id;
- admitted answers are private (never for a shared cache);
- expired and revoked tokens, a bad API key: 401 for known and unknown jobs
  alike; an introspection outage: 503, never an open door;
- only access tokens meant for mediagate are credentials: a refresh token,
  a token for another API at the same server (its aud) are 401, also when
  any audience is accepted (a choice logged at start) for the refresh token;
- identity claims with a NUL inside, or outside the ACL id alphabet, are
  refused (and so is such a people directory answer); exp read as RFC 7519
  says (a fraction, a string), and an admitted token is not cached past it;
- POST /uploads acl= and `mediagate jobs acl` set it.
"""

import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from mgstack import MG_BIN, MG_ROOT, free_port, wait_past

OAUTH = MG_ROOT / "tests" / "oauth2"
JW_SECRET = "uA96CFtJa138E2T5GhKfngml"
SESSIONS = {"session=s-bob": "bob", "session=s-dave": "dave", "session=s-mallory": "mallory"}
MEDIA_AUD = "https://media.example/"   # the aud tests/oauth2/server.mjs gives callers' tokens


def secret(cid):
    return f"{cid}-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def oidc():
    if not (OAUTH / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("run scripts/deps (npm ci in tests/oauth2)")
    port = free_port()
    p = subprocess.Popen(["node", str(OAUTH / "server.mjs")], env={**os.environ, "PORT": str(port)},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = ""
    deadline = time.monotonic() + 120  # a cap: a loaded machine starts node slowly
    while time.monotonic() < deadline and not line.startswith("listening"):
        line = p.stdout.readline()
        if not line and p.poll() is not None:
            break
    assert line.startswith("listening"), f"oidc-provider did not start: {line}"
    threading.Thread(target=p.stdout.read, daemon=True).start()
    p.url = f"http://127.0.0.1:{port}"
    yield p
    p.terminate()
    p.wait(10)


@pytest.fixture(scope="module")
def site_auth():
    """The site's own auth step: 200 with X-User for a known session
    cookie, 200 without it otherwise (anonymous visitors are welcome)."""
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            user = SESSIONS.get(self.headers.get("Cookie", ""))
            self.send_response(200)
            if user:
                self.send_header("X-User", user)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield s.server_address[1]
    s.shutdown()


class Directory:
    """The site's people directory: GET /people/<user> with a bearer token
    that it checks by introspection at the authorization server, as a real
    directory would; knows dave (Lookup-shaped objects) and mallory (a group
    with a NUL inside). .hits counts the people asked for; .down makes it
    answer 503."""

    def __init__(self, oidc):
        self.hits, self.down, d = [], False, self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                tok = self.headers.get("Authorization", "")[7:]
                r = subprocess.run(["curl", "-sS", "-u", f"mediagate:{secret('mediagate')}", "-d",
                                    f"token={tok}", f"{oidc.url}/token/introspection"],
                                   capture_output=True, text=True, timeout=10)
                user = self.path.rsplit("/", 1)[-1]
                d.hits.append(user)
                if d.down:
                    code, body = 503, {}
                elif not json.loads(r.stdout or "{}").get("active"):
                    code, body = 401, {}
                elif user == "dave":
                    code, body = 200, {"groups": [{"groupid": "101888"}, "readers"],
                                       "institutions": [{"instid": "UIS"}]}
                elif user == "mallory":
                    code, body = 200, {"groups": ["readers", "staff\u0000-interns"], "institutions": []}
                else:
                    code, body = 404, {}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/people/{{user}}"


@pytest.fixture(scope="module")
def directory(oidc):
    d = Directory(oidc)
    yield d
    d.server.shutdown()


@pytest.fixture
def env_extra():
    """Settings a test changes (parametrize env_extra to override)."""
    return {}


@pytest.fixture
def mg_env(oidc, site_auth, rundir, directory, env_extra):
    return {**{
        "MEDIAGATE_OAUTH2_TOKEN_URL": f"{oidc.url}/token",
        "MEDIAGATE_LOOKUP_URL": directory.url,
        "MEDIAGATE_LOOKUP_PEOPLE_CACHE_LIFETIME": "60",
        "MEDIAGATE_STREAM_AUTH": "remote_user",
        "MEDIAGATE_OAUTH2_INTROSPECTION_URL": f"{oidc.url}/token/introspection",
        "MEDIAGATE_OAUTH2_CLIENT_ID": "mediagate",
        "MEDIAGATE_OAUTH2_CLIENT_SECRET": secret("mediagate"),
        "MEDIAGATE_OAUTH2_USER_CLAIM": "user",
        "MEDIAGATE_OAUTH2_AUDIENCE": f"urn:example:unused, {MEDIA_AUD}",
        "MEDIAGATE_OAUTH2_CACHE_SECONDS": "1",
        "MEDIAGATE_THREADS": "4",
        "MEDIAGATE_JWPLATFORM_API_KEY": "XOqEAfxj",
        "MEDIAGATE_JWPLATFORM_API_SECRET": JW_SECRET,
        "MEDIAGATE_JWPLATFORM_PLAYER_KEY": "ALJ3XQCI",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "NGINX_SITE_EXTRA": f"""auth_request /_site_auth;
    auth_request_set $mediagate_user $upstream_http_x_user;
    location = /_site_auth {{
        internal;
        proxy_pass http://127.0.0.1:{site_auth};
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }}""",
    }, **env_extra}


@pytest.fixture
def nginx_includes():
    return ("upload_conf",)


def token(oidc, cid, resource=None):
    more = ["-d", f"resource={resource}"] if resource else []
    r = subprocess.run(["curl", "-sS", "-u", f"{cid}:{secret(cid)}", "-d", "grant_type=client_credentials",
                        "-d", "scope=media", *more, f"{oidc.url}/token"], capture_output=True, text=True,
                       timeout=20)
    return json.loads(r.stdout)["access_token"]


def refresh_token(oidc):
    """A refresh token of alice's, as a login with offline_access gives
    (minted by the server's test route with oidc-provider's own models)."""
    r = subprocess.run(["curl", "-sS", "-X", "POST", f"{oidc.url}/test/refresh-token"],
                       capture_output=True, text=True, timeout=20)
    return json.loads(r.stdout)["refresh_token"]


def introspect(oidc, tok):
    """The authorization server's own answer for tok."""
    r = subprocess.run(["curl", "-sS", "-u", f"mediagate:{secret('mediagate')}", "-d", f"token={tok}",
                        f"{oidc.url}/token/introspection"], capture_output=True, text=True, timeout=20)
    return json.loads(r.stdout)


def add_job(stack, job_id, acl, status="COMPLETE", input_file=None):
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, status, progress_rate, duration_ms, output_path, acl) "
        "VALUES (%s, 'local', %s, %s, 100, 1000, '/media-files/' || %s || '/', %s)",
        (job_id, input_file or f"uploads/{job_id}.mp4", status, job_id, acl))


def status(stack, job_id, *headers):
    args = []
    for h in headers:
        args += ["-H", h]
    return stack.curl(*args, "-G", "--data-urlencode", f"job_id={job_id}", "/media/status")


def comparable(r):
    """What a client sees of an answer, but its date and request id."""
    return r.status, r.body, sorted((k.lower(), v) for k, v in r.headers
                                    if k.lower() not in ("date", "x-request-id"))


# Each ACL, and who of (anonymous, apikey alice, REMOTE_USER bob, oauth2
# alice [groups 101888 staff, inst UIS], oauth2 bob [students, CHEM],
# oauth2 carol [none], oauth2 nobody [no user claim]) it admits.
MATRIX = [
    (None, "1111111"),
    ("WORLD", "1111111"),
    ("CAM", "0111110"),
    ("USER_alice", "0101000"),
    ("USER_bob", "0010100"),
    ("GROUP_staff", "0001000"),
    ("GROUP_students", "0000100"),
    ("INST_UIS", "0001000"),
    ("INST_CHEM", "0000100"),
    ("USER_carol,GROUP_101888", "0001010"),
]
CALLERS = ["anonymous", "apikey:alice", "remote_user:bob", "oauth2:alice", "oauth2:bob",
           "oauth2:carol", "oauth2:nobody"]


def test_acl_matrix(stack, oidc):
    key = stack.mg("apikey", "create", "alice")
    creds = {
        "anonymous": [],
        "apikey:alice": [f"Authorization: Bearer {key}"],
        "remote_user:bob": ["Cookie: session=s-bob"],
    }
    for cid in ("alice", "bob", "carol", "nobody"):
        creds[f"oauth2:{cid}"] = [f"Authorization: Bearer {token(oidc, cid)}"]
    unknown = {c: comparable(status(stack, "no-such-job", *creds[c])) for c in CALLERS}
    for c in CALLERS:
        assert unknown[c][0] == 422 or (c == "oauth2:nobody" and unknown[c][0] == 401), (c, unknown[c])
    for i, (acl, admits) in enumerate(MATRIX):
        jid = f"acl-job-{i}"
        add_job(stack, jid, acl)
        for c, want in zip(CALLERS, admits):
            r = status(stack, jid, *creds[c])
            if c == "oauth2:nobody":
                # Active, but the token names no user: not a caller.
                assert r.status == 401, (acl, c, r)
                continue
            if want == "1":
                assert r.status == 200 and r.json()["job_status"] == "COMPLETE", (acl, c, r)
                cc = r.header("Cache-Control")
                assert cc.startswith("private") if acl else cc.startswith("public"), (acl, c, cc)
            else:
                # Not admitted: exactly the unknown job's answer.
                assert comparable(r) == unknown[c], (acl, c, r)
            # /media/job_id the same way.
            j = stack.curl(*sum((["-H", h] for h in creds[c]), []), "-G", "--data-urlencode",
                           f"input_file=uploads/{jid}.mp4", "/media/job_id")
            assert j.status == (200 if want == "1" else 422), (acl, c, j)


def test_bad_credentials_are_401_for_every_job(stack, oidc):
    add_job(stack, "private-1", "USER_alice")
    minted = time.monotonic()
    short = token(oidc, "shortlived")
    assert status(stack, "private-1", f"Authorization: Bearer {short}").status == 200
    revoked = token(oidc, "alice")
    assert status(stack, "private-1", f"Authorization: Bearer {revoked}").status == 200
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u", f"alice:{secret('alice')}",
                        "-d", f"token={revoked}", f"{oidc.url}/token/revocation"],
                       capture_output=True, text=True, timeout=20)
    assert r.stdout == "200", r
    # Past the shortlived token's 10 s since it was minted, and the 1 s cache.
    wait_past(minted + 11.2)
    for bad in (f"Authorization: Bearer {short}", f"Authorization: Bearer {revoked}",
                "Authorization: Bearer not-a-token-at-all", "Authorization: Bearer mgk_0000",
                "Authorization: Basic YWxpY2U6eA=="):
        a, b = status(stack, "private-1", bad), status(stack, "no-such-job", bad)
        assert a.status == 401, (bad, a)
        assert comparable(a) == comparable(b), bad


def test_introspection_outage_is_503_never_open(stack, oidc):
    add_job(stack, "private-2", "CAM")
    add_job(stack, "public-2", None)
    t = token(oidc, "carol")
    stopped = time.monotonic()
    oidc.send_signal(signal.SIGSTOP)  # hung: connects, never answers
    try:
        wait_past(stopped + 1.2)  # any cached answer is older than the 1 s cache
        r = status(stack, "private-2", f"Authorization: Bearer {t}")
        assert r.status == 503 and r.header("Retry-After"), r
        took = stack.took_us(r)
        assert took is not None and took < 5_000_000, f"a hung endpoint must be bounded: {took} us in the app"
        # Anonymous callers of public jobs never wait on it.
        assert status(stack, "public-2").status == 200
        assert status(stack, "private-2").status == 422
    finally:
        oidc.send_signal(signal.SIGCONT)
    assert status(stack, "private-2", f"Authorization: Bearer {t}").status == 200


def test_uploads_and_cli_set_the_acl(stack):
    r = stack.curl("-X", "POST", "-H", "Cookie: session=s-bob", "--data-urlencode", "name=a.mp4",
                   "--data-urlencode", "acl=USER_bob, GROUP_staff", "/uploads")
    assert r.status == 201, r
    jid = r.json()["job_id"]
    assert stack.db.conn.execute("SELECT acl FROM jobs WHERE id = %s", (jid,)).fetchone()[0] == \
        "USER_bob,GROUP_staff"
    assert status(stack, jid, "Cookie: session=s-bob").status == 200
    assert status(stack, jid, "Cookie: session=s-dave").status == 422
    assert status(stack, jid).status == 422
    r = stack.curl("-X", "POST", "-H", "Cookie: session=s-bob", "--data-urlencode", "name=b.mp4",
                   "--data-urlencode", "acl=ADMIN", "/uploads")
    assert r.status == 400 and "'ADMIN' is not an ACL entry" in r.json()["message"], r
    out = stack.mg("jobs", "acl", jid, "USER_dave").splitlines()
    assert out[0] == f"job {jid}: USER_dave"
    # What the change reaches and by when, what it cannot recall, how to avoid it.
    text = " ".join(out[1:])
    assert "within 2 s" in text and "cannot recall" in text, out
    assert "keep playing" in text and "acl= at upload" in text, out
    assert status(stack, jid, "Cookie: session=s-dave").status == 200
    # Its owner (bob, who uploaded it) always sees it; anyone else not.
    assert status(stack, jid, "Cookie: session=s-bob").status == 200
    assert status(stack, jid).status == 422
    assert stack.mg("jobs", "acl", jid, "--world") == f"job {jid}: WORLD (no ACL)"
    assert status(stack, jid).status == 200


def test_groups_from_the_people_directory(stack, directory):
    """REMOTE_USER and API key callers carry no groups: the directory is
    asked (with mediagate's own client credentials token), once per user
    while cached; unknown people get none; an outage is 503."""
    add_job(stack, "grp-1", "GROUP_101888")
    add_job(stack, "inst-1", "INST_UIS")
    add_job(stack, "user-1", "USER_dave")
    directory.hits.clear()
    assert status(stack, "grp-1", "Cookie: session=s-dave").status == 200
    assert status(stack, "inst-1", "Cookie: session=s-dave").status == 200
    assert directory.hits == ["dave"], "asked once, then cached"
    assert status(stack, "user-1", "Cookie: session=s-dave").status == 200
    assert directory.hits == ["dave"], "USER_ entries need no directory"
    key = stack.mg("apikey", "create", "dave")
    assert status(stack, "grp-1", f"Authorization: Bearer {key}").status == 200
    assert status(stack, "grp-1", "Cookie: session=s-bob").status == 422
    assert directory.hits == ["dave", "bob"]
    assert status(stack, "grp-1").status == 422   # anonymous: nobody to look up
    assert directory.hits == ["dave", "bob"]
    directory.down = True
    try:
        add_job(stack, "grp-2", "GROUP_staff")
        key2 = stack.mg("apikey", "create", "erin")
        r = status(stack, "grp-2", f"Authorization: Bearer {key2}")
        assert r.status == 503 and r.header("Retry-After"), r
        assert r.json()["message"] == "The people directory is unavailable; retry later."
    finally:
        directory.down = False


def jw_video(stack, key, acl, status="ready"):
    """A mirrored JW Platform video and the job derived from it, as
    mediagate sync leaves them (sql/013)."""
    data = {"key": key, "status": status, "duration": "12.50", "title": key,
            "custom": {} if acl is None else {"sms_acl": acl}}
    stack.db.conn.execute("INSERT INTO cached_resource (type, key, data) VALUES ('video', %s, %s)",
                          (key, json.dumps(data)))
    stack.db.conn.execute("SELECT mediagate_mirror_derive(false, %s)", (key,))
    return f"jwplatform:{key}"


def test_jwplatform_videos_follow_their_sms_acl_and_sign_sources(stack):
    import base64, hashlib, hmac
    key = stack.mg("apikey", "create", "alice")
    alice = f"Authorization: Bearer {key}"
    pub, priv, bad = jw_video(stack, "Vpub0001", None), jw_video(stack, "Vprv0001", "acl:USER_alice:"), \
        jw_video(stack, "Vbad0001", "acl:ROOT,USER_alice,GROUP_x y:")
    r = status(stack, pub)
    assert r.status == 200 and r.json()["job_status"] == "COMPLETE", r
    assert status(stack, priv).status == 422                    # anonymous
    assert comparable(status(stack, priv)) == comparable(status(stack, "no-such-job"))
    r = status(stack, priv, alice)
    assert r.status == 200 and r.header("Cache-Control").startswith("private"), r
    b = r.json()
    # Signed the platform's way: MD5 exp/sig, and the /v2/ JWT token.
    hls, v2 = b["sources"]
    url, q = hls["file"].split("?")
    exp, sig = (v.split("=")[1] for v in q.split("&"))
    assert url == "https://cdn.jwplayer.com/manifests/Vprv0001.m3u8"
    assert sig == hashlib.md5(f"manifests/Vprv0001.m3u8:{exp}:{JW_SECRET}".encode()).hexdigest()
    assert int(exp) % 180 == 0 and int(exp) > time.time() + 3500
    tok = v2["file"].split("?token=")[1]
    h, p, s = tok.split(".")
    want = base64.urlsafe_b64encode(hmac.new(JW_SECRET.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
    assert s == want.rstrip(b"=").decode()
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    assert claims == {"resource": "/v2/media/Vprv0001", "exp": int(exp)}
    embed, q = b["embed_url"].split("?")
    assert embed == "https://cdn.jwplayer.com/players/Vprv0001-ALJ3XQCI.html"
    assert q.split("&")[1].split("=")[1] == hashlib.md5(
        f"players/Vprv0001-ALJ3XQCI.html:{exp}:{JW_SECRET}".encode()).hexdigest()
    # Malformed entries grant nothing, are logged once, and no 500.
    assert status(stack, bad, alice).status == 200
    assert status(stack, bad, alice).status == 200
    assert status(stack, bad).status == 422
    log = stack.app.log_path.read_text()
    assert log.count("job jwplatform:Vbad0001: 2 ACL entries") == 1, log[-2000:]
    # A deleted video's job keeps its ACL; the ACL follows a changed video.
    stack.db.conn.execute("UPDATE cached_resource SET data = jsonb_set(data, '{custom}', "
                          "'{\"sms_acl\": \"acl:WORLD:\"}') WHERE key = 'Vprv0001'")
    assert status(stack, priv).status == 200
    j = stack.curl("-G", "--data-urlencode", "input_file=jwplatform/Vbad0001", "/media/job_id")
    assert j.status == 422, j


def bearer(tok):
    return f"Authorization: Bearer {tok}"


def refused(stack, job_id, tok, message):
    """tok is a 401 with message, for job_id and an unknown job alike."""
    a, b = status(stack, job_id, bearer(tok)), status(stack, "no-such-job", bearer(tok))
    assert a.status == 401 and message in a.json()["message"], (message, a)
    assert comparable(a) == comparable(b), a


def test_only_access_tokens_meant_for_mediagate(stack, oidc):
    """Every token here is active at the same authorization server; only
    an access token whose aud is in MEDIAGATE_OAUTH2_AUDIENCE is a caller."""
    add_job(stack, "aud-1", "USER_alice")
    mine = token(oidc, "alice")
    assert introspect(oidc, mine)["aud"] == MEDIA_AUD
    assert status(stack, "aud-1", bearer(mine)).status == 200
    other = token(oidc, "alice", resource="https://other-api.example/")
    assert introspect(oidc, other)["active"] is True
    refused(stack, "aud-1", other, "not meant for this service")
    # mediagate's own token, for the people directory.
    r = subprocess.run(["curl", "-sS", "-u", f"mediagate:{secret('mediagate')}", "-d",
                        "grant_type=client_credentials", "-d", "scope=lookup", f"{oidc.url}/token"],
                       capture_output=True, text=True, timeout=20)
    refused(stack, "aud-1", json.loads(r.stdout)["access_token"], "not meant for this service")
    rt = refresh_token(oidc)
    assert introspect(oidc, rt)["active"] is True
    refused(stack, "aud-1", rt, "The bearer token")
    log = stack.app.log_path.read_text()
    assert "MEDIAGATE_OAUTH2_AUDIENCE is *" not in log
    for t in (mine, other, rt):
        assert t not in log


@pytest.mark.parametrize("env_extra", [{"MEDIAGATE_OAUTH2_AUDIENCE": "*", "MEDIAGATE_OAUTH2_USER_CLAIM": "sub"}])
def test_any_audience_is_a_logged_choice_and_refresh_tokens_are_never_callers(stack, oidc, env_extra):
    add_job(stack, "aud-2", "USER_alice")
    assert status(stack, "aud-2", bearer(token(oidc, "alice"))).status == 200
    # Documented: with *, another API's access token is admitted too.
    assert status(stack, "aud-2", bearer(token(oidc, "alice", "https://other-api.example/"))).status == 200
    rt = refresh_token(oidc)
    answer = introspect(oidc, rt)
    assert answer["active"] is True and answer["sub"] == "alice" and "token_type" not in answer, answer
    refused(stack, "aud-2", rt, "not an access token")
    assert "MEDIAGATE_OAUTH2_AUDIENCE is *: active access tokens of any audience" in \
        stack.app.log_path.read_text()
    r = subprocess.run([str(MG_BIN), "check-config"], env={**stack.env}, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "MEDIAGATE_OAUTH2_AUDIENCE is *" in r.stderr, r


def test_identity_claims_with_a_nul_or_outside_the_id_alphabet_are_refused(stack, oidc, directory):
    add_job(stack, "nul-1", "USER_alice")
    add_job(stack, "nul-2", "GROUP_staff")
    add_job(stack, "nul-3", "CAM")
    for cid, job in (("nuluser", "nul-1"), ("nulgroup", "nul-2"), ("badid", "nul-3")):
        t = token(oidc, cid)
        a = introspect(oidc, t)
        assert a["active"] and ("\x00" in a["user"] + "".join(a["groups"])) == (cid != "badid"), a
        refused(stack, job, t, "are not ids")
    # mallory's directory entry holds "staff\u0000-interns": the answer is refused.
    r = status(stack, "nul-2", "Cookie: session=s-mallory")
    assert r.status == 503 and r.json()["message"] == "The people directory is unavailable; retry later.", r
    assert "people lookup: the answer names a group or institution that is not an ACL id" in \
        stack.app.log_path.read_text()
    assert status(stack, "nul-2", bearer(token(oidc, "alice"))).status == 200


@pytest.mark.parametrize("env_extra", [{"MEDIAGATE_OAUTH2_CACHE_SECONDS": "300"}])
def test_exp_is_a_numericdate_and_the_cache_ends_by_it(stack, oidc, env_extra):
    """The server's answers for these clients carry exp as a number with a
    fraction or as a string (tests/oauth2/server.mjs shapes them)."""
    add_job(stack, "exp-1", "USER_alice")
    past = token(oidc, "expfrac-past")
    assert introspect(oidc, past)["exp"] < time.time() - 3000
    refused(stack, "exp-1", past, "not active")
    stringy = token(oidc, "expstr-past")
    assert isinstance(introspect(oidc, stringy)["exp"], str)
    refused(stack, "exp-1", stringy, "The bearer token")
    # Admitted before its exp (x.5), cached for up to 300 s, but never past exp.
    for _ in range(3):
        soon = token(oidc, "expfrac-soon")
        exp = introspect(oidc, soon)["exp"]
        assert exp != int(exp), exp
        if status(stack, "exp-1", bearer(soon)).status == 200:
            break
    else:
        pytest.fail("a fresh expfrac-soon token was never admitted")
    while True:
        sent = time.time()
        r = status(stack, "exp-1", bearer(soon))
        if sent >= exp:
            assert r.status == 401, (sent - exp, r)
            break
        assert r.status in (200, 401), r
        time.sleep(0.2)
def test_apikey_names_are_acl_ids_and_list_prints_old_ones_safely(db):
    """An API key's name is the user ACL entries name (USER_<name>): create
    refuses anything outside the ACL id alphabet, before the database, and
    list shows whatever older rows hold on one line each, with no byte a
    terminal would act on."""
    env = {**os.environ, "MEDIAGATE_DATABASE_URL": db.url}

    def mg(*args):
        return subprocess.run([str(MG_BIN), *args], env=env, capture_output=True, timeout=60)

    for name in ("evil\x1b]0;pwned\x07", "a\nb", "tab\there", "with space", "", "x" * 129,
                 "caf\u00e9", "USER_ok,GROUP_staff"):
        r = mg("apikey", "create", name)
        assert r.returncode == 2 and r.stdout == b"", (name, r)
        assert b"1 to 128 of A-Z a-z 0-9 . _ @ -" in r.stderr, (name, r)
        assert b"\x1b" not in r.stderr and b"\x07" not in r.stderr, r.stderr
    assert db.one("SELECT count(*) FROM api_keys") == 0
    ok = "alice.smith@example-1_x"
    r = mg("apikey", "create", ok)
    assert r.returncode == 0 and r.stdout.startswith(b"mgk_"), r
    # Rows written before names were checked.
    for old in ("evil\x1b[2J\x1b]0;x\x07", "two\nlines", "c1\u009b31m", "caf\u00e9"):
        db.conn.execute("INSERT INTO api_keys (name, key_hash, key_prefix) "
                        "VALUES (%s, sha256(convert_to(%s, 'UTF8')), 'mgk_old')", (old, old))
    r = mg("apikey", "list")
    assert r.returncode == 0, r
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 6, lines
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", r.stdout.decode()), r.stdout
    names = [ln.split()[1] for ln in lines[1:]]
    assert names == [ok, "evil?[2J?]0;x?", "two?lines", "c1?31m", "caf\u00e9"], names
