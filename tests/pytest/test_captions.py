"""Captions of a job (PUT/DELETE /media/captions/<job>/<language>, the
captions.publish task) through real PostgreSQL, nginx, ffmpeg and
Chromium: a WebVTT and an SRT file for an encoded job are listed by
/media/status, named by the master playlist's SUBTITLES group and shown by
hls.js at their times; refused files store and publish nothing; only the
job's owner may; DELETE removes a language; captions given while the job
encodes appear once it is COMPLETE; on S3 storage the files land in the
bucket and a private job plays them through the signed route.
"""

import json
import re
import shutil
import subprocess

import pytest

import mgstack
import s3_settings
from mgstack import wait_until
from test_encoder import encoder_env, put, status, wait_status

VTT = ("WEBVTT\n\nNOTE a comment\n\n1\n00:00:01.000 --> 00:00:02.000 align:start\none\n\n"
       "2\n00:00:03.000 --> 00:00:05.000\ntwo\n")
SRT = ("\ufeff1\r\n00:00:01,000 --> 00:00:02,000\r\nun\r\n\r\n"
       "2\r\n00:00:03,000 --> 00:00:05,000\r\ndeux\r\n")


SIGNING_SECRET = "captions-signing-secret-0123456789"


@pytest.fixture
def mg_env(request, rundir):
    """The encoder's settings; with S3 storage for a test that asks for a
    bucket."""
    env = encoder_env(rundir)
    if "[signed]" in request.node.name:
        env["MEDIAGATE_MEDIA_SIGNING_SECRET"] = SIGNING_SECRET
    if "bucket" in request.fixturenames:
        s3, bucket = request.getfixturevalue("s3"), request.getfixturevalue("bucket")
        (rundir / "tmp").mkdir()
        env.update({
            "TMPDIR": str(rundir / "tmp"),
            "MEDIAGATE_UPLOAD_MAX_BYTES": str(64 * 1024 * 1024),
            "MEDIAGATE_STORAGE": "s3",
            "MEDIAGATE_STORAGE_ENDPOINT": s3.endpoint,
            "MEDIAGATE_STORAGE_REGION": s3.region,
            "MEDIAGATE_STORAGE_BUCKET": bucket,
            "MEDIAGATE_STORAGE_ADDRESSING": "path",
            "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
            "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
            "MEDIAGATE_STORAGE_PUBLIC_URL": f"{s3.endpoint}/{bucket}",
            "MEDIAGATE_MEDIA_URL_LIFETIME": "600",
        })
    return env


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-cap")


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture(scope="session")
def short_clip(run_root):
    out = run_root / "captions-clip.mp4"
    if not out.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                        "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                        "-shortest", str(out)], check=True)
    return out


def upload(stack, clip, key):
    """A job of KEY's upload of CLIP: its id."""
    r = put(stack, clip, "/uploads/c.mp4", f"Authorization: Bearer {key}")
    assert r.status == 201, r
    return r.json()["job_id"]


def put_captions(stack, key, job, lang, body, ctype="text/vtt", query="", rundir=None):
    f = rundir / f"cap-{lang}.txt"
    f.write_bytes(body if isinstance(body, bytes) else body.encode())
    return stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "-H", f"Content-Type: {ctype}",
                      "--data-binary", f"@{f}", f"/media/captions/{job}/{lang}{query}")


def delete_captions(stack, key, job, lang):
    return stack.curl("-X", "DELETE", "-H", f"Authorization: Bearer {key}", f"/media/captions/{job}/{lang}")


def listed(stack, job):
    return [c["language"] for c in status(stack, job).get("captions", [])]


def no_tasks(stack):
    return stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'captions.publish'") == 0


def first_pts(path):
    """The first PTS (90 kHz) of the MPEG-TS file at PATH, as ffprobe reads it."""
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0",
                        str(path)], capture_output=True, text=True, check=True)
    return round(float(r.stdout.strip()) * 90000)


