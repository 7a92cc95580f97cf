"""Encode profiles through real PostgreSQL, nginx, curl, ffmpeg and the
worker:

- `mediagate profiles list | show | add | remove`: the shipped default (the
  local encoder's ladder of MEDIAGATE_RENDITIONS) is there after migrate
  and stays; a profile is written only when profile_parse and its
  encoder's check accept it; hostile names and specs are refused (exit 2)
  before the database.
- `mediagate apikey create NAME --profiles a,b`: the key may use those only,
  and the first is its default.
- POST /uploads, PUT /uploads/<name> and POST /media/jobs take profile:
  unknown -> 400, not allowed for the key -> 403, an encoder not
  configured here -> 400; the job gets the profile and its encoder; the
  encode task carries the profile's snapshot (a later edit changes no
  queued job); a cloud encoder's upload queues its create kind with the
  documented payload.
- The local encoder follows a 2-rendition profile: sizes (a width-only
  rendition keeps the aspect), bitrates, a rendition without audio.
"""

import json
import re
import shlex
import subprocess

import pytest

from mgstack import MG_BIN, MG_ROOT, wait_until
from test_encoder import encoder_env


MUX_ID, MUX_SECRET = "mux-token-id-profiles", "mux-token-secret-profiles-0123456789"


@pytest.fixture
def mux():
    """Mux's assets API stand-in (the mux encoder's own suite has it)."""
    standin = pytest.importorskip("mux_standin", reason="no mux encoder stand-in in this tree")
    s = standin.MuxStandin(MUX_ID, MUX_SECRET)
    yield s
    s.close()


@pytest.fixture
def mg_env(rundir, request):
    env = encoder_env(rundir)
    if "mux" in request.fixturenames:
        env.update({"MEDIAGATE_MUX_TOKEN_ID": MUX_ID, "MEDIAGATE_MUX_TOKEN_SECRET": MUX_SECRET,
                    "MEDIAGATE_MUX_API_URL": request.getfixturevalue("mux").url,
                    "MEDIAGATE_OUTBOUND_ALLOW_LOOPBACK": "on"})
    return env


@pytest.fixture
def nginx_includes():
    return ("media_conf", "upload_conf")


def mg(stack, *args, stdin=None):
    """Runs `mediagate ARGS...` whatever its exit; returns (status, stdout, stderr)."""
    r = subprocess.run([str(MG_BIN), *map(str, args)], env=stack.env, input=stdin,
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def spec_file(rundir, name, spec):
    p = rundir / name
    p.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    return p


def create(stack, key, *form):
    args = ["-X", "POST", "-H", f"Authorization: Bearer {key}"]
    for f in form:
        args += ["--data-urlencode", f]
    return stack.curl(*args, "/uploads")


TWO = {"renditions": [{"width": 160, "video_kbps": 150, "audio_kbps": -1},
                      {"height": 240, "video_kbps": 300, "audio_kbps": 64}]}


def test_cli_lists_shows_adds_and_removes(stack, rundir):
    rc, out, _ = mg(stack, "profiles")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "encoder", "shipped", "packaging", "renditions"], out
    assert lines[1].split() == ["default", "local", "yes", "hls", "720p@2880k", "480p@1920k",
                                "360p@1440k"], out
    rc, out, _ = mg(stack, "profiles", "show", "default")
    assert rc == 0 and json.loads(out) == {
        "encoder": "local", "packaging": ["hls"],
        "renditions": [{"height": h, "video_kbps": h * 4, "codec": "h264", "audio_kbps": 128}
                       for h in (720, 480, 360)]}, out

    # From a file, then replaced from stdin; stored normalized (tallest first).
    f = spec_file(rundir, "two.json", TWO)
    rc, out, err = mg(stack, "profiles", "add", "small-2", "--encoder", "local", f)
    assert (rc, out) == (0, "profile small-2 added\n"), err
    rc, out, _ = mg(stack, "profiles", "show", "small-2")
    shown = json.loads(out)
    assert [r.get("height") for r in shown["renditions"]] == [240, None], shown
    rc, out, err = mg(stack, "profiles", "add", "--encoder", "local", "small-2", "-",
                      stdin=json.dumps({"renditions": [{"height": 144}]}))
    assert (rc, out) == (0, "profile small-2 replaced\n"), err
    assert stack.db.one("SELECT spec FROM profiles WHERE name = 'small-2'")["renditions"] == \
        [{"height": 144, "video_kbps": 0, "codec": "h264", "audio_kbps": 0}]
    # What show prints, add reads back.
    rc, out, _ = mg(stack, "profiles", "show", "small-2")
    rc, _, err = mg(stack, "profiles", "add", "copy", "--encoder", "local", "-", stdin=out)
    assert rc == 0, err

    # The shipped one stays.
    rc, _, err = mg(stack, "profiles", "add", "default", "--encoder", "local", f)
    assert rc == 1 and "shipped" in err, err
    rc, _, err = mg(stack, "profiles", "remove", "default")
    assert rc == 1 and "shipped" in err, err
    assert stack.db.one("SELECT count(*) FROM profiles WHERE name = 'default'") == 1
    rc, out, _ = mg(stack, "profiles", "remove", "small-2")
    assert (rc, out) == (0, "profile small-2 removed\n")
    rc, _, err = mg(stack, "profiles", "remove", "small-2")
    assert rc == 1 and "no profile small-2" in err, err
    rc, _, err = mg(stack, "profiles", "show", "nope")
    assert rc == 1 and "no profile nope" in err, err


