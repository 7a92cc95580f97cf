"""The real parts of a mediagate test, as objects the fixtures own.

Modelled on pgbouncer's test/utils.py: a PostgreSQL cluster made by initdb
in a temporary directory, the real `mediagate serve` and `mediagate worker`
binaries, and nginx with the project's own snippets (written by
scripts/lib.sh, so the configuration under test is the one the project
ships). Clients are curl and ffprobe, as a user's would be.
"""

import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

MG_ROOT = Path(os.environ.get("MG_ROOT") or Path(__file__).resolve().parents[2])
MG_BIN = Path(os.environ.get("MG_BIN") or MG_ROOT / "build" / "mediagate")
PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
LIB_SH = MG_ROOT / "scripts" / "lib.sh"
# As scripts/lib.sh's stack_up: a disposable cluster need not survive a crash.
PG_OPTS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def free_port():
    """A free TCP port on 127.0.0.1 (as lib.sh's mg_free_port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    """An HTTP stand-in on 127.0.0.1 served from a thread (one thread per
    request): .port, .url, .close(); a context manager."""

    def __init__(self, handler, port=0):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# The least a wait lasts before it gives up. A wait's timeout is a cap that
# keeps a broken test from hanging, never a measure: on a loaded machine
# everything takes several times as long as on a quiet one.
MIN_WAIT_S = 120


def wait_until(pred, timeout, interval=0.1):
    """Calls pred until it returns something true or timeout seconds (at
    least MIN_WAIT_S) pass; returns its last value."""
    end = time.monotonic() + max(timeout, MIN_WAIT_S)
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def wait_past(deadline):
    """Waits until time.monotonic() reaches deadline: for a bound that is
    time itself (a token's lifetime, a cache's), counted from the event
    that started it, never a pause taken after something else."""
    wait_until(lambda: time.monotonic() >= deadline, deadline - time.monotonic() + 1, 0.05)


def status_before_body(base, method, path, *headers):
    """Sends only the head of a request whose headers announce a body
    (with Content-Length or chunked: pass the header), never the body, and
    returns the status of the final answer. A request refused before nginx
    reads its body is answered at once; one whose body nginx reads waits
    for it, until nginx closes the connection (client_body_timeout): None."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    head = "".join(f"{h}\r\n" for h in (f"{method} {path} HTTP/1.1", f"Host: {host}",
                                         "Expect: 100-continue", "Connection: close", *headers))
    buf = b""
    with socket.create_connection((host, port), timeout=600) as s:
        s.sendall(head.encode() + b"\r\n")
        while chunk := s.recv(65536):
            buf += chunk
            while b"\r\n\r\n" in buf:
                first, _, buf = buf.partition(b"\r\n\r\n")
                status = int(first.split(b" ", 2)[1])
                if status >= 200:  # not "100 Continue"
                    return status
    return None


def running(pid):
    """Whether PID is a live process: not gone, and not a zombie (nginx's
    master is reparented, and its new parent may reap it late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def processes_matching(pattern):
    """Pids whose command line (arguments joined by spaces) matches the
    regular expression, as `pgrep -f` does."""
    found = []
    me = os.getpid()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == me:
            continue
        try:
            argv = (d / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        if re.search(pattern, b" ".join(argv).decode(errors="replace")):
            found.append(int(d.name))
    return found


class LogSet:
    """The log files of one test, shown by conftest.py when the test fails.
    Each entry remembers where the test's part of a shared file begins."""

    MAX_LINES = 300

    def __init__(self):
        self.files = []

    def add(self, name, path, from_end=False):
        path = Path(path)
        start = path.stat().st_size if from_end and path.exists() else 0
        self.files.append((name, path, start))

    def sections(self):
        for name, path, start in self.files:
            try:
                with path.open("rb") as f:
                    f.seek(start)
                    text = f.read().decode(errors="replace")
            except FileNotFoundError:
                text = "(not written)"
            except OSError as e:
                text = f"({e})"
            lines = text.splitlines()
            if len(lines) > self.MAX_LINES:
                lines = [f"... {len(lines) - self.MAX_LINES} earlier lines in {path}"] + lines[-self.MAX_LINES:]
            yield f"{name} ({path})", "\n".join(lines) or "(empty)"


def as_postgres(*cmd, **kw):
    """Runs a PostgreSQL program as the postgres user, from /."""
    return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, cmd)], cwd="/", **kw)


