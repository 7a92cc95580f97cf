"""The local encoder under faults and hostile inputs, through real
PostgreSQL, nginx and ffmpeg (fixtures and helpers from test_encoder.py).

The outputs are read back before they are published: a media disk (a
small tmpfs) filled during encodes publishes nothing broken, and the
encodes complete once there is space; a truncated upload is ERROR 8 with
what was encoded. What an input may cost is budgeted before it is encoded
(a 4096x4096 "bomb", too long, too many pixels x frames: ERROR 9), every
ffmpeg and ffprobe runs under CPU and address-space limits, and one
owner's encodes are capped so that another's run beside them.
"""

import errno
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from mgstack import wait_until
from test_encoder import (DONE, clip, clips, hidden_entries, mg_env, nginx_includes,  # noqa: F401
                          progress, put, status, wait_status)

def lavfi_clip(out, seconds, size, source="testsrc=", *extra):
    """An H.264/AAC MP4 of 25 fps made by ffmpeg from a lavfi source
    ("testsrc=", "color=c=black:")."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"{source}size={size}:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    "-shortest", *extra, str(out)], check=True)
    return out


def job_row(stack, job):
    """(status, error_code, error_message, progress_rate, duration_ms) of JOB."""
    return stack.db.one("SELECT status, error_code, error_message, progress_rate, duration_ms "
                        "FROM jobs WHERE id = %s", job)


def plays(stack, job):
    """Whether every rendition of JOB's master playlist, fetched through
    nginx, is read by ffprobe to its end; returns (ok, the seconds of the
    first rendition, ffprobe's complaint)."""
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                        f"{stack.base}/media-files/{job}/master.m3u8"],
                       capture_output=True, text=True)
    try:
        seconds = float(p.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        seconds = 0.0
    return p.returncode == 0 and seconds > 0, seconds, p.stderr[-500:]


@pytest.fixture
def media_tmpfs(rundir):
    """A 40 MiB tmpfs mounted as the test's media directory, unmounted on
    every way out (lazily if something still holds it; SIGTERM, as meson's
    timeout sends, ends the test through the finalizer too)."""
    media = rundir / "media"
    media.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m,mode=0755", "tmpfs", str(media)], check=True)

    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield media
    finally:
        signal.signal(signal.SIGTERM, old)
        if subprocess.run(["umount", str(media)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(media)], check=True)


def fill_disk(path):
    """Writes PATH until its file system is full (ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    finally:
        os.close(fd)


def test_full_media_disk_publishes_nothing_then_completes(stack, media_tmpfs, workers, clip, rundir):
    """ffmpeg 5.1's HLS muxer exits 0 when its writes fail: the outputs are
    read back before they are published, a full disk is waited out without
    spending attempts, and what was partly written is removed."""
    src = clip("a.mp4", 10, "1280x720")
    jobs = []
    for i in range(3):
        shutil.copyfile(src, rundir / f"d{i}.mp4")
        jobs.append(stack.mg("submit", rundir / f"d{i}.mp4"))
    workers.start(MEDIAGATE_WORKER_CONCURRENCY="3")
    assert wait_until(lambda: all(progress(stack, j) > 0 for j in jobs), 60), \
        "the three encodes are under way before the disk fills"
    filler = media_tmpfs / ".filler"
    fill_disk(filler)

    def waited_or_done():
        rows = stack.db.rows("SELECT t.last_error, j.status FROM outbox t JOIN jobs j "
                             "ON j.id = t.payload->>'job_id' WHERE j.id = ANY(%s)", jobs)
        return all(e and "media disk is full" in e or st in DONE for e, st in rows) and rows
    assert wait_until(waited_or_done, 90), "each encode met the full disk (or finished before it)"
    for j in jobs:
        st = job_row(stack, j)
        assert st[0] != "ERROR", f"a full disk is no error of the job: {st}"
        if st[0] == "COMPLETE":  # finished before the disk filled: it must play
            ok, _, why = plays(stack, j)
            assert ok, f"job {j} is COMPLETE and plays: {why}"
        else:
            assert not (media_tmpfs / j).exists(), f"nothing of job {j} is published while the disk is full"
    waiting = sum(1 for j in jobs if job_row(stack, j)[0] not in DONE)
    assert wait_until(lambda: workers.log().count("the attempt not counted") > waiting, 60), \
        "a task claimed again while the disk is still full waits again, before any encode"
    full = stack.db.one("SELECT count(*) FROM outbox WHERE last_error LIKE '%%media disk is full%%'")
    assert full >= 1, "at least one encode met the full disk"
    assert stack.db.one("SELECT max(attempts) FROM outbox WHERE payload->>'job_id' = ANY(%s)", jobs) <= 1, \
        "waiting for space spends no attempt"

    filler.unlink()
    assert wait_until(lambda: all(status(stack, j).get("job_status") in DONE for j in jobs), 240), \
        "the encodes finish once there is space"
    for j in jobs:
        st = job_row(stack, j)
        assert st[0] == "COMPLETE", f"job {j} completed after the disk had space again: {st}"
        ok, seconds, why = plays(stack, j)
        assert ok and 9.5 <= seconds <= 10.5, f"job {j} plays its 10 s ({seconds}): {why}"
        assert 9500 <= st[4] <= 10500, f"duration_ms is what was encoded: {st}"
    assert hidden_entries(media_tmpfs) == [], "no partial outputs are left"
    assert "the media disk (MEDIAGATE_MEDIA_DIR) is full" in workers.log()


def test_truncated_upload_is_an_error_not_a_short_job(stack, workers, rundir):
    """The first 200 KB of a 20 s faststart MP4 probes as 20 s and decodes
    without an error up to where it was cut."""
    full = lavfi_clip(rundir / "full.mp4", 20, "640x360", "testsrc=", "-movflags", "+faststart")
    cut = rundir / "cut.mp4"
    cut.write_bytes(full.read_bytes()[:200000])
    workers.start()
    ok = stack.mg("submit", full)
    bad = stack.mg("submit", cut)
    assert wait_status(stack, bad, DONE, 90) and wait_status(stack, ok, DONE, 90)
    st = job_row(stack, bad)
    assert st[:2] == ("ERROR", 8), f"a truncated input is ERROR 8: {st}"
    assert re.fullmatch(r"the input ends early: [0-9]+\.[0-9] s of video were encoded of the 20\.0 s it "
                        r"declares \(a file cut short\?\)", st[2]), st
    assert not (rundir / "media" / bad).exists(), "nothing of it is published"
    assert stack.db.one("SELECT attempts FROM outbox WHERE payload->>'job_id' = %s", bad) == 1, \
        "and it is not retried"
    st = job_row(stack, ok)
    assert st[0] == "COMPLETE" and 19500 <= st[4] <= 20500, f"the whole file: COMPLETE, 20 s: {st}"


def test_inputs_over_the_budget_are_refused_before_encoding(stack, workers, rundir):
    """A 4096x4096 "bomb" of a few highly compressible frames, an input too
    long and one that costs too many pixels x frames end in ERROR 9 with
    the limit named, and no ffmpeg encode is started for them."""
    bomb = lavfi_clip(rundir / "bomb.mp4", 0.2, "4096x4096", "color=c=black:")
    assert bomb.stat().st_size < 300000, "the bomb is small"
    long = lavfi_clip(rundir / "long.mp4", 30, "320x240")
    heavy = lavfi_clip(rundir / "heavy.mp4", 10, "1280x720")
    fine = lavfi_clip(rundir / "fine.mp4", 2, "320x240")
    ids = {n: stack.mg("submit", f) for n, f in
           (("bomb", bomb), ("long", long), ("heavy", heavy), ("fine", fine))}
    workers.start(MEDIAGATE_ENCODE_MAX_DURATION="25", MEDIAGATE_ENCODE_MAX_MEGAPIXELS="200")
    for j in ids.values():
        assert wait_status(stack, j, DONE, 120), j
    want = {
        "bomb": "the input's frames are 4096x4096 (16777216 pixels): more than the 8912896 pixels a "
                "frame may have",
        "long": "the input lasts 30 s: longer than the 25 s an input may last",
        "heavy": "decoding the input costs 23[01] million pixels \\(pixels x frames\\): more than the 200 "
                 "million an input may cost",
    }
    for name, msg in want.items():
        st = job_row(stack, ids[name])
        assert st[:2] == ("ERROR", 9) and re.fullmatch(re.escape(msg) if name != "heavy" else msg, st[2]), \
            f"{name}: {st}"
        assert st[3] == 0, f"{name}: no encode made progress: {st}"
        assert stack.db.one("SELECT attempts FROM outbox WHERE payload->>'job_id' = %s", ids[name]) == 1
        assert not list((rundir / "media").glob(f"*{ids[name]}*")), f"{name}: no output directory was made"
    assert job_row(stack, ids["fine"])[0] == "COMPLETE", "an input within the budget is encoded"


@pytest.mark.parametrize("limit,want", [
    ({"MEDIAGATE_ENCODE_CPU_SECONDS": "1"}, r"the encode used up its CPU time limit \(1 s\)"),
    ({"MEDIAGATE_ENCODE_MEMORY_MB": "400"}, r"the encode ran out of memory under its 400 MiB limit(: .*)?"),
])
def test_a_child_past_its_limit_ends_in_a_clear_error(stack, workers, clip, rundir, limit, want):
    src = clip("long.mp4", 30, "1280x720")
    j = stack.mg("submit", src)
    workers.start(**limit)
    assert wait_status(stack, j, DONE, 120)
    st = job_row(stack, j)
    assert st[:2] == ("ERROR", 9) and re.fullmatch(want, st[2]), st
    assert "/" not in st[2], f"no server path: {st}"
    assert stack.db.one("SELECT attempts FROM outbox WHERE payload->>'job_id' = %s", j) == 1, \
        "a limit is not retried"
    assert hidden_entries(rundir / "media") == [] and not (rundir / "media" / j).exists()


def test_one_owner_cannot_hold_every_encoder_slot(stack, workers, clip):
    """Cap 1, two slots: the second owner's upload is encoded beside the
    first owner's first, while the first owner's second waits."""
    src = clip("a.mp4", 10, "1280x720")
    a = stack.mg("apikey", "create", "owner-a")
    b = stack.mg("apikey", "create", "owner-b")
    order = []
    for key, name in ((a, "a1.mp4"), (a, "a2.mp4"), (b, "b1.mp4")):
        r = put(stack, src, f"/uploads/{name}", f"Authorization: Bearer {key}")
        assert r.status == 201, r
        order.append(r.json()["job_id"])
    a1, a2, b1 = order
    workers.start(MEDIAGATE_WORKER_CONCURRENCY="2", MEDIAGATE_ENCODE_OWNER_CAP="1")
    seen = []

    def running():
        rows = dict(stack.db.rows("SELECT payload->>'job_id', state FROM tasks WHERE kind = 'local.encode'"))
        seen.append(rows)
        return rows.get(b1) == "running" and rows.get(a2) == "queued" and rows.get(a1) == "running"
    assert wait_until(running, 60, 0.05), f"owner b's encode ran beside a's first while a's second waited: {seen[-3:]}"
    assert wait_until(lambda: all(status(stack, j).get("job_status") in DONE for j in order), 240)
    assert [status(stack, j).get("job_status") for j in order] == ["COMPLETE"] * 3
    both_a = [s for s in seen if s.get(a1) == "running" and s.get(a2) == "running"]
    assert not both_a, "owner a never ran two encodes at once"


def test_claims_of_one_owner_take_turns(stack):
    """Two claims at the same moment cannot both pass an owner's cap: the
    first holds the owner's turn until it commits, the second skips the
    owner meanwhile, and counts the first's claim afterwards."""
    db = stack.db
    for n in range(2):
        db.rows("INSERT INTO outbox (kind, payload, owner) VALUES ('noop', %s, 'x') RETURNING id",
                json.dumps({"n": n}))
    first, second = db.pg.connect(db.name), db.pg.connect(db.name)
    try:
        first.execute("BEGIN")
        assert first.execute("SELECT mediagate_owner_may_claim('x', 1)").fetchone()[0] is True
        first.execute("UPDATE outbox SET locked_by = 'w1', locked_until = now() + interval '1 minute', "
                      "attempts = 1 WHERE payload->>'n' = '0'")
        assert second.execute("SELECT mediagate_owner_may_claim('x', 1)").fetchone()[0] is False, \
            "a claim skips the owner while another claim of theirs is open"
        assert second.execute("SELECT mediagate_owner_may_claim('y', 1)").fetchone()[0] is True, \
            "another owner is not held up"
        first.execute("COMMIT")
        assert second.execute("SELECT mediagate_owner_may_claim('x', 1)").fetchone()[0] is False, \
            "after the commit the running task counts"
        assert second.execute("SELECT mediagate_owner_may_claim('x', 2)").fetchone()[0] is True
        assert second.execute("SELECT mediagate_owner_may_claim('x', 0)").fetchone()[0] is True, "0: no cap"
    finally:
        first.close()
        second.close()
