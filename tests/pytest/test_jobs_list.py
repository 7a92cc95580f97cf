"""The library: GET /media/jobs (a caller's jobs, newest first, a keyset
cursor) and GET /media/jobs/<id>, through real nginx and PostgreSQL:

- who sees what: the caller's own jobs and those whose ACL names them
  (USER_, and GROUP_ from the people directory), never another owner's job
  merely public (WORLD, CAM, no ACL), never a deleted job; anonymous 401;
- an item is /media/status's answer for the job plus the library's fields,
  and a job's owner alone sees its ACL;
- filters (status, backend) and the search over the name (title, upload
  file name, stream name, input file);
- paging while jobs are inserted: every job that existed at the start is
  seen exactly once, and a filter that rarely matches ends pages early
  with a cursor (a bounded scan) without losing a job;
- hostile cursors, limits and words: 400 with a message, never 500;
- the page's plan: one index scan of job_readers per principal, under a
  Limit, no Sort of the caller's rows;
- the routes that make a job set its owner (POST /media/jobs register).
Every answer is checked against openapi.yaml by the stack fixture.
"""

import base64
import json
import os
import re
import struct
import subprocess
import threading
import uuid

import pytest

import mgstack
from test_acl import Directory, oidc, secret  # noqa: F401 (fixtures)


@pytest.fixture
def mg_env(request, rundir):
    env = {"MEDIAGATE_THREADS": "4", "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads")}
    if "people" in request.fixturenames:
        o = request.getfixturevalue("oidc")
        d = request.getfixturevalue("people")
        env.update({"MEDIAGATE_OAUTH2_TOKEN_URL": f"{o.url}/token",
                    "MEDIAGATE_LOOKUP_URL": d.url,
                    "MEDIAGATE_OAUTH2_CLIENT_ID": "mediagate",
                    "MEDIAGATE_OAUTH2_CLIENT_SECRET": secret("mediagate")})
    if "signing" in request.fixturenames:
        env.update({"MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
                    "MEDIAGATE_MEDIA_SIGNING_SECRET": "list-signing-secret-0123456789abcdef",
                    "MEDIAGATE_MEDIA_URL_LIFETIME": "600"})
    if "mux_profile" in request.fixturenames:
        env.update({"MEDIAGATE_MUX_TOKEN_ID": "mux-token-id-list",
                    "MEDIAGATE_MUX_TOKEN_SECRET": "mux-token-secret-list-0123456789",
                    "MEDIAGATE_MUX_API_URL": "http://127.0.0.1:9", "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on"})
    return env


@pytest.fixture
def mux_profile():
    """The mux encoder is set up for the test's stack (mg_env; no worker
    runs, so it is never called)."""
    return "mux-hd"


@pytest.fixture
def signing():
    """MEDIAGATE_MEDIA_SIGNING_SECRET is set for the test's stack (mg_env)."""
    return True


@pytest.fixture
def people(oidc):  # noqa: F811
    d = Directory(oidc)
    yield d
    d.server.shutdown()


def apikey(stack, name):
    """A new API key named name: (key, its owner string)."""
    key = stack.mg("apikey", "create", name)
    kid = stack.db.one("SELECT id FROM api_keys WHERE name = %s ORDER BY id DESC LIMIT 1", name)
    return key, f"key:{kid}"


def add_job(stack, job_id, owner, acl=None, status="COMPLETE", backend="local", ago_s=0,
            input_file=None, title=None):
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, status, progress_rate, duration_ms, output_path, "
        "acl, owner, title, created_at) VALUES (%s, %s, %s, %s, 100, 1000, '/media-files/' || %s || '/', "
        "%s, %s, %s, now() - make_interval(secs => %s))",
        (job_id, backend, input_file or f"uploads/{job_id}/{job_id}.mp4", status, job_id, acl, owner,
         title, ago_s))


def get(stack, key, path, **params):
    args = ["-H", f"Authorization: Bearer {key}"] if key else []
    args += ["-G"]
    for k, v in params.items():
        args += ["--data-urlencode", f"{k}={v}"]
    return stack.curl(*args, path)


def listed(stack, key, **params):
    r = get(stack, key, "/media/jobs", **params)
    assert r.status == 200, r
    assert r.header("Cache-Control") == "private, no-cache", r
    return r.json()


