"""Playback of jobs whose outputs live in the bucket (app/playback.h),
against a real store (Ceph RGW, tests/lib/ceph_rgw.py) through nginx with
the project's snippets.

Each test puts a job in place itself: a real two-second HLS ladder made by
ffmpeg, written to media/<job>/ with botocore (public-read objects for a
public job, private ones otherwise, as the encoder publishes them), and the
job COMPLETE with storage 's3' in the database. Then:
- a public job's output_path is the public base URL of its directory, and
  ffprobe plays it straight from the store, unsigned;
- a private job (an ACL, or MEDIAGATE_MEDIA_SIGNING_SECRET set) plays only
  through mediagate's signed playlist route: its media playlists carry
  presigned segment URLs that expire with the route's URL; the store itself
  refuses every unsigned, tampered or expired URL of its objects, and the
  route refuses tampered, other-job and expired signatures;
- `mediagate jobs acl` makes a public job's objects private in the store
  (and back), so an ACL change reaches playback, not only /media/status;
- the signing decision serve records holds on every host: a worker without
  the secret keeps a signed deployment's objects private, and turning
  signing on makes objects published before private.
"""

import hashlib
import hmac
import itertools
import json
import re
import shutil
import signal
import subprocess
import time
import urllib.parse

import pytest

import mgstack
import s3_settings  # noqa: E402

JOB = "5f0c3d1e-8a6b-4c2d-9e1f-00000000{:04d}"
_jobs = itertools.count(1)
SIGNING_SECRET = "media-signing-secret-0123456789"
SEGMENT_CC = "public, max-age=31536000, immutable"
PLAYLIST_CC = "public, max-age=60"


client = s3_settings.client


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-play")


@pytest.fixture
def signing():
    """MEDIAGATE_MEDIA_SIGNING_SECRET for the test (a module's tests
    override it through parametrize or a fixture of their own)."""
    return ""


@pytest.fixture
def micro_cache():
    """Whether the site includes the shipped micro-cache (a test
    parametrizes it)."""
    return False


@pytest.fixture
def mg_env(s3, bucket, signing, micro_cache, rundir):
    env = {
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": s3.endpoint,
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": bucket,
        "MEDIAGATE_STORAGE_ADDRESSING": "path",
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        # The public base URL (a CDN in production): here the bucket itself.
        "MEDIAGATE_STORAGE_PUBLIC_URL": f"{s3.endpoint}/{bucket}",
        "MEDIAGATE_MEDIA_URL_LIFETIME": "600",
    }
    if signing:
        env["MEDIAGATE_MEDIA_SIGNING_SECRET"] = signing
    if micro_cache:
        env.update(mgstack.micro_cache_env(rundir))
    return env


@pytest.fixture(scope="module")
def ladder(tmp_path_factory):
    """A real two-second HLS ladder of one rendition, as the encoder lays
    it out (an attempt's renditions under a<attempt>/, the master naming
    them): {relative path: bytes}."""
    d = tmp_path_factory.mktemp("ladder")
    (d / "a1" / "v0").mkdir(parents=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x180:rate=25", "-t", "2", "-c:v", "libx264", "-g", "25",
                    "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                    "-hls_segment_filename", str(d / "a1/v0/seg%03d.ts"), str(d / "a1/v0/index.m3u8")],
                   check=True, timeout=120)
    (d / "master.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n"
                                   "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180\n"
                                   "a1/v0/index.m3u8\n")
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def publish(stack, s3, bucket, ladder, acl=None, public=None):
    """A COMPLETE job on the store: its objects written as the encoder
    writes them (public-read only for a public job, unless public says
    otherwise), its row in place."""
    job = JOB.format(next(_jobs))
    if public is None:
        public = acl is None and not stack.env.get("MEDIAGATE_MEDIA_SIGNING_SECRET")
    c = client(s3)
    for rel, data in ladder.items():
        extra = {"ACL": "public-read"} if public else {}
        seg = rel.endswith(".ts")
        c.put_object(Bucket=bucket, Key=f"media/{job}/{rel}", Body=data,
                     ContentType="video/mp2t" if seg else "application/vnd.apple.mpegurl",
                     CacheControl=SEGMENT_CC if seg else PLAYLIST_CC, **extra)
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, status, progress_rate, duration_ms, output_path, "
        "playlists, acl, storage) VALUES (%s, 'local', %s, 'COMPLETE', 100, 2000, %s, "
        "'{\".m3u8\": \"master.m3u8\"}', %s, 's3')",
        (job, f"uploads/{job}/in.mp4", f"media/{job}/", acl))
    return job


