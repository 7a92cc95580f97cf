"""The timing half of bench/encoder-create.sh: it starts the Mux stand-in
and one worker (with the stand-in's URL), then alternates uploads with the
cloud profile and with the local one, one at a time, and prints p50/p99 of
upload-to-create (the PUT's 201 to the stand-in's verified create call)
beside upload-to-claim (the PUT's 201 to the local.encode claim).

Environment: BASE, BENCH_KEY, SAMPLES, MG_BIN, RUN, MEDIAGATE_* (lib.sh's
stack and the bench's settings)."""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pytest"))
from mux_standin import MuxStandin  # noqa: E402

import psycopg  # noqa: E402

BASE, KEY, N = os.environ["BASE"], os.environ["BENCH_KEY"], int(os.environ.get("SAMPLES", "200"))
PROFILE = {"encoder": "mux", "renditions": [{"height": 1080}], "packaging": ["hls"]}
CLIP = b"not a video, the encoders never read it whole\n" * 64


class Timed(MuxStandin):
    """The stand-in, noting when each verified create call came (by the
    passthrough: the job id)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.created_at = {}

    def handle(self, method, path, headers, raw):
        answer = super().handle(method, path, headers, raw)
        if method == "POST" and self.calls and self.calls[-1].get("asset"):
            t = time.time()
            with self.lock:
                self.created_at[json.loads(raw)["passthrough"]] = t
        return answer


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, r.read()


def upload(profile, i):
    """POST /uploads, then the PUT: (job id, time of the PUT's 201)."""
    form = f"name=b{i}.mp4&profile={profile}".encode()
    st, body = request("POST", BASE + "/uploads", form,
                       {"Authorization": f"Bearer {KEY}",
                        "Content-Type": "application/x-www-form-urlencoded"})
    slot = json.loads(body)
    url = slot["upload"]["url"]
    st, _ = request("PUT", BASE + url if url.startswith("/") else url, CLIP,
                    {"Content-Type": "video/mp4"})
    t = time.time()
    assert st == 201, st
    return slot["job_id"], t


def wait(pred, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.002)
    raise SystemExit("no create or claim within 30 s")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    mux = Timed(os.environ["MEDIAGATE_MUX_TOKEN_ID"], os.environ["MEDIAGATE_MUX_TOKEN_SECRET"])
    env = {**os.environ, "MEDIAGATE_MUX_API_URL": mux.url, "MEDIAGATE_WORKER_CONCURRENCY": "1"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(PROFILE, f)
    subprocess.run([os.environ["MG_BIN"], "profiles", "add", "bench-mux", "--encoder", "mux", f.name],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    log = open(Path(os.environ["RUN"]) / "worker.log", "ab")
    worker = subprocess.Popen([os.environ["MG_BIN"], "worker"], env=env, stdout=log, stderr=log)
    db = psycopg.connect(os.environ["MEDIAGATE_DATABASE_URL"], autocommit=True)

    def claimed(job, kind):
        r = db.execute("SELECT extract(epoch FROM started_at) FROM outbox WHERE kind = %s "
                       "AND payload->>'job_id' = %s AND started_at IS NOT NULL", (kind, job)).fetchone()
        return float(r[0]) if r else None

    cloud, own, local = [], [], []
    rnd = random.Random(22)
    try:
        for i in range(N):
            # An irregular pause, so that uploads meet the idle worker's
            # naps (0.25 s between claims) at any phase, alike for both.
            time.sleep(rnd.uniform(0, 0.3))
            job, t = upload("bench-mux", 2 * i)
            created = wait(lambda: mux.created_at.get(job))
            cloud.append(created - t)
            own.append(created - claimed(job, "mux.create"))
            time.sleep(rnd.uniform(0, 0.3))
            job, t = upload("default", 2 * i + 1)
            local.append(wait(lambda: claimed(job, "local.encode")) - t)
        # The stand-in fetches each input in the background, as Mux does.
        end = time.time() + 60
        while len(mux.fetched) < len(mux.assets) and time.time() < end:
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(30)
        mux.close()
    fetched = sum(1 for v in mux.fetched.values() if v[0] == 200 and v[1] == CLIP)
    assets = len(mux.assets)
    for name, xs in (("upload-to-create (mux stand-in)", cloud),
                     ("  of which the create task's claim to the verified call", own),
                     ("upload-to-claim (local encoder)", local)):
        ms = [x * 1000 for x in xs]
        print(f"{name}: n={len(ms)} p50 {pct(ms, 50):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
              f"max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms")
    print(f"check: {assets} assets for {N} cloud uploads; the stand-in fetched {fetched} inputs "
          "whole by their signed URLs")


main()
