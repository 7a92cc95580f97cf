"""tus uploads on S3 storage against a real store, Ceph's RADOS Gateway
(tests/lib/ceph_rgw.py). First the storage row itself (app/uploads/
tus_s3.c, through tests/lib/store_exec.c: one call a process, the upload's
state passed in and printed out, as the handler keeps it in the database):
chunks smaller than a part, of a part, of several parts; a crash between
the store's writes and the state's update (the state not passed on); a
finish done twice; a discard. What the bucket holds is checked with
botocore."""

import hashlib
import json
import os
import subprocess
import uuid

import pytest
import s3_settings
from mgstack import wait_until
from test_encoder import encoder_env, nginx_includes  # noqa: F401
from test_storage import PREFIX, doc_blocks, mg, store_env
from test_tus import TUS, call, head, job_status, patch, slot
from test_tus import create as tus_create

MIB = 1 << 20
client = s3_settings.client


@pytest.fixture
def bucket(s3):
    return s3_settings.new_bucket(s3, "mg-tus")


class Upload:
    """A tus upload's state as the handler records it, and the row's calls
    on it; a call's new state is kept only with record=True."""

    def __init__(self, env, length, name="movie.mp4"):
        self.env, self.id, self.name, self.length = env, str(uuid.uuid4()), name, length
        self.key = f"uploads/{self.id}/{name}"
        ans = mg(env, "tus-begin", self.id, name, str(length))
        assert ans["status"] == "ok", ans
        self.state = ans

    def args(self):
        s = self.state
        return [self.id, self.name, str(self.length), str(s["offset"]), s["upload_id"],
                str(s["parts"]), s["tail_key"], str(s["tail_bytes"])]

    def append(self, path, data, record=True):
        path.write_bytes(data)
        ans = mg(self.env, "tus-append", *self.args(), str(path))
        assert ans["status"] == "ok", ans
        if record:
            self.state = ans
        return ans

    def finish(self):
        return mg(self.env, "tus-finish", *self.args())

    def discard(self):
        return mg(self.env, "tus-discard", *self.args())


def objects(s3, bucket, prefix):
    return {k[len(PREFIX):]: v[0] for k, v in s3_settings.keys(s3, bucket, PREFIX + prefix).items()}


