"""HLS AES-128 of the local encoder's jobs (app/worker/hls_crypt.h), through
real PostgreSQL, nginx (with the shipped micro-cache and a site auth step
that vouches for REMOTE_USER), ffmpeg, Chromium with hls.js, and Ceph's
RADOS Gateway:

- a job uploaded with an ACL is encrypted: its segments are no MPEG-TS,
  ffmpeg cannot decode one, each media playlist names the job's key route
  with an IV of each segment's own, the key is stored per attempt and the
  job's extras say so; openssl decrypts a segment with the key and IV;
- GET /media/key/<job>/<n> answers the 16 bytes, private and no-store, only
  to callers the ACL admits (an API key, REMOTE_USER); anyone else, an
  unknown job, another attempt: the unknown job's 404; a bad key 401; the
  micro-cache never stores or serves either, in either order;
- ffmpeg plays the whole job with the caller's Authorization, and not
  without; hls.js in Chromium plays it for an admitted page (xhrSetup) and
  fails for an anonymous one;
- the profile decides: auto encrypts only jobs closed to anonymous callers,
  "aes-128" a WORLD job too (its key to anyone), "none" never;
- on S3 storage a private job plays through the signed /media/hls/ route,
  its #EXT-X-KEY naming the key route of today's settings, also after
  MEDIAGATE_PUBLIC_URL changed since the encode;
- local storage without signing: check-config, serve and jobs acl say that
  a private job's files other than its segments are anyone's by URL;
- a media disk that fills while the segments are encrypted: the encode
  waits for space, nothing is published, and once there is space the same
  attempt completes with a key of its own that decrypts what it published.
"""

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest
import s3_settings

import mgstack
from mgstack import wait_until
from test_encoder import clip, clips, encoder_env, nginx_includes  # noqa: F401
from test_encoder_faults import lavfi_clip, media_tmpfs  # noqa: F401

NOT_FOUND = '{"success":false,"message":"Not found item."}'
PROFILE = {"name": "small", "encoder": "local", "renditions": [{"height": 240}], "packaging": ["hls"]}


# The site's auth step, vouching for REMOTE_USER from its session cookie:
# here a map (as an SSO module's variable would be), not an auth_request
# subrequest, which runs the server's `set $mediagate_cache_skip 1` and so
# keeps every answer out of the micro-cache that this suite tests.
SITE_USER = """map $http_cookie $site_user {
        "session=s-bob" bob;
        "session=s-dave" dave;
        default "";
    }"""


@pytest.fixture
def mg_env(request, rundir):
    env = {**encoder_env(rundir), "MEDIAGATE_STREAM_AUTH": "remote_user", **mgstack.micro_cache_env(rundir),
           "NGINX_SITE_EXTRA": "set $mediagate_user $site_user;"}
    env["NGINX_EXTRA"] += SITE_USER
    if "s3" in request.fixturenames:
        s3 = request.getfixturevalue("s3")
        env.update({**s3_settings.env(s3, s3_settings.new_bucket(s3, "mg-aes")), "TMPDIR": str(rundir)})
    return env


def encode(stack, src, acl=None, profile=None):
    """A local job of SRC with ACL and PROFILE (a spec) and its encode task,
    as an upload queues them: the job's id."""
    job = str(uuid.uuid4())
    payload = {"job_id": job, "input": str(src), **({"profile": profile} if profile else {})}
    with stack.db.conn.transaction():
        stack.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, acl) "
                              "VALUES (%s, 'local', %s, %s, %s)", (job, job, str(src), acl))
        stack.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('local.encode', %s::jsonb)",
                              (json.dumps(payload),))
    return job


def complete(stack, workers, *jobs):
    """Waits for the jobs' encodes; asserts each is COMPLETE."""
    done = lambda: stack.db.one("SELECT count(*) FROM jobs WHERE id = ANY(%s) "  # noqa: E731
                                "AND status IN ('COMPLETE', 'ERROR')", list(jobs))
    wait_until(lambda: done() == len(jobs), 900, 0.2)
    for j in jobs:
        got = stack.db.one("SELECT status, error_message FROM jobs WHERE id = %s", j)
        assert got[0] == "COMPLETE", (j, got, workers.log()[-3000:])


def key_get(stack, job, n=1, *headers):
    args = []
    for h in headers:
        args += ["-H", h]
    return stack.curl(*args, "-o", "-", f"/media/key/{job}/{n}")