def ids(page):
    return [i["job_id"] for i in page["items"]]


def walk(stack, key, limit, **params):
    """Every page's ids, following next_cursor; (ids, pages)."""
    seen, pages, cursor = [], 0, None
    while True:
        p = dict(params, limit=limit, **({"cursor": cursor} if cursor else {}))
        page = listed(stack, key, **p)
        pages += 1
        seen += ids(page)
        cursor = page["next_cursor"]
        if not cursor:
            return seen, pages
        assert pages < 10000


def comparable(r):
    """What a client sees of an answer but its date and request id."""
    return r.status, r.body, sorted((k.lower(), v) for k, v in r.headers
                                    if k.lower() not in ("date", "x-request-id"))


def test_who_sees_what(stack):
    alice, a_owner = apikey(stack, "alice")
    bob, b_owner = apikey(stack, "bob")
    carol, _ = apikey(stack, "carol")
    add_job(stack, "a-plain", a_owner, ago_s=10)
    add_job(stack, "a-world", a_owner, acl="WORLD", ago_s=9)
    add_job(stack, "a-cam", a_owner, acl="CAM,USER_dora", ago_s=8)
    add_job(stack, "b-plain", b_owner, ago_s=7)
    add_job(stack, "b-world", b_owner, acl="WORLD", ago_s=6)
    add_job(stack, "b-cam", b_owner, acl="CAM", ago_s=5)
    add_job(stack, "b-alice", b_owner, acl="USER_alice", ago_s=4)
    add_job(stack, "b-carol", b_owner, acl="GROUP_x,USER_carol", ago_s=3)
    add_job(stack, "b-both", b_owner, acl="USER_bob,USER_alice", ago_s=2)
    add_job(stack, "nobody", None, ago_s=1)
    add_job(stack, "a-gone", a_owner, ago_s=0)
    stack.db.conn.execute("UPDATE jobs SET deleted_at = now() WHERE id = 'a-gone'")

    page = listed(stack, alice)
    assert ids(page) == ["b-both", "b-alice", "a-cam", "a-world", "a-plain"]
    assert page["next_cursor"] is None
    by = {i["job_id"]: i for i in page["items"]}
    assert by["a-plain"]["mine"] is True and by["a-plain"]["acl"] is None
    assert by["a-cam"]["acl"] == "CAM,USER_dora"
    assert by["b-alice"]["mine"] is False and "acl" not in by["b-alice"]
    assert ids(listed(stack, bob)) == ["b-both", "b-carol", "b-alice", "b-cam", "b-world", "b-plain"]
    assert ids(listed(stack, carol)) == ["b-carol"]
    r = get(stack, None, "/media/jobs")
    assert r.status == 401 and r.json()["success"] is False, r
    # A console session made from alice's key is alice.
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {alice}", "/media/session")
    assert r.status == 201, r
    assert listed(stack, r.json()["token"]) == page

    # An item is /media/status's answer plus the library's fields.
    st = get(stack, alice, "/media/status", job_id="a-plain").json()
    item = dict(by["a-plain"])
    for k in ("job_id", "name", "backend", "created_at", "updated_at", "mine", "acl"):
        item.pop(k)
    st.pop("success")
    assert item == st
    assert by["a-plain"]["name"] == "a-plain.mp4" and by["a-plain"]["backend"] == "local"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by["a-plain"]["created_at"])

    # One job: its owner, a caller its ACL admits, as /media/status.
    r = get(stack, alice, "/media/jobs/a-cam")
    assert r.status == 200 and r.json()["acl"] == "CAM,USER_dora" and r.json()["success"], r
    assert r.header("Cache-Control") == "private, no-cache"
    r = get(stack, alice, "/media/jobs/b-alice")
    assert r.status == 200 and r.json()["mine"] is False and "acl" not in r.json(), r
    assert get(stack, alice, "/media/jobs/b-world").status == 200   # WORLD: as /media/status
    unknown = comparable(get(stack, carol, "/media/status", job_id="no-such-job"))
    for who, job in ((carol, "b-alice"), (alice, "b-carol"), (alice, "a-gone"), (alice, "no-such-job")):
        r = get(stack, who, f"/media/jobs/{job}")
        assert comparable(r) == unknown, (job, r)
    assert get(stack, None, "/media/jobs/a-plain").status == 401
    add_job(stack, "jwplatform:Ab_1", a_owner, ago_s=20)   # an id with a colon, percent-encoded
    r = get(stack, alice, "/media/jobs/jwplatform%3AAb_1")
    assert r.status == 200 and r.json()["job_id"] == "jwplatform:Ab_1", r
    # A page revalidates: the same page, the same ETag; 304 to If-None-Match.
    r = get(stack, alice, "/media/jobs")
    assert r.header("ETag"), r
    assert stack.curl("-H", f"Authorization: Bearer {alice}", "-H", f"If-None-Match: {r.header('ETag')}",
                      "/media/jobs").status == 304
    stack.db.conn.execute("DELETE FROM jobs WHERE id = 'jwplatform:Ab_1'")

    # The list follows ACL changes (PATCH /media/jobs/<id>), ownership and deletion at once.
    r = stack.curl("-X", "PATCH", "-H", f"Authorization: Bearer {bob}", "-H",
                   "Content-Type: application/json", "-d", '{"acl": "USER_carol"}', "/media/jobs/b-alice")
    assert r.status == 200, r
    stack.db.conn.execute("UPDATE jobs SET deleted_at = now() WHERE id = 'a-plain'")
    assert ids(listed(stack, alice)) == ["b-both", "a-cam", "a-world"]
    stack.db.conn.execute("UPDATE jobs SET created_at = now() - interval '1 day' WHERE id = 'b-both'")
    assert ids(listed(stack, alice)) == ["a-cam", "a-world", "b-both"]
    assert ids(listed(stack, carol)) == ["b-carol", "b-alice"]
    assert get(stack, alice, "/media/jobs/a-plain").status == 422


