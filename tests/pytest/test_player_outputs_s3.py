"""What a player needs beside the ladder, on object storage: the poster, the
storyboard (a WebVTT file of #xywh cues and its sprite image), MP4
renditions and the audio-only rendition of a real encode to the bucket
(Ceph RGW, tests/lib/ceph_rgw.py), through real PostgreSQL, nginx with the
project's snippets and ffmpeg.

- A public job: every file /media/status names is readable unsigned at its
  output_path (the bucket's public URL), with its Content-Type and
  Cache-Control (images and MP4s long-lived, playlists and WebVTT short);
  an ACL set later makes each of them private in the store.
- A private job (an ACL): the store refuses every file unsigned; through the
  signed route (output_path) a WebVTT file is answered as stored, so its
  relative image references resolve under the same signed directory, and
  any other file is a redirect to a presigned GET URL expiring with the
  route's URL. The route is nginx's ^~ location even in a site whose regex
  locations take .jpg, .mp4 and .vtt; tampered, expired and other-job
  signatures are refused for these files too; no log keeps a working URL;
  the store down is a 503 with Retry-After.
- A dead encode's cleanup removes the objects it left, these files too.
- A symbolic link in the work directory is never followed into the bucket.
- `mediagate storage migrate` carries a local job's files with their types.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import uuid

import mgstack
import pytest
import s3_settings

from mgstack import MG_BIN, wait_until
from test_encoder import DONE, clip, clips, encoder_env, nginx_includes, status  # noqa: F401
from test_encoder_s3 import bucket, keys, proxy, tmpdir_root, upload  # noqa: F401
from test_playback_s3 import plain, route_sig
from test_playback_s3 import status as answer

client = s3_settings.client

LASTING = "max-age=31536000, immutable"
SHORT = "max-age=60"
TYPES = {".jpg": ("image/jpeg", LASTING), ".mp4": ("video/mp4", LASTING),
         ".ts": ("video/mp2t", LASTING), ".vtt": ("text/vtt", SHORT),
         ".m3u8": ("application/vnd.apple.mpegurl", SHORT)}
# Everything the local encoder makes: poster, storyboard and audio-only by
# default, MP4 as the packaging asks; never encrypted here (an MP4 of an
# encrypted job is not made).
PROFILE = {"name": "everything", "encoder": "local", "renditions": [{"height": 240}],
           "packaging": ["hls", "mp4"], "encryption": "none"}
# A site's own regex locations for these files' extensions, beside the one
# lib.sh's site has for .jpg: the signed route must win all the same.
SITE_REGEX = r"location ~* \.(mp4|vtt|jpe?g)$ { return 418; }"


@pytest.fixture
def mg_env(request, rundir, s3, bucket, tmpdir_root):
    # A test that asks for the proxy gets the worker's requests through it.
    endpoint = request.getfixturevalue("proxy").endpoint if "proxy" in request.fixturenames else s3.endpoint
    return {
        **encoder_env(rundir),
        **s3_settings.env(s3, bucket),
        "MEDIAGATE_STORAGE_ENDPOINT": endpoint,
        "MEDIAGATE_MEDIA_URL_LIFETIME": "600",
        "TMPDIR": str(tmpdir_root),
        "NGINX_SITE_EXTRA": SITE_REGEX,
        **getattr(request, "param", {}),
    }


def encode(stack, s3, bucket, src, acl=None, profile=PROFILE):
    """A local job of SRC (put into the bucket as an upload) with ACL and
    PROFILE, and its encode task, as a confirmed upload queues them."""
    key, etag = upload(s3, bucket, src)
    job = str(uuid.uuid4())
    with stack.db.conn.transaction():
        stack.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file, acl) "
                              "VALUES (%s, 'local', %s, %s, %s)", (job, job, key, acl))
        stack.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('local.encode', "
                              "jsonb_build_object('job_id', %s::text, 'input_key', %s::text, "
                              "'input_etag', %s::text, 'profile', %s::jsonb))",
                              (job, key, etag, json.dumps(profile)))
    return job


def complete(stack, job, *headers):
    """JOB's status answer once it is COMPLETE (asserted)."""
    assert wait_until(lambda: answer(stack, job, *headers).json().get("job_status") in DONE, 900)
    j = answer(stack, job, *headers).json()
    assert j["job_status"] == "COMPLETE", j
    return j


def named_files(j):
    """Every file the status answer names beside the master playlist,
    relative to output_path: {file: what}."""
    files = {j["poster"]["file"]: "poster", j["storyboard"]["vtt"]: "storyboard"}
    files.update({img: "storyboard image" for img in j["storyboard"]["images"]})
    files.update({m["file"]: "mp4" for m in j["mp4"]})
    files[j["audio_only"]["playlist"]] = "audio-only playlist"
    assert "missing" not in j, j["missing"]
    return files


