"""GET /stream/list, the console's list of a caller's broadcasts, through
real PostgreSQL, nginx and curl:

- the caller's streams only: another owner's never appear, whatever their
  state; anonymous callers get 401;
- newest first, each item the /stream/status object (the same bytes), with
  playback.hls (as /stream/start answered) while the stream may broadcast;
- STOPPED ones stay while stopped less than 7 days ago; older ones drop
  out, while a stream never stopped stays however old;
- at most 50, the newest;
- private to the caller and revalidated: Cache-Control private, no-cache
  with an ETag that a repeated request matches (304).
"""

import json

import pytest


@pytest.fixture
def mg_env():
    return {"MEDIAGATE_RTMP_URL": "rtmp://127.0.0.1:1935/live",
            "MEDIAGATE_HLS_URL": "http://127.0.0.1/hls"}


def caller(stack, name):
    key = stack.mg("apikey", "create", name)
    return ["-H", f"Authorization: Bearer {key}"]


def start(stack, auth, name):
    r = stack.curl("-X", "POST", *auth, "-d", "type=hls", "-d", f"name={name}", "/stream/start")
    assert r.status == 200, r
    return r.json()


def listed(stack, auth):
    r = stack.curl(*auth, "/stream/list")
    assert r.status == 200, r
    body = r.json()
    assert body["success"] is True
    return body["streams"]


def test_the_callers_streams_newest_first_as_status_answers_them(stack):
    alice, bob = caller(stack, "alice"), caller(stack, "bob")
    started = [start(stack, alice, f"a{i}") for i in range(3)]
    other = start(stack, bob, "bob-only")
    ids = [s["stream"]["id"] for s in started]
    streams = listed(stack, alice)
    assert [s["id"] for s in streams] == ids[::-1], "newest first"
    assert other["stream"]["id"] not in {s["id"] for s in streams}
    assert [s["id"] for s in listed(stack, bob)] == [other["stream"]["id"]]
    for s, st in zip(streams, started[::-1]):
        status = stack.curl(*alice, f"/stream/status?id={s['id']}").json()["stream"]
        assert {k: v for k, v in s.items() if k != "playback"} == status
        assert s["playback"] == {"hls": st["playback"]["hls"]}, "where it plays, as the start said"
    # Stopped: still listed, STOPPED, without a playback URL.
    r = stack.curl("-X", "POST", *alice, "-d", f"id={ids[1]}", "/stream/stop")
    assert r.status == 200, r
    mid = [s for s in listed(stack, alice) if s["id"] == ids[1]]
    assert len(mid) == 1 and mid[0]["status"] == "STOPPED" and "stop_date" in mid[0]
    assert "playback" not in mid[0]
    # Another owner's stopped stream does not appear either.
    stack.curl("-X", "POST", *bob, "-d", f"id={other['stream']['id']}", "/stream/stop")
    assert other["stream"]["id"] not in {s["id"] for s in listed(stack, alice)}


def test_anonymous_callers_are_refused(stack):
    r = stack.curl("/stream/list")
    assert r.status == 401, r
    assert r.json()["success"] is False


def test_stopped_streams_of_the_last_7_days_only(stack):
    auth = caller(stack, "carol")
    old_open, stopped_recent, stopped_old = (start(stack, auth, n)["stream"]["id"]
                                             for n in ("open", "recent", "old"))
    for sid in (stopped_recent, stopped_old):
        assert stack.curl("-X", "POST", *auth, "-d", f"id={sid}", "/stream/stop").status == 200
    stack.db.rows("UPDATE streams SET start_date = now() - interval '30 days' WHERE id = %s "
                  "RETURNING 1", old_open)
    stack.db.rows("UPDATE streams SET start_date = now() - interval '9 days', "
                  "stop_date = now() - interval '6 days 23 hours' WHERE id = %s RETURNING 1",
                  stopped_recent)
    stack.db.rows("UPDATE streams SET start_date = now() - interval '9 days', "
                  "stop_date = now() - interval '7 days 1 hour' WHERE id = %s RETURNING 1",
                  stopped_old)
    assert [s["id"] for s in listed(stack, auth)] == [stopped_recent, old_open], (
        "stopped 7 days ago and more: gone; a stream never stopped stays however old")


def test_at_most_50_the_newest(stack):
    auth = caller(stack, "dave")
    owner = stack.db.one("SELECT 'key:' || id FROM api_keys WHERE name = 'dave'")
    # 60 streams, a minute apart, made in the table itself (60 starts through
    # the API would only be slower); the newest is i = 59.
    stack.db.rows(
        "INSERT INTO streams (id, owner, name, type, stream_key_hash, upload_token_hash, "
        "upload_expires, start_date) SELECT gen_random_uuid(), %s, 's' || i, 'hls', "
        "sha256(('k' || i)::bytea), sha256(('t' || i)::bytea), now() + interval '1 hour', "
        "now() - interval '2 hours' + i * interval '1 minute' FROM generate_series(0, 59) i "
        "RETURNING 1", owner)
    names = [s["name"] for s in listed(stack, auth)]
    assert names == [f"s{i}" for i in range(59, 9, -1)]


def test_private_and_revalidated(stack):
    auth = caller(stack, "erin")
    start(stack, auth, "one")
    r = stack.curl(*auth, "/stream/list")
    assert r.header("Cache-Control") == "private, no-cache"
    etag = r.header("ETag")
    assert etag
    again = stack.curl(*auth, "-H", f"If-None-Match: {etag}", "/stream/list")
    assert again.status == 304, again
    # A change of state is a new answer.
    sid = json.loads(r.body)["streams"][0]["id"]
    stack.curl("-X", "POST", *auth, "-d", f"id={sid}", "/stream/stop")
    changed = stack.curl(*auth, "-H", f"If-None-Match: {etag}", "/stream/list")
    assert changed.status == 200 and changed.json()["streams"][0]["status"] == "STOPPED"