def raw_key(stack, url, *headers):
    """The body of GET URL (through nginx) as bytes, with its status and headers."""
    r = subprocess.run(["curl", "-sS", "-D", "-", "--max-time", "20",
                        *sum((["-H", h] for h in headers), []), stack.base + url],
                       capture_output=True, timeout=60)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().splitlines()
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), body, hdrs


def is_ts(data):
    return len(data) >= 188 and len(data) % 188 == 0 and all(data[i] == 0x47 for i in range(0, len(data), 188))


def segment_keys(playlist):
    """[(key URI, IV hex, segment)] of a media playlist: the #EXT-X-KEY that
    applies to each segment."""
    out, cur = [], None
    for ln in playlist.splitlines():
        if ln.startswith("#EXT-X-KEY:"):
            m = re.fullmatch(r'#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)",IV=0x([0-9a-f]{32})', ln)
            assert m, ln
            cur = (m.group(1), m.group(2))
        elif ln and not ln.startswith("#"):
            out.append((*(cur or (None, None)), ln))
    return out


def decodes(url_or_path, *opts):
    """Whether ffmpeg decodes the whole input (and how long it lasts)."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", *opts, "-i", url_or_path, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=300)
    return r.returncode == 0 and not r.stderr.strip(), r.stderr[-1500:]


def test_private_upload_is_encrypted_and_only_admitted_callers_get_its_key(stack, workers, clip, rundir):
    a = clip("b.mp4", 10, "320x240")  # segments of 4 s: three a rendition
    bob, dave = stack.mg("apikey", "create", "bob"), stack.mg("apikey", "create", "dave")
    # Uploaded by bob (REMOTE_USER from the site's cookie) with an ACL.
    r = stack.curl("-X", "POST", "-H", "Cookie: session=s-bob", "--data-urlencode", "name=a.mp4",
                   "--data-urlencode", "acl=USER_bob", "/uploads")
    assert r.status == 201, r
    job, url = r.json()["job_id"], r.json()["upload"]["url"]
    r = stack.curl("-X", "PUT", "--data-binary", f"@{a}", url)
    assert r.status == 201, r
    workers.start()
    complete(stack, workers, job)

    # What the encode left: a key for attempt 1, stored; the extras name it.
    key = bytes(stack.db.one("SELECT key FROM media_keys WHERE job_id = %s AND n = 1", job))
    assert len(key) == 16
    uri = f"/media/key/{job}/1"
    assert stack.db.one("SELECT extras->'encryption' FROM jobs WHERE id = %s", job) == \
        {"method": "AES-128", "key_uri": uri}
    r = stack.curl("-H", f"Authorization: Bearer {bob}", f"/media/status?job_id={job}")
    assert r.status == 200 and r.json().get("encryption") == {"method": "AES-128", "key_uri": uri}, r
    out = rundir / "media" / job
    variants = sorted(p for p in out.iterdir() if re.fullmatch(r"v[0-9]+", p.name))
    # The audio-only rendition (the source has audio) too.
    assert len(variants) == 2, list(out.iterdir())
    assert variants, list(out.iterdir())
    ivs = []
    for v in variants:
        listed = segment_keys((v / "index.m3u8").read_text())
        assert len(listed) >= 3 and all(u == uri for u, _, _ in listed), listed
        ivs += [iv for _, iv, _ in listed]
        for _, iv, seg in listed:
            data = (v / seg).read_bytes()
            assert len(data) % 16 == 0 and not is_ts(data), f"{seg} is no MPEG-TS"
            ok, _ = decodes(str(v / seg))
            assert not ok, f"ffmpeg decoded {seg} without its key"
        # openssl decrypts the first with the key and its IV: MPEG-TS.
        _, iv, seg = listed[0]
        clear = subprocess.run(["openssl", "enc", "-d", "-aes-128-cbc", "-K", key.hex(), "-iv", iv,
                                "-in", str(v / seg)], capture_output=True, timeout=60).stdout
        assert is_ts(clear), seg
    assert len(set(ivs)) == len(ivs), "an IV of its own for each segment"

    # The key route: the key to bob only, never stored by any cache.
    got = [raw_key(stack, uri, f"Authorization: Bearer {bob}"), raw_key(stack, uri, "Cookie: session=s-bob")]
    for code, body, hdrs in got:
        assert (code, body) == (200, key), (code, body)
        assert hdrs["content-type"] == "application/octet-stream" and hdrs["content-length"] == "16", hdrs
        assert hdrs["cache-control"] == "private, no-store", hdrs
    unknown = key_get(stack, str(uuid.uuid4()))
    assert (unknown.status, unknown.body) == (404, NOT_FOUND), unknown
    for who in ([], ["Cookie: session=s-dave"], [f"Authorization: Bearer {dave}"]):
        r = key_get(stack, job, 1, *who)
        assert (r.status, r.body, r.header("Cache-Control")) == (404, NOT_FOUND, "no-store"), (who, r)
    for n in (2, 0, "01", "1x"):
        r = key_get(stack, job, n, f"Authorization: Bearer {bob}")
        assert (r.status, r.body) == (404, NOT_FOUND), (n, r)
    r = key_get(stack, job, 1, "Authorization: Bearer mgk_0000")
    assert r.status == 401, r
    # Behind the micro-cache, in both orders: never a stored answer.
    for first, then in ((["Cookie: session=s-dave"], ["Cookie: session=s-bob"]),
                        (["Cookie: session=s-bob"], []), ([], ["Cookie: session=s-bob"])):
        for who in (first, then, first, then):
            code, body, hdrs = raw_key(stack, uri, *who)
            # Not even looked up: the route is outside the cache (nginx/mediagate.conf).
            assert hdrs.get("x-cache-status") == "BYPASS", (who, hdrs)
            assert (code, body == key) == ((200, True) if who == ["Cookie: session=s-bob"] else (404, False)), \
                (who, code, body)
    assert not any(p.is_file() for p in (rundir / "cache").rglob("*")), "nothing in the cache's directory"

    # ffmpeg plays the whole job with bob's key, and not without.
    master = f"{stack.base}/media-files/{job}/master.m3u8"
    ok, err = decodes(master, "-headers", f"Authorization: Bearer {bob}\r\n")
    assert ok, err
    ok, err = decodes(master)
    assert not ok, "no key, no playback"
    ok, _ = decodes(master, "-headers", f"Authorization: Bearer {dave}\r\n")
    assert not ok, "dave's key is no key"

    # hls.js in Chromium: an admitted page (its xhrSetup sends the key) plays;
    # an anonymous one does not.
    www = stack.run / "www"
    shutil.copy(mgstack.MG_ROOT / "web/node_modules/hls.js/dist/hls.min.js", www)
    shutil.copy(mgstack.MG_ROOT / "tests/browser/page/hls.html", www)
    for f in www.iterdir():
        f.chmod(0o644)
    profile = rundir / "chromium"
    profile.mkdir()
    res = {}
    for who, page in (("bob", f"{stack.base}/hls.html?bearer={bob}"), ("anonymous", f"{stack.base}/hls.html")):
        r = subprocess.run(["node", str(mgstack.MG_ROOT / "tests/browser/hls_play.mjs"), page, str(profile),
                            master], capture_output=True, text=True, timeout=900)
        got = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
        assert len(got) == 1, (r.stdout, r.stderr[-3000:])
        res[who] = got[0]
    assert res["bob"]["state"] == "played", res
    assert res["anonymous"]["state"] == "error" and "keyLoad" in res["anonymous"]["detail"], res


def test_the_profile_decides(stack, workers, clip):
    """auto: an ACL closed to anonymous callers encrypts, WORLD (or none)
    does not; aes-128 encrypts a WORLD job, whose key anyone gets; none
    never encrypts, whatever the ACL."""
    a = clip("a.mp4", 3, "320x240")
    jobs = {
        "auto world": encode(stack, a, "WORLD", {**PROFILE, "encryption": "auto"}),
        "auto none": encode(stack, a, None, None),
        "auto cam": encode(stack, a, "CAM", {**PROFILE, "encryption": "auto"}),
        "aes-128 world": encode(stack, a, None, {**PROFILE, "encryption": "aes-128"}),
        "none private": encode(stack, a, "USER_bob", {**PROFILE, "encryption": "none"}),
    }
    workers.start()
    complete(stack, workers, *jobs.values())
    for what, job in jobs.items():
        want = what in ("auto cam", "aes-128 world")
        out = stack.run / "media" / job / "v0"
        pl = (out / "index.m3u8").read_text()
        segs = [ln for ln in pl.splitlines() if ln and not ln.startswith("#")]
        assert ("#EXT-X-KEY:" in pl) == want, (what, pl)
        assert all(is_ts((out / s).read_bytes()) != want for s in segs), what
        assert stack.db.one("SELECT count(*) FROM media_keys WHERE job_id = %s", job) == int(want), what
        enc = stack.db.one("SELECT extras ? 'encryption' FROM jobs WHERE id = %s", job)
        assert enc is want, (what, enc)
    world = jobs["aes-128 world"]
    code, body, hdrs = raw_key(stack, f"/media/key/{world}/1")
    assert code == 200 and len(body) == 16 and hdrs["cache-control"] == "private, no-store", (code, hdrs)
    ok, err = decodes(f"{stack.base}/media-files/{world}/master.m3u8")
    assert ok, err
    assert key_get(stack, jobs["auto cam"]).status == 404
    # An ACL set later encrypts nothing, and says so; an encrypted job's key
    # follows it at once.
    said = stack.mg("jobs", "acl", jobs["auto world"], "USER_bob")
    assert "an ACL set later encrypts nothing" in said, said
    assert "#EXT-X-KEY" not in (stack.run / "media" / jobs["auto world"] / "v0" / "index.m3u8").read_text()
    stack.mg("jobs", "acl", world, "USER_bob")
    assert key_get(stack, world).status == 404


def test_private_job_on_s3_plays_through_the_signed_route_with_its_key(stack, workers, clip, s3, rundir):
    a = clip("a.mp4", 3, "320x240")
    bob = stack.mg("apikey", "create", "bob")
    job = encode(stack, a, "USER_bob", PROFILE)
    workers.start()
    complete(stack, workers, job)
    uri = f"/media/key/{job}/1"
    r = stack.curl("-H", f"Authorization: Bearer {bob}", f"/media/status?job_id={job}")
    assert r.status == 200, r
    out = r.json()["output_path"]
    assert out.startswith("/media/hls/"), out
    media = stack.curl(f"{out}a1/v0/index.m3u8")
    assert media.status == 200, media
    listed = segment_keys(media.body)
    assert listed and all(u == uri for u, _, _ in listed), media.body
    assert all(s.startswith(f"{s3.endpoint}/") and "X-Amz-Signature=" in s for _, _, s in listed), media.body
    plays_with_its_key(stack, rundir, job, media.body, uri, f"Authorization: Bearer {bob}")
    ok, _ = decodes(f"{stack.base}{out}master.m3u8")
    assert not ok, "no key, no playback"


def plays_with_its_key(stack, rundir, job, playlist, uri, auth):
    """The key route at URI (a path under stack.base, or a URL) gives the
    caller with AUTH the job's key, and ffmpeg plays a local copy of the
    signed route's media PLAYLIST naming the key fetched (the segments'
    presigned URLs take no other credential)."""
    code, key, _ = raw_key(stack, uri[len(stack.base):] if uri.startswith(stack.base) else uri, auth)
    assert code == 200 and bytes(stack.db.one("SELECT key FROM media_keys WHERE job_id = %s", job)) == key
    (rundir / "key.bin").write_bytes(key)
    local = rundir / "local.m3u8"
    local.write_text(playlist.replace(f'URI="{uri}"', f'URI="{rundir}/key.bin"'))
    allow = ["-protocol_whitelist", "file,http,https,tcp,tls,crypto", "-allowed_extensions", "ALL"]
    ok, err = decodes(str(local), *allow)
    assert ok, err


def test_an_s3_job_encoded_under_other_settings_plays_with_the_key_route_of_todays(stack, workers, clip, s3,
                                                                                   rundir):
    """MEDIAGATE_PUBLIC_URL was https://old.example/api at encode (the key
    URI in the stored playlists names it); serve runs without it, then with
    another: the signed route answers the job's key route under today's
    setting each time (it used to refuse the playlist: 502), and the job
    plays."""
    a = clip("a.mp4", 3, "320x240")
    bob = f"Authorization: Bearer {stack.mg('apikey', 'create', 'bob')}"
    job = encode(stack, a, "USER_bob", PROFILE)
    workers.start(MEDIAGATE_PUBLIC_URL="https://old.example/api/")
    complete(stack, workers, job)
    st = stack.curl("-H", bob, f"/media/status?job_id={job}").json()
    assert st["encryption"]["key_uri"] == f"https://old.example/api/media/key/{job}/1", st
    for public_url, uri in (("", f"/media/key/{job}/1"), (stack.base, f"{stack.base}/media/key/{job}/1")):
        if public_url:
            assert stack.app.stop() == 0
            stack.env["MEDIAGATE_PUBLIC_URL"] = public_url
            stack.app = mgstack.App(stack.run, stack.env)
        out = stack.curl("-H", bob, f"/media/status?job_id={job}").json()["output_path"]
        media = stack.curl(f"{out}a1/v0/index.m3u8")
        assert media.status == 200, (media, stack.app.log_path.read_text()[-2000:])
        listed = segment_keys(media.body)
        assert listed and all(u == uri for u, _, _ in listed), media.body
        plays_with_its_key(stack, rundir, job, media.body, uri, bob)


def tree_bytes(d):
    """The bytes the files under D take on their file system."""
    return sum(p.lstat().st_blocks * 512 for p in d.rglob("*") if p.is_file())


def test_a_full_disk_while_encrypting_waits_and_publishes_nothing(stack, media_tmpfs, workers, rundir):
    """The same profile encoded once clear, to learn what the outputs take;
    then the disk is filled so that they fit with more than the encoder's
    "full" margin (1 MiB) left, but not a second copy of a segment, which
    the encryption writes beside each before renaming it over."""
    noisy = lavfi_clip(rundir / "noisy.mp4", 5, "640x360", "testsrc=", "-vf", "noise=alls=100:allf=t+u")
    prof = {**PROFILE, "renditions": [{"height": 360, "video_kbps": 6000}]}
    clear = encode(stack, noisy, None, {**prof, "encryption": "none"})
    w = workers.start()
    complete(stack, workers, clear)
    size = tree_bytes(media_tmpfs / clear)
    largest = max(p.stat().st_size for p in (media_tmpfs / clear).rglob("*.ts"))
    assert largest > 3 << 20, f"a segment larger than the margin and the room left: {largest}"
    room = (1 << 20) + (largest - (1 << 20)) // 2
    v = os.statvfs(media_tmpfs)
    with open(media_tmpfs / ".filler", "wb") as f:
        f.write(b"\0" * (v.f_bavail * v.f_frsize - size - room))
    job = encode(stack, noisy, "USER_bob", prof)
    row = lambda: stack.db.one("SELECT attempts, last_error FROM outbox "  # noqa: E731
                               "WHERE payload->>'job_id' = %s", job)
    ended = lambda: stack.db.one("SELECT status IN ('COMPLETE', 'ERROR') FROM jobs WHERE id = %s", job)  # noqa: E731
    wait_until(lambda: "media disk is full" in (row()[1] or "") or ended(), 600, 0.2)
    assert "media disk is full" in (row()[1] or ""), (row(), workers.log()[-3000:])
    assert "the media disk (MEDIAGATE_MEDIA_DIR) is full" in workers.log()
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) != "COMPLETE"
    assert not (media_tmpfs / job).exists(), "nothing published"
    assert stack.db.one("SELECT count(*) FROM media_keys WHERE job_id = %s", job) == 1, \
        "the key was stored before the encryption began"
    w.stop()
    assert not [p.name for p in media_tmpfs.iterdir() if p.name.startswith(f".{job}.")], \
        "no half-encrypted attempt left"
    (media_tmpfs / ".filler").unlink()
    workers.start()
    complete(stack, workers, job)
    assert row()[0] == 1, "waiting for space counted no attempt"
    key = bytes(stack.db.one("SELECT key FROM media_keys WHERE job_id = %s AND n = 1", job))
    listed = segment_keys((media_tmpfs / job / "v0" / "index.m3u8").read_text())
    for _, iv, seg in listed:
        out = subprocess.run(["openssl", "enc", "-d", "-aes-128-cbc", "-K", key.hex(), "-iv", iv,
                              "-in", str(media_tmpfs / job / "v0" / seg)], capture_output=True, timeout=60)
        assert out.returncode == 0 and is_ts(out.stdout), f"{seg}: the stored key is the one that encrypted it"


def test_unsigned_local_media_is_named_as_reachable_by_url(stack):
    """Local storage without MEDIAGATE_MEDIA_SIGNING_SECRET (the default):
    AES-128 hides a private job's segments only; its captions, poster,
    storyboard and thumbnails are served to anyone with their URL. serve
    warns of it at start, jobs acl says it when it sets an ACL; check-config
    accepts the packaged defaults without a word."""
    warning = "local storage with MEDIAGATE_MEDIA_SIGNING_SECRET empty: every file under"
    assert warning in stack.app.log_path.read_text()
    r = subprocess.run([str(mgstack.MG_BIN), "check-config"], env=stack.env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and warning not in r.stderr, r
    signed = {**stack.env, "MEDIAGATE_MEDIA_SIGNING_SECRET": "media-signing-secret-0123456789"}
    r = subprocess.run([str(mgstack.MG_BIN), "check-config"], env=signed, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and warning not in r.stderr, r
    job = encode(stack, "/nonexistent.mp4", None, PROFILE)
    out = stack.mg("jobs", "acl", job, "USER_bob")
    assert "every file under /media-files/<job id>/ stays reachable by its URL" in out, out
    assert "captions, poster, storyboard, thumbnails" in out, out