def play(stack, master, lang, tmp_path, bearer=None):
    """hls.js in Chromium on MASTER with LANG's subtitles on (BEARER sent for
    an encrypted job's key): its result."""
    www = stack.run / "www"
    shutil.copy(mgstack.MG_ROOT / "web/node_modules/hls.js/dist/hls.min.js", www)
    shutil.copy(mgstack.MG_ROOT / "tests/browser/page/hls_captions.html", www)
    for f in www.iterdir():
        f.chmod(0o644)
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    r = subprocess.run(["node", str(mgstack.MG_ROOT / "tests/browser/hls_captions.mjs"),
                        f"{stack.base}/hls_captions.html", str(profile), master, lang,
                        *([bearer] if bearer else [])],
                       capture_output=True, text=True, timeout=900)
    got = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert len(got) == 1, (r.stdout, r.stderr[-3000:])
    return got[0]


def check_cues_on_time(res, texts):
    """Each of TEXTS (text, start) became active within 0.5 s of its start."""
    assert res["state"] == "ended", res
    for text, start in texts:
        at = [c["t"] for c in res["cues"] if c["text"] == text]
        assert at, f"cue {text!r} shown: {res}"
        assert abs(at[0] - start) < 0.5, f"cue {text!r} shown at {at[0]}, its start is {start}: {res}"


def test_vtt_and_srt_are_listed_played_and_deleted(stack, workers, short_clip, rundir, tmp_path):
    key = stack.mg("apikey", "create", "owner")
    workers.start()
    job = upload(stack, short_clip, key)
    wait_status(stack, job, ("COMPLETE", "ERROR"), 900)
    assert status(stack, job)["job_status"] == "COMPLETE"

    r = put_captions(stack, key, job, "en", VTT, query="?label=English", rundir=rundir)
    assert r.status == 201, r
    assert r.json() == {"success": True, "job_id": job, "language": "en", "label": "English",
                        "state": "created"}, r
    r = put_captions(stack, key, job, "fr", SRT, ctype="application/x-subrip", rundir=rundir)
    assert r.status == 201, r
    assert wait_until(lambda: listed(stack, job) == ["en", "fr"], 120), status(stack, job)
    caps = status(stack, job)["captions"]
    assert caps == [
        {"language": "en", "label": "English", "file": "captions/en.vtt", "playlist": "captions/en.m3u8"},
        {"language": "fr", "label": "fr", "file": "captions/fr.vtt", "playlist": "captions/fr.m3u8"}], caps

    d = rundir / "media" / job
    master = (d / "master.m3u8").read_text()
    assert 'TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en"' in master, master
    assert 'URI="captions/fr.m3u8"' in master, master
    infs = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF:")]
    assert infs and all(ln.endswith(',SUBTITLES="subs"') for ln in infs), master
    # The WebVTT maps its times to the segments' first PTS; the SRT was converted.
    seg = sorted((d / "v0").glob("*.ts"))[0]
    fr = (d / "captions" / "fr.vtt").read_text()
    m = re.search(r"^X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:00:00:00.000$", fr, re.M)
    assert m and abs(int(m.group(1)) - first_pts(seg)) <= 1, (fr, first_pts(seg))
    assert "00:00:03.000 --> 00:00:05.000\ndeux\n" in fr, fr
    pl = stack.curl(f"/media-files/{job}/captions/en.m3u8")
    assert pl.status == 200 and "\nen.vtt\n" in pl.body and "#EXT-X-ENDLIST" in pl.body, pl

    # hls.js lists both tracks and shows the cues at their times.
    res = play(stack, f"{stack.base}/media-files/{job}/master.m3u8", "en", tmp_path)
    assert sorted((t["lang"], t["name"]) for t in res["tracks"]) == [("en", "English"), ("fr", "fr")], res
    check_cues_on_time(res, [("one", 1.0), ("two", 3.0)])

    # Replacing a language updates it.
    r = put_captions(stack, key, job, "fr", VTT.replace("two", "trois"), query="?label=Fran%C3%A7ais",
                     rundir=rundir)
    assert r.status == 200 and r.json()["state"] == "replaced", r
    assert wait_until(lambda: "trois" in (d / "captions" / "fr.vtt").read_text(), 120)
    assert wait_until(lambda: 'NAME="Français"' in (d / "master.m3u8").read_text(), 60)

    # DELETE removes the language from the master and its files.
    r = delete_captions(stack, key, job, "fr")
    assert r.status == 200 and r.json()["state"] == "deleted", r
    assert listed(stack, job) == ["en"]
    assert wait_until(lambda: not (d / "captions" / "fr.vtt").exists(), 120)
    master = (d / "master.m3u8").read_text()
    assert 'LANGUAGE="fr"' not in master and 'LANGUAGE="en"' in master, master
    assert not (d / "captions" / "fr.m3u8").exists()
    assert delete_captions(stack, key, job, "fr").status == 404
    r = delete_captions(stack, key, job, "en")
    assert r.status == 200, r
    assert wait_until(lambda: "SUBTITLES" not in (d / "master.m3u8").read_text(), 120)
    assert "captions" not in status(stack, job)
    assert stack.db.one("SELECT count(*) FROM captions") == 0, "deleted rows go once their files have"


