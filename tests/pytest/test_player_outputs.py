"""What the local encoder makes beside the ladder, through real PostgreSQL,
nginx, ffmpeg and Chromium (docs/encoder.md, docs/profiles.md):

- the default profile: a poster, a storyboard (sprite + WebVTT of #xywh
  cues covering the whole duration), an audio-only variant in the master
  (CODECS mp4a), all in /media/status and served by nginx with their
  types; hls.js plays the master and the audio-only playlist alone;
- a profile with MP4 and a poster at 0 s of an input that starts black:
  the poster skips the black frames; each MP4 has its moov first, lasts
  as its rendition, and plays in Chromium;
- a profile that asks for none of them makes none; a source without audio
  makes no audio-only variant and reports nothing missing.
"""

import json
import shutil
import struct
import subprocess

import pytest

import mgstack
from mgstack import wait_until
from test_encoder import mg_env, nginx_includes  # noqa: F401 (the encoder's settings and snippets)

BROWSER = mgstack.MG_ROOT / "tests" / "browser"


@pytest.fixture(scope="session")
def black_start(run_root):
    """An 8 s 854x480 clip (with a tone) whose first 2 s are black."""
    out = run_root / "black-start.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=black:size=854x480:rate=25:duration=2", "-f", "lavfi", "-i",
                    "testsrc=size=854x480:rate=25:duration=6", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=8", "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]",
                    "-map", "[v]", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
                    "-c:a", "aac", "-shortest", str(out)], check=True)
    return out


@pytest.fixture(scope="session")
def silent(run_root):
    """A 4 s 320x240 clip with no audio stream."""
    out = run_root / "silent.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
                    str(out)], check=True)
    return out


def encode(stack, workers, rundir, src, profile=None):
    """Uploads SRC (with PROFILE, a spec added as profile "p"), encodes it;
    returns (job, its /media/status answer, its directory)."""
    key = stack.mg("apikey", "create", "uploader")
    path = "/uploads/in.mp4"
    if profile is not None:
        spec = rundir / "p.json"
        spec.write_text(json.dumps(profile))
        stack.mg("profiles", "add", "p", "--encoder", "local", spec)
        path += "?profile=p"
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "--data-binary", f"@{src}", path)
    assert r.status == 201, r
    job = r.json()["job_id"]
    workers.start()
    wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", job) in ("COMPLETE", "ERROR"), 900)
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert st["job_status"] == "COMPLETE", st
    return job, st, rundir / "media" / job


def probe(path, entries):
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def image_size(path):
    s = probe(path, "stream=width,height")["streams"][0]
    return s["width"], s["height"]


def mean_luma(path):
    """The mean of the image's 32x32 grey copy (0 black .. 255)."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-vf",
                        "scale=32:32,format=gray", "-f", "rawvideo", "-"], capture_output=True, check=True)
    return sum(p.stdout) / len(p.stdout)


def vtt_ms(t):
    h, m, s = t.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)


def cues(text):
    """The WebVTT's cues as [(start_ms, end_ms, ref)]."""
    lines = text.splitlines()
    assert lines[0] == "WEBVTT", text[:200]
    out = []
    for i, line in enumerate(lines):
        if "-->" in line:
            a, _, b = line.partition(" --> ")
            out.append((vtt_ms(a), vtt_ms(b), lines[i + 1]))
    return out


def check_storyboard(stack, job, st, media):
    sb = st["storyboard"]
    assert sb["vtt"] == "storyboard.vtt" and sb["images"] == ["storyboard.jpg"], sb
    sw, sh = image_size(media / "storyboard.jpg")
    assert (sw, sh) == (sb["columns"] * sb["tile_width"], sb["rows"] * sb["tile_height"]), (sw, sh, sb)
    got = cues(stack.curl(f"/media-files/{job}/storyboard.vtt").body)
    assert got and got[0][0] == 0, got
    assert got[-1][1] == st["duration_ms"], f"the cues end at the duration: {got[-1]} {st['duration_ms']}"
    for (a0, a1, _), (b0, _, _) in zip(got, got[1:]):
        assert a1 == b0, f"no gap or overlap between cues: {got}"
    for start, end, ref in got:
        assert start < end, got
        name, _, frag = ref.partition("#xywh=")
        x, y, w, h = map(int, frag.split(","))
        assert name == "storyboard.jpg" and (w, h) == (sb["tile_width"], sb["tile_height"]), ref
        assert 0 <= x and x + w <= sw and 0 <= y and y + h <= sh, f"{ref} inside {sw}x{sh}"
    return got


def served(stack, job, name, ctype):
    r = stack.curl(f"/media-files/{job}/{name}")
    assert r.status == 200 and r.header("Content-Type") == ctype, (name, r.status, r.headers)
    assert int(r.header("Content-Length")) == (stack.run / "media" / job / name).stat().st_size