def kind(rel):
    return TYPES[os.path.splitext(rel)[1]]


def cue_images(vtt):
    """The image references of a storyboard's cues ("<file>#xywh=x,y,w,h"):
    [(file, (x, y, w, h))]."""
    assert vtt.startswith("WEBVTT"), vtt[:100]
    out = []
    for m in re.finditer(r"-->[^\n]*\n([^\n#]+)#xywh=(\d+),(\d+),(\d+),(\d+)", vtt):
        out.append((m.group(1), tuple(int(g) for g in m.group(2, 3, 4, 5))))
    assert out, vtt[:500]
    return out


def jpeg_size(data):
    """(width, height) of a baseline or progressive JPEG's frame header."""
    assert data[:2] == b"\xff\xd8", data[:16]
    i = 2
    while i < len(data):
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        i += 2 + length
    raise AssertionError("no frame header")


def streams(url):
    """The codec types of the streams ffprobe finds at URL."""
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1000:]
    return sorted(set(r.stdout.split()))


def test_a_public_jobs_outputs_are_read_unsigned_from_the_bucket(stack, workers, s3, bucket, clip):
    job = encode(stack, s3, bucket, clip("a.mp4", 6, "320x240"))
    workers.start()
    j = complete(stack, job)
    out = j["output_path"]
    assert out == f"{s3.endpoint}/{bucket}/media/{job}/", out
    files = named_files(j)
    assert set(files.values()) == {"poster", "storyboard", "storyboard image", "mp4", "audio-only playlist"}
    got = {}
    for rel, what in files.items():
        code, body, hdrs = plain(out + rel)
        assert code == 200, (what, rel, code, body[:300])
        assert (hdrs.get("content-type"), hdrs.get("cache-control")) == kind(rel), (what, rel, hdrs)
        got[rel] = body
    assert jpeg_size(got[j["poster"]["file"]]) == (j["poster"]["width"], j["poster"]["height"])
    # Each cue's image, resolved against the WebVTT file's URL, is the
    # sprite in the bucket, and the tile lies inside it.
    vtt_url = out + j["storyboard"]["vtt"]
    for ref, (x, y, w, h) in cue_images(got[j["storyboard"]["vtt"]].decode()):
        img = urllib.parse.urljoin(vtt_url, ref)
        assert img.startswith(out) and img[len(out):] in j["storyboard"]["images"], img
        sw, sh = jpeg_size(got[img[len(out):]])
        assert x + w <= sw and y + h <= sh, (ref, sw, sh)
    # The audio-only rendition plays audio alone, straight from the bucket;
    # the MP4 holds video and audio.
    assert streams(out + j["audio_only"]["playlist"]) == ["audio"]
    assert streams(out + j["mp4"][0]["file"]) == ["audio", "video"]
    # Every object of the job went in with its type: none untyped.
    c = client(s3)
    for k in keys(s3, bucket, f"media/{job}/"):
        h = c.head_object(Bucket=bucket, Key=k)
        assert (h["ContentType"], h["CacheControl"]) == kind(k), (k, h)
    # An ACL set later makes every one of them private in the store.
    stack.mg("jobs", "acl", job, "USER_alice")
    for rel in files:
        assert plain(out + rel)[0] == 403, rel


def signed(stack, j, job):
    out = j["output_path"]
    m = re.fullmatch(rf"/media/hls/([0-9a-f]{{32}})/([0-9]+)/{job}/", out)
    assert m, out
    return out, m.group(1), int(m.group(2))