TAMPERED = [
    ("broken timing", "text/vtt", "WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nx\n", "line 3: the cue ends before"),
    ("malformed timing", "text/vtt", "WEBVTT\n\n00:01.0 --> 00:02.000\nx\n", "line 3: a malformed start"),
    ("srt timing", "application/x-subrip", "1\n00:00:01,000 -> 00:00:02,000\nx\n", "line 2:"),
    ("binary", "application/octet-stream", bytes(range(256)) * 4, "not a text file"),
    ("NUL", "text/vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\na\x00b\n", "line 4: a NUL byte"),
    ("not UTF-8", "text/vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\n\xe9t\xe9\n", "line 4: not UTF-8"),
    ("neither", "text/plain", "hello\n", "neither WebVTT"),
    ("vtt named srt", "application/x-subrip", VTT, "line 1: an SRT cue number"),
    ("too many cues", "text/vtt", "WEBVTT\n\n" + "00:00.000 --> 00:00.001\n\n" * 20001, "more than 20000"),
    ("no cues", "text/vtt", "WEBVTT\n", "no cues (to remove a language's captions, DELETE it)"),
    ("only a note", "text/plain", "WEBVTT\n\nNOTE emptied\n", "no cues"),
    ("bad UTF-16", "text/vtt", "\ufeffWEBVTT\n".encode("utf-16-le") + b"\x00\xdc", "not valid UTF-16"),
]


@pytest.mark.parametrize("name,ctype,body,msg", TAMPERED, ids=[t[0] for t in TAMPERED])
def test_a_tampered_file_is_refused_and_nothing_is_stored(stack, short_clip, rundir, name, ctype, body, msg):
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    r = put_captions(stack, key, job, "en", body, ctype=ctype, rundir=rundir)
    assert r.status == 400, r
    assert msg in r.json()["message"], r
    assert stack.db.one("SELECT count(*) FROM captions") == 0
    assert no_tasks(stack)


