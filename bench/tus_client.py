"""The client side of bench/tus.sh: a resumable (tus) upload beside a single
PUT of the same file through the same nginx, and the latency of resuming
after a dropped connection.

usage: tus_client.py PORT API_KEY FILE APP_PID NGINX_PID
environment: ROUNDS (2): rounds of one PUT and one tus upload of FILE, the
  order alternating; CHUNK (8 MiB): the tus PATCH size; RESUMES (20): cuts
  and resumes; RESUME_CHUNK (8 MiB): the PATCH size in the resume runs.

Each upload gets a slot of its own (POST /uploads with the API key); the PUT
goes to the slot's url, the tus upload to its tus_endpoint (POST with
Upload-Length, then one PATCH per chunk over one kept-alive connection).
Timed from the first byte sent to the final answer (the PUT's 201, the last
PATCH's 204: both only once the file is in place and its job queued).
The CPU of mediagate (all its threads) and of nginx (master and workers)
over each upload comes from /proc (bench/cpustat.py), and the cores the
whole machine kept busy meanwhile, to tell a quiet run from a noisy one.

Resumes: a slot of RESUMES chunks; each chunk's PATCH goes through
tests/lib/cut_proxy.py, which drops the connection half-way through the
body; then, on a fresh connection straight to nginx, HEAD for the offset
(it must be where it was: a cut chunk is not kept) and the PATCH from there
with `Expect: 100-continue`. Resume latency: from the HEAD's first byte to
the PATCH's "100 Continue" (nginx has asked mediagate, auth_request, and
takes the body: the moment the PATCH's first body byte goes out). The
HEAD's own round trip is printed too.

Prints `BENCH put|tus round=N …` and `BENCH resume …` lines.
"""

import base64
import http.client
import json
import os
import socket
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "lib"))
import cpustat  # noqa: E402
from cut_proxy import CutProxy  # noqa: E402

MiB = 1 << 20
port, key, path, app_pid, nginx_pid = (int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]),
                                       int(sys.argv[5]))
ROUNDS = int(os.environ.get("ROUNDS", "2"))
CHUNK = int(os.environ.get("CHUNK", str(8 * MiB)))
RESUMES = int(os.environ.get("RESUMES", "20"))
RESUME_CHUNK = int(os.environ.get("RESUME_CHUNK", str(8 * MiB)))
size = os.path.getsize(path)
TUS = {"Tus-Resumable": "1.0.0"}


def die(msg):
    sys.exit(f"tus_client.py: {msg}")