def in_flight(s3, bucket):
    return [u["Key"][len(PREFIX):]
            for u in client(s3).list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def stored(s3, bucket, key):
    return client(s3).get_object(Bucket=bucket, Key=PREFIX + key)["Body"].read()


def send(up, tmp_path, data, sizes):
    """Appends data in chunks of the sizes given (the last one repeated)."""
    off, i = up.state["offset"], 0
    while off < len(data):
        n = sizes[min(i, len(sizes) - 1)]
        up.append(tmp_path / "chunk", data[off:off + n])
        off += len(data[off:off + n])
        assert up.state["offset"] == off
        i += 1


def finished(s3, bucket, up, data):
    """Finishes up; the object holds data, nothing else is left."""
    ans = up.finish()
    assert ans["status"] == "ok", ans
    assert ans["size"] == len(data)
    body = stored(s3, bucket, up.key)
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    head = client(s3).head_object(Bucket=bucket, Key=PREFIX + up.key)
    assert head["ETag"] == ans["etag"]
    assert not objects(s3, bucket, f"tus/{up.id}/")
    assert up.key not in in_flight(s3, bucket)
    return ans


@pytest.fixture
def env(s3, bucket):
    return store_env(s3, bucket, MEDIAGATE_STORAGE_PART_BYTES=str(5 * MIB))


def test_chunks_smaller_than_a_part(s3, bucket, env, tmp_path):
    data = os.urandom(3 * MIB + 123)
    up = Upload(env, len(data))
    assert up.key in in_flight(s3, bucket)
    tails = []
    for i in range(3):
        up.append(tmp_path / "chunk", data[i * MIB:(i + 1) * MIB])
        assert (up.state["parts"], up.state["tail_bytes"]) == (0, (i + 1) * MIB)
        tails.append(f"tus/{up.id}/tail-{(i + 1) * MIB}")
        assert up.state["tail_key"] == tails[-1]
        # The recorded tail stays until a later call finds the state past it.
        assert objects(s3, bucket, f"tus/{up.id}/") == {
            t: int(t.rsplit("-", 1)[1]) for t in tails[-2:]}
    up.append(tmp_path / "chunk", data[3 * MIB:])
    # The last byte: the rest goes as the last part, no tail.
    assert (up.state["parts"], up.state["tail_key"], up.state["tail_bytes"]) == (1, "", 0)
    finished(s3, bucket, up, data)


def test_chunks_of_a_part(s3, bucket, env, tmp_path):
    data = os.urandom(10 * MIB + 1000)
    up = Upload(env, len(data))
    send(up, tmp_path, data, [5 * MIB])
    assert (up.state["parts"], up.state["tail_key"]) == (3, "")
    assert not objects(s3, bucket, f"tus/{up.id}/")
    finished(s3, bucket, up, data)


def test_a_chunk_of_several_parts_and_unaligned_chunks(s3, bucket, env, tmp_path):
    data = os.urandom(23 * MIB + 4567)
    up = Upload(env, len(data))
    # 17 MiB: three parts and a tail of 2 MiB.
    up.append(tmp_path / "chunk", data[:17 * MIB])
    assert (up.state["parts"], up.state["tail_bytes"]) == (3, 2 * MIB)
    # 3 MiB chunks: 2 + 3 is a part, then 3 is a tail, 3 + 3 a part, ...
    send(up, tmp_path, data, [3 * MIB])
    finished(s3, bucket, up, data)
    parts = client(s3).head_object(Bucket=bucket, Key=PREFIX + up.key)["ETag"]
    assert parts.endswith(f'-{up.state["parts"]}"'), parts


def test_a_crash_before_the_state_is_recorded(s3, bucket, env, tmp_path):
    """append wrote a part and a tail, the state was not recorded: the
    client sends again from the recorded offset (the same chunk, or
    another cut), and the file comes out whole."""
    data = os.urandom(14 * MIB + 77)
    up = Upload(env, len(data))
    up.append(tmp_path / "chunk", data[:3 * MIB])
    # Lost: part 1 (3 + 3 - 1 MiB) and the tail tail-7MiB... and again.
    lost = up.append(tmp_path / "chunk", data[3 * MIB:7 * MIB], record=False)
    assert (lost["parts"], lost["tail_bytes"]) == (1, 2 * MIB)
    lost = up.append(tmp_path / "chunk", data[3 * MIB:7 * MIB], record=False)
    assert lost["parts"] == 1
    # The recorded tail is still there for the next try.
    assert up.state["tail_key"] in objects(s3, bucket, f"tus/{up.id}/")
    up.append(tmp_path / "chunk", data[3 * MIB:4 * MIB])
    assert (up.state["parts"], up.state["tail_bytes"]) == (0, 4 * MIB)
    # Lost again, after a tail write only.
    up.append(tmp_path / "chunk", data[4 * MIB:4 * MIB + 1000], record=False)
    send(up, tmp_path, data, [3 * MIB])
    finished(s3, bucket, up, data)


def test_a_part_left_above_the_recorded_ones_never_joins(s3, bucket, env, tmp_path):
    """With one part size, an append sent again from the recorded offset
    makes at least as many parts as the unrecorded one did, so none is
    left above them (the tests above). A restart with another part size
    between the two can leave one: finish completes with the recorded
    parts only, which AWS takes and Ceph refuses (it wants every part
    listed): the upload fails, it never makes a file with those bytes."""
    data = os.urandom(16 * MIB)
    up = Upload(env, len(data))
    lost = up.append(tmp_path / "chunk", data[:15 * MIB], record=False)
    assert lost["parts"] == 3
    up.env = dict(env, MEDIAGATE_STORAGE_PART_BYTES=str(8 * MIB))
    up.append(tmp_path / "chunk", data)
    assert up.state["parts"] == 2
    ans = up.finish()
    assert ans["status"] == "error" and "InvalidPart" in ans["err"], ans
    assert not objects(s3, bucket, f"uploads/{up.id}/")


def test_finish_twice(s3, bucket, env, tmp_path):
    """A crash after the completion, before the state says so: finish
    again finds the file whole and answers as before. The last append
    sends the last part itself; a state that still has a tail at the end
    (a length the handler lowered, here) has it sent as the last part."""
    data = os.urandom(7 * MIB)
    plain = Upload(env, len(data))
    send(plain, tmp_path, data, [6 * MIB])
    assert (plain.state["parts"], plain.state["tail_bytes"]) == (2, 0)
    tailed = Upload(env, len(data) + 5)
    tailed.append(tmp_path / "chunk", data)
    assert (tailed.state["parts"], tailed.state["tail_bytes"]) == (1, 2 * MIB)
    tailed.length = len(data)
    for up in (plain, tailed):
        first = finished(s3, bucket, up, data)
        again = up.finish()
        assert again["status"] == "ok", again
        assert (again["size"], again["etag"]) == (first["size"], first["etag"])
        assert stored(s3, bucket, up.key) == data


def test_discard(s3, bucket, env, tmp_path):
    data = os.urandom(8 * MIB)
    up = Upload(env, 20 * MIB)
    up.append(tmp_path / "chunk", data[:6 * MIB])
    up.append(tmp_path / "chunk", data[6 * MIB:], record=False)
    assert objects(s3, bucket, f"tus/{up.id}/")
    assert mg(env, "tus-discard", *up.args())["status"] == "ok"
    assert not objects(s3, bucket, f"tus/{up.id}/")
    assert up.key not in in_flight(s3, bucket)
    assert not objects(s3, bucket, f"uploads/{up.id}/")
    # Twice, and after a finish that was not recorded: nothing left either.
    assert up.discard()["status"] == "ok"
    done = Upload(env, 1000)
    done.append(tmp_path / "chunk", b"x" * 1000)
    assert done.finish()["status"] == "ok"
    assert done.discard()["status"] == "ok"
    assert not objects(s3, bucket, f"uploads/{done.id}/")


def test_complete_with_the_parts_counted(s3, bucket, env, tmp_path):
    """store_multipart_complete_parts: parts 1..n, each there."""
    f = tmp_path / "body"
    f.write_bytes(os.urandom(11 * MIB))
    up = mg(env, "mp-create", "uploads/x/a.bin")["upload_id"]
    for part, off in ((1, 0), (2, 5 * MIB), (3, 10 * MIB)):
        ans = mg(env, "mp-put-part", "uploads/x/a.bin", up, str(part), str(f), str(off),
                 str(min(5 * MIB, 11 * MIB - off)))
        assert ans["status"] == "ok" and ans["etag"].startswith('"'), ans
    gap = mg(env, "mp-put-part", "uploads/x/a.bin", up, "5", str(f), "0", "10")
    assert gap["status"] == "ok"
    assert mg(env, "mp-put-part", "uploads/x/a.bin", up, "0", str(f), "0", "1")["status"] == "error"
    missing = mg(env, "mp-complete-parts", "uploads/x/a.bin", up, "4")
    assert missing["status"] == "error" and "part 4 is missing" in missing["err"], missing
    # Parts 1..3 with part 5 left out: Ceph wants every part listed.
    extra = mg(env, "mp-complete-parts", "uploads/x/a.bin", up, "3")
    assert extra["status"] == "error" and "InvalidPart" in extra["err"], extra
    up = mg(env, "mp-create", "uploads/x/b.bin")["upload_id"]
    for part, off in ((1, 0), (2, 5 * MIB)):
        mg(env, "mp-put-part", "uploads/x/b.bin", up, str(part), str(f), str(off), str(5 * MIB))
    done = mg(env, "mp-complete-parts", "uploads/x/b.bin", up, "2")
    assert (done["status"], done["size"]) == ("ok", 10 * MIB), done
    assert stored(s3, bucket, "uploads/x/b.bin") == f.read_bytes()[:10 * MIB]


def test_docs_lifecycle_rules_cover_the_tails(s3, bucket):
    """docs/storage.md's lifecycle document expires what is under tus/, and
    the store takes it as written."""
    lifecycle = next(json.loads(t) for lang, t in doc_blocks() if lang == "json")
    tails = [r for r in lifecycle["Rules"] if r["Filter"] == {"Prefix": "tus/"}]
    assert [r.get("Expiration") for r in tails] == [{"Days": 1}], lifecycle
    c = client(s3)
    c.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle)
    got = c.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == [r["ID"] for r in lifecycle["Rules"]]