def node(script, *args):
    r = subprocess.run(["node", str(BROWSER / script), *map(str, args)], capture_output=True, text=True,
                       timeout=900)
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")], r


def site_page(stack):
    """tests/browser/page/hls.html and hls.js, served by the test's nginx."""
    www = stack.run / "www"
    shutil.copy(mgstack.MG_ROOT / "web/node_modules/hls.js/dist/hls.min.js", www)
    shutil.copy(BROWSER / "page" / "hls.html", www)
    for f in www.iterdir():
        f.chmod(0o644)
    return f"{stack.base}/hls.html"


def test_default_profile_makes_poster_storyboard_and_audio_only(stack, workers, rundir, black_start,
                                                               tmp_path):
    job, st, media = encode(stack, workers, rundir, black_start)
    assert [v["height"] for v in st["variations"]] == [480, 360], st
    # The poster: a little in (2 s of 8), at the top rendition's size.
    assert st["poster"] == {"file": "poster.jpg", "width": 854, "height": 480, "time_s": 2}, st
    assert image_size(media / "poster.jpg") == (854, 480)
    assert mean_luma(media / "poster.jpg") > 40, "the poster is a picture, not black"
    assert sorted(p.name for p in media.iterdir() if p.is_file()) == \
        ["master.m3u8", "poster.jpg", "storyboard.jpg", "storyboard.vtt"], "no candidate left behind"
    # The storyboard: 1 s tiles of 160 px over the 8 s.
    sb = st["storyboard"]
    assert (sb["tile_width"], sb["tile_height"], sb["interval_s"], sb["columns"], sb["rows"]) == \
        (160, 90, 1, 8, 1), sb
    assert len(check_storyboard(stack, job, st, media)) == 8
    # The audio-only variant: after the video ones, in the master with its codec.
    assert st["audio_only"] == {"playlist": "v2/index.m3u8", "codecs": "mp4a.40.2", "bitrate": 128000}, st
    master = (media / "master.m3u8").read_text()
    inf = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF")]
    assert len(inf) == 3 and 'CODECS="mp4a.40.2"' in inf[2] and "RESOLUTION" not in inf[2], master
    streams = probe(media / "v2" / "index.m3u8", "stream=codec_type")["streams"]
    assert [s["codec_type"] for s in streams] == ["audio"], streams
    assert "mp4" not in st and "missing" not in st, st
    for name, ctype in (("poster.jpg", "image/jpeg"), ("storyboard.jpg", "image/jpeg"),
                        ("storyboard.vtt", "text/vtt"), ("master.m3u8", "application/vnd.apple.mpegurl"),
                        ("v2/index.m3u8", "application/vnd.apple.mpegurl")):
        served(stack, job, name, ctype)
    # hls.js in Chromium: the master with its audio-only variant, and that variant alone.
    base = f"{stack.base}/media-files/{job}/"
    got, r = node("hls_play.mjs", site_page(stack), tmp_path / "profile", base + "master.m3u8",
                  base + "v2/index.m3u8")
    assert [g.get("state") for g in got] == ["played", "played"], (got, r.stderr[-3000:])


def top_boxes(path):
    """The MP4's top-level box types, in order."""
    data, out, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        out.append(kind.decode())
        pos += size or len(data) - pos
    return out


def docs_example():
    """The extras' example spec docs/profiles.md shows (its second JSON block)."""
    text = (mgstack.MG_ROOT / "docs" / "profiles.md").read_text()
    blocks = [b.partition("\n")[2].partition("```")[0] for b in text.split("```json")[1:]]
    return blocks[1]


