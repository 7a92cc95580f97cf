"""Resumable uploads (tus) with the clients people use, against the real
stack (PostgreSQL, mediagate, nginx with the project's upload snippet, the
worker and ffmpeg):

- tus-js-client in Node.js (tests/browser/tus_node.mjs): a 200 MB video in
  5 MB chunks through a proxy that drops the connection at about half
  (tests/lib/cut_proxy.py); the server's offset after the cut is a chunk
  boundary at or below what was sent; a second Upload finds the stored URL
  and resumes there; one job, COMPLETE, its master playlist read by ffprobe
  through nginx.
- The same upload with mediagate stopped mid-way (the upload held still by
  the proxy meanwhile, so that the stop falls in the middle) and started
  again: tus-js-client's retries ride out the outage; one job, COMPLETE.
- tus-js-client with uploadDataDuringCreation (creation-with-upload), the
  creation's chunk cut: created once, by the retry, with that chunk.
- Headless Chromium with tus-js-client's browser bundle, in a page served by
  the stack's nginx from an allowed origin (a real cross-origin upload):
  upload, a cut, the resume from the URL the page stored; one job.
- Uppy's Tus plugin (the uppy bundle) in a page: a file added with
  uppy.addFile, uploaded to the slot's tus_endpoint; the job COMPLETE.
- docs/uploads.md's tus-js-client example, as written, in a page: the slot,
  the chunks, a cut at half ridden out by its retryDelays, the job.
- bench/tus.sh, small, as bench/README.md shows it.

The browser tests use Debian's /usr/bin/chromium through playwright-core
(tests/browser/node_modules; scripts/deps installs it, never a browser).
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import mgstack
from mgstack import free_port, processes_matching, wait_until

sys.path.insert(0, str(mgstack.MG_ROOT / "tests" / "lib"))
from cut_proxy import CutProxy  # noqa: E402

BROWSER = mgstack.MG_ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MiB = 1024 * 1024
CHUNK = 5 * MiB


@pytest.fixture(scope="session", autouse=True)
def node_modules():
    for m in ("tus-js-client", "uppy", "playwright-core"):
        if not (BROWSER / "node_modules" / m / "package.json").exists():
            pytest.exit(f"tests/browser/node_modules/{m} is missing: run scripts/deps "
                        "(npm ci in tests/browser)", returncode=2)


@pytest.fixture
def page_port():
    return free_port()


@pytest.fixture
def mg_env(rundir, page_port):
    pages = rundir / "pages"
    pages.mkdir()
    return {
        "MEDIAGATE_MEDIA_DIR": str(rundir / "media"),
        "MEDIAGATE_MEDIA_URL": "/media-files",
        "MEDIAGATE_LEASE_SECONDS": "10",
        "MEDIAGATE_THREADS": "4",
        "MEDIAGATE_ENCODE_NICE": "0",
        "MEDIAGATE_UPLOADS_DIR": str(rundir / "upload" / "uploads"),
        "MEDIAGATE_ALLOWED_ORIGINS": rf"http://127\.0\.0\.1:{page_port}",
        # The pages' own server, beside mediagate's: another origin.
        "NGINX_EXTRA": f"""
            server {{
                listen 127.0.0.1:{page_port};
                server_name pages;
                root {pages};
                add_header Cache-Control no-store always;
                location = /favicon.ico {{ return 204; }}
            }}""",
    }


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


@pytest.fixture(scope="session")
def videos(run_root):
    """videos(NAME, BYTES): a valid video of about BYTES bytes, made once per
    session: testsrc at 1280x720 as raw video (and PCM sound) in Matroska,
    as long as it takes to reach the size; it decodes and encodes like any
    camera file, only bigger for its length."""
    d = run_root / "videos"
    d.mkdir(exist_ok=True)
    d.chmod(0o755)

    def make(name, nbytes):
        out = d / name
        if not out.exists():
            seconds = nbytes / (1280 * 720 * 1.5 * 25)
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                            "testsrc=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                            "-t", f"{seconds:.2f}", "-c:v", "rawvideo", "-pix_fmt", "yuv420p",
                            "-c:a", "pcm_s16le", str(out)], check=True, timeout=600)
            out.chmod(0o644)
        return out

    return make


@pytest.fixture
def proxy(stack):
    """A cutting proxy in front of the stack's nginx (tests/lib/cut_proxy.py)."""
    p = CutProxy(stack.nginx.port)
    yield p
    p.close()


