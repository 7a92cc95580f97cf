"""The JW Platform mirror end to end, with real PostgreSQL (and, for
webhooks, real nginx, mediagate serve and the worker), against a stand-in
of the management API that checks the signature, the timestamp's age and
nonce reuse, pages as the real one does and can answer 429
(jwplatform_standin.py):

- mediagate sync: created, updated, unchanged, deleted and revived videos
  and channels; a video rewritten only when its "updated" changed, a
  channel when its data changed; every flag; a failure midway leaving the
  previous mirror; 429s waited out; failures that never reached the API
  retried at most 5 times, a 500 never; two syncs at once;
- POST /notifications/jwplatform: a good, a bad and a missing signature
  (401 and nothing written), and the mirror following a media_updated and
  a media_deleted within seconds.
"""

import base64
import hashlib
import hmac
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from jwplatform_standin import JWStandin, make_channel, make_video
from mgstack import MG_BIN, MG_ROOT, wait_until

FIX = Path(MG_ROOT) / "tests" / "fixtures" / "providers"
API_KEY = "XOqEAfxj"
API_SECRET = "uA96CFtJa138E2T5GhKfngml"
HOOK_SECRET = "jw-webhook-secret-0123456789abcdef"


@pytest.fixture
def jw():
    with JWStandin(API_KEY, API_SECRET) as s:
        yield s


@pytest.fixture
def mg_env(jw):
    return {
        "MEDIAGATE_JWPLATFORM_API_URL": jw.url,
        "MEDIAGATE_JWPLATFORM_API_KEY": API_KEY,
        "MEDIAGATE_JWPLATFORM_API_SECRET": API_SECRET,
        "MEDIAGATE_JWPLATFORM_WEBHOOK_SECRET": HOOK_SECRET,
        "MEDIAGATE_LEASE_SECONDS": "3",
    }


@pytest.fixture
def env(db, mg_env):
    import os
    return {**os.environ, **mg_env, "MEDIAGATE_DATABASE_URL": db.url}


