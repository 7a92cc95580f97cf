"""Fixtures on pgbouncer's model (test/conftest.py there): one PostgreSQL
cluster per session made by initdb, migrated once into a template; a
database per test made from it; the real mediagate serve, nginx and
workers as fixtures; every log of a failed test shown in its report.

MG_BIN (the binary under test) and MG_ROOT (the source tree) come from the
environment, as meson's test_env sets them. Runs as root: PostgreSQL runs as
postgres and nginx as www-data, as in scripts/lib.sh. KEEP=1 keeps the
session's directory.

Every way out stops what the session started: SIGTERM and SIGHUP (meson's
timeout sends SIGTERM to the test's process group) end the session as ^C
does, so every fixture's finalizer runs; and since meson sends SIGKILL half
a second later, a guard in a session of its own (tests/lib/reap.py) waits
for this process's end, however it comes, then stops every process of the
session's directory (nginx and PostgreSQL daemonize; the worker's ffmpeg
has a process group of its own) and removes it. Every process the session
starts carries that directory in MG_RUN_ROOT. MG_GUARD=off leaves the
guard out; MG_TEST_TMP is where the directory goes (default /tmp).
"""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import mgstack

sys.path.insert(0, str(mgstack.MG_ROOT / "tests" / "lib"))
import ceph_rgw  # noqa: E402

LOGS = pytest.StashKey[mgstack.LogSet]()
TEMPLATE = "mediagate_template"
_db_numbers = itertools.count(1)
REAP = mgstack.MG_ROOT / "tests" / "lib" / "reap.py"


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: pytest ends the session as for ^C, finalizers included."""


def _terminate(signum, frame):
    # One is enough: a second must not cut the finalizers short.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)


@pytest.fixture(scope="session")
def run_root():
    """The session's directory (short, for unix socket paths); readable by
    postgres and www-data, unlike pytest's own tmp_path."""
    if os.geteuid() != 0:
        pytest.exit("run as root: PostgreSQL runs as postgres, nginx as www-data", returncode=2)
    if not os.access(mgstack.MG_BIN, os.X_OK):
        pytest.exit(f"no mediagate binary at {mgstack.MG_BIN}: set MG_BIN", returncode=2)
    d = Path(tempfile.mkdtemp(prefix="mg-pytest.", dir=os.environ.get("MG_TEST_TMP", "/tmp")))
    d.chmod(0o755)
    os.environ["MG_RUN_ROOT"] = str(d)
    if os.environ.get("MG_GUARD", "on") != "off":
        subprocess.run([sys.executable, str(REAP), "guard", str(os.getpid()), str(d)], check=True)
    yield d
    # What a test left running (a stand-in, a worker), after the cluster's stop.
    subprocess.run([sys.executable, str(REAP), "sweep", str(d)])
    if os.environ.get("KEEP"):
        print(f"\nkept {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(run_root):
    """The session's cluster, with the role mediagate (no superuser) owning
    the template database, migrated once by `mediagate migrate` as that role."""
    pg = mgstack.Postgres(run_root)
    pg.initdb()
    pg.start()
    try:
        pg.sql("CREATE ROLE mediagate LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        pg.sql(f'CREATE DATABASE "{TEMPLATE}" OWNER mediagate')
        r = subprocess.run([str(mgstack.MG_BIN), "migrate"], capture_output=True, text=True,
                           env={**os.environ, "MEDIAGATE_DATABASE_URL": pg.url(TEMPLATE)})
        if r.returncode:
            pytest.exit(f"mediagate migrate failed:\n{r.stdout}{r.stderr}", returncode=3)
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def logs(request, pg):
    """The failed test's logs, gathered here and shown by
    pytest_runtest_makereport below; PostgreSQL's from the test's start."""
    ls = mgstack.LogSet()
    ls.add("postgres log", pg.log_path, from_end=True)
    request.node.stash[LOGS] = ls
    return ls


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    rep = (yield).get_result()
    if rep.failed and LOGS in item.stash:
        for name, text in item.stash[LOGS].sections():
            rep.sections.append((name, text))


@pytest.fixture
def rundir(run_root, request):
    """The test's own directory under the session's (RUN in lib.sh terms)."""
    name = "".join(c if c.isalnum() or c in "_-" else "-" for c in request.node.name)[:56]
    d = run_root / name
    for n in itertools.count(2):
        try:
            d.mkdir()
            break
        except FileExistsError:
            d = run_root / f"{name}-{n}"
    d.chmod(0o755)
    return d


@pytest.fixture
def db(pg):
    """A fresh database for the test, made from the migrated template and
    owned by mediagate; dropped afterwards."""
    d = mgstack.Database(pg, f"mg_test_{next(_db_numbers)}")
    d.create(TEMPLATE)
    yield d
    d.drop()


@pytest.fixture
def mg_env():
    """MEDIAGATE_* settings for every mediagate process of the test; a test
    module overrides this fixture."""
    return {}


@pytest.fixture
def nginx_includes():
    """Names of scripts/lib.sh functions whose include lines go into the
    site's server block (media_conf, upload_conf); a module overrides it."""
    return ()


@pytest.fixture
def stack(rundir, db, mg_env, nginx_includes, logs):
    """mediagate serve on a unix socket in the test's directory, and nginx
    on a free port in front of it; stack.curl, stack.mg, stack.db."""
    s = mgstack.Stack(rundir, db, mg_env, nginx_includes, logs)
    yield s
    rc = s.close()
    assert rc == 0, f"mediagate serve exited {rc} on SIGTERM"
    ok, out = s.curl.validate_contract()
    assert ok, f"answers drift from openapi.yaml:\n{out}"


@pytest.fixture
def workers(stack, logs):
    """Start with workers.start(**env); each is a mgstack.Process (kill,
    wait, stop). Those still running at the end are killed with -9, and no
    process of theirs (ffmpeg) may outlive them."""
    w = mgstack.Workers(stack.run, stack.env)
    logs.add("worker log", w.log_path)
    yield w
    left = w.kill_all()
    assert not left, f"processes outlived their workers: {left}"


@pytest.fixture(scope="session")
def objectstore(run_root):
    """A real S3 store, started once per session: Ceph's RADOS Gateway on a
    single-node cluster of its own (tests/lib/ceph_rgw.py) in the session's
    directory; .endpoint, .access_key, .secret_key, .region. Stopped by the
    finalizer (on SIGTERM too, see above); what it would leave, the guard
    stops (its daemons carry MG_RUN_ROOT)."""
    store = ceph_rgw.CephRgw(run_root)
    try:
        store.start()
    except ceph_rgw.CephError as e:
        pytest.exit(f"the Ceph store did not start:\n{e}", returncode=3)
    print(f"\nceph store up in {store.startup_s:.1f} s, RSS KiB {store.rss_kib()}")
    yield store
    print(f"\nceph store RSS KiB at the end {store.rss_kib()}")
    store.stop()


@pytest.fixture
def s3(request, objectstore):
    """The session's store, its daemons' logs shown if the test fails."""
    ls = mgstack.LogSet()
    for p in sorted((objectstore.dir / "log").glob("*")):
        ls.add(p.name, p, from_end=True)
    request.node.stash[LOGS] = ls
    return objectstore