class Node:
    """A node script of tests/browser in a process group of its own, its
    output in a file; the group (and a browser it started, see kill and the
    node fixture) is stopped at the end, however the test ends."""

    def __init__(self, script, env, out):
        self.out = Path(out)
        with self.out.open("wb") as f:
            self.proc = subprocess.Popen(["node", str(BROWSER / script)], cwd=BROWSER,
                                         env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                         stdout=f, stderr=subprocess.STDOUT, start_new_session=True)

    def events(self):
        evs = []
        for line in self.out.read_text(errors="replace").splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict) and "ev" in ev:
                evs.append(ev)
        return evs

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """SIGTERM (playwright-core then closes its browser, which runs in a
        process group of its own), SIGKILL after 10 s, to the whole group."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except OSError:
                break
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.proc.wait()


@pytest.fixture
def node(rundir, logs):
    started = []

    def start(script, out_name, **env):
        n = Node(script, {k: str(v) for k, v in env.items()}, rundir / out_name)
        logs.add(out_name, n.out)
        started.append(n)
        return n
    yield start
    for n in started:
        n.kill()
    # A browser whose node was killed before it could close it.
    for pid in processes_matching(re.escape(f"{rundir}/chrome")):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def slot(stack, key, name, nbytes):
    """POST /uploads: the slot's body; its upload names the tus endpoint."""
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", "--data-urlencode", f"name={name}",
                   "--data-urlencode", "content_type=video/x-matroska",
                   "--data-urlencode", f"max_bytes={nbytes}", "/uploads")
    assert r.status == 201, r
    body = r.json()
    assert body["upload"].get("tus_endpoint", "").startswith(
        f"/uploads/tus/{body['upload']['id']}?token="), body
    return body


def status(stack, job):
    try:
        return json.loads(stack.curl(f"/media/status?job_id={job}").body)
    except ValueError:
        return {}


def wait_status(stack, job, states, timeout):
    wait_until(lambda: status(stack, job).get("job_status") in states + ("ERROR",), timeout, 0.5)
    return status(stack, job)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(MiB):
            h.update(b)
    return h.hexdigest()


def assert_one_job_complete(stack, job, input_file, src, rundir):
    """The upload is stored whole as INPUT_FILE, one job exists, JOB, it
    ends COMPLETE and its master playlist plays through nginx."""
    assert stack.db.one("SELECT count(*) FROM jobs") == 1, "one job"
    assert stack.db.one("SELECT count(*) FROM uploads WHERE stored_at IS NOT NULL") == 1
    stored = rundir / "upload" / input_file
    assert stored.stat().st_size == src.stat().st_size and sha256(stored) == sha256(src), \
        "the stored file is the client's, byte for byte"
    st = wait_status(stack, job, ("COMPLETE",), 1200)
    assert st.get("job_status") == "COMPLETE", st
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=height", "-of", "csv=p=0",
                        f"{stack.base}/media-files/{job}/master.m3u8"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.strip(), \
        f"the master playlist, through nginx, is read by ffprobe: {p.stderr}"
    assert stack.db.one("SELECT count(*) FROM jobs") == 1, "still one job"


def at_the_cut(offset, cut):
    """Whether OFFSET is the start of the chunk that was in flight when the
    proxy cut at CUT bytes of upload: a chunk boundary below CUT, at most
    two chunks below (the cut counts request heads too)."""
    return offset % CHUNK == 0 and cut - 2 * CHUNK < offset < cut


def patches(evs):
    """The Upload-Offset of each PATCH sent, in order."""
    return [int(e["offset"]) for e in evs if e["ev"] == "request" and e["method"] == "PATCH"]


