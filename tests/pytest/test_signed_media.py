"""Signed URLs of the local encoder's outputs, checked by nginx's
secure_link (nginx/mediagate-media-signed.conf, as scripts/lib.sh writes
it): /media/status answers output_path as <media URL>/s/<sig>/<exp>/<job>/;
ffprobe plays the master playlist through it (renditions and segments by
their relative URLs); unsigned, tampered, another job's, and expired URLs
get 403 from nginx itself; dot paths 404; no signature is logged."""

import base64
import hashlib
import subprocess
import time

import pytest

SECRET = "media-signing-secret-0123456789"


@pytest.fixture
def mg_env(rundir):
    return {
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_MEDIA_SIGNING_SECRET": SECRET,
        "MEDIAGATE_MEDIA_URL_LIFETIME": "600",
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf",)


def sig(exp, job, secret=SECRET):
    d = hashlib.md5(f"{exp}/{job} {secret}".encode()).digest()
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode()


@pytest.fixture
def job(stack, rundir):
    """A COMPLETE local job whose outputs are a real two-second HLS ladder
    of one rendition, as the encoder lays them out."""
    jid = "5f0c3d1e-8a6b-4c2d-9e1f-000000000001"
    out = rundir / "media" / jid
    (out / "v0").mkdir(parents=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x180:rate=25", "-t", "2", "-c:v", "libx264", "-g", "25",
                    "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                    "-hls_segment_filename", str(out / "v0" / "seg%03d.ts"),
                    str(out / "v0" / "index.m3u8")],
                   check=True, timeout=60)
    (out / "master.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n"
                                     "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180\n"
                                     "v0/index.m3u8\n")
    (out / ".secret").write_text("not for anyone")
    subprocess.run(["chmod", "-R", "a+rX", str(rundir / "media")], check=True)
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, status, progress_rate, duration_ms, output_path, playlists) "
        "VALUES (%s, 'local', 'uploads/x.mp4', 'COMPLETE', 100, 2000, %s, '{\".m3u8\": \"master.m3u8\"}')",
        (jid, f"/media-files/{jid}/"))
    return jid


def probe(stack, path):
    return subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                           f"{stack.base}{path}"], capture_output=True, text=True, timeout=60)


def test_signed_output_plays_and_everything_else_is_refused(stack, job):
    before = time.time()
    r = stack.curl("-G", "--data-urlencode", f"job_id={job}", "/media/status")
    after = time.time()
    assert r.status == 200, r
    body = r.json()
    path = body["output_path"]
    empty, media, s_, s, exp, jid, rest = path.split("/")
    assert (empty, media, s_, jid, rest) == ("", "media-files", "s", job, ""), path
    # 10 to 13 minutes after the answer was made (some time in the request).
    assert int(exp) % 180 == 0 and int(exp) - after <= 780 and int(exp) - before >= 600, exp
    assert s == sig(exp, job), "the signature is nginx's secure_link_md5"
    assert body["playlists"] == {".m3u8": "master.m3u8"}
    assert r.header("Cache-Control") == "public, max-age=0, s-maxage=1"

    # ffprobe follows the master playlist to the rendition and its segments.
    p = probe(stack, path + "master.m3u8")
    assert p.returncode == 0 and 1.5 < float(p.stdout.strip()) < 2.6, p.stderr
    assert stack.curl(path + "v0/seg000.ts").status == 200

    past = int(time.time()) - 10
    refused = {
        "unsigned": f"/media-files/{job}/master.m3u8",
        "unsigned segment": f"/media-files/{job}/v0/seg000.ts",
        "tampered": f"/media-files/s/{'A' * 22}/{exp}/{job}/master.m3u8",
        "another expiry": f"/media-files/s/{s}/{int(exp) + 180}/{job}/master.m3u8",
        "another job": f"/media-files/s/{s}/{exp}/5f0c3d1e-8a6b-4c2d-9e1f-000000000002/master.m3u8",
        "expired": f"/media-files/s/{sig(past, job)}/{past}/{job}/master.m3u8",
        "wrong secret": f"/media-files/s/{sig(exp, job, 'other')}/{exp}/{job}/master.m3u8",
        # nginx resolves dot segments first: this names another job.
        "traversal": f"/media-files/s/{s}/{exp}/{job}/../5f0c3d1e-8a6b-4c2d-9e1f-000000000002/master.m3u8",
    }
    for what, url in refused.items():
        got = stack.curl("--path-as-is", url)
        assert got.status == 403, (what, got)
    assert probe(stack, f"/media-files/{job}/master.m3u8").returncode != 0

    # A signed URL plays the output until it expires: it is never written to
    # a log the shipped configuration keeps (nginx's access and error logs),
    # not even when the file is missing (nginx's "open() failed" error line
    # quotes the request line). (A URL whose dot segments lead out of the
    # media URL, as the next one, is the site's own location's to log.)
    assert stack.curl(path + "v0/missing.ts").status == 404
    logs = stack.run / "nginx"
    written = {f.name: f.read_text(errors="replace") for f in logs.glob("*.log")}
    assert "access.log" in written and "error.log" in written, sorted(written)
    assert written["access.log"], "the site's access log has lines"
    for name, text in written.items():
        assert s not in text and "/media-files/s/" not in text, (name, text[-2000:])

    out = stack.curl("--path-as-is", f"/media-files/s/{s}/{exp}/{job}/../../../../../etc/passwd")
    assert out.status in (400, 403, 404) and "root:" not in out.body, out
    for dot in (".secret", "v0/.hidden", ".5f0c3d1e.tmp/master.m3u8"):
        assert stack.curl(f"/media-files/s/{s}/{exp}/{job}/{dot}").status in (403, 404), dot


def test_a_job_elsewhere_is_not_rewritten(stack):
    stack.db.conn.execute(
        "INSERT INTO jobs (id, backend, input_file, status, output_path) "
        "VALUES ('mc-1', 'mediaconvert', 's3://b/in.mp4', 'COMPLETE', 's3://b/out/')")
    r = stack.curl("-G", "--data-urlencode", "job_id=mc-1", "/media/status")
    assert r.json()["output_path"] == "s3://b/out/", r
    assert r.header("Cache-Control").startswith("public, max-age=0, s-maxage="), r.headers