def test_requests_refused_without_storing(stack, short_clip, rundir):
    """A missing body, a huge file, a bad language or label, another
    owner's key, another encoder's job, an unknown type: refused, clearly,
    and nothing stored or queued."""
    key = stack.mg("apikey", "create", "owner")
    other = stack.mg("apikey", "create", "someone-else")
    job = upload(stack, short_clip, key)
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: text/vtt",
                   f"/media/captions/{job}/en")
    assert r.status == 400 and "missing" in r.json()["message"], r
    huge = "WEBVTT\n\n" + "00:00:01.000 --> 00:00:02.000\n" + "x" * (1 << 20) + "\n"
    r = put_captions(stack, key, job, "en", huge, rundir=rundir)
    assert r.status == 413, r
    r = put_captions(stack, key, job, "english", VTT, rundir=rundir)
    assert r.status == 400 and "BCP 47" in r.json()["message"], r
    r = put_captions(stack, key, job, "en", VTT, query="?label=a%22b", rundir=rundir)
    assert r.status == 400 and "label" in r.json()["message"], r
    r = put_captions(stack, key, job, "en", VTT, ctype="image/png", rundir=rundir)
    assert r.status == 415, r
    unknown = put_captions(stack, key, "no-such-job", "en", VTT, rundir=rundir)
    assert unknown.status == 404, unknown
    r = put_captions(stack, other, job, "en", VTT, rundir=rundir)
    assert (r.status, r.body) == (404, unknown.body), "another owner's job is an unknown one"
    r = delete_captions(stack, other, job, "en")
    assert (r.status, r.body) == (404, unknown.body), r
    r = stack.curl("-X", "PUT", "-H", "Content-Type: text/vtt", "--data-binary", VTT, f"/media/captions/{job}/en")
    assert r.status == 401, r
    assert stack.db.one("SELECT count(*) FROM captions") == 0
    assert no_tasks(stack)
    stack.db.conn.execute("UPDATE jobs SET backend = 'mediaconvert' WHERE id = %s", (job,))
    r = put_captions(stack, key, job, "en", VTT, rundir=rundir)
    assert r.status == 409 and "another encoder" in r.json()["message"], r
    stack.db.conn.execute("UPDATE jobs SET backend = 'local', status = 'CANCELED' WHERE id = %s", (job,))
    r = put_captions(stack, key, job, "en", VTT, rundir=rundir)
    assert r.status == 409 and "canceled" in r.json()["message"], r
    assert stack.db.one("SELECT count(*) FROM captions") == 0
    assert no_tasks(stack)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_taken_as_utf8(stack, short_clip, rundir, encoding):
    """What Windows Notepad saves as "Unicode": UTF-16 with its byte order
    mark, SRT or WebVTT, converted to UTF-8."""
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    srt = "\ufeff" + SRT.replace("\ufeff", "").replace("deux", "deux \u00e9t\u00e9s \U0001f600")
    r = put_captions(stack, key, job, "fr", srt.encode(encoding), ctype="application/octet-stream",
                     rundir=rundir)
    assert r.status == 201, r
    vtt = stack.db.one("SELECT vtt FROM captions WHERE job_id = %s", job)
    assert vtt == ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nun\n\n"
                   "00:00:03.000 --> 00:00:05.000\ndeux \u00e9t\u00e9s \U0001f600\n\n"), vtt
    r = put_captions(stack, key, job, "en", ("\ufeff" + VTT).encode(encoding), rundir=rundir)
    assert r.status == 201, r


def test_language_tags_differing_in_case_are_one_language(stack, short_clip, rundir):
    """BCP 47 tags are case-insensitive: each is taken in its canonical case
    (en, pt-BR, zh-Hant-TW), so EN replaces en and DELETE of PT-br removes
    pt-BR; the table takes canonical tags only."""
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    assert put_captions(stack, key, job, "en", VTT, rundir=rundir).status == 201
    r = put_captions(stack, key, job, "EN", VTT, rundir=rundir)
    assert r.status == 200 and r.json()["state"] == "replaced" and r.json()["language"] == "en", r
    r = put_captions(stack, key, job, "pt-br", VTT, rundir=rundir)
    assert r.status == 201 and r.json()["language"] == "pt-BR", r
    r = put_captions(stack, key, job, "ZH-hant-tw", VTT, rundir=rundir)
    assert r.status == 201 and r.json()["language"] == "zh-Hant-TW", r
    assert stack.db.rows("SELECT language FROM captions WHERE job_id = %s ORDER BY language", job) == [
        ("en",), ("pt-BR",), ("zh-Hant-TW",)]
    r = delete_captions(stack, key, job, "PT-br")
    assert r.status == 200 and r.json()["language"] == "pt-BR", r
    owner = stack.db.one("SELECT owner FROM uploads WHERE job_id = %s", job)
    assert stack.db.one("SELECT mediagate_captions_put(%s, %s, 'EN', 'x', 'WEBVTT', 20, 'local')",
                        job, owner) == "not_canonical"
    assert stack.db.one("SELECT count(*) FROM captions WHERE job_id = %s AND deleted_at IS NULL", job) == 2