@pytest.mark.parametrize("name,spec,encoder,why", [
    ("Bad", TWO, "local", "the name 'Bad' is refused"),
    ("a\nb", TWO, "local", "the name 'a?b' is refused"),
    ("x" * 64, TWO, "local", "is refused"),
    ("../etc", TWO, "local", "is refused"),
    ("x", TWO, "ffmpeg", 'no encoder is named "ffmpeg"'),
    ("x", {"renditions": [{"height": 241}]}, "local", "renditions[0].height must be even"),
    ("x", {"renditions": [{"height": 240, "bitrate": 1}]}, "local",
     'renditions[0] has an unknown member "bitrate"'),
    ("x", {"renditions": [{"height": 240, "codec": "h265"}]}, "local",
     "the local encoder makes h264 only"),
    ("x", {"renditions": [{"height": 240}], "packaging": ["mp4"]}, "local",
     "the local encoder packages HLS, and MP4 only beside it"),
    ("x", {"encoder": "mux", "renditions": [{"height": 240}]}, "local", "not --encoder local"),
    ("x", "[1, 2", "local", "JSON"),
    ("x", '{"renditions": [{"height": 240}]} trailing', "local", "unexpected character"),
    ("x", '{"renditions": [{"height": 240}], "packaging": ["hls\\u0000"]}', "local", "packaging[0]"),
    ("x", {"renditions": [{"height": 240, "video_kbps": 10 ** 30}]}, "local", "video_kbps"),
    ("x", {"renditions": [{"height": 100 + 2 * i} for i in range(9)]}, "local", "1 to 8"),
])
def test_cli_refuses_hostile_names_and_specs(stack, rundir, name, spec, encoder, why):
    f = spec_file(rundir, "spec.json", spec)
    rc, out, err = mg(stack, "profiles", "add", name, "--encoder", encoder, f)
    assert rc == 2 and out == "", (rc, out, err)
    assert why in err, err
    assert "\n" not in err.rstrip("\n"), "one line on stderr"
    assert stack.db.one("SELECT count(*) FROM profiles") == 1, "nothing written"


def test_cli_refuses_a_spec_too_long_to_read(stack, rundir):
    f = spec_file(rundir, "big.json", '{"renditions": [{"height": 240}]}' + " " * (64 * 1024))
    rc, _, err = mg(stack, "profiles", "add", "big", "--encoder", "local", f)
    assert rc == 2 and "64 KiB" in err, err


