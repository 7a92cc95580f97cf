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
  makes no audio-only variant and reports nothing missing;
- odd sources: audio that ends early (the audio-only variant left out and
  listed missing, the ladder COMPLETE), a partly filled last storyboard
  row, a tall thin picture, a rotated phone video and non-square pixels
  (poster and tiles at the display aspect), a 4.3 s and a 0.3 s clip (no
  blank tile; one tile), a long black start and a sparse source (the
  poster a picture, time_s the time it is shown);
- faults during the MP4 copy: a full disk waits for space, a killed copy
  is retried;
- the job.complete webhook carries the extras; signed media: every extra
  reachable under the signed output_path, refused unsigned.
"""

import json
import os
import re
import shutil
import signal
import struct
import subprocess

import pytest

import mgstack
from mgstack import processes_matching, wait_until
from test_encoder import encoder_env, nginx_includes  # noqa: F401 (the encoder's snippets)
from test_webhooks import check_signed, endpoint, receiver  # noqa: F401 (the webhook receiver)


@pytest.fixture
def mg_env(rundir, request):
    """The encoder's settings, plus a test's own (indirect parametrization)."""
    return {**encoder_env(rundir), **getattr(request, "param", {})}

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


V420 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]
SOURCES = {
    # 4 s of video whose audio lasts 1 s (a mic that stopped)
    "shortaudio.mp4": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4", "-f", "lavfi",
                       "-i", "sine=duration=1", *V420, "-c:a", "aac"],
    # an audio stream of one packet beside 4 s of video
    "tinyaudio.mp4": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4", "-f", "lavfi",
                      "-i", "anullsrc=r=44100:cl=mono", "-filter_complex", "[1:a]atrim=end_sample=1[a]",
                      "-map", "0:v", "-map", "[a]", *V420, "-c:a", "aac"],
    # 15 s: the sheet's last row is not full (its tile frame spans the grid)
    "plain15.mp4": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=15", "-f", "lavfi", "-i",
                    "sine=duration=15", *V420, "-c:a", "aac"],
    # a tall thin picture (16x2048), 45 s at 5 fps
    "thin.mp4": ["-f", "lavfi", "-i", "testsrc=size=16x2048:rate=5:duration=45", "-f", "lavfi", "-i",
                 "sine=duration=45", *V420, "-c:a", "aac"],
    # 4.3 s: the last partial interval is under half of one
    "d43.mp4": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4.3", "-f", "lavfi", "-i",
                "sine=duration=4.3", *V420, "-c:a", "aac"],
    # 720x576 shown at 16:9 (SAR 64:45)
    "anamorphic.mp4": ["-f", "lavfi", "-i", "testsrc=size=720x576:rate=25:duration=4", "-f", "lavfi", "-i",
                       "sine=duration=4", "-vf", "setsar=64/45", *V420, "-c:a", "aac"],
    # 0.3 s
    "short03.mp4": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=0.3", "-f", "lavfi", "-i",
                    "sine=duration=0.3", *V420, "-c:a", "aac"],
    # 20 s black, then 10 s of picture
    "black20.mp4": ["-f", "lavfi", "-i", "color=black:size=320x240:rate=5:duration=20", "-f", "lavfi",
                    "-i", "testsrc=size=320x240:rate=5:duration=10", "-f", "lavfi", "-i", "sine=duration=30",
                    "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a",
                    *V420, "-c:a", "aac", "-shortest"],
    # a frame every 2.5 s (a slideshow), each of another colour: red first
    "sparse.mp4": ["-f", "lavfi", "-i", "color=red:size=320x240:rate=0.4:duration=10,hue=H=PI/2*t", "-f",
                   "lavfi", "-i", "sine=duration=10", *V420, "-c:a", "aac", "-shortest"],
    # 8 s of noise: the MP4 is as large as the HLS
    "noisy8.mp4": ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=8,noise=alls=60:allf=t",
                   "-f", "lavfi", "-i", "sine=duration=8", *V420, "-b:v", "6000k", "-c:a", "aac"],
}


@pytest.fixture(scope="session")
def source(run_root):
    d = run_root / "odd-sources"
    d.mkdir(exist_ok=True)

    def make(name):
        out = d / name
        if not out.exists():
            if name == "rot90.mp4":  # a 320x180 clip its display matrix turns (a phone's portrait video)
                plain = make("plain4.mp4")
                args = ["-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90"]
            elif name == "plain4.mp4":
                args = ["-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=4", "-f", "lavfi", "-i",
                        "sine=duration=4", *V420, "-c:a", "aac"]
            else:
                args = SOURCES[name]
            subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args, str(out)], check=True)
        return out
    return make


def mean_rgb(path, ss=None):
    """The picture's (or the frame shown at SS s) mean colour, as (r, g, b)."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", *(["-ss", str(ss)] if ss is not None else []),
                        "-i", str(path), "-frames:v", "1", "-vf", "scale=1:1:flags=area,format=rgb24", "-f",
                        "rawvideo", "-"], capture_output=True, check=True)
    return tuple(p.stdout[:3])