def test_a_job_on_another_storage_is_refused(stack, short_clip, rundir):
    """A job whose outputs are on another storage than the installation's
    (an installation that moved to S3 and kept its local jobs, or the
    reverse): captions.publish could never write there, so PUT says so
    (409) and stores and queues nothing."""
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    stack.db.conn.execute("UPDATE jobs SET storage = 's3' WHERE id = %s", (job,))
    r = put_captions(stack, key, job, "en", VTT, rundir=rundir)
    assert r.status == 409 and "another storage" in r.json()["message"], r
    assert stack.db.one("SELECT count(*) FROM captions") == 0
    assert no_tasks(stack)
    stack.db.conn.execute("UPDATE jobs SET storage = 'local' WHERE id = %s", (job,))
    assert put_captions(stack, key, job, "en", VTT, rundir=rundir).status == 201


@pytest.mark.parametrize("conf", ["plain", "signed"])
def test_master_and_captions_are_fresh_for_a_minute_other_files_for_long(stack, rundir, conf):
    """nginx's shipped media confs (mediagate-media.conf, and the signed
    one), in a site with its own regex locations (\\.m3u8$, \\.jpg$: they
    never take the media URLs): the master playlist and captions/ change
    when captions do, so they are fresh for a minute; segments, media
    playlists, images, the storyboard and MP4s never change (a day; an
    hour signed); an encode in progress is not served."""
    job = "5f0c3d1e-8a6b-4c2d-9e1f-0000000000c4"
    d = rundir / "media" / job
    files = {"master.m3u8": "#EXTM3U\n", "captions/en.vtt": VTT, "captions/en.m3u8": "#EXTM3U\n",
             "v0/index.m3u8": "#EXTM3U\n", "v0/seg000.ts": "x", "poster.jpg": "x", "storyboard.jpg": "x",
             "storyboard.vtt": "WEBVTT\n", "mp4/240p.mp4": "x", "thumbs/1000-120.jpg": "x"}
    for f, body in files.items():
        (d / f).parent.mkdir(parents=True, exist_ok=True)
        (d / f).write_text(body)
    (rundir / "media" / f".{job}.tmp").mkdir()
    (rundir / "media" / f".{job}.tmp" / "master.m3u8").write_text("#EXTM3U\n")
    subprocess.run(["chmod", "-R", "a+rX", str(rundir / "media")], check=True)
    if conf == "signed":
        from test_signed_media import sig
        exp = 4102444800  # 2100-01-01
        base = f"/media-files/s/{sig(exp, job, SIGNING_SECRET)}/{exp}/{job}/"
        short, long = "private, max-age=60", "private, max-age=3600"
    else:
        base = f"/media-files/{job}/"
        short, long = "public, max-age=60", "public, max-age=86400"
    got = {}
    for f in files:
        r = stack.curl(base + f)
        assert r.status == 200 and r.header("Access-Control-Allow-Origin") == "*", (f, r)
        got[f] = [v for k, v in r.headers if k.lower() == "cache-control"]
    want = {f: [short if f == "master.m3u8" or f.startswith("captions/") else long] for f in files}
    assert got == want, got
    r = stack.curl(f"/media-files/.{job}.tmp/master.m3u8" if conf == "plain" else
                   base.replace(f"/{job}/", f"/{job}/.x/") + "master.m3u8")
    assert r.status in (403, 404), r