def test_mp4_profile_and_a_poster_that_skips_black(stack, workers, rundir, black_start, tmp_path):
    ex = rundir / "docs-example.json"
    ex.write_text(docs_example())
    assert "poster" in json.loads(ex.read_text())
    stack.mg("profiles", "add", "docs-example", "--encoder", "local", ex)  # docs/profiles.md's spec is taken
    job, st, media = encode(stack, workers, rundir, black_start, {
        "renditions": [{"height": 360}, {"height": 240, "audio_kbps": 64}], "packaging": ["hls", "mp4"],
        "poster": {"time": 0}, "storyboard": {"interval": 3, "width": 120}})
    # The frames at 0 and 1 s are black: the poster is the one at 2 s.
    assert st["poster"] == {"file": "poster.jpg", "width": 640, "height": 360, "time_s": 2}, st
    assert mean_luma(media / "poster.jpg") > 40, "not the black first frame"
    sb = st["storyboard"]
    assert (sb["tile_width"], sb["tile_height"], sb["interval_s"], sb["columns"], sb["rows"]) == \
        (120, 68, 3, 3, 1), sb
    got = check_storyboard(stack, job, st, media)
    assert [(a, b) for a, b, _ in got] == [(0, 3000), (3000, 6000), (6000, st["duration_ms"])], got
    assert st["audio_only"]["bitrate"] == 128000, "the top rendition's audio bitrate"
    mp4 = st["mp4"]
    assert [(m["file"], m["width"], m["height"], m["bitrate"]) for m in mp4] == \
        [("mp4/360p.mp4", *[(v["width"], v["height"], v["bitrate"]) for v in st["variations"]][0]),
         ("mp4/240p.mp4", *[(v["width"], v["height"], v["bitrate"]) for v in st["variations"]][1])], mp4
    for m in mp4:
        f = media / m["file"]
        assert m["size"] == f.stat().st_size > 10000, m
        boxes = top_boxes(f)
        assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat"), f"faststart: {boxes}"
        info = probe(f, "format=duration:stream=codec_type,height")
        assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"], info
        assert abs(float(info["format"]["duration"]) * 1000 - st["duration_ms"]) < 500, info
        served(stack, job, m["file"], "video/mp4")
    assert "missing" not in st, st
    got, r = node("mp4_play.mjs", site_page(stack), tmp_path / "profile",
                  f"{stack.base}/media-files/{job}/mp4/360p.mp4")
    assert [g.get("state") for g in got] == ["played"], (got, r.stderr[-3000:])


def test_each_extra_is_switched_off_on_its_own(stack, workers, rundir, black_start):
    """Poster, storyboard and audio-only off, MP4 on: only the MP4 is made."""
    job, st, media = encode(stack, workers, rundir, black_start, {
        "renditions": [{"height": 240}], "packaging": ["hls", "mp4"],
        "poster": False, "storyboard": False, "audio_only": False})
    for k in ("poster", "storyboard", "audio_only", "missing"):
        assert k not in st, st
    assert [m["file"] for m in st["mp4"]] == ["mp4/240p.mp4"], st
    assert sorted(p.name for p in media.iterdir()) == ["master.m3u8", "mp4", "v0"], list(media.iterdir())
    assert (media / "master.m3u8").read_text().count("#EXT-X-STREAM-INF") == 1


def test_a_source_without_audio_has_no_audio_only_variant(stack, workers, rundir, silent):
    job, st, media = encode(stack, workers, rundir, silent)
    assert "audio_only" not in st and "missing" not in st, st
    assert sorted(p.name for p in media.iterdir() if p.is_dir()) == ["v0"]
    assert (media / "master.m3u8").read_text().count("#EXT-X-STREAM-INF") == 1
    assert st["poster"]["time_s"] == round(4 / 3, 3), st["poster"]
    check_storyboard(stack, job, st, media)


def test_an_encrypted_job_gets_no_mp4_and_says_why(stack, workers, rundir, silent):
    """A clear MP4 would defeat the HLS encryption: asked for, it is missing."""
    job, st, media = encode(stack, workers, rundir, silent, {
        "renditions": [{"height": 240}], "packaging": ["hls", "mp4"], "encryption": "aes-128"})
    if "encryption" not in st:
        pytest.skip("this build does not encrypt HLS (app/worker/hls_crypt.c)")
    assert "mp4" not in st and not (media / "mp4").exists(), st
    assert st["missing"] == [{"output": "mp4", "reason": "the HLS of this job is encrypted: a clear "
                                                         "MP4 copy would defeat the encryption"}], st


def test_progress_is_reported_from_the_start(stack, workers, rundir, run_root):
    """The storyboard's sheet comes only at the end, and a late poster late:
    ffmpeg reports no progress until every output has had a frame, so each
    image output starts with one. A 30 s encode shows progress below half."""
    src = run_root / "long-30s.mp4"
    if not src.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                        "-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
                        str(src)], check=True)
    key = stack.mg("apikey", "create", "uploader")
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "--data-binary", f"@{src}",
                   "/uploads/long.mp4")
    assert r.status == 201, r
    job = r.json()["job_id"]
    workers.start()
    seen = []

    def poll():
        st = json.loads(stack.curl(f"/media/status?job_id={job}").body)
        if st.get("job_status") == "PROGRESSING" and 0 < st.get("progress_rate", 0) < 100:
            seen.append(st["progress_rate"])
        return st.get("job_status") in ("COMPLETE", "ERROR")
    wait_until(poll, 900, 0.1)
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert st["job_status"] == "COMPLETE" and "storyboard" in st and "poster" in st, st
    assert seen and min(seen) < 50, f"progress reported from the start: {seen}"
