"""mediagate storage migrate: a local installation's outputs copied into a
real S3 bucket (Ceph RGW, conftest.py's `objectstore`) and their jobs
repointed; a dry run changes nothing; a second run changes nothing; a run
killed with -9 halfway leaves its job local and the next run completes it,
copying only what was missing; a job that cannot move stays local and
says why; the store's own refusals (wrong secret, private objects).
The runs docs/scaling.md shows are these (a dry run, then a run)."""

import os
import shutil
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

import mgstack
import s3_settings


class Local:
    """A local installation: its database, media directory and settings
    pointing at a bucket of the store."""

    def __init__(self, db, run, s3, prefix="", env=None):
        self.db = db
        self.s3 = s3
        self.prefix = prefix
        self.env = {**os.environ, "MEDIAGATE_DATABASE_URL": db.url,
                    **(env or mg_settings(s3, run, prefix))}
        self.media = Path(self.env["MEDIAGATE_MEDIA_DIR"])
        self.media.mkdir(exist_ok=True)
        self.bucket = self.env["MEDIAGATE_STORAGE_BUCKET"]
        # What serve records at start: whether playback signs (no record
        # yet: every object stays private).
        signing = bool(self.env.get("MEDIAGATE_MEDIA_SIGNING_SECRET"))
        self.db.conn.execute("INSERT INTO media_signing (signing) VALUES (%s) ON CONFLICT (one) DO NOTHING",
                             (signing,))

    def job(self, segments=3, seg_bytes=2000, acl=None, status="COMPLETE", backend="local"):
        """A job as the local encoder leaves it: a row, and master.m3u8,
        v0/index.m3u8 and v0/segNNN.ts in MEDIA_DIR/<id>/. Returns the id."""
        job = str(uuid.uuid4())
        d = self.media / job
        (d / "v0").mkdir(parents=True)
        (d / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nv0/index.m3u8\n")
        lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2"]
        for i in range(segments):
            (d / "v0" / f"seg{i:03d}.ts").write_bytes(os.urandom(seg_bytes))
            lines += ["#EXTINF:2.0,", f"seg{i:03d}.ts"]
        (d / "v0" / "index.m3u8").write_text("\n".join(lines + ["#EXT-X-ENDLIST", ""]))
        self.db.conn.execute("INSERT INTO jobs (id, backend, input_file, status, progress_rate, "
                             "output_path, storage, acl) VALUES (%s, %s, 'in.mp4', %s, 100, %s, 'local', %s)",
                             (job, backend, status, f"/media-files/{job}/", acl))
        return job

    def files(self, job):
        """{relative path: bytes} of a job's local files."""
        d = self.media / job
        return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}

    def key(self, job, rel=""):
        return f"{self.prefix}media/{job}/{rel}"

    def objects(self, job):
        return s3_settings.keys(self.s3, self.bucket, self.key(job))

    def row(self, job):
        return self.db.one("SELECT storage, output_path, updated_at FROM jobs WHERE id = %s", job)

    def migrate(self, *args, env=None):
        return subprocess.run([str(mgstack.MG_BIN), "storage", "migrate", *args], env=env or self.env,
                              capture_output=True, text=True, timeout=600)


def mg_settings(s3, run, prefix=""):
    """The settings of an installation on local disk that now names a new
    bucket of the store."""
    return {"MEDIAGATE_MEDIA_DIR": str(run / "media"), "MEDIAGATE_MEDIA_URL": "/media-files",
            **s3_settings.env(s3, s3_settings.new_bucket(s3), prefix)}


@pytest.fixture
def mg_env(s3, rundir, request):
    """The settings of every process of the test; a test parametrizes it
    (indirect) with settings of its own on top."""
    return {**mg_settings(s3, rundir), **getattr(request, "param", {})}


@pytest.fixture
def local(db, rundir, s3, mg_env):
    return Local(db, rundir, s3, env=mg_env)