def status(stack, job, *headers):
    args = []
    for h in headers:
        args += ["-H", h]
    return stack.curl(*args, "-G", "--data-urlencode", f"job_id={job}", "/media/status")


def plain(url, *opts):
    """An unsigned request straight to a URL (the store, or nginx): (status, body, headers)."""
    r = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/stdout", "--max-time", "30", *opts, url],
                       capture_output=True, timeout=60)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").splitlines()
    code = int(lines[0].split()[1]) if lines else 0
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return code, body, hdrs


def probe(url):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=120)
    return r.returncode == 0 and 1.5 < float(r.stdout.strip() or 0) < 2.6, r.stderr


def route_sig(secret, job, exp):
    """The signed route's signature (app/playback.h), computed here apart
    from mediagate's code."""
    key = hmac.new(secret.encode(), b"mediagate playback v1", hashlib.sha256).digest()
    return hmac.new(key, f"{exp}/{job}".encode(), hashlib.sha256).hexdigest()[:32]


def test_public_job_plays_unsigned_from_the_bucket(stack, s3, bucket, ladder):
    job = publish(stack, s3, bucket, ladder)
    r = status(stack, job)
    assert r.status == 200, r
    out = r.json()["output_path"]
    assert out == f"{s3.endpoint}/{bucket}/media/{job}/", out
    ok, err = probe(out + "master.m3u8")
    assert ok, err
    code, _, hdrs = plain(out + "a1/v0/seg000.ts")
    assert code == 200 and hdrs.get("cache-control") == SEGMENT_CC, (code, hdrs)


def signed_route(stack, r, job):
    out = r.json()["output_path"]
    m = re.fullmatch(rf"/media/hls/([0-9a-f]{{32}})/([0-9]+)/{job}/", out)
    assert m, out
    return out, m.group(1), int(m.group(2))