def presigned_expiry(url):
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    made = time.mktime(time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
    return made + int(q["X-Amz-Expires"]), q["X-Amz-Signature"]


def test_a_private_jobs_outputs_come_only_through_the_signed_route(stack, workers, s3, bucket, clip):
    key = stack.mg("apikey", "create", "alice")
    bearer = f"Authorization: Bearer {key}"
    job = encode(stack, s3, bucket, clip("a.mp4", 6, "320x240"), acl="USER_alice")
    other = encode(stack, s3, bucket, clip("b.mp4", 2, "320x240"), acl="USER_bob")
    workers.start()
    j = complete(stack, job, bearer)
    complete(stack, other, "Authorization: Bearer " + stack.mg("apikey", "create", "bob"))
    out, sig, exp = signed(stack, j, job)
    files = named_files(j)
    bucket_url = f"{s3.endpoint}/{bucket}/media/{job}/"
    for rel in files:
        code, body, _ = plain(bucket_url + rel)
        assert code == 403, ("the store refuses it unsigned", rel, code, body[:300])

    # The store down: a 503 with Retry-After for every kind of file (asked
    # here first, so that no WebVTT text is in mediagate's short cache).
    s3.kill_rgw()
    try:
        for rel in files:
            got = stack.curl(out + rel)
            assert got.status == 503 and got.header("Retry-After"), (rel, got)
    finally:
        s3.start_rgw()

    secrets = {sig}
    for rel, what in files.items():
        ctype, _ = kind(rel)
        got = stack.curl(out + rel)
        assert got.header("X-Request-Id"), ("mediagate's answer, not the site's regex location", rel, got)
        assert got.header("Cache-Control") == "private, no-store", (rel, got.headers)
        if rel.endswith((".jpg", ".mp4")):
            assert got.status == 302, (what, rel, got)
            loc = got.header("Location")
            assert loc.startswith(f"{bucket_url}{rel}?"), loc
            until, s = presigned_expiry(loc)
            assert until == exp, "the presigned URL expires with the route's"
            secrets.add(s)
            code, body, hdrs = plain(loc)
            assert code == 200 and hdrs.get("content-type") == ctype, (rel, code, hdrs)
            assert body == client(s3).get_object(Bucket=bucket, Key=f"media/{job}/{rel}")["Body"].read()
        else:
            assert got.status == 200 and got.header("Content-Type") == ctype, (what, rel, got)
    # The storyboard as stored; its relative image references resolve under
    # the signed directory, which redirects to the sprite.
    vtt = stack.curl(out + j["storyboard"]["vtt"])
    stored = client(s3).get_object(Bucket=bucket, Key=f"media/{job}/{j['storyboard']['vtt']}")["Body"].read()
    assert vtt.body.encode() == stored
    for ref, _ in cue_images(vtt.body)[:3]:
        img = urllib.parse.urljoin(out + j["storyboard"]["vtt"], ref)
        assert img.startswith(out), img
        got = stack.curl(img)
        assert got.status == 302, got
        code, body, hdrs = plain(got.header("Location"))
        assert code == 200 and hdrs.get("content-type") == "image/jpeg" and body[:2] == b"\xff\xd8"
    # The audio-only rendition plays through the route (its segments
    # presigned), audio alone; the MP4 through its redirect.
    assert streams(stack.base + out + j["audio_only"]["playlist"]) == ["audio"]
    assert streams(stack.base + out + j["mp4"][0]["file"]) == ["audio", "video"]

    # The route refuses what it did not sign, for these files too; a path
    # out of the job's directory is another job's, refused by its signature.
    past = int(time.time()) - 10
    for rel in files:
        for what, u in {
            "tampered": f"/media/hls/{'0' * 32}/{exp}/{job}/{rel}",
            "another expiry": f"/media/hls/{sig}/{exp + 180}/{job}/{rel}",
            "another job": f"/media/hls/{sig}/{exp}/{other}/{rel}",
            "expired": f"/media/hls/{route_sig(s3.secret_key, job, past)}/{past}/{job}/{rel}",
        }.items():
            got = stack.curl(u)
            assert got.status == 403 and not got.header("Location"), (what, rel, got)
    assert stack.curl("--path-as-is", f"{out}../{other}/{j['poster']['file']}").status == 403
    for what, rel in {"a missing file": "a1/nothing.jpg", "a dot file": "a1/.poster.jpg"}.items():
        got = stack.curl("--path-as-is", out + rel)
        assert got.status in (403, 404) and not got.header("Location"), (what, got)

    # No log keeps a working URL: nginx logs nothing of the route, mediagate
    # names only its row.
    logs = {f.name: f.read_text(errors="replace") for f in (stack.run / "nginx").glob("*.log")}
    logs["mediagate serve"] = stack.app.log_path.read_text(errors="replace")
    for name, text in logs.items():
        for s in secrets:
            assert s not in text, (name, text[-2000:])


def test_a_dead_encode_leaves_none_of_its_files(stack, workers, s3, bucket, clip, proxy, tmpdir_root):
    """A worker killed while it publishes (every request to the store 2 s
    late), its poster and MP4 already in the bucket; the task dead once its
    lease ran out after its last attempt: every object of the job goes."""
    job = encode(stack, s3, bucket, clip("a.mp4", 6, "320x240"))
    proxy.delay(2.0)
    w = workers.start()
    poster = f"media/{job}/a1/poster.jpg"
    assert wait_until(lambda: poster in keys(s3, bucket, f"media/{job}/")
                      or status(stack, job).get("job_status") in DONE, 900), workers.log()[-3000:]
    assert status(stack, job).get("job_status") not in DONE, "the poster was published before the master"
    w.kill(signal.SIGKILL)
    w.wait()
    proxy.clear()
    # A write the proxy held when the worker died still reaches the store
    # (as one in flight would before the lease ran out): what is left once
    # two looks a delay apart agree.
    seen = [None]

    def settled():
        now = keys(s3, bucket, f"media/{job}/")
        same, seen[0] = now == seen[0], now
        return same
    assert wait_until(settled, 60, 2.5)
    left = keys(s3, bucket, f"media/{job}/")
    assert f"media/{job}/master.m3u8" not in left and any(k.endswith(".mp4") for k in left), left
    stack.db.conn.execute("UPDATE outbox SET attempts = 3, locked_by = 'gone', last_error = 'killed', "
                          "locked_until = now() - interval '1 second' WHERE payload->>'job_id' = %s", (job,))
    workers.start()
    assert wait_until(lambda: status(stack, job).get("job_status") == "ERROR", 120)
    assert wait_until(lambda: keys(s3, bucket, f"media/{job}/") == [], 60), keys(s3, bucket, f"media/{job}/")


def test_a_link_in_the_work_directory_is_never_followed(stack, workers, s3, bucket, clip, tmpdir_root):
    """A symbolic link put into the encode's work directory while ffmpeg
    runs (to a file outside it): publishing refuses the directory, writes
    nothing of it, and the next attempt (a clean directory) completes."""
    secret = tmpdir_root.parent / "secret.jpg"
    secret.write_bytes(b"\xff\xd8 not for the bucket")
    job = encode(stack, s3, bucket, clip("long.mp4", 20, "640x360"))
    work = tmpdir_root / f".{job}.1.tmp"
    workers.start()
    assert wait_until(work.is_dir, 300), workers.log()[-3000:]
    (work / "evil.jpg").symlink_to(secret)
    j = complete(stack, job)
    have = keys(s3, bucket, f"media/{job}/")
    assert not any("evil" in k for k in have), have
    assert j["poster"]["file"].startswith("a2/") and f"media/{job}/a2/poster.jpg" in have, (j, have)
    assert not any(k.startswith(f"media/{job}/a1/") for k in have), have
    assert "evil.jpg is not a regular file" in workers.log()


@pytest.mark.parametrize("mg_env", [{"MEDIAGATE_STORAGE": "local"}], indirect=True)
def test_storage_migrate_carries_a_local_jobs_files(stack, workers, s3, bucket, clip, mg_env):
    """A real local encode (every output in MEDIAGATE_MEDIA_DIR/<job>/),
    then `mediagate storage migrate`: each file in the bucket with its type,
    the job repointed, every file its status names readable there."""
    job = str(uuid.uuid4())
    with stack.db.conn.transaction():
        stack.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file) "
                              "VALUES (%s, 'local', %s, 'a.mp4')", (job, job))
        stack.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('local.encode', "
                              "jsonb_build_object('job_id', %s::text, 'input', %s::text, "
                              "'profile', %s::jsonb))",
                              (job, str(clip("a.mp4", 6, "320x240")), json.dumps(PROFILE)))
    w = workers.start()
    j = complete(stack, job)
    assert j["output_path"] == f"/media-files/{job}/", j
    files = named_files(j)
    local = stack.run / "media" / job
    assert all((local / rel).is_file() for rel in files), (files, list(local.rglob("*")))

    w.stop()
    r = subprocess.run([str(MG_BIN), "storage", "migrate"], env={**stack.env, "MEDIAGATE_STORAGE": "s3"},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and f"moved {job}" in r.stdout, (r.stdout, r.stderr)
    out = f"{s3.endpoint}/{bucket}/media/{job}/"
    assert stack.db.one("SELECT storage, output_path FROM jobs WHERE id = %s", job) == ("s3", out)
    # serve, now on the bucket too, answers it there.
    assert stack.app.stop(signal.SIGTERM) == 0
    stack.env = {**stack.env, "MEDIAGATE_STORAGE": "s3"}
    stack.app = mgstack.App(stack.run, stack.env)
    assert answer(stack, job).json()["output_path"] == out
    c = client(s3)
    have = keys(s3, bucket, f"media/{job}/")
    assert have == sorted(f"media/{job}/{p.relative_to(local)}" for p in local.rglob("*") if p.is_file())
    for k in have:
        h = c.head_object(Bucket=bucket, Key=k)
        assert (h["ContentType"], h["CacheControl"]) == kind(k), (k, h)
    for rel in files:
        code, _, hdrs = plain(out + rel)
        assert code == 200 and (hdrs.get("content-type"), hdrs.get("cache-control")) == kind(rel), (rel, hdrs)