def test_node_client_resumes_after_a_cut_at_half(stack, workers, proxy, node, videos, rundir):
    src = videos("big.mkv", 200 * 1000 * 1000)
    size = src.stat().st_size
    key = stack.mg("apikey", "create", "tus-node")
    body = slot(stack, key, "big.mkv", size)
    workers.start()
    half = size // 2
    proxy.arm(half)
    n = node("tus_node.mjs", "tus-node.out", ENDPOINT=proxy.url + body["upload"]["tus_endpoint"],
             FILE=src, CHUNK=CHUNK, MODE="cut", STORE=rundir / "tus-urls.json")
    rc = n.wait(1200)
    evs = n.events()
    assert rc == 0, f"tus-js-client failed: {evs[-5:]}"
    assert proxy.cuts == 1, "the connection was cut once"
    kinds = [e["ev"] for e in evs]
    assert kinds.count("error") == 1 and kinds.count("success") == 1, kinds
    head = next(e for e in evs if e["ev"] == "head")
    # The chunk in flight at the cut is not kept; those before it are.
    assert head["status"] == 200 and head["length"] == size, head
    assert at_the_cut(head["offset"], half), head
    acked = [e["acked"] for e in evs[:kinds.index("error")] if e["ev"] == "chunk"]
    assert acked and acked[-1] == head["offset"], "the server kept every chunk it acknowledged"
    resume = next(e for e in evs if e["ev"] == "resume")
    assert resume["url"].split("?")[0].endswith(f"/uploads/tus/{body['upload']['id']}"), resume
    after = patches(evs[kinds.index("resume"):])
    assert after and after[0] == head["offset"], f"resumed at the server's offset: {after[:3]}"
    assert [e["method"] for e in evs if e["ev"] == "request"].count("POST") == 1, \
        "the resumed upload was not created anew"
    assert_one_job_complete(stack, body["job_id"], body["upload"]["input_file"], src, rundir)