@pytest.mark.parametrize("name", ["shortaudio.mp4", "tinyaudio.mp4"])
def test_audio_shorter_than_the_video_leaves_the_audio_only_variant_out(stack, workers, rundir, source,
                                                                        name):
    """An optional extra never fails the ladder: the job COMPLETEs, the
    audio-only variant is neither in the master nor listed, `missing` says
    why, and the worker's log names the cause."""
    job, st, media = encode(stack, workers, rundir, source(name))
    assert "audio_only" not in st, st
    (m,) = st["missing"]
    assert m["output"] == "audio_only" and m["reason"].startswith("the audio"), st
    n = len(st["variations"])
    assert (media / "master.m3u8").read_text().count("#EXT-X-STREAM-INF") == n
    assert not (media / f"v{n}").exists()
    assert f"audio_only not made: {m['reason']}" in workers.log()
    check_storyboard(stack, job, st, media)


def test_a_partly_filled_last_storyboard_row_completes(stack, workers, rundir, source):
    job, st, media = encode(stack, workers, rundir, source("plain15.mp4"))
    sb = st["storyboard"]
    assert (sb["columns"], sb["rows"]) == (10, 2), sb
    assert len(check_storyboard(stack, job, st, media)) == 15


def test_a_tall_thin_source_completes_with_bounded_tiles(stack, workers, rundir, source):
    job, st, media = encode(stack, workers, rundir, source("thin.mp4"))
    sb = st.get("storyboard")
    assert sb is None or sb["tile_height"] <= 2 * 160, st
    assert "out of memory" not in json.dumps(st)


def test_a_rotated_video_poster_tiles_and_mp4_at_the_displayed_size(stack, workers, rundir, source):
    job, st, media = encode(stack, workers, rundir, source("rot90.mp4"),
                            {"renditions": [{"height": 180}], "packaging": ["hls", "mp4"]})
    seg = image_size(next((media / "v0").glob("*.ts")))
    assert seg[0] < seg[1], f"ffmpeg turns the picture: {seg}"
    assert image_size(media / "poster.jpg") == seg == (st["poster"]["width"], st["poster"]["height"]), st
    sb = st["storyboard"]
    assert abs(sb["tile_width"] / sb["tile_height"] - seg[0] / seg[1]) < 0.05, (sb, seg)
    mp4 = st["mp4"][0]
    assert (mp4["width"], mp4["height"]) == image_size(media / mp4["file"]) == seg, st


def test_non_square_pixels_poster_and_tiles_at_the_display_aspect(stack, workers, rundir, source):
    job, st, media = encode(stack, workers, rundir, source("anamorphic.mp4"))
    pw, ph = st["poster"]["width"], st["poster"]["height"]
    assert (pw, ph) == image_size(media / "poster.jpg") and abs(pw / ph - 16 / 9) < 0.02, st["poster"]
    sb = st["storyboard"]
    assert abs(sb["tile_width"] / sb["tile_height"] - 16 / 9) < 0.05, sb
    check_storyboard(stack, job, st, media)