def slot(name, nbytes):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = urllib.parse.urlencode({"name": name, "max_bytes": nbytes})
    c.request("POST", "/uploads", body, {"Authorization": f"Bearer {key}",
                                         "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    text = r.read()
    c.close()
    if r.status != 201:
        die(f"POST /uploads: {r.status} {text[:300]!r}")
    return json.loads(text)["upload"]


def send_file(conn, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        left = length
        while left:
            b = f.read(min(MiB, left))
            conn.send(b)
            left -= len(b)


def cpu():
    procs, busy = cpustat.snapshot()
    nginx = cpustat.tree(procs, nginx_pid)
    app = procs.get(app_pid, (0, "", 0, False))[2]
    return app, sum(procs[p][2] for p in nginx if p in procs), busy, time.perf_counter()


def report(kind, rnd, before, after):
    secs = after[3] - before[3]
    app, ngx, busy = ((after[i] - before[i]) / cpustat.HZ for i in range(3))
    print(f"BENCH {kind} round={rnd} bytes={size} secs={secs:.2f} MiBps={size / MiB / secs:.1f} "
          f"app_cpu_s={app:.2f} nginx_cpu_s={ngx:.2f} machine_busy_cores={busy / secs:.2f}", flush=True)


def put(rnd):
    up = slot(f"put{rnd}.bin", size)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    before = cpu()
    c.putrequest("PUT", up["url"])
    c.putheader("Content-Length", str(size))
    c.putheader("Content-Type", "application/octet-stream")
    c.endheaders()
    send_file(c, 0, size)
    r = c.getresponse()
    text = r.read()
    after = cpu()
    c.close()
    if r.status != 201:
        die(f"PUT: {r.status} {text[:300]!r}")
    report("put", rnd, before, after)


def tus_create(conn, up, length):
    if "tus_endpoint" not in up:
        die(f"the slot names no tus_endpoint: {up}")
    conn.request("POST", up["tus_endpoint"], b"", {
        **TUS, "Upload-Length": str(length),
        "Upload-Metadata": "filename " + base64.b64encode(b"bench.bin").decode()})
    r = conn.getresponse()
    text = r.read()
    if r.status != 201 or not r.getheader("Location"):
        die(f"tus creation: {r.status} {text[:300]!r}")
    return urllib.parse.urlsplit(r.getheader("Location"))._replace(scheme="", netloc="").geturl()


def patch(conn, loc, offset, length):
    conn.putrequest("PATCH", loc)
    for k, v in {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset),
                 "Content-Length": str(length)}.items():
        conn.putheader(k, v)
    conn.endheaders()
    send_file(conn, offset, length)
    r = conn.getresponse()
    text = r.read()
    if r.status != 204 or r.getheader("Upload-Offset") != str(offset + length):
        die(f"PATCH at {offset}: {r.status} offset {r.getheader('Upload-Offset')} {text[:300]!r}")


def tus(rnd):
    up = slot(f"tus{rnd}.bin", size)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    before = cpu()
    loc = tus_create(c, up, size)
    off = 0
    while off < size:
        n = min(CHUNK, size - off)
        patch(c, loc, off, n)
        off += n
    after = cpu()
    c.close()
    report("tus", rnd, before, after)


def head_of(sock):
    """Reads one answer's head from SOCK: (status, {name: value})."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            die(f"connection closed after {buf[:200]!r}")
        buf += b
    first, *lines = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return int(first.split()[1]), {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":")
                                                                             for ln in lines)}


def resumes():
    total = RESUMES * RESUME_CHUNK
    if total > size:
        die("FILE is smaller than RESUMES * RESUME_CHUNK")
    up = slot("resume.bin", total)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    loc = tus_create(c, up, total)
    c.close()
    proxy = CutProxy(port)
    lat, heads = [], []
    try:
        for i in range(RESUMES):
            off = i * RESUME_CHUNK
            # The PATCH, cut half-way through its body.
            proxy.arm(RESUME_CHUNK // 2)
            cut = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=600)
            try:
                patch(cut, loc, off, RESUME_CHUNK)
                die(f"the PATCH at {off} was not cut")
            except (OSError, http.client.HTTPException):
                pass
            cut.close()
            if proxy.cuts != i + 1:
                die(f"{proxy.cuts} cuts after {i + 1} PATCHes")
            # The resume, straight to nginx on a fresh connection.
            s = socket.create_connection(("127.0.0.1", port))
            t0 = time.perf_counter()
            s.sendall(f"HEAD {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n\r\n".encode())
            st, h = head_of(s)
            t1 = time.perf_counter()
            if st != 200 or h.get("upload-offset") != str(off):
                die(f"HEAD after the cut at {off}: {st} offset {h.get('upload-offset')}")
            s.sendall((f"PATCH {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                       f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {off}\r\n"
                       f"Content-Length: {RESUME_CHUNK}\r\nExpect: 100-continue\r\n\r\n").encode())
            st, h = head_of(s)
            t2 = time.perf_counter()
            if st != 100:
                die(f"PATCH after the cut at {off}: {st} before its body")
            with open(path, "rb") as f:
                f.seek(off)
                s.sendall(f.read(RESUME_CHUNK))
            st, h = head_of(s)
            s.close()
            if st != 204 or h.get("upload-offset") != str(off + RESUME_CHUNK):
                die(f"resumed PATCH at {off}: {st} offset {h.get('upload-offset')}")
            heads.append((t1 - t0) * 1000)
            lat.append((t2 - t0) * 1000)
    finally:
        proxy.close()

    def p99(xs):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(round(0.99 * len(xs))) - 1)]
    print(f"BENCH resume n={len(lat)} chunk={RESUME_CHUNK} p50_ms={statistics.median(lat):.2f} "
          f"p99_ms={p99(lat):.2f} max_ms={max(lat):.2f} head_p50_ms={statistics.median(heads):.2f} "
          f"head_p99_ms={p99(heads):.2f}", flush=True)


for rnd in range(1, ROUNDS + 1):
    # Alternated, so drift hits both alike.
    for run in ((put, tus) if rnd % 2 else (tus, put)):
        run(rnd)
resumes()