def test_groups_from_the_people_directory(stack, people):
    """An API key's user's groups, from the directory, list GROUP_ and
    INST_ jobs (tests/pytest/test_acl.py's directory knows dave)."""
    dave, _ = apikey(stack, "dave")
    _, e_owner = apikey(stack, "erin")
    add_job(stack, "grp", e_owner, acl="GROUP_101888", ago_s=3)
    add_job(stack, "inst", e_owner, acl="INST_UIS", ago_s=2)
    add_job(stack, "other", e_owner, acl="GROUP_nobody", ago_s=1)
    assert ids(listed(stack, dave)) == ["inst", "grp"]
    people.down = True
    try:
        r = get(stack, dave, "/media/jobs")
        assert r.status in (200, 503), r   # cached from the first answer, or refused
    finally:
        people.down = False


def test_filters_and_search(stack):
    alice, owner = apikey(stack, "alice")
    add_job(stack, "j-title", owner, title="Summer Holiday in Crete", ago_s=6)
    add_job(stack, "j-upload", owner, status="PROGRESSING", ago_s=5)
    stack.db.conn.execute(
        "INSERT INTO uploads (id, job_id, owner, name, max_bytes) VALUES (%s, 'j-upload', %s, "
        "'Board Meeting.mov', 100)", (str(uuid.uuid4()), owner))
    add_job(stack, "j-stream", owner, status="ERROR", backend="mux", ago_s=4)
    stack.db.conn.execute(
        "INSERT INTO streams (id, owner, name, type, stream_key_hash, upload_token_hash, upload_expires, "
        "vod_job_id) VALUES (%s, %s, 'Morning Show', 'hls', '\\x01', '\\x02', now(), 'j-stream')",
        (str(uuid.uuid4()), owner))
    add_job(stack, "j-url", owner, input_file="https://cdn.example/a/b/Crete_beach.mp4", ago_s=3)
    add_job(stack, "j-x", owner, title="100% _done_", ago_s=2)
    page = listed(stack, alice)
    names = {i["job_id"]: i["name"] for i in page["items"]}
    assert names == {"j-title": "Summer Holiday in Crete", "j-upload": "Board Meeting.mov",
                     "j-stream": "Morning Show", "j-url": "Crete_beach.mp4", "j-x": "100% _done_"}
    assert ids(listed(stack, alice, q="crete")) == ["j-url", "j-title"]
    assert ids(listed(stack, alice, q="  CRETE   summer ")) == ["j-title"]
    assert ids(listed(stack, alice, q="meeting board")) == ["j-upload"]
    assert ids(listed(stack, alice, q="% _")) == ["j-x"]   # no wildcards
    assert ids(listed(stack, alice, q="morning")) == ["j-stream"]
    assert ids(listed(stack, alice, status="PROGRESSING")) == ["j-upload"]
    assert ids(listed(stack, alice, backend="mux")) == ["j-stream"]
    assert ids(listed(stack, alice, backend="mux", status="COMPLETE")) == []
    assert ids(listed(stack, alice, q="")) == ids(page)
    # docs/library.md's example, as shown there.
    doc = (mgstack.MG_ROOT / "docs" / "library.md").read_text()
    cmd = re.search(r"```sh\n(curl -s -H \"Authorization: Bearer \$key\" \"http://127\.0\.0\.1:8080/media/jobs\?[^\n]*)\n```",
                    doc).group(1).replace("http://127.0.0.1:8080", stack.base)
    r = subprocess.run(["bash", "-c", cmd], env={**os.environ, "key": alice}, capture_output=True,
                       text=True, timeout=60)
    assert [i["name"] for i in json.loads(r.stdout)["items"]] == ["Summer Holiday in Crete"], r
    # A title set later (PATCH /media/jobs/<id>) names the job again.
    r = stack.curl("-X", "PATCH", "-H", f"Authorization: Bearer {alice}", "-H",
                   "Content-Type: application/json", "-d", '{"title": "Crete at night"}',
                   "/media/jobs/j-upload")
    assert r.status == 200, r
    assert ids(listed(stack, alice, q="crete")) == ["j-url", "j-upload", "j-title"]
    for bad in ({"status": "DONE"}, {"status": "complete"}, {"backend": "ffmpeg"},
                {"q": "x" * 201}, {"q": "a b c d e f g h i"}):
        r = get(stack, alice, "/media/jobs", **bad)
        assert r.status == 400 and r.json()["message"], (bad, r)


