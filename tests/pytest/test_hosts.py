"""Several hosts with no shared filesystem: two worker "hosts", each a
`mediagate worker` running as its own Unix user (mediagate and
mediagate-worker, both mapped to the database role by pg_auth_files) with
its own TMPDIR and directories, mode 0700, so that neither can read the
other's files nor the request servers'; one PostgreSQL; one bucket of a
real S3 store (Ceph RGW). Jobs spread over both workers, each encoded once,
with one set of outputs; kill -9 of one mid-encode and the other completes
the job after the lease. Two request-server "hosts" (each its nginx with
the project's snippets and its `mediagate serve`) behind one nginx
`upstream` answer the same jobs alike: statuses and playback URLs
identical, and the outputs play from the bucket. docs/scaling.md describes
this layout."""

import json
import os
import re
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

import mgstack
import s3_settings
from mgstack import processes_matching, wait_until
from test_encoder import DONE, clips  # noqa: F401
from test_encoder_s3 import extra_files

WORKER_USERS = ("mediagate", "mediagate-worker")


def as_user(user, *argv):
    """argv[0..] run as user (its own groups), exec'd in place: the pid is
    the program's."""
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *map(str, argv)]


class WorkerHost:
    """A worker host: its own user, TMPDIR and directories (0700), its own
    log; started with start(), killed by the fixture at the end."""

    def __init__(self, run, name, user, env):
        self.name, self.user = name, user
        self.dir = run / name
        self.tmp = self.dir / "tmp"
        for d in (self.dir, self.tmp, self.dir / "media", self.dir / "uploads"):
            d.mkdir(mode=0o700)
            shutil.chown(d, user, user)
        self.log_path = run / f"{name}.log"
        self.env = {**env, "TMPDIR": str(self.tmp), "HOME": str(self.dir),
                    "MEDIAGATE_MEDIA_DIR": str(self.dir / "media"),
                    "MEDIAGATE_UPLOADS_DIR": str(self.dir / "uploads")}
        self.proc = None

    def start(self):
        """Starts the worker and waits until it claims tasks."""
        self.proc = mgstack.Process(as_user(self.user, mgstack.MG_BIN, "worker"), self.env, self.log_path)
        assert wait_until(lambda: "worker running" in self.log() or not self.proc.alive(), 60, 0.05)
        assert self.proc.alive(), self.log()[-2000:]
        return self

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def can_read(self, path):
        return subprocess.run(as_user(self.user, "ls", path), capture_output=True).returncode == 0

    def children(self):
        """ffmpeg and ffprobe processes working in this host's TMPDIR."""
        return processes_matching(r"ff(mpeg|probe)\b.*" + str(self.tmp) + "/")


class Cluster:
    """The shared parts (the database, the bucket) and the settings every
    host gets."""

    def __init__(self, db, run, s3, signed=False):
        self.db, self.run, self.s3, self.signed = db, run, s3, signed
        self.bucket = s3_settings.new_bucket(s3)
        self.env = {**os.environ, "MEDIAGATE_DATABASE_URL": db.url,
                    # Not shorter: a busy machine can miss two heartbeats.
                    "MEDIAGATE_LEASE_SECONDS": "10", "MEDIAGATE_ENCODE_NICE": "0",
                    **s3_settings.env(s3, self.bucket)}
        if signed:
            # Every job private: the store refuses unsigned URLs, players
            # go through mediagate's signed playlists.
            self.env["MEDIAGATE_MEDIA_SIGNING_SECRET"] = "hosts-signing-secret-0123456789"
        self.hosts = []

    def worker_host(self, name, user):
        h = WorkerHost(self.run, name, user, self.env)
        self.hosts.append(h)
        return h

    def submit(self, clip):
        """A job whose input is in the bucket, queued as a confirmed upload
        queues it (the object's key, size and ETag in the encode task's
        payload, the job and its task in one transaction). Returns its id."""
        uid, job = str(uuid.uuid4()), str(uuid.uuid4())
        key = f"uploads/{uid}/{clip.name}"
        data = clip.read_bytes()
        put = s3_settings.client(self.s3).put_object(Bucket=self.bucket, Key=key, Body=data)
        with self.db.conn.transaction():
            self.db.conn.execute("INSERT INTO jobs (id, backend, backend_job_id, input_file) "
                                 "VALUES (%s, 'local', %s, %s)", (job, f"upload:{uid}", key))
            self.db.conn.execute("INSERT INTO outbox (kind, payload) VALUES ('local.encode', %s::jsonb)",
                                 (json.dumps({"job_id": job, "input_key": key, "input_etag": put["ETag"],
                                              "size": len(data)}),))
        return job

    def status(self, job):
        return self.db.one("SELECT status FROM jobs WHERE id = %s", job)

    def wait_done(self, jobs, timeout=600):
        assert wait_until(lambda: all(self.status(j) in DONE for j in jobs), timeout, 0.5)
        return {j: self.db.one("SELECT status, coalesce(error_message, '') FROM jobs WHERE id = %s", j)
                for j in jobs}

    def outputs(self, job):
        """(every key under media/<job>/, the keys master.m3u8 names with
        what they name in turn, and the files the job's extras name: the
        poster, the storyboard's, MP4s)."""
        c = s3_settings.client(self.s3)
        base = f"media/{job}/"
        have = set(s3_settings.keys(self.s3, self.bucket, base))
        extras = self.db.one("SELECT coalesce(extras, '{}') FROM jobs WHERE id = %s", job)
        named = {base + "master.m3u8"} | {base + f for f in extra_files(extras)}
        todo = [base + "master.m3u8"]
        while todo:
            key = todo.pop()
            if not key.endswith(".m3u8"):
                continue
            text = c.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
            d = key.rpartition("/")[0] + "/"
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    named.add(d + line)
                    todo.append(d + line)
        return have, named