# --- through nginx and mediagate ---------------------------------------------
# tus spoken raw (tests/pytest/test_tus.py's client) to real nginx with the
# project's nginx/mediagate-upload.conf, mediagate on the store, the worker
# encoding from the bucket.

CHUNK = 3 * MIB  # not a multiple of the part size


@pytest.fixture
def fault_proxy(s3):
    import s3_fault_proxy
    p = s3_fault_proxy.FaultProxy(s3.port).start()
    yield p
    p.stop()


@pytest.fixture
def mg_env(rundir, s3, bucket, request):
    (rundir / "tmp").mkdir()
    proxied = "fault_proxy" in request.fixturenames
    return {
        **encoder_env(rundir),
        "TMPDIR": str(rundir / "tmp"),   # where a chunk is spooled, and the worker's
        "MEDIAGATE_LEASE_SECONDS": "10",
        "MEDIAGATE_UPLOAD_MAX_BYTES": str(64 * MIB),
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": (request.getfixturevalue("fault_proxy").endpoint
                                       if proxied else s3.endpoint),
        "MEDIAGATE_STORAGE_RETRIES": "2",
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": bucket,
        "MEDIAGATE_STORAGE_PREFIX": PREFIX,
        "MEDIAGATE_STORAGE_ADDRESSING": "path",
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIAGATE_STORAGE_PART_BYTES": str(5 * MIB),
    }