def cursor_of(us, job_id, version=1):
    raw = bytes([version]) + struct.pack(">q", us) + job_id
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_hostile_cursors_and_limits(stack):
    alice, owner = apikey(stack, "alice")
    for n in range(5):
        add_job(stack, f"h-{n}", owner, ago_s=n)
    good = listed(stack, alice, limit=2)["next_cursor"]
    assert good and ids(listed(stack, alice, limit=2, cursor=good)) == ["h-2", "h-3"]
    hostile = ["garbage!", "a", "=" * 8, "x" * 5000, good + "A", cursor_of(1, b"h-1", 2),
               cursor_of(1, b""), cursor_of(-1, b"\xff\xfe"), cursor_of(1, b"h\x00-1"),
               base64.urlsafe_b64encode(b"\x01short").decode(), "AAAA", good[:4] + "+" + good[5:], good[:4] + "/" + good[5:],
               cursor_of(2**62, b"h-1"), cursor_of(-2**62, b"h-1")]
    for c in hostile:
        r = get(stack, alice, "/media/jobs", cursor=c)
        assert r.status == 400 and r.json()["message"].startswith("cursor"), (c, r)
    r = stack.curl("-H", f"Authorization: Bearer {alice}", "/media/jobs?cursor=AQ%00A")
    assert r.status == 400, r
    # A well-formed cursor naming no job is only a position.
    year_9000, year_1000 = 221845392000 * 10**6, -30610224000 * 10**6
    assert ids(listed(stack, alice, cursor=cursor_of(year_9000, b"zzz"))) == [f"h-{n}" for n in range(5)]
    assert ids(listed(stack, alice, cursor=cursor_of(year_1000, b"a"))) == []
    for lim in ("0", "101", "-1", "abc", "1e2", " 5", "\t5", "+5", "5 ", "0x10", "99999999999999999999", ""):
        r = get(stack, alice, "/media/jobs", limit=lim)
        assert r.status == 400 and r.json()["message"].startswith("limit"), (lim, r)
    assert len(listed(stack, alice, limit="1")["items"]) == 1
    # A long id (1,000 bytes) pages as any other.
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, owner, created_at) SELECT %s, 'local', 'x', %s, "
        "created_at - interval '1 millisecond' FROM jobs WHERE id = 'h-2'", ("L" * 1000, owner))
    seen, _ = walk(stack, alice, 1)
    assert seen == ["h-0", "h-1", "h-2", "L" * 1000, "h-3", "h-4"]
    assert len(listed(stack, alice, limit="100")["items"]) == 6