def attempts_by(host):
    """The (task, attempt) pairs of local.encode this host claimed."""
    out = []
    for line in host.log().splitlines():
        if ": local.encode (attempt " in line:
            task = line.split("task ", 1)[1].split(":", 1)[0]
            attempt = line.split("(attempt ", 1)[1].split(")", 1)[0]
            out.append((task, attempt))
    return out


@pytest.fixture
def cluster(db, rundir, s3, logs, request):
    """Parametrize it (indirect) with "signed" for private jobs."""
    c = Cluster(db, rundir, s3, signed=getattr(request, "param", "") == "signed")
    yield c
    for h in c.hosts:
        if h.proc:
            h.proc.kill(signal.SIGKILL)
            h.proc.wait()
    left = []
    for h in c.hosts:
        wait_until(lambda: not h.children(), 2, 0.05)
        for pid in h.children():
            left.append(pid)
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived their workers: {left}"


@pytest.fixture
def worker_logs(cluster, logs):
    def add(*hosts):
        for h in hosts:
            logs.add(f"{h.name} worker log", h.log_path)
    return add


class Front:
    """One nginx whose `upstream` holds the request-server hosts (each its
    own nginx and mediagate serve), as a load balancer in front of them."""

    def __init__(self, run, ports):
        self.dir = run / "front"
        (self.dir / "tmp").mkdir(parents=True)
        shutil.chown(self.dir / "tmp", "www-data", "www-data")
        self.port = mgstack.free_port()
        servers = " ".join(f"server 127.0.0.1:{p};" for p in ports)
        temp = " ".join(f"{k}_temp_path {self.dir}/tmp/{k};" for k in ("client_body", "proxy", "fastcgi",
                                                                       "uwsgi", "scgi"))
        (self.dir / "nginx.conf").write_text(f"""
user www-data;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {self.dir}/access.log;
    {temp}
    upstream mediagate_hosts {{ {servers} }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{ proxy_pass http://mediagate_hosts; }}
    }}
}}
""")
        subprocess.run(["nginx", "-c", self.dir / "nginx.conf", "-p", self.dir], check=True)
        self.curl = mgstack.Curl(f"http://127.0.0.1:{self.port}", self.dir / "curl")

    def stop(self):
        pid = int((self.dir / "nginx.pid").read_text())
        os.kill(pid, signal.SIGQUIT)
        if not wait_until(lambda: not mgstack.running(pid), 5, 0.02):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def serve_hosts(cluster, rundir, logs):
    """Two request-server hosts (nginx + mediagate serve, each in its own
    directory) on the shared database and bucket, and the front nginx."""
    stacks = []
    env = {k: v for k, v in cluster.env.items() if k.startswith("MEDIAGATE_")}
    env["MEDIAGATE_THREADS"] = "2"
    try:
        for name in ("serve-a", "serve-b"):
            d = rundir / name
            d.mkdir(mode=0o755)
            (d / "media").mkdir(mode=0o700)
            stacks.append(mgstack.Stack(d, cluster.db, {**env, "MEDIAGATE_MEDIA_DIR": str(d / "media")},
                                        (), logs))
        front = Front(rundir, [s.nginx.port for s in stacks])
    except Exception:
        for s in stacks:
            s.close()
        raise
    yield stacks, front
    front.stop()
    for s in stacks:
        assert s.close() == 0, "mediagate serve did not stop cleanly"
        ok, out = s.curl.validate_contract()
        assert ok, f"answers drift from openapi.yaml:\n{out}"