def test_node_client_rides_out_a_mediagate_restart(stack, workers, proxy, node, videos, rundir):
    src = videos("big.mkv", 200 * 1000 * 1000)
    size = src.stat().st_size
    key = stack.mg("apikey", "create", "tus-node")
    body = slot(stack, key, "big.mkv", size)
    workers.start()
    proxy.hold(size // 2)
    n = node("tus_node.mjs", "tus-node.out", ENDPOINT=proxy.url + body["upload"]["tus_endpoint"],
             FILE=src, CHUNK=CHUNK, MODE="retry")
    assert proxy.wait_held(600), f"the upload reached half: {n.events()[-3:]}"
    mid = stack.db.one("SELECT tus_offset FROM uploads")
    assert 0 < mid < size, mid
    assert stack.app.stop(signal.SIGTERM) == 0, "mediagate stopped cleanly"
    proxy.release()
    # The chunk held at the proxy reaches nginx with mediagate gone: the
    # client sees a failure and retries until mediagate is back.
    assert wait_until(lambda: any(e["ev"] == "retry" for e in n.events()), 300, 0.2), n.events()[-3:]
    stack.app = mgstack.App(stack.run, stack.env)
    rc = n.wait(1200)
    evs = n.events()
    assert rc == 0, f"tus-js-client failed: {evs[-5:]}"
    # While mediagate is down nginx answers 503. tus-js-client, whose HEAD
    # failed so, creates the upload anew (POST to the slot's endpoint): the
    # creation is idempotent and names the same upload; the PATCH from 0
    # that follows is refused (409, with the server's offset) and the
    # client resumes there after a HEAD.
    retries = [e for e in evs if e["ev"] == "retry"]
    assert retries and all(e["status"] in (0, 409) or e["status"] >= 500 for e in retries), retries
    created = [e for e in evs if e["ev"] == "response" and e["method"] == "POST" and e["status"] == 201]
    assert created and {e["location"] for e in created} == {created[0]["location"]}, created
    assert all(int(e["offset"]) >= mid for e in evs if e["ev"] == "response" and e["status"] == 409), \
        "a refused PATCH is told the server's offset"
    accepted = [e["acked"] for e in evs if e["ev"] == "chunk"]
    assert accepted == sorted(accepted) and accepted[-1] == size, "the server's offset only rose"
    assert_one_job_complete(stack, body["job_id"], body["upload"]["input_file"], src, rundir)


def test_node_client_creation_with_upload_cut_in_its_body(stack, workers, proxy, node, videos, rundir):
    """uploadDataDuringCreation (creation-with-upload): the creation POST
    carries the first chunk, and is cut in it. Nothing was created; the
    client's retry creates the upload with that chunk again, and goes on."""
    src = videos("clip-20m.mkv", 20 * 1000 * 1000)
    size = src.stat().st_size
    body = slot(stack, stack.mg("apikey", "create", "tus-node"), "clip.mkv", size)
    workers.start()
    proxy.arm(CHUNK // 2)
    n = node("tus_node.mjs", "tus-node.out", ENDPOINT=proxy.url + body["upload"]["tus_endpoint"],
             FILE=src, CHUNK=CHUNK, MODE="retry", WITH_DATA=1)
    rc = n.wait(1200)
    evs = n.events()
    assert rc == 0, f"tus-js-client failed: {evs[-5:]}"
    assert proxy.cuts == 1
    sent = [e["method"] for e in evs if e["ev"] == "request"]
    assert sent[:2] == ["POST", "POST"] and "POST" not in sent[2:], sent
    created = [e for e in evs if e["ev"] == "response" and e["method"] == "POST"]
    assert [(e["status"], e["offset"]) for e in created] == [(201, str(CHUNK))], created
    assert patches(evs)[0] == CHUNK, "the PATCHes go on after the creation's chunk"
    assert_one_job_complete(stack, body["job_id"], body["upload"]["input_file"], src, rundir)


def serve_page(rundir, video):
    """The page, the clients' bundles and VIDEO (as clip.mkv), served from
    the pages' origin."""
    pages = rundir / "pages"
    for src, dst in ((BROWSER / "page" / "tus.html", "tus.html"),
                     (BROWSER / "node_modules/tus-js-client/dist/tus.min.js", "tus.min.js"),
                     (BROWSER / "node_modules/uppy/dist/uppy.min.js", "uppy.min.js"),
                     (BROWSER / "node_modules/uppy/dist/uppy.min.css", "uppy.min.css"),
                     (video, "clip.mkv")):
        shutil.copyfile(src, pages / dst)
        (pages / dst).chmod(0o644)


def run_page(node, rundir, page_port, mode, **env):
    """The page's upload in MODE (tus_browser.mjs); its events, once it
    succeeded."""
    (rundir / "chrome").mkdir()
    n = node("tus_browser.mjs", f"{mode}-browser.out", MODE=mode, PAGE=f"http://127.0.0.1:{page_port}",
             PROFILE_DIR=rundir / "chrome", CHROMIUM=CHROMIUM, **env)
    rc = n.wait(1200)
    evs = n.events()
    assert rc == 0, f"the page's upload failed: {evs[-5:]}"
    return evs


def in_page(stack, workers, node, rundir, page_port, video, mode, via):
    """Serves the page and VIDEO, makes a slot for the video and runs the
    page's upload in MODE to the slot's tus endpoint at VIA (the proxy's or
    nginx's origin), a worker encoding. Returns the slot's body and the
    page's events."""
    serve_page(rundir, video)
    body = slot(stack, stack.mg("apikey", "create", f"browser-{mode}"), "clip.mkv", video.stat().st_size)
    workers.start()
    evs = run_page(node, rundir, page_port, mode, ENDPOINT=via + body["upload"]["tus_endpoint"],
                   CHUNK=CHUNK)
    return body, evs


def test_browser_tus_js_client_resumes_after_a_cut(stack, workers, proxy, node, videos, rundir,
                                                    page_port):
    video = videos("clip-30m.mkv", 30 * 1000 * 1000)
    half = video.stat().st_size // 2
    # Chromium resends a request whose reused connection broke: that one is
    # cut too (and the next, should it resend twice), so that the page sees it.
    proxy.arm(half, refuse=2)
    body, evs = in_page(stack, workers, node, rundir, page_port, video, "tus", proxy.url)
    assert proxy.cuts == 1
    kinds = [e["ev"] for e in evs]
    assert kinds.count("error") == 1 and kinds.count("success") == 1, kinds
    head = next(e for e in evs if e["ev"] == "head")
    assert head["status"] == 200 and at_the_cut(head["offset"], half), head
    after = patches(evs[kinds.index("resume"):])
    assert after and after[0] == head["offset"], after[:3]
    assert [e["method"] for e in evs if e["ev"] == "request"].count("POST") == 1, "created once"
    # Every answer the page read carried CORS for its origin (else the
    # browser would have hidden it: status 0).
    assert all(e["status"] != 0 for e in evs if e["ev"] == "response"), evs
    assert_one_job_complete(stack, body["job_id"], body["upload"]["input_file"], video, rundir)


def test_uppy_tus_plugin_uploads_to_the_slot(stack, workers, node, videos, rundir, page_port):
    video = videos("clip-20m.mkv", 20 * 1000 * 1000)
    body, evs = in_page(stack, workers, node, rundir, page_port, video, "uppy", stack.base)
    done = next(e for e in evs if e["ev"] == "complete")
    assert done["successful"] == 1 and done["failed"] == 0, done
    assert done["uploadURL"].split("?")[0].endswith(f"/uploads/tus/{body['upload']['id']}"), done
    assert_one_job_complete(stack, body["job_id"], body["upload"]["input_file"], video, rundir)


def test_docs_tus_js_client_example_in_a_page(stack, workers, proxy, node, videos, rundir, page_port):
    """docs/uploads.md's tus-js-client example, as written (the bundle's
    `tus` for its import line), in a page of an allowed origin: it makes the
    slot, uploads in its chunks, rides out a cut at half with its
    retryDelays, and logs the job SUBMITTED."""
    text = (mgstack.MG_ROOT / "docs" / "uploads.md").read_text()
    block = re.search(r"From a page, with npm `tus-js-client`.*?```js\n(.*?)```", text, re.S).group(1)
    first, _, code = block.partition("\n")
    assert first == 'import * as tus from "tus-js-client";', first
    video = videos("clip-30m.mkv", 30 * 1000 * 1000)
    size = video.stat().st_size
    serve_page(rundir, video)
    workers.start()
    proxy.arm(size // 2, refuse=2)
    evs = run_page(node, rundir, page_port, "docs", API_KEY=stack.mg("apikey", "create", "docs-example"),
                   EXAMPLE=code.replace("https://video.example.com", proxy.url))
    logs = next(e for e in evs if e["ev"] == "docs")["logs"]
    assert proxy.cuts == 1, logs
    assert logs[-2:-1] == [f"{size} of {size}"], logs
    job = re.fullmatch(r"job (\S+) SUBMITTED", logs[-1]).group(1)
    up_id, name = stack.db.one("SELECT id, name FROM uploads")
    assert_one_job_complete(stack, job, f"uploads/{up_id}/{name}", video, rundir)


def test_bench_tus_runs_as_documented(rundir):
    """bench/tus.sh (bench/README.md), small: every figure printed and the
    uploads checked, with the binary under test."""
    env = {**os.environ, "MG_BIN": str(mgstack.MG_BIN), "SIZE": str(24 * MiB), "ROUNDS": "1",
           "RESUMES": "2", "RESULTS": str(rundir)}
    r = subprocess.run(["bash", str(mgstack.MG_ROOT / "bench" / "tus.sh")], env=env, capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, f"bench/tus.sh exited {r.returncode}:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
    for line in ("BENCH put round=1 ", "BENCH tus round=1 ", "BENCH resume n=2 ",
                 "check: 2 of 2 uploads "):
        assert line in r.stdout, r.stdout
    kept = list(rundir.glob("tus-*.txt"))
    assert len(kept) == 1, "the figures are kept in RESULTS"
    assert all(ln in kept[0].read_text() for ln in r.stdout.splitlines() if ln.startswith("BENCH ")), \
        kept[0].read_text()