def test_paging_under_concurrent_inserts(stack):
    """A few hundred jobs (some sharing a created_at, so the id breaks the
    tie) paged 7 at a time while a thread inserts more for the same owner:
    each job of the start is seen once, and no job twice."""
    alice, owner = apikey(stack, "alice")
    _, other = apikey(stack, "mallory")
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, owner, acl, created_at) "
        "SELECT 'p-' || g, 'local', 'uploads/' || g, %s, CASE WHEN g %% 5 = 0 THEN 'USER_alice' END, "
        "now() - make_interval(secs => g / 3) FROM generate_series(1, 300) g", (owner,))
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, owner, acl, created_at) "
        "SELECT 'm-' || g, 'local', 'uploads/m' || g, %s, CASE WHEN g %% 2 = 0 THEN 'USER_alice' "
        "ELSE 'WORLD' END, now() - make_interval(secs => g / 3) FROM generate_series(1, 100) g", (other,))
    start = {r[0] for r in stack.db.rows(
        "SELECT id FROM jobs WHERE owner = %s OR acl = 'USER_alice'", owner)}
    assert len(start) == 350
    stop = threading.Event()
    inserted = []

    def insert():
        conn = stack.db.pg.connect(stack.db.name)
        try:
            n = 0
            while not stop.is_set():
                n += 1
                conn.execute("INSERT INTO jobs (id, backend, input_file, owner) VALUES (%s, 'local', 'x', %s)",
                             (f"new-{n}", owner))
                inserted.append(n)
                stop.wait(0.005)
        finally:
            conn.close()
    t = threading.Thread(target=insert)
    t.start()
    try:
        seen, pages = walk(stack, alice, 7)
    finally:
        stop.set()
        t.join(30)
    assert inserted, "the thread inserted jobs while paging"
    assert len(seen) == len(set(seen)), "a job seen twice"
    assert start <= set(seen), f"missing: {sorted(start - set(seen))[:10]}"
    assert pages >= 350 // 7
    # New jobs are newer: a fresh first page has them.
    assert ids(listed(stack, alice, limit=3))[0].startswith("new-")


def test_a_rare_filter_reads_a_bounded_scan_per_page(stack):
    """2,500 jobs, the ERROR ones only the oldest: a page reads at most
    the scan budget (2,000 rows: 1,000 for each of the key's two
    principals), ends early with a cursor, and the walk still finds each
    match once."""
    alice, owner = apikey(stack, "alice")
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, owner, status, acl, created_at) "
        "SELECT 'r-' || g, 'local', 'uploads/' || g, %s, CASE WHEN g > 2497 THEN 'ERROR' "
        "ELSE 'COMPLETE' END, CASE WHEN g %% 2 = 0 THEN 'USER_alice' END, "
        "now() - make_interval(secs => g) FROM generate_series(1, 2500) g", (owner,))
    first = listed(stack, alice, status="ERROR")
    assert first["items"] == [] and first["next_cursor"], first
    seen, pages = walk(stack, alice, 20, status="ERROR")
    assert seen == ["r-2498", "r-2499", "r-2500"]
    assert 3 <= pages <= 4
    seen, pages = walk(stack, alice, 100, backend="local")   # every one matches
    assert len(seen) == 2500 and len(set(seen)) == 2500 and pages == 25