def test_api_key_limits_and_unknown_profiles(stack, rundir):
    f = spec_file(rundir, "two.json", TWO)
    assert mg(stack, "profiles", "add", "small", "--encoder", "local", f)[0] == 0
    assert mg(stack, "profiles", "add", "other", "--encoder", "local", f)[0] == 0
    rc, _, err = mg(stack, "apikey", "create", "limited", "--profiles", "small,nope")
    assert rc == 2 and "no such profile: nope" in err, err
    rc, _, err = mg(stack, "apikey", "create", "limited", "--profiles", "small,Bad")
    assert rc == 2 and "profile names" in err, err
    limited = stack.mg("apikey", "create", "limited", "--profiles", "small")
    anykey = stack.mg("apikey", "create", "anyone")
    assert "small" in stack.mg("apikey", "list")

    # The key's first profile is its default; the default profile otherwise.
    r = create(stack, limited, "name=a.mp4")
    assert r.status == 201, r
    assert stack.db.one("SELECT profile FROM jobs WHERE id = %s", r.json()["job_id"]) == "small"
    r = create(stack, anykey, "name=a.mp4")
    assert r.status == 201, r
    assert stack.db.one("SELECT backend || ' ' || profile FROM jobs WHERE id = %s",
                        r.json()["job_id"]) == "local default"
    r = create(stack, anykey, "name=a.mp4", "profile=other")
    assert r.status == 201, r

    refusals = [
        (limited, "profile=other", 403, "This API key may not use profile 'other'."),
        (limited, "profile=default", 403, "This API key may not use profile 'default'."),
        (anykey, "profile=nope", 400, "No profile is named 'nope' (mediagate profiles list)."),
        (anykey, "profile=", 400, "profile must be"),
        (anykey, "profile=x' OR '1'='1", 400, "profile must be"),
        (anykey, "profile=" + "a" * 64, 400, "profile must be"),
        (anykey, "profile=d\u00e9faut", 400, "profile must be"),
    ]
    before = stack.db.one("SELECT count(*) FROM jobs")
    for k, field, status, msg in refusals:
        r = create(stack, k, "name=a.mp4", field)
        assert r.status == status and r.json()["message"].startswith(msg), (field, r)
    # A profile whose encoder this server has no settings for.
    stack.db.conn.execute("INSERT INTO profiles (name, encoder, spec) VALUES ('zen', 'zencoder', "
                          "'{\"encoder\": \"zencoder\", \"renditions\": [{\"height\": 240}]}')")
    r = create(stack, anykey, "name=a.mp4", "profile=zen")
    assert r.status == 400 and "not configured" in r.json()["message"], r
    # PUT with the key: ?profile= is checked before the body is read.
    src = rundir / "f.bin"
    src.write_bytes(b"x" * 100)
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {limited}", "--data-binary",
                   f"@{src}", "/uploads/f.bin?profile=other")
    assert r.status == 403 and "may not use profile 'other'" in r.json()["message"], r
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {anykey}", "--data-binary",
                   f"@{src}", "/uploads/f.bin?profile=nope")
    assert r.status == 403 and "No profile is named 'nope'" in r.json()["message"], r
    assert stack.db.one("SELECT count(*) FROM jobs") == before, "no refusal made a job"
    assert not list((rundir / "upload").rglob("f.bin")), "no refusal stored a file"
    r = stack.curl("-X", "PUT", "-H", f"Authorization: Bearer {limited}", "--data-binary",
                   f"@{src}", "/uploads/f.bin")
    assert r.status == 201, r
    job = r.json()["job_id"]
    payload = stack.db.one("SELECT payload FROM outbox WHERE kind = 'local.encode' "
                           "AND payload->>'job_id' = %s", job)
    assert payload["profile"]["name"] == "small" and len(payload["profile"]["renditions"]) == 2, payload

    # POST /media/jobs: creation needs an encoder that fetches URLs.
    def post_job(k, *form):
        args = ["-X", "POST", "-H", f"Authorization: Bearer {k}"]
        for x in form:
            args += ["--data-urlencode", x]
        return stack.curl(*args, "/media/jobs")
    for form, status, msg in [
        (("input_url=https://cdn.example.com/a.mp4",), 400, "encodes uploads only"),
        (("input_url=http://cdn.example.com/a.mp4",), 400, "input_url must be an https URL"),
        (("input_url=https://exa mple.com/a.mp4",), 400, "input_url must be an https URL"),
        (("input_url=file:///etc/passwd",), 400, "input_url must be an https URL"),
        (("input_url=https://cdn.example.com/a.mp4", "file_id=123"), 400, "not both"),
        (("file_id=../x",), 400, "file_id must be"),
        (("file_id=5285890784246869930", "profile=zen"), 400, "not configured"),
        (("input_url=https://cdn.example.com/a.mp4", "profile=other"), 403, "may not use"),
    ]:
        r = post_job(limited if "profile=other" in form else anykey, *form)
        assert r.status == status and msg in r.json()["message"], (form, r)
    assert stack.db.one("SELECT count(*) FROM jobs") == before + 1, "only the PUT made a job"
    # The registration form is as before.
    r = post_job(anykey, "backend=zencoder", "backend_job_id=42", "input_file=in.mp4")
    assert r.status == 201 and r.json()["backend_job_id"] == "42", r
    # Another key registering the same backend id learns nothing of that job.
    theirs = r.json()["job_id"]
    r = post_job(limited, "backend=zencoder", "backend_job_id=42", "input_file=x.mp4")
    assert r.status == 409, r
    assert r.json()["message"] == "That backend job id is registered already." and \
        theirs not in repr(r), r