def test_private_job_plays_only_through_signed_urls(stack, s3, bucket, ladder):
    key = stack.mg("apikey", "create", "alice")
    job = publish(stack, s3, bucket, ladder, acl="USER_alice")
    other = publish(stack, s3, bucket, ladder, acl="USER_bob")
    assert status(stack, job).status == 422
    before = time.time()
    r = status(stack, job, f"Authorization: Bearer {key}")
    after = time.time()
    assert r.status == 200, r
    assert r.header("Cache-Control") == "private, no-cache"
    out, sig, exp = signed_route(stack, r, job)
    # MEDIAGATE_MEDIA_URL_LIFETIME from the answer, rounded up to 3 minutes.
    assert exp % 180 == 0 and exp - after <= 780 and exp - before >= 600, exp
    assert sig == route_sig(s3.secret_key, job, exp), "keyed by the store's secret when unsigned"

    # ffprobe plays it: the master from the route, the rendition's playlist
    # by its relative URI (the same signed directory), the segments from the
    # store by their presigned URLs.
    ok, err = probe(stack.base + out + "master.m3u8")
    assert ok, err
    master = stack.curl(out + "master.m3u8")
    assert master.status == 200 and master.body == ladder["master.m3u8"].decode(), master
    # The route, not the site's own `location ~* \.(...|m3u8|ts)$` (expires 7d) that
    # comes before the include: it is a ^~ location.
    assert master.header("Content-Type") == "application/vnd.apple.mpegurl", master.headers
    assert master.header("Cache-Control") == "private, no-store", master.headers
    media = stack.curl(out + "a1/v0/index.m3u8")
    assert media.status == 200, media
    urls = [ln for ln in media.body.splitlines() if ln and not ln.startswith("#")]
    assert len(urls) == 2, media.body
    for u in urls:
        p = urllib.parse.urlsplit(u)
        q = dict(urllib.parse.parse_qsl(p.query))
        assert u.startswith(f"{s3.endpoint}/{bucket}/media/{job}/a1/v0/seg"), u
        made = time.mktime(time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
        assert made + int(q["X-Amz-Expires"]) == exp, "a segment URL expires with the route's"
        code, body, _ = plain(u)
        name = p.path.rsplit("/", 1)[1]
        assert code == 200 and body == ladder[f"a1/v0/{name}"], (u, code)

    # The store refuses what is not signed, or signed for something else.
    seg = urls[0]
    p = urllib.parse.urlsplit(seg)
    q = dict(urllib.parse.parse_qsl(p.query))
    refused_by_store = {
        "unsigned": f"{s3.endpoint}/{bucket}/media/{job}/a1/v0/seg000.ts",
        "unsigned playlist": f"{s3.endpoint}/{bucket}/media/{job}/master.m3u8",
        "another key": seg.replace("/seg000.ts?", "/seg001.ts?") if "seg000" in seg else seg.replace("/seg001.ts?", "/seg000.ts?"),
        "another job": seg.replace(job, other),
        "a longer life": seg.replace(f"X-Amz-Expires={q['X-Amz-Expires']}", "X-Amz-Expires=604800"),
        "tampered": seg.replace(f"X-Amz-Signature={q['X-Amz-Signature']}", "X-Amz-Signature=" + "0" * 64),
    }
    for what, u in refused_by_store.items():
        code, body, _ = plain(u)
        assert code == 403, (what, u, code, body[:300])

    # The route refuses what it did not sign.
    past = int(time.time()) - 10
    refused_by_route = {
        "tampered": f"/media/hls/{'0' * 32}/{exp}/{job}/master.m3u8",
        "another expiry": f"/media/hls/{sig}/{exp + 180}/{job}/master.m3u8",
        "another job": f"/media/hls/{sig}/{exp}/{other}/master.m3u8",
        "expired": f"/media/hls/{route_sig(s3.secret_key, job, past)}/{past}/{job}/master.m3u8",
        "another secret": f"/media/hls/{route_sig('other', job, exp)}/{exp}/{job}/master.m3u8",
    }
    for what, u in refused_by_route.items():
        got = stack.curl(u)
        assert got.status == 403, (what, got)
    # nginx resolves dot segments first: this names the other job.
    assert stack.curl("--path-as-is", f"{out}../{other}/master.m3u8").status == 403
    for what, u in {"a missing playlist": out + "v1/index.m3u8", "a dot file": out + ".hidden.m3u8",
                    "a missing segment": out + "a1/v0/seg999.ts"}.items():
        got = stack.curl("--path-as-is", u)
        assert got.status in (403, 404), (what, got)
    # Any other file of the directory: a redirect to its presigned URL.
    got = stack.curl(out + "a1/v0/seg000.ts")
    assert got.status == 302 and got.header("Location").startswith(
        f"{s3.endpoint}/{bucket}/media/{job}/a1/v0/seg000.ts?"), (got, got.headers)

    # No log keeps a working URL: nginx logs nothing of the route, and
    # mediagate names only its row.
    logs = {f.name: f.read_text(errors="replace") for f in (stack.run / "nginx").glob("*.log")}
    logs["mediagate serve"] = stack.app.log_path.read_text(errors="replace")
    for name, text in logs.items():
        assert sig not in text and q["X-Amz-Signature"] not in text, (name, text[-2000:])


def test_presigned_segments_expire_with_the_route(stack, s3, bucket, ladder):
    """A route URL signed to expire in a few seconds (made here, with the
    store's secret as the key, as mediagate makes it): its segments'
    presigned URLs stop working at that second, refused by the store."""
    job = publish(stack, s3, bucket, ladder, acl="USER_alice")
    exp = int(time.time()) + 8
    got = stack.curl(f"/media/hls/{route_sig(s3.secret_key, job, exp)}/{exp}/{job}/a1/v0/index.m3u8")
    assert got.status == 200, got
    seg = next(ln for ln in got.body.splitlines() if ln and not ln.startswith("#"))
    if time.time() < exp - 1:
        assert plain(seg)[0] == 200
    mgstack.wait_until(lambda: time.time() > exp + 1, 20, 0.2)
    code, body, _ = plain(seg)
    assert code == 403 and b"AccessDenied" in body, (code, body[:300])
    assert stack.curl(f"/media/hls/{route_sig(s3.secret_key, job, exp)}/{exp}/{job}/a1/v0/index.m3u8").status == 403


@pytest.mark.parametrize("signing", [SIGNING_SECRET])
def test_signing_on_makes_every_job_private(stack, s3, bucket, ladder, signing):
    job = publish(stack, s3, bucket, ladder)
    r = status(stack, job)
    assert r.status == 200, r
    out, sig, exp = signed_route(stack, r, job)
    assert sig == route_sig(SIGNING_SECRET, job, exp), "keyed by the signing secret"
    ok, err = probe(stack.base + out + "master.m3u8")
    assert ok, err
    assert plain(f"{s3.endpoint}/{bucket}/media/{job}/a1/v0/seg000.ts")[0] == 403


def test_acl_change_reaches_playback(stack, s3, bucket, ladder):
    key = stack.mg("apikey", "create", "alice")
    job = publish(stack, s3, bucket, ladder)
    public = f"{s3.endpoint}/{bucket}/media/{job}/"
    assert status(stack, job).json()["output_path"] == public
    assert plain(public + "a1/v0/seg000.ts")[0] == 200

    said = stack.mg("jobs", "acl", job, "USER_alice")
    assert "3 objects" in said or "objects" in said, said
    # The store itself now refuses every object unsigned.
    for rel in ladder:
        assert plain(public + rel)[0] == 403, rel
    assert probe(public + "master.m3u8")[0] is False
    mgstack.wait_until(lambda: status(stack, job).status == 422, 5)
    assert status(stack, job).status == 422
    r = status(stack, job, f"Authorization: Bearer {key}")
    out, _, _ = signed_route(stack, r, job)
    ok, err = probe(stack.base + out + "master.m3u8")
    assert ok, err

    stack.mg("jobs", "acl", job, "--world")
    for rel in ladder:
        assert plain(public + rel)[0] == 200, rel
    assert mgstack.wait_until(lambda: status(stack, job).status == 200, 5)
    assert status(stack, job).json()["output_path"] == public
    ok, err = probe(public + "master.m3u8")
    assert ok, err


def test_a_worker_makes_the_objects_follow_the_job(stack, s3, bucket, ladder, workers):
    """Objects written private (a publisher that sets no ACL): the media.acl
    task, queued when the job became COMPLETE on the store, makes a public
    job's objects public-read; an ACL set by any path (SQL here) queues it
    again, and the objects become private."""
    job = publish(stack, s3, bucket, ladder, public=False)
    public = f"{s3.endpoint}/{bucket}/media/{job}/"
    assert plain(public + "master.m3u8")[0] == 403
    workers.start()
    everything = lambda code: all(plain(public + rel)[0] == code for rel in ladder)  # noqa: E731
    assert mgstack.wait_until(lambda: everything(200), 60), workers.log()[-3000:]
    ok, err = probe(public + "master.m3u8")
    assert ok, err
    stack.db.conn.execute("UPDATE jobs SET acl = 'USER_alice' WHERE id = %s", (job,))
    assert mgstack.wait_until(lambda: everything(403), 60), workers.log()[-3000:]
    done = stack.db.one("SELECT count(*) FROM tasks WHERE kind = 'media.acl' AND state = 'done' "
                        "AND payload->>'media_job' = %s", job)
    assert done == 2, done
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "COMPLETE"


def recorded_signing(stack):
    """The signing decision serve recorded for every host (sql/021), None
    before it did."""
    rows = stack.db.rows("SELECT signing FROM media_signing")
    return rows[0][0] if rows else None


@pytest.mark.parametrize("signing", [SIGNING_SECRET])
def test_a_worker_without_the_secret_keeps_a_signed_jobs_objects_private(stack, s3, bucket, ladder,
                                                                         signing, workers):
    """serve signs; a worker host without MEDIAGATE_MEDIA_SIGNING_SECRET
    follows serve's record: its media.acl leaves a public job's objects
    private, as /media/status hands out the signed route."""
    assert mgstack.wait_until(lambda: recorded_signing(stack) is True, 10)
    job = publish(stack, s3, bucket, ladder, public=False)
    public = f"{s3.endpoint}/{bucket}/media/{job}/"
    workers.start(MEDIAGATE_MEDIA_SIGNING_SECRET="")
    done = lambda: stack.db.one("SELECT count(*) FROM tasks WHERE kind = 'media.acl' "  # noqa: E731
                                "AND state = 'done' AND payload->>'media_job' = %s", job)
    assert mgstack.wait_until(lambda: done() >= 1, 60), workers.log()[-3000:]
    for rel in ladder:
        assert plain(public + rel)[0] == 403, rel
    signed_route(stack, status(stack, job), job)


def test_signing_turned_on_makes_objects_published_before_private(stack, s3, bucket, ladder,
                                                                  workers):
    """A public job published while playback was unsigned (public-read):
    serve restarted with MEDIAGATE_MEDIA_SIGNING_SECRET records the change,
    which queues media.acl for every job on the store; a worker (without
    the secret) makes its objects private."""
    assert mgstack.wait_until(lambda: recorded_signing(stack) is False, 10)
    job = publish(stack, s3, bucket, ladder)
    public = f"{s3.endpoint}/{bucket}/media/{job}/"
    workers.start()
    everything = lambda code: all(plain(public + rel)[0] == code for rel in ladder)  # noqa: E731
    assert everything(200)
    assert stack.app.stop(signal.SIGTERM) == 0
    stack.env = {**stack.env, "MEDIAGATE_MEDIA_SIGNING_SECRET": SIGNING_SECRET}
    stack.app = mgstack.App(stack.run, stack.env)
    assert mgstack.wait_until(lambda: everything(403), 60), workers.log()[-3000:]
    assert recorded_signing(stack) is True
    out, _, _ = signed_route(stack, status(stack, job), job)
    ok, err = probe(stack.base + out + "master.m3u8")
    assert ok, err


def test_store_down_is_503_then_plays(stack, s3, bucket, ladder):
    job = publish(stack, s3, bucket, ladder, acl="USER_alice")
    exp = int(time.time()) + 600
    url = f"/media/hls/{route_sig(s3.secret_key, job, exp)}/{exp}/{job}/a1/v0/index.m3u8"
    s3.kill_rgw()
    try:
        got = stack.curl(url)
        assert got.status == 503 and got.header("Retry-After"), got
    finally:
        s3.start_rgw()
    assert stack.curl(url).status == 200


def test_hls_js_plays_public_and_private_jobs_in_chromium(stack, s3, bucket, ladder, tmp_path):
    """hls.js in Debian's headless Chromium, on a page of the site: a public
    job straight from the store, a private one through the signed route
    (segments from the store, presigned); a private job's unsigned URL does
    not play. The bucket allows the page's origin (CORS), as docs/storage.md
    says to set it."""
    client(s3).put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [stack.base], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["*"]}]})
    www = stack.run / "www"
    shutil.copy(mgstack.MG_ROOT / "web/node_modules/hls.js/dist/hls.min.js", www)
    shutil.copy(mgstack.MG_ROOT / "tests/browser/page/hls.html", www)
    for f in www.iterdir():
        f.chmod(0o644)
    key = stack.mg("apikey", "create", "alice")
    pub = publish(stack, s3, bucket, ladder)
    priv = publish(stack, s3, bucket, ladder, acl="USER_alice")
    srcs = {
        "public": status(stack, pub).json()["output_path"] + "master.m3u8",
        "private": stack.base + status(stack, priv, f"Authorization: Bearer {key}").json()["output_path"]
        + "master.m3u8",
        "private unsigned": f"{s3.endpoint}/{bucket}/media/{priv}/master.m3u8",
    }
    profile = tmp_path / "profile"
    profile.mkdir()
    r = subprocess.run(["node", str(mgstack.MG_ROOT / "tests/browser/hls_play.mjs"), f"{stack.base}/hls.html",
                        str(profile), *srcs.values()], capture_output=True, text=True, timeout=900)
    got = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert len(got) == 3, (r.stdout, r.stderr[-3000:])
    by = dict(zip(srcs, got))
    assert by["public"]["state"] == "played", by
    assert by["private"]["state"] == "played", by
    assert by["private unsigned"]["state"] == "error", by