def test_a_4_3_s_clip_every_cue_names_a_picture_and_times_are_ms(stack, workers, rundir, source):
    job, st, media = encode(stack, workers, rundir, source("d43.mp4"))
    got = check_storyboard(stack, job, st, media)
    assert len(got) == 5, got
    for _, _, ref in got:
        x, y, w, h = map(int, ref.partition("#xywh=")[2].split(","))
        p = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(media / "storyboard.jpg"),
                            "-vf", f"crop={w}:{h}:{x}:{y},scale=32:32,format=gray", "-f", "rawvideo", "-"],
                           capture_output=True, check=True)
        assert sum(p.stdout) / len(p.stdout) > 20, f"{ref} is a picture, not a blank tile"
    # time_s as meant (a third of 4.32 s: 1.44), not 17 digits, in the raw answer
    raw = stack.curl(f"/media/status?job_id={job}").body
    assert re.search(r'"time_s": ?1\.44[,}]', raw) and re.search(r'"interval_s": ?1[,}]', raw), raw


def test_a_0_3_s_clip_has_a_storyboard_of_one_tile(stack, workers, rundir, source):
    job, st, media = encode(stack, workers, rundir, source("short03.mp4"))
    assert "missing" not in st, st
    sb = st["storyboard"]
    assert (sb["columns"], sb["rows"]) == (1, 1), sb
    assert len(check_storyboard(stack, job, st, media)) == 1


def test_a_long_black_start_still_gets_a_picture_as_poster(stack, workers, rundir, source):
    job, st, media = encode(stack, workers, rundir, source("black20.mp4"), {"renditions": [{"height": 240}]})
    assert mean_luma(media / "poster.jpg") > 40, st["poster"]
    assert st["poster"]["time_s"] >= 20, st["poster"]
    assert mean_rgb(media / "poster.jpg") == pytest.approx(
        shown_at(source("black20.mp4"), st["poster"]["time_s"]), abs=24), "the frame shown at time_s"


def shown_at(path, t):
    """The mean colour of the frame a player shows at T s: the last whose
    pts is not after T."""
    pts = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout.split()
    n = max(i for i, p in enumerate(pts) if float(p.strip(",")) <= t + 1e-6)
    p = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-vf",
                        f"select=eq(n\\,{n}),scale=1:1:flags=area,format=rgb24", "-frames:v", "1", "-f",
                        "rawvideo", "-"], capture_output=True, check=True)
    return tuple(p.stdout[:3])


def test_the_posters_time_is_when_its_picture_is_shown(stack, workers, rundir, source):
    """A frame every 2.5 s, each of another colour (red first): the poster
    is the picture a player shows at time_s (at 2 s: the red one, from 0 s;
    not the next frame, at 2.5 s, under the time of 2 s)."""
    job, st, media = encode(stack, workers, rundir, source("sparse.mp4"), {"renditions": [{"height": 240}]})
    t = st["poster"]["time_s"]
    assert t == 2, st["poster"]
    want = shown_at(source("sparse.mp4"), t)
    assert want[0] > 150 and want[1] < 80 and want[2] < 80, f"red is shown at {t} s: {want}"
    assert mean_rgb(media / "poster.jpg") == pytest.approx(want, abs=24), st["poster"]


@pytest.fixture
def media_tmpfs(rundir):
    """A small tmpfs as the test's media directory: mount(size), grow(size)."""
    media = rundir / "media"
    media.mkdir(exist_ok=True)
    mounted = []

    def mount(size):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(media)], check=True)
        mounted.append(media)

    def grow(size):
        subprocess.run(["mount", "-o", f"remount,size={size}", str(media)], check=True)
    try:
        yield mount, grow
    finally:
        for m in mounted:
            if subprocess.run(["umount", str(m)], capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(m)], check=True)


MP4_PROFILE = {"renditions": [{"height": 360, "video_kbps": 4000}], "packaging": ["hls", "mp4"],
               "poster": False, "storyboard": False}