@pytest.fixture
def key(stack):
    return stack.mg("apikey", "create", "uploader")


@pytest.fixture
def big_video(rundir):
    """A real video of about 22 MiB (noise does not compress)."""
    out = rundir / "big.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", "4", "-vf", "noise=alls=60:allf=t", "-c:v", "libx264",
                    "-preset", "ultrafast", "-qp", "0", "-c:a", "aac", "-shortest", str(out)],
                   check=True)
    data = out.read_bytes()
    assert 4 * 5 * MIB < len(data) < 40 * MIB and len(data) % CHUNK and len(data) % (5 * MIB)
    return data


def started(stack, key, length, *form):
    """A slot (no size=: the file comes by tus), its tus upload created."""
    body = slot(stack, key, "name=big.mp4", "content_type=video/mp4", *form)
    up = body["upload"]
    assert up["storage"] == "s3" and "headers" not in up, up
    r = tus_create(stack, up["tus_endpoint"], length)
    assert r.status == 201, r
    return up, body["job_id"], up["tus_endpoint"]


def chunks(stack, ep, data, start, stop):
    """PATCHes data[start:stop] in CHUNK pieces; each answered 204."""
    off = start
    while off < stop:
        piece = data[off:min(off + CHUNK, stop)]
        r = patch(stack, ep, off, piece)
        assert r.status == 204, r
        off += len(piece)
        assert r.header("Upload-Offset") == str(off), r
    return off


def nothing_in_flight(s3, bucket, up):
    assert f"uploads/{up['id']}/big.mp4" not in in_flight(s3, bucket)
    assert not objects(s3, bucket, f"tus/{up['id']}/")