def test_languages_per_job_are_bounded(stack, short_clip, rundir):
    """20 languages per job: a 21st is 409 and stores nothing; replacing
    one of the 20 is fine, and a deleted one frees its place."""
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    langs = [f"x{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(20)]
    for lang in langs:
        r = put_captions(stack, key, job, lang, VTT, rundir=rundir)
        assert r.status == 201, r
    r = put_captions(stack, key, job, "en", VTT, rundir=rundir)
    assert r.status == 409 and "20 languages" in r.json()["message"], r
    assert put_captions(stack, key, job, langs[0], SRT, ctype="text/plain", rundir=rundir).status == 200
    assert delete_captions(stack, key, job, langs[1]).status == 200
    assert put_captions(stack, key, job, "en", VTT, rundir=rundir).status == 201
    assert stack.db.one("SELECT count(*) FROM captions WHERE deleted_at IS NULL") == 20
    assert stack.db.one("SELECT count(*) FROM outbox WHERE kind = 'captions.publish' "
                        "AND done_at IS NULL") == 1, "one queued publish covers every change"


def test_browsers_put_and_delete_across_origins(stack, short_clip, rundir):
    """A page of an allowed origin: the preflight names PUT and DELETE, and
    the answers carry the origin; another origin is refused."""
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    r = stack.curl("-X", "OPTIONS", "-H", "Origin: https://app.example.com",
                   "-H", "Access-Control-Request-Method: PUT", f"/media/captions/{job}/en")
    assert r.status in (200, 204), r
    assert r.header("Access-Control-Allow-Origin") == "https://app.example.com", r.headers
    assert {"PUT", "DELETE"} <= set(m.strip() for m in r.header("Access-Control-Allow-Methods").split(",")), \
        r.headers
    f = rundir / "en.vtt"
    f.write_text(VTT)
    for method, want in (("PUT", 201), ("DELETE", 200)):
        args = ["--data-binary", f"@{f}", "-H", "Content-Type: text/vtt"] if method == "PUT" else []
        r = stack.curl("-X", method, "-H", "Origin: https://app.example.com", "-H", f"Authorization: Bearer {key}",
                       *args, f"/media/captions/{job}/en")
        assert r.status == want, r
        assert r.header("Access-Control-Allow-Origin") == "https://app.example.com", r.headers
    r = stack.curl("-X", "PUT", "-H", "Origin: https://evil.example.net", "-H", f"Authorization: Bearer {key}",
                   "--data-binary", f"@{f}", f"/media/captions/{job}/en")
    assert r.status in (403, 422) and r.header("Access-Control-Allow-Origin") is None, r


def test_captions_given_while_encoding_appear_once_complete(stack, workers, short_clip, rundir):
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    r = put_captions(stack, key, job, "de", VTT, rundir=rundir)
    assert r.status == 201, r
    workers.start()
    wait_status(stack, job, ("COMPLETE", "ERROR"), 900)
    assert status(stack, job)["job_status"] == "COMPLETE"
    assert wait_until(lambda: listed(stack, job) == ["de"], 120), status(stack, job)
    master = (rundir / "media" / job / "master.m3u8").read_text()
    assert 'LANGUAGE="de"' in master and 'SUBTITLES="subs"' in master, master
    assert (rundir / "media" / job / "captions" / "de.vtt").exists()

    # One publish of a job at a time: another waits (uncounted) for the one running.
    lock = "SELECT %s(hashtext('captions.publish'), hashtext(%%s))"
    stack.db.conn.execute(lock % "pg_advisory_lock", (job,))
    try:
        assert put_captions(stack, key, job, "it", VTT, rundir=rundir).status == 201
        assert wait_until(lambda: stack.db.rows(
            "SELECT 1 FROM outbox WHERE kind = 'captions.publish' AND done_at IS NULL "
            "AND last_error LIKE 'another publish%%' AND attempts = 0"), 60)
        assert 'LANGUAGE="it"' not in (rundir / "media" / job / "master.m3u8").read_text()
    finally:
        stack.db.conn.execute(lock % "pg_advisory_unlock", (job,))
    assert wait_until(lambda: listed(stack, job) == ["de", "it"], 120), status(stack, job)


def test_on_s3_the_files_land_in_the_bucket_and_a_private_job_plays_them(stack, workers, short_clip, rundir,
                                                                          s3, bucket, tmp_path):
    """MEDIAGATE_STORAGE=s3: the captions and the master are written to
    media/<job>/ as private objects, like the job's own (its ACL admits
    only its owner), and hls.js plays them through the signed /media/hls/
    route, cues on time."""
    c = s3_settings.client(s3)
    c.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [stack.base], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["*"]}]})
    key = stack.mg("apikey", "create", "alice")
    job = upload(stack, short_clip, key)
    stack.db.conn.execute("UPDATE jobs SET acl = 'USER_alice' WHERE id = %s", (job,))
    r = put_captions(stack, key, job, "en", VTT, query="?label=English", rundir=rundir)
    assert r.status == 201, r
    workers.start()
    auth = f"Authorization: Bearer {key}"

    def mine():
        return json.loads(stack.curl("-H", auth, f"/media/status?job_id={job}").body)
    wait_until(lambda: mine().get("job_status") in ("COMPLETE", "ERROR"), 900)
    assert mine()["job_status"] == "COMPLETE", mine()
    r = put_captions(stack, key, job, "fr", SRT, ctype="application/x-subrip", rundir=rundir)
    assert r.status == 201, r
    assert wait_until(lambda: [x["language"] for x in mine().get("captions", [])] == ["en", "fr"], 120), mine()
    for lang in ("en", "fr"):
        for ext, ctype in (("vtt", "text/vtt; charset=utf-8"), ("m3u8", "application/vnd.apple.mpegurl")):
            head = c.head_object(Bucket=bucket, Key=f"media/{job}/captions/{lang}.{ext}")
            assert head["ContentType"] == ctype, head
    master = c.get_object(Bucket=bucket, Key=f"media/{job}/master.m3u8")["Body"].read().decode()
    assert 'URI="captions/en.m3u8"' in master and 'SUBTITLES="subs"' in master, master
    # Private like the job's other objects: the store refuses an unsigned read.
    for k in (f"media/{job}/captions/en.vtt", f"media/{job}/master.m3u8"):
        got = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{s3.endpoint}/{bucket}/{k}"],
                             capture_output=True, text=True).stdout
        assert got == "403", (k, got)
    out = mine()["output_path"]
    assert out.startswith("/media/hls/"), out
    pl = stack.curl(out + "captions/en.m3u8")
    assert pl.status == 200 and f"{s3.endpoint}/{bucket}/media/{job}/captions/en.vtt?" in pl.body, pl
    res = play(stack, stack.base + out + "master.m3u8", "en", tmp_path, bearer=key)
    assert sorted((t["lang"], t["name"]) for t in res["tracks"]) == [("en", "English"), ("fr", "fr")], res
    check_cues_on_time(res, [("one", 1.0), ("two", 3.0)])
    log = (rundir / "worker.log").read_text(errors="replace")
    assert "not clear MPEG-TS" not in log, "the first PTS was read from the (decrypted) segment"
    # DELETE removes the objects and the master's line.
    assert delete_captions(stack, key, job, "fr").status == 200
    assert wait_until(lambda: "fr" not in [k["Key"].rsplit("/", 1)[-1].split(".")[0] for k in
                                           c.list_objects_v2(Bucket=bucket, Prefix=f"media/{job}/captions/")
                                           .get("Contents", [])], 120)
    master = c.get_object(Bucket=bucket, Key=f"media/{job}/master.m3u8")["Body"].read().decode()
    assert 'LANGUAGE="fr"' not in master and 'LANGUAGE="en"' in master, master


def test_the_docs_example_runs(stack, short_clip, rundir):
    """docs/captions.md's curl commands, run as shown, answer as shown."""
    text = (mgstack.MG_ROOT / "docs" / "captions.md").read_text()
    m = re.search(r"```sh\n(curl -s -X PUT -H .*?)\n```\n\n```\n(.*?)\n```", text, re.S)
    assert m, "docs/captions.md shows the upload and the delete"
    key = stack.mg("apikey", "create", "owner")
    job = upload(stack, short_clip, key)
    (rundir / "captions.fr.srt").write_text(SRT)
    cmd = m.group(1).replace("https://media.example.com", stack.base)
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=rundir,
                       env={"key": key, "job": job, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == m.group(2).replace("…", job).replace("\n", ""), r.stdout
    assert stack.db.one("SELECT deleted_at IS NOT NULL FROM captions WHERE job_id = %s", job) is True