def test_dry_run_then_migrate_then_again(local, s3):
    public, private = local.job(), local.job(acl="USER_alice")
    untouched = [local.job(status="PROGRESSING"), local.job(backend="zencoder")]
    before = {j: local.row(j) for j in (public, private, *untouched)}

    r = local.migrate("--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"would move {public}" in r.stdout and f"would move {private}" in r.stdout
    assert "dry run: jobs: 2 to move, 0 staying local; files: 10 to copy" in r.stdout
    assert s3_settings.keys(s3, local.bucket) == {}
    assert {j: local.row(j) for j in before} == before

    r = local.migrate()
    assert r.returncode == 0, r.stderr
    assert "jobs: 2 moved, 0 staying local; files: 10 copied" in r.stdout
    c = s3_settings.client(s3)
    for job in (public, private):
        files = local.files(job)
        assert set(local.objects(job)) == {local.key(job, k) for k in files}
        for rel, data in files.items():
            o = c.get_object(Bucket=local.bucket, Key=local.key(job, rel))
            assert o["Body"].read() == data
            if rel.endswith(".ts"):
                assert o["CacheControl"] == "max-age=31536000, immutable" and o["ContentType"] == "video/mp2t"
            else:
                assert o["CacheControl"] == "max-age=60"
                assert o["ContentType"] == "application/vnd.apple.mpegurl"
        storage, output_path, _ = local.row(job)
        assert (storage, output_path) == ("s3", f"{s3.endpoint}/{local.bucket}/media/{job}/")
    for job in untouched:
        assert local.row(job) == before[job]
        assert local.objects(job) == {}
    # Readable without a signature only when anyone may see the job; the
    # store itself refuses the private one.
    assert s3_settings.unsigned_status(f"{s3.endpoint}/{local.bucket}/media/{public}/v0/seg000.ts") == 200
    assert s3_settings.unsigned_status(f"{s3.endpoint}/{local.bucket}/media/{private}/v0/seg000.ts") == 403
    # The local files are kept.
    assert (local.media / public / "master.m3u8").exists()

    # Run again: nothing to do, nothing written.
    objects = {j: local.objects(j) for j in (public, private)}
    rows = {j: local.row(j) for j in (public, private)}
    r = local.migrate()
    assert r.returncode == 0, r.stderr
    assert "jobs: 0 moved, 0 staying local; files: 0 copied (0 bytes), 0 already in the bucket" in r.stdout
    assert {j: local.objects(j) for j in (public, private)} == objects
    assert {j: local.row(j) for j in (public, private)} == rows


def test_killed_halfway_resumes(db, rundir, s3):
    local = Local(db, rundir, s3, prefix="site/")
    job = local.job(segments=60, seg_bytes=256 * 1024)
    files = local.files(job)
    p = subprocess.Popen([str(mgstack.MG_BIN), "storage", "migrate"], env=local.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Stopped as soon as its first object is in, then killed: a run cut
        # short mid-copy.
        assert mgstack.wait_until(lambda: local.objects(job) or p.poll() is not None, 120, 0.02)
        p.send_signal(signal.SIGSTOP)
        assert p.poll() is None, "the run ended before it could be cut short"
        p.kill()
    finally:
        p.kill()
        p.wait()
    copied = local.objects(job)
    assert 0 < len(copied) < len(files)
    assert local.key(job, "master.m3u8") not in copied, "the master playlist is copied last"
    assert local.row(job)[:2] == ("local", f"/media-files/{job}/"), "repointed before all its objects were in"

    r = local.migrate()
    assert r.returncode == 0, r.stderr
    assert f"jobs: 1 moved, 0 staying local; files: {len(files) - len(copied)} copied" in r.stdout
    assert f"{len(copied)} already in the bucket" in r.stdout
    now = local.objects(job)
    assert set(now) == {local.key(job, k) for k in files}
    for k, v in copied.items():
        assert now[k] == v, f"{k} was copied again"
    assert [now[local.key(job, k)][0] for k in files] == [len(v) for v in files.values()]
    assert local.row(job)[:2] == ("s3", f"{s3.endpoint}/{local.bucket}/site/media/{job}/")


def test_a_job_that_cannot_move_stays_local(local, s3):
    good, gone, odd = local.job(), local.job(), local.job()
    for p in (local.media / gone).rglob("*"):
        if p.is_file():
            p.unlink()
    (local.media / odd / "v0" / "bad name.ts").write_bytes(b"x")
    r = local.migrate()
    assert r.returncode == 1
    assert f"job {gone} stays local: it has no files in MEDIAGATE_MEDIA_DIR" in r.stderr
    assert f"job {odd} stays local: v0/bad name.ts cannot be named in the bucket" in r.stderr
    assert "jobs: 1 moved, 2 staying local" in r.stdout
    assert local.row(good)[0] == "s3"
    assert local.row(gone)[0] == local.row(odd)[0] == "local"
    assert str(local.media) not in r.stderr, "messages name no server path"
    # Once fixed, the next run completes it.
    (local.media / odd / "v0" / "bad name.ts").unlink()
    r = local.migrate()
    assert r.returncode == 1 and "jobs: 1 moved, 1 staying local" in r.stdout
    assert local.row(odd)[0] == "s3"


def test_a_job_directory_that_is_a_symlink_stays_local(local, s3):
    """A job's directory that is a symlink (to another job's) is not
    followed, and the message names the directory, not the other's files."""
    other, linked = local.job(), local.job()
    shutil.rmtree(local.media / linked)
    (local.media / linked).symlink_to(local.media / other)
    r = local.migrate()
    assert r.returncode == 1
    assert f"job {linked} stays local: its directory is not a regular file" in r.stderr, r.stderr
    assert local.row(linked)[0] == "local" and not local.objects(linked)
    assert local.row(other)[0] == "s3"


def test_wrong_secret_moves_nothing(local, s3):
    first, second = local.job(), local.job()
    r = local.migrate(env={**local.env, "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": "not-the-secret"})
    assert r.returncode == 1
    assert "stays local" in r.stderr and "no other job is tried" in r.stderr
    assert r.stderr.count("stays local") == 1, "the store's refusal is met once, not once per job"
    assert "jobs: 0 moved, 2 staying local" in r.stdout
    assert "not-the-secret" not in r.stderr + r.stdout
    assert local.row(first)[0] == local.row(second)[0] == "local"
    assert s3_settings.keys(s3, local.bucket) == {}


def test_needs_s3_storage_and_one_run_at_a_time(local, pg, db):
    job = local.job()
    env = {k: v for k, v in local.env.items() if not k.startswith("MEDIAGATE_STORAGE")}
    r = local.migrate(env=env)
    assert r.returncode == 2 and "MEDIAGATE_STORAGE is local" in r.stderr
    with pg.connect(db.name) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('mediagate storage migrate'))")
        r = local.migrate()
        assert r.returncode == 3 and "another 'storage migrate' runs" in r.stderr
    assert local.row(job)[0] == "local"
    r = subprocess.run([str(mgstack.MG_BIN), "storage", "migrate", "--bogus"], env=local.env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "usage: mediagate [--config FILE] storage migrate [--dry-run]" in r.stderr


def test_the_runs_docs_scaling_md_shows(local):
    """Each `$ mediagate storage migrate ...` of the page, run on one job as
    the page's: its output is the page's, but for the job id and byte count."""
    page = (mgstack.MG_ROOT / "docs" / "scaling.md").read_text()
    block = page.split("$ mediagate storage migrate --dry-run", 1)[1].split("```", 1)[0]
    block = ("$ mediagate storage migrate --dry-run" + block).strip().splitlines()
    job = local.job()
    runs, cmd = [], None
    for line in block:
        if line.startswith("$ mediagate "):
            cmd = line[len("$ mediagate "):].split()
            runs.append((cmd, []))
        else:
            runs[-1][1].append(line)
    assert [c for c, _ in runs] == [["storage", "migrate", "--dry-run"], ["storage", "migrate"]]
    size = sum(len(v) for v in local.files(job).values())
    for cmd, want in runs:
        r = subprocess.run([str(mgstack.MG_BIN), *cmd], env=local.env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr
        got = [re.sub(r"\(\d+ bytes\)", "(N bytes)", line.replace(job, "JOB")) for line in r.stdout.splitlines()]
        assert got == [re.sub(r"\(\d+ bytes\)", "(N bytes)", re.sub(r"[0-9a-f-]{36}", "JOB", line))
                       for line in want]
        assert f"({size} bytes)" in r.stdout


def test_store_down_then_back(local, s3):
    """The store not answering: the job stays local with the reason, and
    a run once it is back moves it."""
    job = local.job()
    s3.kill_rgw()
    try:
        r = local.migrate()
    finally:
        s3.start_rgw()
    assert r.returncode == 1
    assert f"job {job} stays local" in r.stderr and "jobs: 0 moved, 1 staying local" in r.stdout
    assert local.row(job)[0] == "local"
    r = local.migrate()
    assert r.returncode == 0, r.stderr
    assert "jobs: 1 moved, 0 staying local; files: 5 copied" in r.stdout
    assert local.row(job)[0] == "s3"


@pytest.mark.parametrize("mg_env", [{}, {"MEDIAGATE_MEDIA_SIGNING_SECRET": "migrate-signing-secret-0123456789"}],
                         ids=["unsigned", "signed"], indirect=True)
def test_migrated_jobs_play_through_mediagate(local, stack, s3):
    """After the move, /media/status hands out URLs of the bucket: a public
    job's straight from the store, unsigned; with signing on, mediagate's
    signed playlists, whose segment URLs the store honours."""
    job = local.job()
    files = local.files(job)
    assert local.migrate().returncode == 0
    r = stack.curl(f"/media/status?job_id={job}")
    assert r.status == 200, r
    out = r.json()["output_path"]
    direct = f"{s3.endpoint}/{local.bucket}/media/{job}/"
    if "MEDIAGATE_MEDIA_SIGNING_SECRET" not in stack.env:
        assert out == direct
        assert s3_settings.unsigned_status(out + "v0/seg001.ts") == 200
        return
    assert out.startswith("/media/hls/") and out.endswith(f"/{job}/")
    assert s3_settings.unsigned_status(direct + "v0/seg001.ts") == 403, "the store refuses an unsigned URL"
    master = stack.curl(out + "master.m3u8")
    assert master.status == 200 and "v0/index.m3u8" in master.body
    media = stack.curl(out + "v0/index.m3u8")
    assert media.status == 200, media
    urls = [line for line in media.body.splitlines() if line and not line.startswith("#")]
    assert len(urls) == 3 and all(u.startswith(direct + "v0/seg") for u in urls), urls
    got = subprocess.run(["curl", "-sf", urls[1]], capture_output=True, timeout=60).stdout
    assert got == files["v0/seg001.ts"]