class Postgres:
    """One cluster in DIR/pg, reachable only on the socket directory
    DIR/pgsock, logging to DIR/postgres.log."""

    def __init__(self, base):
        self.base = Path(base)
        self.pgdata = self.base / "pg"
        self.sockdir = self.base / "pgsock"
        self.log_path = self.base / "postgres.log"

    def initdb(self):
        for d in (self.pgdata, self.sockdir):
            d.mkdir(parents=True)
            shutil.chown(d, "postgres", "postgres")
        self.pgdata.chmod(0o700)
        r = as_postgres(PGBIN / "initdb", "-D", self.pgdata, "--auth-local=peer", "--auth-host=reject",
                        "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"initdb failed:\n{r.stdout}{r.stderr}")
        # Peer authentication, as the local stack has it (scripts/lib.sh).
        r = lib_sh('pg_auth_files "$1"', dict(os.environ), str(self.pgdata))
        if r.returncode:
            raise RuntimeError(f"pg_auth_files failed:\n{r.stdout}{r.stderr}")

    def start(self):
        self.log_path.touch()
        shutil.chown(self.log_path, "postgres")
        opts = f"-k {self.sockdir} -c listen_addresses='' -c max_connections=200 {PG_OPTS}"
        r = as_postgres(PGBIN / "pg_ctl", "-D", self.pgdata, "-l", self.log_path, "-w", "-t", "30",
                        "-o", opts, "start", capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"pg_ctl start failed:\n{r.stdout}{r.stderr}\n{self.log_path.read_text()[-4000:]}")

    def stop(self, mode="immediate"):
        if (self.pgdata / "postmaster.pid").exists():
            as_postgres(PGBIN / "pg_ctl", "-D", self.pgdata, "-m", mode, "-w", "-t", "30", "stop",
                        capture_output=True)

    def connect(self, dbname="postgres"):
        """A superuser connection over the socket, in autocommit."""
        return psycopg.connect(host=str(self.sockdir), user="postgres", dbname=dbname, autocommit=True)

    def sql(self, query, params=None, dbname="postgres"):
        with self.connect(dbname) as conn:
            conn.execute(query, params)

    def url(self, dbname):
        """The connection string the services get: as the role mediagate,
        never the superuser (see pg_app_role in scripts/lib.sh)."""
        return f"postgresql:///{dbname}?host={self.sockdir}&user=mediagate"


class Database:
    """A database of its own for one test, with superuser access for the
    test's queries."""

    def __init__(self, pg, name):
        self.pg = pg
        self.name = name
        self.url = pg.url(name)
        self.conn = None

    def create(self, template):
        self.pg.sql(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}" OWNER mediagate')
        self.conn = self.pg.connect(self.name)

    def drop(self):
        if self.conn:
            self.conn.close()
        self.pg.sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def rows(self, query, *params):
        return self.conn.execute(query, params or None).fetchall()

    def one(self, query, *params):
        """The first column of the only row."""
        rows = self.rows(query, *params)
        assert len(rows) == 1, f"{query} {params}: {len(rows)} rows, expected 1: {rows}"
        return rows[0][0] if len(rows[0]) == 1 else rows[0]


class Response:
    def __init__(self, args, status, headers, body):
        self.args = args
        self.status = status
        self.headers = headers  # [(name, value)] of the final response
        self.body = body

    def header(self, name):
        """The first value of a header, or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<curl {' '.join(self.args)} -> {self.status} {self.body[:500]!r}>"


class Curl:
    """Requests with real curl, keeping the last response's headers."""

    def __init__(self, base, scratch):
        self.base = base
        self.scratch = Path(scratch)
        self.scratch.mkdir(exist_ok=True)

    def __call__(self, *args):
        """curl ARGS...: a path argument starting with / is put after the
        base URL. Returns a Response; a transport failure gives a status
        string naming curl's error."""
        args = [self.base + a if a.startswith("/") else a for a in args]
        hdr, body = self.scratch / "headers", self.scratch / "body"
        r = subprocess.run(["curl", "-sS", "-o", body, "-D", hdr, "--max-time", "20",
                            "-w", "%{http_code} %{method} %{url_effective}", *args],
                           capture_output=True, text=True)
        blocks = [b for b in re.split(r"\r?\n\r?\n", hdr.read_text(errors="replace")) if b.startswith("HTTP/")]
        headers = []
        for line in (blocks[-1].splitlines()[1:] if blocks else []):
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        code, method, url = (r.stdout.split(" ", 2) + ["", ""])[:3]
        status = int(code) if r.returncode == 0 else f"curl-{r.returncode}: {r.stderr.strip()}"
        text = body.read_bytes().decode(errors="replace") if body.exists() else ""
        body.unlink(missing_ok=True)
        if r.returncode == 0 and url.startswith(self.base + "/"):
            # Kept for the contract check (validate_contract).
            with open(self.scratch / "answers.jsonl", "a") as f:
                f.write(json.dumps({"method": method, "url": url, "prefix": "", "status": status,
                                    "headers": (blocks[-1] if blocks else ""), "body": text}) + "\n")
        return Response(args, status, headers, text)

    def validate_contract(self):
        """Every answer kept, against openapi.yaml (tests/contract/validate.mjs).
        Returns (ok, what the validator printed)."""
        answers = self.scratch / "answers.jsonl"
        if not answers.exists():
            return True, "no answers"
        root = Path(__file__).resolve().parents[2]
        r = subprocess.run(["node", root / "tests/contract/validate.mjs", root / "openapi.yaml", answers],
                           capture_output=True, text=True)
        return r.returncode == 0, r.stdout + r.stderr


def lib_sh(script, env, *args):
    """Runs bash code after sourcing scripts/lib.sh, with env."""
    return subprocess.run(["bash", "-c", f'source "{LIB_SH}" && {script}', "lib.sh", *args],
                          env=env, capture_output=True, text=True)


class Nginx:
    """nginx as scripts/lib.sh's nginx_start writes it: the project's
    nginx/mediagate.conf, plus the include lines that lib.sh's functions
    named in `includes` print (media_conf, upload_conf), in RUN/nginx.
    prepare() runs those functions (they make the directories the services
    use), start() starts nginx, as encoder.sh did before stack_up."""

    def __init__(self, run, env, includes=()):
        self.run = Path(run)
        self.env = env
        self.includes = list(includes)
        self.port = None
        self.site_extra = ""
        self.error_log = self.run / "nginx" / "error.log"

    def _env(self):
        return {**self.env, "RUN": str(self.run), "PORT": str(self.port)}

    def prepare(self):
        self.port = free_port()
        r = lib_sh('for f in "$@"; do "$f" || exit 1; done', self._env(), *self.includes)
        if r.returncode:
            raise RuntimeError(f"{' '.join(self.includes)} failed:\n{r.stdout}{r.stderr}")
        self.site_extra = " ".join(r.stdout.split("\n"))

    def start(self):
        for _ in range(3):  # the port may be taken between free_port and bind
            # A test's own site lines (an auth step) come in its env's
            # NGINX_SITE_EXTRA, after the includes' lines.
            extra = f"{self.site_extra} {self.env.get('NGINX_SITE_EXTRA', '')}"
            r = lib_sh("nginx_start", {**self._env(), "NGINX_SITE_EXTRA": extra})
            if r.returncode == 0:
                return
            if "Address already in use" not in r.stderr:
                break
            self.prepare()
        raise RuntimeError(f"nginx_start failed:\n{r.stdout}{r.stderr}")

    def stop(self):
        """As lib.sh's nginx_stop: graceful shutdown (SIGQUIT), SIGKILL after
        5 s; but a zombie master counts as gone."""
        pidfile = self.run / "nginx" / "nginx.pid"
        try:
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGQUIT)
        except (OSError, ValueError):
            return
        if not wait_until(lambda: not running(pid), 5, 0.02):
            os.kill(pid, signal.SIGKILL)