@pytest.mark.parametrize("signing,micro_cache", [(SIGNING_SECRET, True)])
def test_micro_cache_never_serves_a_signed_answer_past_its_expiry(stack, s3, bucket, ladder, signing,
                                                                  micro_cache):
    """Behind the shipped micro-cache: a public status answer carrying a
    signed output_path is cached for less than the signature lives, and the
    route's own answers are never cached at all, so an expired one is
    refused, not replayed."""
    job = publish(stack, s3, bucket, ladder)
    first, again = status(stack, job), status(stack, job)
    assert again.header("X-Cache-Status") == "HIT", again.headers
    assert again.body == first.body
    _, _, exp = signed_route(stack, again, job)
    s_maxage = int(again.header("Cache-Control").rpartition("s-maxage=")[2])
    assert exp - time.time() > s_maxage + 60, (exp, s_maxage)

    exp = int(time.time()) + 8
    url = f"/media/hls/{route_sig(SIGNING_SECRET, job, exp)}/{exp}/{job}/a1/v0/index.m3u8"
    for _ in range(2):
        got = stack.curl(url)
        assert got.status == 200 and got.header("X-Cache-Status") == "BYPASS", got.headers
    mgstack.wait_until(lambda: time.time() > exp + 1, 20, 0.2)
    got = stack.curl(url)
    assert got.status == 403 and got.header("X-Cache-Status") == "BYPASS", (got, got.headers)