def test_a_keys_profile_stays_and_a_missing_one_is_named(stack, rundir):
    """`profiles remove` keeps a profile that a live key is limited to,
    naming the keys; a key's profile missing all the same (removed by
    hand) is named in the 400; --profiles names each profile once."""
    f = spec_file(rundir, "two.json", TWO)
    for name in ("small", "gone"):
        assert mg(stack, "profiles", "add", name, "--encoder", "local", f)[0] == 0
    rc, _, err = mg(stack, "apikey", "create", "twice", "--profiles", "small,gone,small")
    assert rc == 2 and "--profiles names small twice" in err, err
    assert stack.db.one("SELECT count(*) FROM api_keys") == 0
    uploader = stack.mg("apikey", "create", "uploader", "--profiles", "small")
    stack.mg("apikey", "create", "both", "--profiles", "gone,small")
    ids = dict(stack.db.rows("SELECT name, id FROM api_keys"))
    rc, out, err = mg(stack, "profiles", "remove", "small")
    assert (rc, out) == (1, ""), err
    assert f"API keys limited to it: uploader (id {ids['uploader']}), both (id {ids['both']})" \
        in err, err
    assert stack.db.one("SELECT count(*) FROM profiles WHERE name = 'small'") == 1
    # A revoked key holds nothing.
    stack.mg("apikey", "revoke", str(ids["both"]))
    rc, out, err = mg(stack, "profiles", "remove", "gone")
    assert (rc, out) == (0, "profile gone removed\n"), err

    stack.db.conn.execute("DELETE FROM profiles WHERE name = 'small'")
    r = create(stack, uploader, "name=a.mp4")
    assert r.status == 400 and r.json()["message"] == \
        "This API key's profile 'small' no longer exists (mediagate profiles list).", r
    r = create(stack, uploader, "name=a.mp4", "profile=small")
    assert r.status == 400 and r.json()["message"] == \
        "No profile is named 'small' (mediagate profiles list).", r


def test_queued_task_keeps_its_snapshot_and_a_cloud_upload_queues_its_create(stack, rundir):
    """mediagate_upload_profile and mediagate_upload_encode, the SQL every
    upload path goes through: a slot made with a profile queues, once its
    file is in, the profile's create kind with the documented payload and
    the profile as it was when the slot was made."""
    spec = {"name": "zen", "encoder": "zencoder", "packaging": ["hls"],
            "renditions": [{"height": 720, "video_kbps": 2800, "codec": "h264", "audio_kbps": 128}]}
    c = stack.db.conn
    c.execute("SELECT mediagate_upload_create('11111111-1111-4111-8111-111111111111', 'job-zen', "
              "'key:1', 'a.mp4', NULL, 1000, NULL, NULL)")
    c.execute("SELECT mediagate_upload_profile('11111111-1111-4111-8111-111111111111', %s, "
              "'zencoder.create')", (json.dumps(spec),))
    assert stack.db.rows("SELECT backend, backend_job_id, profile FROM jobs WHERE id = 'job-zen'") == \
        [("zencoder", None, "zen")], "a cloud job has no backend job id until its create answers"
    c.execute("SELECT mediagate_upload_store('11111111-1111-4111-8111-111111111111', NULL, 10, "
              "'/x/uploads/a.mp4')")
    rows = stack.db.rows("SELECT kind, payload FROM outbox WHERE payload->>'job_id' = 'job-zen'")
    assert rows == [("zencoder.create", {
        "job_id": "job-zen", "profile": spec,
        "input": {"storage": "local", "key": "uploads/11111111-1111-4111-8111-111111111111/a.mp4",
                  "size": 10}})], rows


def test_local_encode_follows_a_two_rendition_profile(stack, workers, rundir):
    src = rundir / "a.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    "-shortest", str(src)], check=True)
    f = spec_file(rundir, "two.json", TWO)
    assert mg(stack, "profiles", "add", "two", "--encoder", "local", f)[0] == 0
    key = stack.mg("apikey", "create", "uploader")
    r = create(stack, key, "name=a.mp4", "profile=two")
    assert r.status == 201, r
    job = r.json()["job_id"]
    # Edited after the slot was made: the job keeps the profile as it was.
    assert mg(stack, "profiles", "add", "two", "--encoder", "local", "-",
              stdin='{"renditions": [{"height": 144}]}')[0] == 0
    r = stack.curl("-X", "PUT", "--data-binary", f"@{src}", r.json()["upload"]["url"])
    assert r.status == 201, r
    workers.start()
    done = wait_until(lambda: stack.db.one("SELECT status FROM jobs WHERE id = %s", job)
                      in ("COMPLETE", "ERROR"), 600)
    st = stack.curl(f"/media/status?job_id={job}").json()
    assert done and st["job_status"] == "COMPLETE", st
    assert [[v["width"], v["height"], v["bitrate"]] for v in st["variations"]] == \
        [[320, 240, 364000], [160, 120, 150000]], st
    assert (st["width_px"], st["height_px"]) == (320, 240), st
    media = rundir / "media" / job
    master = (media / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == 3, f"two renditions and the audio-only one: {master}"

    def streams(variant):
        p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height",
                            "-of", "json", str(media / variant / "index.m3u8")],
                           capture_output=True, text=True, check=True)
        return sorted((s["codec_type"], s.get("width"), s.get("height"))
                      for s in json.loads(p.stdout)["streams"])
    assert streams("v0") == [("audio", None, None), ("video", 320, 240)]
    assert streams("v1") == [("video", 160, 120)], "the width-only rendition has no audio"