def test_the_page_is_one_index_scan_per_principal(stack, pg):
    """auto_explain logs the plan of the page statement as mediagate runs
    it, generic (as PostgreSQL settles on after five runs): job_readers_page
    scanned under a Limit, jobs probed by primary key (never a Seq Scan),
    and no Sort of the caller's rows (a Sort is of at most limit + 1)."""
    alice, owner = apikey(stack, "alice")
    _, other = apikey(stack, "mallory")
    for o in (owner, other):
        stack.db.conn.execute(
            "INSERT INTO jobs (id, backend, input_file, owner, created_at) SELECT %s || g, 'local', "
            "'uploads/' || g, %s, now() - make_interval(secs => g) FROM generate_series(1, 20000) g",
            (o, o))
    stack.db.conn.execute("ANALYZE")
    stack.db.conn.execute(f'ALTER DATABASE "{stack.db.name}" SET session_preload_libraries = auto_explain')
    stack.db.conn.execute(f'ALTER DATABASE "{stack.db.name}" SET auto_explain.log_min_duration = 0')
    stack.db.conn.execute(f'ALTER DATABASE "{stack.db.name}" SET auto_explain.log_analyze = on')
    # the plan a prepared statement settles on after five runs, at once
    stack.db.conn.execute(f'ALTER DATABASE "{stack.db.name}" SET plan_cache_mode = force_generic_plan')
    stack.app.stop()   # new connections take the settings
    stack.app = mgstack.App(stack.run, stack.env)
    mark = pg.log_path.stat().st_size
    page = listed(stack, alice, limit=20)
    page = listed(stack, alice, limit=20, cursor=page["next_cursor"])
    assert len(page["items"]) == 20
    log = pg.log_path.read_text(errors="replace")[mark:]
    plans = [p for p in log.split("duration:") if "job_readers_page" in p]
    assert plans, log[-3000:]
    plan = plans[-1]
    assert re.search(r"Limit .*\n\s+->\s+Index (Only )?Scan using job_readers_page on job_readers", plan), plan
    assert "Seq Scan on job_readers" not in plan and "Seq Scan on jobs" not in plan, plan
    # every scan reads at most limit + 1 rows of job_readers
    for m in re.finditer(r"Index (?:Only )?Scan using job_readers_page.*actual time=\S+ rows=(\d+)", plan):
        assert int(m.group(1)) <= 21, plan
    for m in re.finditer(r"Sort .*actual time=\S+ rows=(\d+)", plan):
        assert int(m.group(1)) <= 21, plan
    assert re.search(r"Index Scan using jobs_pkey on jobs", plan), plan


def test_create_sets_the_owner(stack, mux_profile, rundir):
    spec = rundir / "mux.json"
    spec.write_text(json.dumps({"renditions": [{"height": 1080}]}))
    stack.mg("profiles", "add", mux_profile, "--encoder", "mux", spec)
    alice, owner = apikey(stack, "alice")
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {alice}", "--data-urlencode",
                   "input_url=https://cdn.example.com/in/Keynote.mp4?sig=1", "-d", f"profile={mux_profile}",
                   "-d", "acl=USER_bob", "/media/jobs")
    assert r.status == 201, r
    job = r.json()["job_id"]
    assert stack.db.one("SELECT owner FROM jobs WHERE id = %s", job) == owner
    (item,) = listed(stack, alice)["items"]
    assert (item["job_id"], item["name"], item["backend"], item["acl"]) == (job, "Keynote.mp4", "mux", "USER_bob")


def test_register_sets_the_owner(stack):
    alice, owner = apikey(stack, "alice")
    r = stack.curl("-H", f"Authorization: Bearer {alice}", "-d", "backend=zencoder", "-d",
                   "backend_job_id=z-1", "-d", "input_file=s3://b/in/Holiday.mov", "/media/jobs")
    assert r.status == 201, r
    job = r.json()["job_id"]
    assert stack.db.one("SELECT owner FROM jobs WHERE id = %s", job) == owner
    page = listed(stack, alice)
    assert ids(page) == [job] and page["items"][0]["name"] == "Holiday.mov"
    assert page["items"][0]["job_status"] == "SUBMITTED" and page["items"][0]["mine"] is True


def test_items_sign_output_path_as_status_does(stack, signing):
    """With MEDIAGATE_MEDIA_SIGNING_SECRET an item's output_path is the
    signed one /media/status answers (the same code builds both)."""
    alice, owner = apikey(stack, "alice")
    add_job(stack, "s-1", owner, acl="USER_alice")
    for _ in range(2):   # the expiry is rounded to 180 s: a second try if a boundary fell between
        item = listed(stack, alice)["items"][0]
        st = get(stack, alice, "/media/status", job_id="s-1").json()
        one = get(stack, alice, "/media/jobs/s-1").json()
        if item["output_path"] == st["output_path"] == one["output_path"]:
            break
    assert item["output_path"] == st["output_path"] == one["output_path"], (item, st, one)
    assert item["output_path"] != "/media-files/s-1/" and "s-1" in item["output_path"], item