def sync(env, *flags, check=True, **extra):
    r = subprocess.run([str(MG_BIN), "sync", *flags], env={**env, **extra}, capture_output=True,
                       text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def counts(out, what):
    """{'created': n, ...} from the summary line of what ('videos')."""
    line = next(ln for ln in out.splitlines() if ln.startswith(what + ":"))
    return {w: int(n) for n, w in (p.split() for p in line.split(":", 1)[1].split(","))}


def mirror(db, type_):
    """{key: (data, updated, deleted)} of every row of type_."""
    return {k: (d, u, dl) for k, d, u, dl in db.rows(
        "SELECT key, data, updated, deleted_at IS NOT NULL FROM cached_resource WHERE type = %s",
        type_)}


def seed(jw, nvideos=5, nchannels=3):
    for i in range(nvideos):
        v = make_video(f"v{i:07d}", 1465546996 + i)
        jw.videos[v["key"]] = v
    for i in range(nchannels):
        c = make_channel(f"c{i:07d}")
        jw.channels[c["key"]] = c


def test_sync_created_updated_unchanged_deleted_revived(jw, env, db):
    seed(jw, 2100, 3)
    r = sync(env)
    assert counts(r.stdout, "videos") == dict(created=2100, updated=0, deleted=0, revived=0, unchanged=0)
    assert counts(r.stdout, "channels") == dict(created=3, updated=0, deleted=0, revived=0, unchanged=0)
    # Paged like the real client: 1000 a page, offsets by what came back.
    pages = [(p["result_offset"], p["result_limit"], s) for p, s in jw.list_calls("videos")]
    assert pages == [("0", "1000", 200), ("1000", "1000", 200), ("2000", "1000", 200)], pages
    assert "videos: page 3: 2100 of 2100 fetched" in r.stderr and "NOTICE" not in r.stderr, r.stderr
    # Stored as sent: the data, and the integer "updated".
    m = mirror(db, "video")
    assert m["v0000007"][0] == jw.videos["v0000007"] and m["v0000007"][1] == 1465547003
    assert db.one("SELECT count(*) FROM jwplatform_videos") == 2100
    # Their jobs, derived: ready -> COMPLETE.
    assert db.one("SELECT status FROM jobs WHERE id = 'jwplatform:v0000007'") == "COMPLETE"
    assert "jobs derived: 2100" in r.stdout

    jw.videos["v0000001"]["updated"] += 10           # updated: rewritten
    jw.videos["v0000001"]["title"] = "retitled"
    jw.videos["v0000002"]["views"] = 999             # data only: a video is not rewritten
    jw.videos["v0000003"]["status"] = "failed"       # with its updated
    jw.videos["v0000003"]["updated"] += 1
    del jw.videos["v0000004"]                        # gone: deleted_at
    jw.videos["vnew0001"] = make_video("vnew0001", 1700000000)
    jw.channels["c0000001"]["title"] = "renamed"     # channels have no updated: data compared
    del jw.channels["c0000002"]
    r = sync(env)
    assert counts(r.stdout, "videos") == dict(created=1, updated=2, deleted=1, revived=0, unchanged=2097)
    assert counts(r.stdout, "channels") == dict(created=0, updated=1, deleted=1, revived=0, unchanged=1)
    m = mirror(db, "video")
    assert m["v0000001"][0]["title"] == "retitled" and m["v0000001"][1] == 1465546997 + 10
    assert m["v0000002"][0]["views"] == 0
    assert m["v0000004"][2] is True and "v0000004" in m
    assert db.one("SELECT count(*) FROM jwplatform_videos WHERE key = 'v0000004'") == 0
    assert db.one("SELECT count(*) FROM jwplatform_channels") == 2
    assert db.one("SELECT status, error_code FROM jobs WHERE id = 'jwplatform:v0000004'") == ("ERROR", 31)
    assert db.one("SELECT status, error_code FROM jobs WHERE id = 'jwplatform:v0000003'") == ("ERROR", 30)
    assert "jobs derived: 3" in r.stdout   # v0000003, v0000004, vnew0001 (v0000001 stays COMPLETE)

    jw.videos["v0000004"] = make_video("v0000004", 1465547000)   # back: revived
    jw.channels["c0000002"] = make_channel("c0000002")
    r = sync(env)
    assert counts(r.stdout, "videos") == dict(created=0, updated=0, deleted=0, revived=1, unchanged=2100)
    assert counts(r.stdout, "channels") == dict(created=0, updated=0, deleted=0, revived=1, unchanged=2)
    assert mirror(db, "video")["v0000004"][2] is False
    assert db.one("SELECT status FROM jobs WHERE id = 'jwplatform:v0000004'") == "COMPLETE"
    # Containment queries use the GIN index's operator.
    assert db.one("""SELECT count(*) FROM jwplatform_videos WHERE data @> '{"status": "failed"}'""") == 1
    # Every call was signed, fresh and used a new nonce.
    assert all(s == 200 for _, _, s in jw.calls), [c for c in jw.calls if c[2] != 200]


def test_sync_all_rewrites_everything(jw, env, db):
    seed(jw)
    sync(env)
    r = sync(env, "--sync-all")
    assert counts(r.stdout, "videos") == dict(created=0, updated=5, deleted=0, revived=0, unchanged=0)
    assert counts(r.stdout, "channels") == dict(created=0, updated=3, deleted=0, revived=0, unchanged=0)
    assert "jobs derived: 0" in r.stdout   # nothing differed in the jobs themselves
    r = sync(env)
    assert counts(r.stdout, "videos")["unchanged"] == 5


@pytest.mark.parametrize("flag, fetched", [
    ("--skip-video-fetch", ["channels"]), ("--skip-channel-fetch", ["videos"]), ("--skip-fetch", [])])
def test_skip_flags(jw, env, db, flag, fetched):
    seed(jw)
    sync(env)
    jw.calls.clear()
    db.conn.execute("DELETE FROM jobs WHERE id = 'jwplatform:v0000000'")
    db.conn.execute("UPDATE cached_resource SET derived_at = NULL WHERE key = 'v0000000'")
    r = sync(env, flag)
    assert sorted({p.split("/")[2] for p, _, _ in jw.calls}) == fetched, jw.calls
    for kind in ("videos", "channels"):
        assert (kind + ":" in r.stdout) == (kind in fetched), r.stdout
    # Derived again from the cached row, fetched or not.
    assert "jobs derived: 1" in r.stdout, r.stdout
    assert db.one("SELECT status FROM jobs WHERE id = 'jwplatform:v0000000'") == "COMPLETE"


def test_skip_fetch_needs_no_api(jw, env, db):
    seed(jw)
    sync(env)
    r = sync(env, "--skip-fetch", "--sync-all", MEDIAGATE_JWPLATFORM_API_KEY="",
             MEDIAGATE_JWPLATFORM_API_SECRET="")
    assert "jobs derived: 0" in r.stdout
    r = sync(env, check=False, MEDIAGATE_JWPLATFORM_API_KEY="", MEDIAGATE_JWPLATFORM_API_SECRET="")
    assert r.returncode == 1 and "MEDIAGATE_JWPLATFORM_API_KEY" in r.stderr


@pytest.mark.parametrize("status", [500, 503, 400])
def test_failure_midway_leaves_the_previous_mirror(jw, env, db, status):
    seed(jw, 2500, 2)
    sync(env)
    before_v, before_c = mirror(db, "video"), mirror(db, "channel")
    jobs_before = db.rows("SELECT id, status, updated_at FROM jobs ORDER BY id")
    for k in list(jw.videos)[:50]:
        jw.videos[k]["updated"] += 1
    for k in list(jw.videos)[-30:]:
        del jw.videos[k]
    jw.videos["vlate001"] = make_video("vlate001", 1)
    jw.fail[("videos", 2000)] = status      # the third page fails
    jw.calls.clear()
    r = sync(env, check=False)
    assert r.returncode == 1
    assert f"/v1/videos/list page 3 (result_offset 2000): HTTP {status} InternalError" in r.stderr, r.stderr
    assert "the video mirror is unchanged" in r.stderr
    # Reached the server: not retried.
    assert [p["result_offset"] for p, _ in jw.list_calls("videos")] == ["0", "1000", "2000"]
    assert mirror(db, "video") == before_v and mirror(db, "channel") == before_c
    assert db.rows("SELECT id, status, updated_at FROM jobs ORDER BY id") == jobs_before
    # Fixed: the next sync applies all of it.
    del jw.fail[("videos", 2000)]
    r = sync(env)
    assert counts(r.stdout, "videos") == dict(created=1, updated=50, deleted=30, revived=0, unchanged=2420)


def test_rate_limit_is_waited_out(jw, env, db):
    seed(jw, 1500, 1)
    jw.rate_limited = 2
    t0 = time.monotonic()
    r = sync(env)
    assert time.monotonic() - t0 >= 2.0      # Retry-After: 1, twice
    statuses = [s for _, s in jw.list_calls("videos")]
    assert statuses == [429, 429, 200, 200], statuses
    assert counts(r.stdout, "videos")["created"] == 1500


def test_unreached_calls_are_retried_at_most_five_times(jw, env, db):
    seed(jw, 3, 1)
    jw.drop = 3
    r = sync(env)
    assert counts(r.stdout, "videos")["created"] == 3
    assert [s for _, _, s in jw.calls[:4]] == ["dropped"] * 3 + [200]
    jw.calls.clear()
    jw.drop = 100
    r = sync(env, check=False)
    assert r.returncode == 1 and "no answer" in r.stderr, r.stderr
    assert len(jw.calls) == 6, jw.calls           # 1 + 5 retries
    jw.drop = 0


def test_nothing_listening(jw, env, db):
    port = jw.port
    jw.close()
    r = sync(env, check=False, MEDIAGATE_JWPLATFORM_API_URL=f"http://127.0.0.1:{port}")
    assert r.returncode == 1 and "no answer" in r.stderr, r.stderr
    jw.close = lambda: None   # closed already


def test_the_standin_refuses_bad_signatures_stale_timestamps_and_reused_nonces(jw, env, db):
    seed(jw, 3, 1)
    r = sync(env, check=False, MEDIAGATE_JWPLATFORM_API_SECRET="not-the-secret-at-all")
    assert r.returncode == 1 and "HTTP 400 SignatureInvalid" in r.stderr, r.stderr
    jw.clock_skew = 3600
    r = sync(env, check=False)
    assert r.returncode == 1 and "HTTP 403 TimestampExpired" in r.stderr, r.stderr
    jw.clock_skew = 0
    sync(env)
    # A signed URL mediagate sent, replayed as it was: its nonce is spent.
    path, params, _ = jw.calls[-1]
    url = f"{jw.url}{path}?" + "&".join(f"{k}={urllib.request.quote(v, safe='')}" for k, v in params.items())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=5)
    assert e.value.code == 400 and json.loads(e.value.read())["code"] == "NonceInvalid"
    assert not any(k == "api_secret" or API_SECRET in v for k, v in params.items())