def test_tus_onto_the_bucket_in_unaligned_chunks_then_encoded(stack, key, s3, bucket, rundir,
                                                              workers, big_video):
    data = big_video
    up, job, ep = started(stack, key, len(data))
    obj = f"uploads/{up['id']}/big.mp4"
    assert obj in in_flight(s3, bucket), "creation begins the multipart upload"
    off = 0
    while off < len(data):
        off = chunks(stack, ep, data, off, min(off + CHUNK, len(data)))
        if off < len(data):
            # In flight: at most the recorded tail and the one before it,
            # each short of a part; the upload's file is not there yet.
            tails = objects(s3, bucket, f"tus/{up['id']}/")
            assert len(tails) <= 2 and all(n < 5 * MIB for n in tails.values()), tails
            assert not objects(s3, bucket, "uploads/")
            assert job_status(stack, job) == "SUBMITTED"
    assert stored(s3, bucket, obj) == data
    nothing_in_flight(s3, bucket, up)
    etag = client(s3).head_object(Bucket=bucket, Key=PREFIX + obj)["ETag"]
    parts = stack.db.one("SELECT tus_parts FROM uploads WHERE id = %s", up["id"])
    assert parts > 4 and etag.endswith(f'-{parts}"'), (parts, etag)
    assert stack.db.one("SELECT stored_at IS NOT NULL FROM uploads WHERE id = %s", up["id"])
    assert stack.db.rows("SELECT payload->>'input_key' FROM outbox "
                         "WHERE kind = 'local.encode'") == [(obj,)]
    assert list((rundir / "tmp").iterdir()) == [], "no chunk is left spooled"
    workers.start()
    assert wait_until(lambda: job_status(stack, job) in ("COMPLETE", "ERROR"), 600, 0.5)
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert st["job_status"] == "COMPLETE", st
    assert objects(s3, bucket, f"media/{job}/"), "published to the bucket"


def test_the_store_restarted_between_chunks(stack, key, s3, bucket, rundir, big_video):
    """The store down: PATCH 503 with Retry-After, nothing of the chunk
    counts; once it is back the client resumes at HEAD's offset."""
    data = big_video
    up, job, ep = started(stack, key, len(data))
    off = chunks(stack, ep, data, 0, 2 * CHUNK)  # a part and a tail in the store
    assert stack.db.one("SELECT tus_tail_bytes FROM uploads WHERE id = %s", up["id"]) > 0
    s3.kill_rgw()
    try:
        r = patch(stack, ep, off, data[off:off + CHUNK])
        assert r.status == 503 and r.header("Retry-After"), r
        assert r.json()["success"] is False, r
        r = head(stack, ep)
        assert (r.status, r.header("Upload-Offset")) == (200, str(off)), r
    finally:
        s3.start_rgw()
    assert head(stack, ep).header("Upload-Offset") == str(off)
    chunks(stack, ep, data, off, len(data))
    assert stored(s3, bucket, f"uploads/{up['id']}/big.mp4") == data
    nothing_in_flight(s3, bucket, up)
    assert job_status(stack, job) == "SUBMITTED"


def test_a_chunk_stored_but_not_answered_is_sent_again(stack, key, s3, bucket, fault_proxy,
                                                       big_video):
    """A PATCH whose part reached the store but whose tail write was never
    answered (every try): 503, the offset unchanged; the same chunk again
    rewrites the part and the tail, and the file comes out whole."""
    data = big_video
    up, job, ep = started(stack, key, len(data))
    off = chunks(stack, ep, data, 0, CHUNK)  # a tail of 3 MiB
    fault_proxy.clear()
    # The part passes; every try of the tail (curl's own resend of a
    # request on a reused connection included) is not answered.
    fault_proxy.lose_answers(20, "PUT", skip=1)
    r = patch(stack, ep, off, data[off:off + CHUNK])
    fault_proxy.lose_answers(0)
    puts = [(p.split("?")[0].rsplit("/", 1)[1], st) for _, m, p, st in fault_proxy.log if m == "PUT"]
    assert r.status == 503 and r.header("Retry-After"), (r, puts)
    assert puts[0] == ("big.mp4", 200) and len(puts) >= 4, puts
    assert set(puts[1:]) == {(f"tail-{2 * CHUNK}", "lost 200")}, puts
    assert head(stack, ep).header("Upload-Offset") == str(off)
    chunks(stack, ep, data, off, len(data))
    assert stored(s3, bucket, f"uploads/{up['id']}/big.mp4") == data
    nothing_in_flight(s3, bucket, up)