def test_jw_uploads_are_owned_and_named(stack):
    """A JW Platform upload's job (sql/functions/mediagate_jw_upload_*.sql,
    as app/uploads/jwplatform.c runs them) is its uploader's, named by the
    title or the file."""
    alice, owner = apikey(stack, "alice")
    for n, title in ((1, "Launch video"), (2, None)):
        cid = str(uuid.uuid4())
        stack.db.conn.execute("SELECT mediagate_jw_upload_begin(%s, %s, 3600)", (cid, owner))
        stack.db.conn.execute(
            "SELECT mediagate_jw_upload_created(%s, %s, %s, 'video/mp4', 1000, %s, NULL)",
            (cid, f"JwKey{n}", f"file-{n}.mp4", title))
    assert stack.db.rows("SELECT id, owner, name FROM jobs ORDER BY id") == [
        ("jwplatform:JwKey1", owner, "Launch video"), ("jwplatform:JwKey2", owner, "file-2.mp4")]
    assert sorted(ids(listed(stack, alice))) == ["jwplatform:JwKey1", "jwplatform:JwKey2"]


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


def test_an_upload_slot_is_its_callers_job_named_by_its_file(stack):
    """POST /uploads makes the job; the uploads row's triggers own and
    name it, so it is on its caller's first page at once."""
    alice, _ = apikey(stack, "alice")
    bob, _ = apikey(stack, "bob")
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {alice}", "--data-urlencode",
                   "name=Team Offsite.mp4", "/uploads")
    assert r.status == 201, r
    job = r.json()["job_id"]
    (item,) = listed(stack, alice)["items"]
    assert (item["job_id"], item["name"], item["mine"], item["job_status"]) == \
        (job, "Team_Offsite.mp4", True, "SUBMITTED")   # the name the slot stores
    assert listed(stack, bob)["items"] == []


def test_an_owner_keeps_seeing_a_job_shared_with_someone_else(stack):
    """The owner is admitted beside whoever the ACL names (caller_admits,
    for every route reading a job): after `{"acl": "USER_carol"}` its owner
    still reads the job everywhere carol can; a stranger still gets the
    unknown job's answer."""
    alice, owner = apikey(stack, "alice")
    carol, _ = apikey(stack, "carol")
    mallory, _ = apikey(stack, "mallory")
    add_job(stack, "a-priv", owner, acl="USER_alice")
    stack.db.rows("INSERT INTO media_keys (job_id, n, key) VALUES ('a-priv', 1, '\\x000102030405060708090a0b0c0d0e0f') "
                  "RETURNING n")
    f = stack.run / "acl.json"
    f.write_text(json.dumps({"acl": "USER_carol"}))
    r = stack.curl("-X", "PATCH", "-H", f"Authorization: Bearer {alice}", "-H", "Content-Type: application/json",
                   "--data-binary", f"@{f}", "/media/jobs/a-priv")
    assert r.status == 200 and r.json()["acl"] == "USER_carol", r
    routes = (("/media/status", {"job_id": "a-priv"}),
              ("/media/job_id", {"input_file": "uploads/a-priv/a-priv.mp4"}),
              ("/media/thumbnail", {"job_id": "a-priv", "time": "0", "width": "320"}))
    for key in (alice, carol):
        for path, params in routes:
            r = get(stack, key, path, **params)
            assert r.status != 422 or r.json()["message"] != "Not found item.", (path, r)
        r = get(stack, key, "/media/key/a-priv/1")
        assert r.status == 200 and r.header("Cache-Control") == "private, no-store", r
    assert get(stack, alice, "/media/status", job_id="a-priv").json()["job_status"] == "COMPLETE"
    for path, params in routes:
        r = get(stack, mallory, path, **params)
        assert (r.status, r.json()["message"]) == (422, "Not found item."), (path, r)
    assert get(stack, mallory, "/media/key/a-priv/1").status == 404
    assert ids(listed(stack, alice)) == ["a-priv"] and ids(listed(stack, carol)) == ["a-priv"]


