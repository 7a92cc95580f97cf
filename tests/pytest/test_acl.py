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
- POST /uploads acl= and `mediagate jobs acl` set it.
"""

import http.server
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from mgstack import MG_ROOT, free_port, wait_until

OAUTH = MG_ROOT / "tests" / "oauth2"
JW_SECRET = "uA96CFtJa138E2T5GhKfngml"
SESSIONS = {"session=s-bob": "bob", "session=s-dave": "dave"}


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
    directory would; knows dave (Lookup-shaped objects). .hits counts the
    people asked for; .down makes it answer 503."""

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
def mg_env(oidc, site_auth, rundir, directory):
    return {
        "MEDIAGATE_OAUTH2_TOKEN_URL": f"{oidc.url}/token",
        "MEDIAGATE_LOOKUP_URL": directory.url,
        "MEDIAGATE_LOOKUP_PEOPLE_CACHE_LIFETIME": "60",
        "MEDIAGATE_STREAM_AUTH": "remote_user",
        "MEDIAGATE_OAUTH2_INTROSPECTION_URL": f"{oidc.url}/token/introspection",
        "MEDIAGATE_OAUTH2_CLIENT_ID": "mediagate",
        "MEDIAGATE_OAUTH2_CLIENT_SECRET": secret("mediagate"),
        "MEDIAGATE_OAUTH2_USER_CLAIM": "user",
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
    }


@pytest.fixture
def nginx_includes():
    return ("upload_conf",)


def token(oidc, cid):
    r = subprocess.run(["curl", "-sS", "-u", f"{cid}:{secret(cid)}", "-d", "grant_type=client_credentials",
                        "-d", "scope=media", f"{oidc.url}/token"], capture_output=True, text=True, timeout=20)
    return json.loads(r.stdout)["access_token"]


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
    time.sleep(max(0.0, minted + 11.2 - time.monotonic()))
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
    oidc.send_signal(signal.SIGSTOP)  # hung: connects, never answers
    try:
        time.sleep(1.2)  # any cached answer is older than the 1 s cache
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
    assert stack.mg("jobs", "acl", jid, "USER_dave") == f"job {jid}: USER_dave"
    assert status(stack, jid, "Cookie: session=s-dave").status == 200
    assert status(stack, jid, "Cookie: session=s-bob").status == 422
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