def test_termination_and_expiry_leave_nothing_in_the_bucket(stack, key, s3, bucket, workers,
                                                           big_video):
    data = big_video
    gone, job, ep = started(stack, key, len(data))
    chunks(stack, ep, data, 0, 2 * CHUNK)
    assert objects(s3, bucket, f"tus/{gone['id']}/")
    r = call(stack, "DELETE", ep, headers=TUS)
    assert r.status == 204, r
    nothing_in_flight(s3, bucket, gone)
    assert job_status(stack, job) == "CANCELED"
    assert head(stack, ep).status == 404

    late, job, ep = started(stack, key, len(data))
    chunks(stack, ep, data, 0, 2 * CHUNK)
    assert objects(s3, bucket, f"tus/{late['id']}/")
    stack.db.conn.execute("UPDATE uploads SET expires_at = now() - interval '1 second' "
                          "WHERE id = %s", (late["id"],))
    stack.db.conn.execute("UPDATE outbox SET run_after = now() WHERE kind = 'upload.expire' "
                          "AND payload->>'upload_id' = %s", (late["id"],))
    assert patch(stack, ep, 2 * CHUNK, data[2 * CHUNK:3 * CHUNK]).status == 410
    workers.start()
    assert wait_until(lambda: job_status(stack, job) == "CANCELED", 60), workers.log()
    assert wait_until(lambda: not objects(s3, bucket, f"tus/{late['id']}/"), 60), workers.log()
    nothing_in_flight(s3, bucket, late)
    assert not objects(s3, bucket, "uploads/")


def test_a_slot_with_size_takes_tus_too(stack, key, s3, bucket, big_video):
    """size= above the part size: POST /uploads begins a multipart upload
    for presigned parts; the tus creation replaces it (none is left), and
    the slot's completion call leaves the tus upload alone."""
    data = big_video
    body = slot(stack, key, "name=big.mp4", f"size={len(data)}")
    up = body["upload"]
    assert up["parts"] and len(in_flight(s3, bucket)) == 1, up
    assert tus_create(stack, up["tus_endpoint"], len(data) - 1).status == 409
    assert tus_create(stack, up["tus_endpoint"], len(data)).status == 201
    assert len(in_flight(s3, bucket)) == 1
    off = chunks(stack, up["tus_endpoint"], data, 0, 2 * CHUNK)
    r = stack.curl("-X", "POST", up["complete_url"])
    assert r.status == 409 and "tus" in r.json()["message"], r
    assert len(in_flight(s3, bucket)) == 1 and objects(s3, bucket, f"tus/{up['id']}/")
    assert job_status(stack, body["job_id"]) == "SUBMITTED"
    chunks(stack, up["tus_endpoint"], data, off, len(data))
    assert stored(s3, bucket, f"uploads/{up['id']}/big.mp4") == data
    assert in_flight(s3, bucket) == []


def test_a_slot_without_size_takes_a_put_through_nginx(stack, key, s3, bucket, rundir):
    up = slot(stack, key, "name=small.mp4")["upload"]
    assert up["storage"] == "s3" and "size" not in up and "parts" not in up, up
    f = rundir / "small.mp4"
    f.write_bytes(os.urandom(1000))
    r = stack.curl("-X", "PUT", "--data-binary", f"@{f}", up["url"])
    assert r.status == 201, r
    assert stored(s3, bucket, f"uploads/{up['id']}/small.mp4") == f.read_bytes()


def test_a_multipart_upload_gone_is_410(stack, key, s3, bucket, big_video):
    """A lifecycle rule (or anyone) aborted the multipart upload: the next
    PATCH says the bytes are gone, nothing is recorded, and the upload ends
    at once (HEAD 404), its job CANCELED with why and its tail removed."""
    data = big_video
    up, job, ep = started(stack, key, len(data))
    off = chunks(stack, ep, data, 0, CHUNK)
    obj = f"uploads/{up['id']}/big.mp4"
    mid = stack.db.one("SELECT multipart_id FROM uploads WHERE id = %s", up["id"])
    client(s3).abort_multipart_upload(Bucket=bucket, Key=PREFIX + obj, UploadId=mid)
    r = patch(stack, ep, off, data[off:off + CHUNK])
    assert r.status == 410 and "gone" in r.json()["message"], r
    assert stack.db.one("SELECT tus_offset FROM uploads WHERE id = %s", up["id"]) == off
    assert job_status(stack, job) == "CANCELED"
    assert stack.db.one("SELECT error_message FROM jobs WHERE id = %s", job) == \
        "the upload's bytes were lost from storage; start a new upload"
    assert head(stack, ep).status == 404
    nothing_in_flight(s3, bucket, up)
