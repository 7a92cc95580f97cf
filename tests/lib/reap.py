#!/usr/bin/env python3
"""Stops every process of a test's run directory, whoever started it.

A test suite starts processes that leave its process group: nginx and
PostgreSQL daemonize (pg_ctl calls setsid), the worker puts each ffmpeg in
a group of its own, scripts/up starts its supervisors with setsid. So when
meson's timeout kills the suite (SIGTERM to the suite's process group, then
SIGKILL 0.5 s later), those keep running unless someone else stops them.

A process belongs to DIR when DIR is in its command line or its
environment (the suites export RUN, the pytest session MG_RUN_ROOT; nginx
and postgres name their directory on their command line), or when its
parent belongs to DIR (nginx's workers, PostgreSQL's backends, ffmpeg).

    reap.py sweep DIR...          stops them now (and prints what it stopped)
    reap.py list DIR...           prints "pid command line" of each
    reap.py guard PID DIR...      detaches, waits until process PID has ended
                                  (however it ended), then sweeps and removes
                                  the directories (not with KEEP set)

Stopping: PostgreSQL's postmaster gets SIGQUIT (pg_ctl's immediate
shutdown), everything else SIGTERM (and SIGCONT, for a stopped one); what
still runs 10 s later gets SIGKILL. This process and its ancestors are
never touched.
"""

import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

GRACE_S = 10


def _read(path):
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _stat(pid):
    """(ppid, state, starttime) of a live process, or None."""
    s = _read(f"/proc/{pid}/stat")
    if not s:
        return None
    fields = s[s.rfind(b")") + 2:].split()
    return int(fields[1]), fields[0].decode(), int(fields[19])


def _ancestors():
    me, seen = os.getpid(), set()
    pid = me
    while pid > 1 and pid not in seen:
        seen.add(pid)
        st = _stat(pid)
        if not st:
            break
        pid = st[0]
    seen.add(1)
    return seen


def processes_of(dirs):
    """{pid: starttime} of every live process of DIRS and their descendants."""
    pats = [re.compile(re.escape(os.fsencode(str(d).rstrip("/"))) + rb"(?![A-Za-z0-9._-])") for d in dirs]
    spare = _ancestors()
    table = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st and st[1] != "Z":
                table[int(d.name)] = st
    mine = set()
    for pid in table:
        if pid in spare:
            continue
        cmdline = _read(f"/proc/{pid}/cmdline")
        if b"reap.py\0" in cmdline:
            continue  # a guard (of this directory or another) is never stopped by a sweep
        text = cmdline + b"\0" + _read(f"/proc/{pid}/environ")
        if any(p.search(text) for p in pats):
            mine.add(pid)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _, _) in table.items():
            if ppid in mine and pid not in mine and pid not in spare:
                mine.add(pid)
                grew = True
    return {pid: table[pid][2] for pid in mine}


def _alive(pid, start):
    st = _stat(pid)
    return bool(st) and st[2] == start and st[1] != "Z"


def _cmdline(pid):
    return _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace").strip()[:200]


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def sweep(dirs, log=sys.stderr):
    """Stops the processes of DIRS; returns how many there were."""
    total = 0
    for _ in range(3):  # again, for what a dying supervisor may have started
        procs = processes_of(dirs)
        if not procs:
            break
        total += len(procs)
        for pid in procs:
            print(f"reap: stopping {pid} {_cmdline(pid)}", file=log, flush=True)
        for pid in procs:
            comm = _read(f"/proc/{pid}/comm").strip()
            parent = _stat(pid)
            pcomm = _read(f"/proc/{parent[0]}/comm").strip() if parent else b""
            if comm == b"postgres" and pcomm != b"postgres":
                _signal(pid, signal.SIGQUIT)  # the postmaster: immediate shutdown
            elif comm != b"postgres":
                _signal(pid, signal.SIGTERM)
            _signal(pid, signal.SIGCONT)
        _until(lambda: not any(_alive(p, s) for p, s in procs.items()), GRACE_S)
        for pid, start in procs.items():
            if _alive(pid, start):
                print(f"reap: killing {pid} {_cmdline(pid)}", file=log, flush=True)
                _signal(pid, signal.SIGKILL)
        _until(lambda: not any(_alive(p, s) for p, s in procs.items()), GRACE_S)
    return total


def _until(cond, seconds):
    """Polls cond until it holds or SECONDS pass (a grace: the caller then
    escalates, or goes on)."""
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        time.sleep(0.1)


def _wait_for_end(pid):
    """Returns when process PID has ended (it need not be our child)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        st = _stat(pid)
        _until(lambda: not (st and _alive(pid, st[2])), float("inf"))
        return
    import select
    select.select([fd], [], [])
    os.close(fd)


def guard(pid, dirs):
    # Detached: a session of its own (no signal to the suite's group reaches
    # it), nothing of the suite's output held open (meson reads it to EOF).
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    logfile = os.environ.get("MG_REAP_LOG")
    out = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if logfile else devnull
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.chdir("/")
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _wait_for_end(pid)
    n = sweep(dirs, log=sys.stdout)
    print(f"reap: process {pid} ended; {n} of its processes stopped", flush=True)
    if not os.environ.get("KEEP"):
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def main(argv):
    if len(argv) >= 3 and argv[1] in ("sweep", "list"):
        dirs = argv[2:]
        if argv[1] == "list":
            for pid in sorted(processes_of(dirs)):
                print(pid, _cmdline(pid))
            return 0
        sweep(dirs)
        return 0
    if len(argv) >= 4 and argv[1] == "guard":
        guard(int(argv[2]), argv[3:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