class Process:
    """A mediagate process started with its output appended to a log."""

    def __init__(self, argv, env, log_path):
        self.argv = argv
        self.log_path = Path(log_path)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGTERM):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=None):
        """Its exit status (negative: the signal that ended it)."""
        return self.proc.wait(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signals it and waits; kill -9 after timeout. Returns the status."""
        self.kill(sig)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            return self.wait()


class App(Process):
    """mediagate serve on RUN/mediagate.sock (group www-data), as lib.sh's
    app_start."""

    def __init__(self, run, env):
        self.socket = Path(run) / "mediagate.sock"
        super().__init__([str(MG_BIN), "serve"],
                         {**env, "MEDIAGATE_SOCKET": str(self.socket), "MEDIAGATE_SOCKET_GROUP": "www-data"},
                         Path(run) / "mediagate.log")
        if not wait_until(lambda: self.socket.is_socket() or not self.alive(), 10, 0.05) or not self.alive():
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"mediagate did not start:\n{self.log_path.read_text()[-4000:]}")


class Workers:
    """`mediagate worker` processes of one test, all logging to
    RUN/worker.log; whatever still runs at the end is killed with -9."""

    def __init__(self, run, env):
        self.run = Path(run)
        self.env = env
        self.log_path = self.run / "worker.log"
        self.log_path.touch()
        self.all = []

    def start(self, **extra_env):
        w = Process([str(MG_BIN), "worker"], {**self.env, **extra_env}, self.log_path)
        self.all.append(w)
        return w

    def log(self):
        return self.log_path.read_text(errors="replace")

    def kill_all(self):
        """Kills the workers with -9; returns the command lines of ffmpeg and
        ffprobe processes on the test's files that outlived them, killed in
        turn so that they cannot disturb the next test."""
        for w in self.all:
            w.kill(signal.SIGKILL)
        for w in self.all:
            w.wait()
        mine = r"ff(mpeg|probe)\b.*" + re.escape(f"{self.run}/")
        wait_until(lambda: not processes_matching(mine), 2, 0.05)
        left = []
        for pid in processes_matching(mine):
            try:
                left.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return left


def micro_cache_env(rundir):
    """Settings that put the shipped micro-cache in front of the test's
    mediagate, as tests/integration/cache.sh does: the http { } part with
    its directory in RUNDIR, the server part before mediagate.conf."""
    rundir = Path(rundir)
    (rundir / "cache").mkdir()
    shutil.chown(rundir / "cache", "www-data", "www-data")
    nginx = MG_ROOT / "nginx"
    (rundir / "cache-http.conf").write_text(
        (nginx / "mediagate-cache-http.conf").read_text().replace("/var/cache/nginx/mediagate",
                                                                  str(rundir / "cache")))
    (rundir / "site.conf").write_text((nginx / "mediagate-cache.conf").read_text()
                                      + (nginx / "mediagate.conf").read_text())
    return {"NGINX_EXTRA": f"include {rundir / 'cache-http.conf'};", "MG_SNIPPET": str(rundir / "site.conf")}


class Stack:
    """One test's stack: its database, mediagate serve, nginx in front, a
    curl client for nginx's base URL, and the mediagate CLI with the same
    environment."""

    def __init__(self, run, db, env, includes, logs):
        self.run = Path(run)
        self.db = db
        self.env = {**os.environ, **env, "MG_ROOT": str(MG_ROOT), "MG_BIN": str(MG_BIN),
                    "MEDIAGATE_DATABASE_URL": db.url}
        self.logs = logs
        self.cli_log = self.run / "cli.log"
        self.cli_log.touch()
        logs.add("mediagate CLI", self.cli_log)
        self.nginx = Nginx(self.run, self.env, includes)
        self.nginx.prepare()
        self.app = App(self.run, self.env)
        logs.add("mediagate serve", self.app.log_path)
        logs.add("nginx error log", self.nginx.error_log)
        try:
            self.nginx.start()
        except Exception:
            self.app.stop()
            raise
        self.base = f"http://127.0.0.1:{self.nginx.port}"
        self.curl = Curl(self.base, self.run / "curl")

    def took_us(self, response):
        """How long mediagate itself took over RESPONSE's request, in
        microseconds, from its own access log line (text or JSON); None
        without one. Tests bound durations with this, measured inside the
        process, never with the client's wall clock."""
        rid = response.header("X-Request-Id")
        if not rid:
            return None
        for line in reversed(self.app.log_path.read_text(errors="replace").splitlines()):
            if rid in line:
                m = re.search(r" access \S+ \S+ \d+ (\d+)us |\"duration_us\":(\d+)", line)
                if m:
                    return int(m.group(1) or m.group(2))
        return None

    def mg(self, *args):
        """Runs `mediagate ARGS...`; returns its standard output, stripped.
        Its standard error goes to RUN/cli.log."""
        with self.cli_log.open("ab") as err:
            r = subprocess.run([str(MG_BIN), *map(str, args)], env=self.env, stdout=subprocess.PIPE,
                               stderr=err, stdin=subprocess.DEVNULL, text=True, timeout=60)
        assert r.returncode == 0, f"mediagate {' '.join(map(str, args))} exited {r.returncode}"
        return r.stdout.strip()

    def close(self):
        """Stops nginx and mediagate; returns mediagate's exit status (under
        AddressSanitizer, a leak found at exit makes it non-zero)."""
        self.nginx.stop()
        return self.app.stop(signal.SIGTERM)