def upload(stack, rundir, src, profile):
    key = stack.mg("apikey", "create", "uploader")
    (rundir / "p.json").write_text(json.dumps(profile))
    stack.mg("profiles", "add", "p", "--encoder", "local", rundir / "p.json")
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {key}", "--data-binary", f"@{src}",
                   "/uploads/in.mp4?profile=p")
    assert r.status == 201, r
    return r.json()["job_id"]


def test_a_full_disk_during_the_mp4_copy_waits_for_space(stack, workers, rundir, source, media_tmpfs):
    """7 MiB: the HLS fits, its MP4 copy does not. Not "missing" for good:
    the task waits; with space, the MP4 is made."""
    mount, grow = media_tmpfs
    src = source("noisy8.mp4")
    mount("7m")
    job = upload(stack, rundir, src, MP4_PROFILE)
    workers.start()

    def waits():
        return "waits for space" in workers.log().partition("ffmpeg (MP4) status")[2]
    wait_until(lambda: waits() or stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "COMPLETE", 600)
    assert waits(), (stack.curl(f"/media/status?job_id={job}").json(), workers.log()[-3000:])
    assert stack.db.one("SELECT status FROM jobs WHERE id = %s", job) != "COMPLETE"
    grow("64m")
    wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", job) in ("COMPLETE", "ERROR"), 600)
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert st["job_status"] == "COMPLETE" and "missing" not in st and len(st["mp4"]) == 1, st


def test_a_killed_mp4_copy_is_retried(stack, workers, rundir, source):
    job = upload(stack, rundir, source("noisy8.mp4"), MP4_PROFILE)
    workers.start()
    killed = []

    def kill_copy():
        for pid in processes_matching(r"\+faststart .*" + re.escape(str(rundir))):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return killed or stack.db.one("SELECT status FROM jobs WHERE id = %s", job) == "COMPLETE"
    wait_until(kill_copy, 600, interval=0.05)
    assert killed, "the MP4 copy ran"
    wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", job) in ("COMPLETE", "ERROR"), 600)
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert st["job_status"] == "COMPLETE" and "missing" not in st and len(st["mp4"]) == 1, st
    assert stack.db.one("SELECT max(attempts) FROM outbox WHERE payload->>'job_id' = %s", job) == 2


@pytest.mark.parametrize("mg_env", [{"MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on"}], indirect=True)
def test_the_job_complete_webhook_carries_the_extras(stack, workers, rundir, silent, receiver):
    endpoint(stack, receiver, "/done", events="job.complete")
    job, st, media = encode(stack, workers, rundir, silent,
                            {"renditions": [{"height": 240}], "packaging": ["hls", "mp4"]})
    (got,) = receiver.wait("/done", 1, timeout=120)
    data = check_signed(got)["data"]
    for k in ("poster", "storyboard", "mp4"):
        assert k in st and data[k] == st[k], (k, data, st)
    assert data == {**st, "job_id": job}, data


SIGNING = "media-signing-secret-0123456789"


@pytest.mark.parametrize("mg_env", [{"MEDIAGATE_MEDIA_SIGNING_SECRET": SIGNING,
                                     "MEDIAGATE_MEDIA_URL_LIFETIME": "600"}], indirect=True)
def test_signed_media_serves_every_extra_under_the_signed_path_only(stack, workers, rundir, silent):
    job, st, media = encode(stack, workers, rundir, silent,
                            {"renditions": [{"height": 240}], "packaging": ["hls", "mp4"]})
    path = st["output_path"]
    assert path.startswith("/media-files/s/") and path.endswith(f"/{job}/"), path
    names = [st["poster"]["file"], st["storyboard"]["vtt"], *st["storyboard"]["images"], st["mp4"][0]["file"]]
    for name, ctype in zip(names, ("image/jpeg", "text/vtt", "image/jpeg", "video/mp4")):
        r = stack.curl(path + name)
        assert r.status == 200 and r.header("Content-Type") == ctype, (name, r.status, r.headers)
        assert int(r.header("Content-Length")) == (media / name).stat().st_size, name
        assert stack.curl(f"/media-files/{job}/{name}").status == 403, f"{name} unsigned"