def test_two_syncs_at_once(jw, env, db):
    seed(jw, 3000, 2)
    jw.delay = 0.5
    first = subprocess.Popen([str(MG_BIN), "sync"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert wait_until(lambda: jw.calls, 10, 0.05)
    second = sync(env, check=False)
    assert second.returncode == 3, second.stderr
    assert "another mediagate sync is running; this one does nothing" in second.stderr
    waiter = subprocess.Popen([str(MG_BIN), "sync", "--wait"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert counts(out, "videos")["created"] == 3000
    out2, err2 = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err2
    assert "waiting for it" in err2
    assert counts(out2, "videos") == dict(created=0, updated=0, deleted=0, revived=0, unchanged=3000)
    assert db.one("SELECT count(*) FROM cached_resource WHERE type = 'video'") == 3000


# Webhooks --------------------------------------------------------------------------

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt_for(body, secret=HOOK_SECRET):
    """An HS256 JWT whose claims are the body (as JW signs its webhooks)."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(body.encode())
    sig = hmac.new(secret.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
    return f"{head}.{claims}.{b64url(sig)}"


def hook(stack, body, token=None, bearer=True):
    args = ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body]
    if token is not None:
        args += ["-H", f"Authorization: {'Bearer ' if bearer else ''}{token}"]
    return stack.curl(*args, "/notifications/jwplatform")


def event(name, key, field="media_id"):
    ev = json.loads((FIX / "jwplayer-media_available.json").read_text())
    ev.pop("media_id")
    ev.update({"event": name, field: key})
    return json.dumps(ev)


def start_worker(stack, workers):
    workers.start()
    assert wait_until(lambda: stack.db.one(
        "SELECT count(*) FROM task_kinds WHERE name = 'jwplatform.refresh'") == 1, 10, 0.05)


def written(stack):
    return (stack.db.one("SELECT count(*) FROM notifications WHERE backend = 'jwplatform'"),
            stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jwplatform.refresh'"))


@pytest.mark.parametrize("fixture", ["media_available", "conversions_complete", "channel_active",
                                     "channel_idle"])
def test_documented_webhooks_are_accepted(stack, workers, jw, fixture):
    start_worker(stack, workers)
    body = (FIX / f"jwplayer-{fixture}.json").read_text()
    r = hook(stack, body, jwt_for(body))
    assert r.status == 200 and r.json()["result"] == "applied", r
    ev = json.loads(body)
    kind, key = ("channel", ev["channel_id"]) if "channel_id" in ev else ("video", ev["media_id"])
    assert stack.db.one("SELECT payload->>'type', payload->>'key', payload->>'event' FROM outbox "
                        "WHERE kind = 'jwplatform.refresh'") == (kind, key, fixture)
    assert hook(stack, body, jwt_for(body)).json()["result"] == "duplicate"
    # The platform has no such resource: the refresh finds nothing to write.
    assert wait_until(lambda: stack.db.one("SELECT done_at IS NOT NULL FROM outbox "
                                           "WHERE kind = 'jwplatform.refresh'"), 10, 0.1)


@pytest.mark.parametrize("case", ["wrong secret", "missing", "not a jwt", "other body", "alg none"])
def test_bad_or_missing_signatures_get_401_and_nothing_is_written(stack, workers, jw, case):
    start_worker(stack, workers)
    body = event("media_updated", "v0000001")
    token = {"wrong secret": jwt_for(body, "another-secret-0123456789abcdef"),
             "missing": None,
             "not a jwt": "abc",
             "other body": jwt_for(event("media_updated", "v0000002")),
             "alg none": b64url(b'{"alg":"none","typ":"JWT"}') + "." + b64url(body.encode()) + "."}[case]
    r = hook(stack, body, token)
    assert r.status == 401, r
    assert r.json()["success"] is False and r.json()["message"].startswith(("Notification refused", "Bad"))
    assert written(stack) == (0, 0)


@pytest.mark.parametrize("claim, message", [
    ("exp", "Notification refused: the token expired at {at} (its exp claim), "),
    ("nbf", "Notification refused: the token is not valid yet (its nbf claim)"),
])
def test_an_expired_token_is_refused_as_expired_not_as_a_bad_signature(stack, workers, jw, claim, message):
    start_worker(stack, workers)
    t = int(time.time()) + (-3600 if claim == "exp" else 3600)
    ev = json.loads(event("media_updated", "v0000001"))
    ev[claim] = t
    body = json.dumps(ev)
    r = hook(stack, body, jwt_for(body))
    at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    assert r.status == 401 and r.json()["message"].startswith(message.format(at=at)), r
    assert "tolerance" not in r.json()["message"] and "signature" not in r.json()["message"]
    assert written(stack) == (0, 0)
    # The same late token with a wrong signature is refused as a bad signature.
    r = hook(stack, body, jwt_for(body, "another-secret-0123456789abcdef"))
    assert r.status == 401 and r.json()["message"] == "Notification refused: signature does not match.", r


def test_mirror_follows_media_updated_and_media_deleted(stack, workers, jw, env):
    seed(jw, 5, 1)
    sync(env)
    start_worker(stack, workers)
    jw.videos["v0000002"]["title"] = "changed on the platform"
    jw.videos["v0000002"]["updated"] += 5
    body = event("media_updated", "v0000002")
    t0 = time.monotonic()
    r = hook(stack, body, jwt_for(body), bearer=False)   # "Bearer " is optional
    assert r.status == 200, r

    def title():
        return stack.db.one("SELECT data->>'title' FROM cached_resource WHERE key = 'v0000002'")
    assert wait_until(lambda: title() == "changed on the platform", 10, 0.05), workers.log()
    print(f"mirror followed media_updated in {time.monotonic() - t0:.3f} s")
    assert stack.db.one("SELECT updated FROM cached_resource WHERE key = 'v0000002'") == \
        jw.videos["v0000002"]["updated"]
    shows = [p for path, p, _ in jw.calls if path == "/v1/videos/show"]
    assert shows and shows[-1]["video_key"] == "v0000002"

    del jw.videos["v0000003"]
    body = event("media_deleted", "v0000003")
    assert hook(stack, body, jwt_for(body)).status == 200
    assert wait_until(lambda: stack.db.one(
        "SELECT deleted_at IS NOT NULL FROM cached_resource WHERE key = 'v0000003'"), 10, 0.05)
    assert wait_until(lambda: stack.db.one(
        "SELECT status FROM jobs WHERE id = 'jwplatform:v0000003'") == "ERROR", 5, 0.05)
    # The notification is filed under the video's job.
    assert stack.db.one("SELECT job_id FROM notifications WHERE body = %s", body.encode()) == \
        "jwplatform:v0000003"
    # A sync after it keeps the refreshed row (unchanged) and the deletion.
    r = sync(env)
    assert counts(r.stdout, "videos") == dict(created=0, updated=0, deleted=0, revived=0, unchanged=4)


@pytest.mark.parametrize("env_over, message", [
    ({"MEDIAGATE_JWPLATFORM_API_SECRET": ""}, "MEDIAGATE_JWPLATFORM_API_SECRET is required"),
    ({"MEDIAGATE_JWPLATFORM_API_KEY": ""}, "MEDIAGATE_JWPLATFORM_API_KEY is required"),
    ({"MEDIAGATE_JWPLATFORM_API_KEY": "bad key!"}, "is not a JW Platform API key"),
    ({"MEDIAGATE_JWPLATFORM_API_URL": "ftp://x"}, "MEDIAGATE_JWPLATFORM_API_URL must be an http(s) URL"),
    ({"MEDIAGATE_JWPLATFORM_DELIVERY_URL": "https://cdn/?a"}, "MEDIAGATE_JWPLATFORM_DELIVERY_URL must be"),
    ({"MEDIAGATE_JWPLATFORM_SIGNATURE_LIFETIME": "5"}, "MEDIAGATE_JWPLATFORM_SIGNATURE_LIFETIME"),
])
def test_check_config_names_bad_jwplatform_settings(env, env_over, message):
    r = subprocess.run([str(MG_BIN), "check-config"], env={**env, **env_over},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and message in r.stderr, r.stderr


def test_without_the_webhook_secret_the_route_is_off(rundir, db, logs, jw):
    import mgstack
    s = mgstack.Stack(rundir, db, {"MEDIAGATE_JWPLATFORM_WEBHOOK_SECRET": ""}, (), logs)
    try:
        body = event("media_updated", "v0000001")
        r = hook(s, body, jwt_for(body))
        assert r.status == 403 and r.json()["message"] == "Notifications from jwplatform are not configured.", r
        assert written(s) == (0, 0)
    finally:
        assert s.close() == 0


def test_a_refresh_during_a_sync_is_not_undone_by_it(stack, workers, jw, env):
    """The sync fetched v0000000 on its first page; the platform changed it
    and its webhook was applied while later pages were still coming. The
    sync's older copy must not overwrite the refreshed row."""
    seed(jw, 3000, 1)
    start_worker(stack, workers)
    jw.delay = 1.0     # per list page
    s = subprocess.Popen([str(MG_BIN), "sync"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert wait_until(lambda: [c for c in jw.calls if c[0] == "/v1/videos/list"], 10, 0.02)
    jw.videos["v0000000"]["title"] = "newer than the sync's page"
    jw.videos["v0000000"]["updated"] += 1
    body = event("media_updated", "v0000000")
    assert hook(stack, body, jwt_for(body)).status == 200
    assert wait_until(lambda: stack.db.rows(
        "SELECT 1 FROM cached_resource WHERE key = 'v0000000' AND data->>'title' LIKE 'newer%%'"), 10, 0.05)
    assert s.poll() is None and len(jw.list_calls("videos")) < 3, "the sync ended before the refresh"
    out, err = s.communicate(timeout=60)
    assert s.returncode == 0, err
    assert counts(out, "videos")["created"] == 2999, out   # the refresh created the first
    assert stack.db.one("SELECT data->>'title' FROM cached_resource WHERE key = 'v0000000'") == \
        "newer than the sync's page"


def test_no_log_carries_a_secret(stack, workers, jw, env):
    seed(jw, 3, 1)
    sync(env)
    start_worker(stack, workers)
    body = event("media_updated", "v0000001")
    assert hook(stack, body, jwt_for(body)).status == 200
    hook(stack, body, jwt_for(body, "wrong-secret-0123456789abcdef"))
    r = sync(env, check=False, MEDIAGATE_JWPLATFORM_API_SECRET="bad-secret-for-the-log-0123")
    assert r.returncode == 1
    assert wait_until(lambda: stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'jwplatform.refresh' "
                                           "AND done_at IS NOT NULL") == 1, 10, 0.05)
    logs = "".join(text for _, text in stack.logs.sections()) + r.stderr + r.stdout
    for secret in (API_SECRET, HOOK_SECRET, "bad-secret-for-the-log-0123", "api_signature="):
        assert secret not in logs, secret


def test_a_terminal_gets_a_progress_bar(jw, env, rundir):
    """On a terminal (script(1) gives it one) the page lines become one bar
    redrawn in place; the summary is the same."""
    seed(jw, 2500, 1)
    typescript = rundir / "typescript"
    r = subprocess.run(["script", "-qec", f"{MG_BIN} sync", str(typescript)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = typescript.read_bytes().decode(errors="replace")
    assert "\rvideos   [############                  ] 1000/2500" in out, repr(out[:600])
    assert "\rvideos   [##############################] 2500/2500\r\n" in out, repr(out[:800])
    assert "page 1:" not in out and "NOTICE" not in out
    assert "videos: 2500 created, 0 updated, 0 deleted, 0 revived, 0 unchanged" in out


def test_a_webhook_stored_before_any_worker_served_refreshes_on_replay(stack, workers, jw, env):
    """Stored while no worker served jwplatform.refresh (nothing queued, as
    for Tencent's kind); `mediagate notifications replay` queues it once a
    worker does."""
    seed(jw, 3, 1)
    sync(env)
    stack.db.conn.execute("DELETE FROM task_kinds WHERE name = 'jwplatform.refresh'")
    jw.videos["v0000001"]["title"] = "seen on replay"
    body = event("media_updated", "v0000001")
    r = hook(stack, body, jwt_for(body))
    assert r.status == 200 and r.json()["result"] == "applied", r
    assert written(stack) == (1, 0)
    start_worker(stack, workers)
    nid = stack.db.one("SELECT id FROM notifications WHERE backend = 'jwplatform'")
    stack.mg("notifications", "replay", nid)
    assert wait_until(lambda: stack.db.one(
        "SELECT data->>'title' FROM cached_resource WHERE key = 'v0000001'") == "seen on replay", 10, 0.05)