def test_a_jw_video_is_listed_to_its_owner_only(stack):
    """A JW Platform video's ACL is the platform's (sms_acl, as
    /media/status reads it), not jobs.acl: it is listed to its owner only,
    so a page never holds a slot that reading it would drop (an empty page
    with a cursor), and whoever the platform's ACL admits reads it by id."""
    bob, owner = apikey(stack, "bob")
    carol, _ = apikey(stack, "carol")
    dave, _ = apikey(stack, "dave")
    add_job(stack, "b-carol", owner, acl="USER_carol", ago_s=60)
    add_job(stack, "jwplatform:K1", owner, acl="USER_carol", backend="jwplatform")
    stack.db.rows("UPDATE jobs SET backend_job_id = 'K1' WHERE id = 'jwplatform:K1' RETURNING id")
    stack.db.rows("INSERT INTO cached_resource (type, key, data) VALUES ('video', 'K1', "
                  "'{\"custom\": {\"sms_acl\": \"acl:USER_dave:\"}}') RETURNING key")
    page = listed(stack, carol, limit=1)
    assert ids(page) == ["b-carol"] and page["next_cursor"] is None, page
    assert ids(listed(stack, carol)) == ["b-carol"]
    assert get(stack, carol, "/media/jobs/jwplatform%3AK1").status == 422
    assert get(stack, dave, "/media/jobs/jwplatform%3AK1").status == 200
    assert get(stack, dave, "/media/status", job_id="jwplatform:K1").status == 200
    assert ids(listed(stack, dave)) == []
    assert ids(listed(stack, bob)) == ["jwplatform:K1", "b-carol"]


def test_migration_044_updates_no_job_and_migrate_fills_the_index(stack):
    """sql/044 only adds a column (no default) and tables: it updates no
    job row (an UPDATE of every job under its ACCESS EXCLUSIVE lock held
    every job route for a minute per million jobs); `mediagate migrate`
    then names the jobs and writes their readers a batch per transaction,
    resuming where it stopped."""
    alice, owner = apikey(stack, "alice")
    # Twelve of migrate's batches (1000 jobs each).
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, status, acl, owner, created_at) "
        "SELECT 'm' || lpad(n::text, 5, '0'), 'local', 'in/m' || n || '.mp4', 'COMPLETE', "
        "CASE WHEN n %% 3 = 0 THEN 'USER_carol,GROUP_g' || n END, %s, now() - make_interval(secs => n) "
        "FROM generate_series(1, 12000) n", (owner,))
    # The database as before sql/044.
    for q in ("DROP TRIGGER jobs_name ON jobs", "DROP TRIGGER uploads_job_name ON uploads",
              "DROP TRIGGER streams_job_name ON streams", "DROP TRIGGER jobs_readers_insert ON jobs",
              "DROP TRIGGER jobs_readers ON jobs", "DROP TABLE job_readers",
              "DROP TABLE IF EXISTS job_readers_fill", "DROP INDEX streams_vod_job",
              "ALTER TABLE jobs DROP COLUMN name"):
        stack.db.conn.execute(q)
    sql = (mgstack.MG_ROOT / "sql" / "044_job_readers.sql").read_text()
    with stack.db.pg.connect(stack.db.name) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL ROLE mediagate")  # as `mediagate migrate` runs it
            conn.execute(sql)
            (updated,) = conn.execute("SELECT n_tup_upd + n_tup_hot_upd FROM pg_stat_xact_user_tables "
                                      "WHERE relname = 'jobs'").fetchone()
    assert updated == 0
    out = stack.mg("migrate")
    assert "filled the library's index (12 batches" in out, out
    assert stack.db.one("SELECT count(*) FROM jobs WHERE name IS NULL") == 0
    assert stack.db.one("SELECT count(*) FROM job_readers") == 12000 + 2 * 4000
    assert stack.db.one("SELECT count(*) FROM job_readers_fill") == 0
    assert stack.db.one("SELECT name FROM jobs WHERE id = 'm00003'") == "m3.mp4"
    page = listed(stack, alice, limit=2)
    assert ids(page) == ["m00001", "m00002"], page
    assert "filled" not in stack.mg("migrate")