@pytest.mark.parametrize("cluster", ["unsigned", "signed"], indirect=True)
def test_jobs_spread_over_two_worker_hosts_and_two_serve_hosts_answer_alike(
        cluster, serve_hosts, worker_logs, clips, rundir):
    a = cluster.worker_host("host-a", WORKER_USERS[0]).start()
    b = cluster.worker_host("host-b", WORKER_USERS[1]).start()
    worker_logs(a, b)
    stacks, front = serve_hosts
    # No host reads another's files, nor the request servers' media directory.
    for h, other in ((a, b), (b, a)):
        assert not h.can_read(other.tmp) and not h.can_read(other.dir)
        for s in stacks:
            assert not h.can_read(s.run / "media")
    assert a.can_read(a.tmp) and b.can_read(b.tmp)

    jobs = [cluster.submit(clips("clip2s.mp4", 2, "320x240")) for _ in range(4)]
    done = cluster.wait_done(jobs)
    assert all(v == ("COMPLETE", "") for v in done.values()), done

    # Spread over both, each task claimed once.
    claims_a, claims_b = attempts_by(a), attempts_by(b)
    assert claims_a and claims_b, f"one host did all the work: a {claims_a}, b {claims_b}"
    assert sorted(claims_a + claims_b) == sorted({*claims_a, *claims_b})
    tasks = {str(r[0]) for r in cluster.db.rows("SELECT id FROM outbox WHERE kind = 'local.encode'")}
    assert len(tasks) == 4 and {t for t, _ in claims_a + claims_b} == tasks
    assert len(claims_a) + len(claims_b) == 4 and all(n == "1" for _, n in claims_a + claims_b)

    # One set of outputs per job, all in the bucket; nothing left on the
    # worker hosts' disks.
    for job in jobs:
        have, named = cluster.outputs(job)
        assert have == named, f"{job}: stray {have - named}, missing {named - have}"
        assert cluster.db.one("SELECT storage FROM jobs WHERE id = %s", job) == "s3"
    for h in (a, b):
        left = [p for p in Path(h.tmp).rglob("*") if p.is_file()]
        assert not left, f"{h.name} left {left}"

    # The same answers from either request server, and through the front
    # (a signed URL's expiry is rounded to a window: one made as a window
    # ends may differ in it and its signature, nothing else).
    direct = f"{cluster.s3.endpoint}/{cluster.bucket}/media/"
    for job in jobs:
        answers = [s.curl(f"/media/status?job_id={job}") for s in stacks]
        answers += [front.curl(f"/media/status?job_id={job}") for _ in range(4)]
        assert all(r.status == 200 for r in answers), answers
        bodies = {re.sub(r"/media/hls/[0-9a-f]+/[0-9]+/", "/media/hls/SIG/EXP/", r.body) for r in answers}
        assert len(bodies) == 1, bodies
        out = answers[0].json()
        assert out["job_status"] == "COMPLETE"
        if cluster.signed:
            # One server's URL is the other's: the playlists through the
            # front come from both, each naming segments the store honours.
            assert out["output_path"].startswith("/media/hls/")
            url = front.curl.base + out["output_path"] + "master.m3u8"
            for s in stacks:
                assert s.curl(out["output_path"] + "master.m3u8").status == 200
            assert s3_settings.unsigned_status(direct + f"{job}/master.m3u8") == 403, "the store refuses unsigned"
        else:
            url = out["output_path"] + "master.m3u8"
            assert url.startswith(direct + f"{job}/")
        r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                            url], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and float(r.stdout) > 1.5, (url, r.stdout, r.stderr)
    for s in stacks:
        hits = (s.run / "nginx" / "access.log").read_text().count("/media/status")
        assert hits >= len(jobs) * 2, f"{s.run.name} answered {hits} status requests"


def test_kill_9_of_one_host_mid_encode_and_the_other_completes(cluster, worker_logs, clips):
    a = cluster.worker_host("host-a", WORKER_USERS[0]).start()
    b = cluster.worker_host("host-b", WORKER_USERS[1])
    worker_logs(a, b)
    # Long enough that a busy machine cannot finish it between the look at
    # its progress and the kill.
    job = cluster.submit(clips("clip90s.mp4", 90, "640x360"))
    # Mid-encode: ffmpeg has reported progress.
    assert wait_until(lambda: cluster.db.one("SELECT progress_rate FROM jobs WHERE id = %s", job) > 0
                      or not a.proc.alive(), 300, 0.2)
    assert a.proc.alive(), a.log()[-2000:]
    a.proc.kill(signal.SIGKILL)
    a.proc.wait()
    assert cluster.status(job) == "PROGRESSING"
    assert wait_until(lambda: not a.children(), 10, 0.05), "ffmpeg outlived its worker"
    b.start()
    done = cluster.wait_done([job])
    assert done[job] == ("COMPLETE", ""), done
    assert [n for _, n in attempts_by(a)] == ["1"] and [n for _, n in attempts_by(b)] == ["2"]
    assert ": done" not in a.log()
    have, named = cluster.outputs(job)
    assert have == named, f"stray {have - named}, missing {named - have}"
    duration = cluster.db.one("SELECT duration_ms FROM jobs WHERE id = %s", job)
    assert 89000 <= duration <= 91000