def test_docs_profiles_page_runs_as_written(stack, rundir):
    """docs/profiles.md: its spec example is a valid local profile, and its
    `$ mediagate profiles ...` block, run as written in a directory holding
    that example as small.json, prints what the page shows."""
    page = (MG_ROOT / "docs" / "profiles.md").read_text()
    spec = re.search(r"```json\n(.*?)```", page, re.S).group(1)
    block = re.search(r"```\n(\$ mediagate profiles list\n.*?)```", page, re.S).group(1)
    (rundir / "small.json").write_text(spec)
    steps, cmd = [], None
    for line in block.splitlines():
        if line.startswith("$ "):
            cmd = [line[2:], []]
            steps.append(cmd)
        else:
            cmd[1].append(line)
    assert [c for c, _ in steps] == ["mediagate profiles list",
                                     "mediagate profiles add small --encoder local small.json",
                                     "mediagate profiles show small",
                                     "mediagate profiles remove small"], steps
    for c, shown in steps:
        r = subprocess.run([str(MG_BIN), *shlex.split(c)[1:]], cwd=rundir, env=stack.env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (c, r.stderr)
        if shown:
            assert r.stdout.splitlines() == shown, (c, r.stdout)
        if c.endswith("show small"):
            assert json.loads(r.stdout)["renditions"][1] == {
                "width": 640, "video_kbps": 900, "codec": "h264", "audio_kbps": -1}, r.stdout


QUERY = "?X-Amz-Expires=600&X-Amz-Signature=00ff"


@pytest.mark.parametrize("given,url", [
    ("https://cdn.example.com/in/talk.mp4" + QUERY, "https://cdn.example.com/in/talk.mp4" + QUERY),
    ("HTTPS://user:s3cret@cdn.example.com/in/talk.mp4" + QUERY + "#t=1",
     "https://user:s3cret@cdn.example.com/in/talk.mp4" + QUERY + "#t=1"),
])
def test_media_jobs_creates_at_the_profiles_encoder(mux, stack, workers, rundir, given, url):
    """POST /media/jobs with input_url and a cloud profile: the job and its
    create task at once; the worker's create call carries the URL (its
    credentials too; the scheme in lower case, which the worker takes) and
    the job's id; the job's input_file keeps no user, password, query or
    fragment."""
    f = spec_file(rundir, "mux.json", {"renditions": [{"height": 1080}]})
    assert mg(stack, "profiles", "add", "mux-hd", "--encoder", "mux", f)[0] == 0
    key = stack.mg("apikey", "create", "maker", "--profiles", "mux-hd")
    r = stack.curl("-X", "POST", "-H", f"Authorization: Bearer {key}", "--data-urlencode",
                   f"input_url={given}", "/media/jobs")
    assert r.status == 201, r
    job = r.json()["job_id"]
    assert r.json() == {"success": True, "job_id": job, "backend": "mux", "profile": "mux-hd",
                        "input_file": "https://cdn.example.com/in/talk.mp4"}, r
    assert stack.db.rows("SELECT backend, backend_job_id, profile FROM jobs WHERE id = %s", job) == \
        [("mux", None, "mux-hd")]
    ((kind, payload),) = stack.db.rows("SELECT kind, payload FROM outbox WHERE payload->>'job_id' = %s",
                                       job)
    assert kind == "mux.create" and payload["input"] == {"url": url}, payload
    assert payload["profile"]["name"] == "mux-hd", payload
    workers.start(MEDIAGATE_PUBLIC_URL=stack.base)
    got = wait_until(lambda: mux.creates(), 120, 0.05)
    assert got, mux.calls
    body = json.loads(got[0]["body"])
    assert body["passthrough"] == job, body
    assert [i["url"] for i in body.get("inputs", [])] == [url], body
    assert wait_until(lambda: stack.db.one("SELECT backend_job_id FROM jobs WHERE id = %s", job)
                      == got[0]["asset"], 60), "the asset's id is the job's backend id"
