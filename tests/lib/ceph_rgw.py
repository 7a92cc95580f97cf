#!/usr/bin/env python3
"""A real S3 store for the tests: Ceph's RADOS Gateway on a single-node
cluster of its own, from Debian's packages (ceph-mon, ceph-osd, radosgw,
ceph-common), in a private directory, on loopback only.

One monitor (ceph-mon --mkfs from a monmap made by monmaptool), one OSD on
memstore (objects in the OSD's memory, MEMSTORE_BYTES at most), one radosgw
with the beast frontend on a free 127.0.0.1 port, and one S3 user. Cephx
stays on (radosgw does not run with `auth ... = none`): every key is made by
ceph-authtool in one keyring the monitor imports at --mkfs. Pools have one
replica (`osd pool default size = 1`, which the monitor allows with
`mon allow pool size one`). No manager daemon: nothing here needs one.

Every daemon runs in the foreground (-f), started and owned by this object
(and killed by the kernel if the starter dies first: PR_SET_PDEATHSIG);
start() waits for conditions (the OSD up, the gateway answering HTTP), each
bounded by a generous timeout, and on failure raises CephError with the
tails of the daemons' logs; stop() kills every process it started and
removes the directory (the directory is made by start(), under `parent`).

    ceph_rgw.py [--memstore-bytes N] [PARENT]
                            starts one, prints its endpoint and keys,
                            stops it on ^C or SIGTERM

The OSD keeps every object in memory: MEMSTORE_BYTES (512 MiB) by default,
MG_CEPH_MEMSTORE_BYTES in the environment or memstore_bytes= (or
--memstore-bytes) for a benchmark that stores more (a 1 GiB upload needs
a little more than 1 GiB).
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

START_TIMEOUT_S = 300        # the machine may be busy; this bounds a hang
MEMSTORE_BYTES = int(os.environ.get("MG_CEPH_MEMSTORE_BYTES") or 512 << 20)
ACCESS_KEY = "MGTESTACCESSKEY00001"
SECRET_KEY = "mgTestSecretKey0000000000000000000000001"
REGION = "us-east-1"         # RGW's default zonegroup answers to any region
LOG_TAIL_LINES = 40

CONF = """\
[global]
fsid = {fsid}
mon initial members = a
mon host = [v1:127.0.0.1:{mon_port}]
public addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {dir}/keyring
log file = {dir}/log/$name.log
admin socket = {dir}/run/$name.asok
run dir = {dir}/run
pid file = {dir}/run/$name.pid
log to stderr = false
err to stderr = true
mon cluster log file = {dir}/log/cluster.log
crash dir = {dir}/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true

[mon]
mon data = {dir}/mon
mon data avail warn = 1
mon data avail crit = 0

[osd]
osd data = {dir}/osd
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
osd max object name len = 460
osd max object namespace len = 64

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw dns name = localhost
rgw thread pool size = 32
# Deleted objects' data is freed within seconds, not hours: memstore holds
# every byte in memory, and suites and benchmarks write and delete a lot.
rgw gc obj min wait = 5
rgw gc processor period = 5
"""


class CephError(RuntimeError):
    pass


def _die_with_parent():
    # PR_SET_PDEATHSIG: a daemon dies with the starter, however that ends
    # (its stop() never ran: SIGKILL, a crash).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CephRgw:
    def __init__(self, parent=None, memstore_bytes=MEMSTORE_BYTES, timeout=START_TIMEOUT_S):
        self.parent = parent
        self.timeout = timeout
        self.memstore_bytes = memstore_bytes
        self.dir = None
        self.procs = {}          # name -> Popen
        self.port = None
        self.access_key, self.secret_key, self.region = ACCESS_KEY, SECRET_KEY, REGION
        self.startup_s = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    # --- the pieces -------------------------------------------------------

    def _run(self, *cmd, timeout=120):
        """A command that must succeed (the cluster's tools, with our conf)."""
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CephError(f"{cmd[0]} did not finish in {timeout} s: {' '.join(cmd)}\n" + self.log_tails())
        if r.returncode:
            raise CephError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}\n" + self.log_tails())
        return r.stdout

    def ceph(self, *args, timeout=120):
        return self._run("ceph", "-c", str(self.conf), "--connect-timeout", "60", *args, timeout=timeout)

    def _spawn(self, name, *cmd):
        err = open(self.dir / "log" / f"{name}.stderr", "ab")
        self.procs[name] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                            preexec_fn=_die_with_parent)
        err.close()

    def log_tails(self):
        if not self.dir:
            return ""
        out = []
        for p in sorted((self.dir / "log").glob("*")):
            try:
                lines = p.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            except OSError:
                continue
            out.append(f"--- {p.name} (last {len(lines)} lines) ---")
            out.extend(lines)
        return "\n".join(out)

    def _wait(self, what, pred):
        timeout = self.timeout
        end = time.monotonic() + timeout
        while True:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise CephError(f"{name} exited {p.returncode} while waiting for {what}\n"
                                    + self.log_tails())
            if pred():
                return
            if time.monotonic() >= end:
                raise CephError(f"no {what} after {timeout} s\n" + self.log_tails())
            time.sleep(0.2)

    def _osd_up(self):
        try:
            out = subprocess.run(["ceph", "-c", str(self.conf), "--connect-timeout", "10",
                                  "osd", "dump", "--format=json"],
                                 capture_output=True, text=True, timeout=30).stdout
            return any(o.get("up") == 1 for o in json.loads(out).get("osds", []))
        except (subprocess.TimeoutExpired, ValueError):
            return False

    def rgw_answers(self):
        """The gateway answers HTTP (any status: it is up)."""
        try:
            urllib.request.urlopen(self.endpoint + "/", timeout=5).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    # --- start and stop ---------------------------------------------------

    def start(self):
        t0 = time.monotonic()
        if self.parent:
            Path(self.parent).mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="ceph.", dir=self.parent))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - t0
        return self

    def _start(self):
        d = self.dir
        for sub in ("log", "run", "mon", "osd", "crash"):
            (d / sub).mkdir()
        fsid = str(uuid.uuid4())
        self.port, mon_port = _free_port(), _free_port()
        self.conf = d / "ceph.conf"
        self.conf.write_text(CONF.format(fsid=fsid, dir=d, mon_port=mon_port,
                                         rgw_port=self.port, memstore_bytes=self.memstore_bytes))
        kr = str(d / "keyring")
        c = ["-c", str(self.conf)]
        # One keyring with every key; the monitor imports it (caps included).
        self._run("ceph-authtool", "--create-keyring", kr, "--gen-key", "-n", "mon.",
                  "--cap", "mon", "allow *")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "client.admin",
                  "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "osd.0",
                  "--cap", "mon", "allow profile osd", "--cap", "osd", "allow *",
                  "--cap", "mgr", "allow profile osd")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "client.rgw",
                  "--cap", "mon", "allow rw", "--cap", "osd", "allow rwx", "--cap", "mgr", "allow rw")
        monmap = str(d / "monmap")
        self._run("monmaptool", "--create", "--fsid", fsid,
                  "--addv", "a", f"[v1:127.0.0.1:{mon_port}]", monmap)
        self._run("ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", kr)
        self._spawn("mon", "ceph-mon", *c, "-f", "-i", "a")

        osd_uuid = str(uuid.uuid4())
        osd_id = self.ceph("osd", "new", osd_uuid).strip()
        if osd_id != "0":
            raise CephError(f"ceph osd new gave id {osd_id!r}, not 0")
        self._run("ceph-osd", *c, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd", "ceph-osd", *c, "-f", "-i", "0")
        self._wait("OSD up", self._osd_up)

        self._spawn("rgw", "radosgw", *c, "-f", "-n", "client.rgw")
        self._wait(f"gateway answering on {self.endpoint}", self.rgw_answers)
        self._run("radosgw-admin", *c, "user", "create", "--uid", "mediagate",
                  "--display-name", "mediagate tests",
                  "--access-key", self.access_key, "--secret-key", self.secret_key)

    def sts_role(self, name):
        """A role the S3 user may assume through the gateway's STS
        (arn:aws:iam:::role/NAME), allowed every S3 action: a session
        policy given to AssumeRole narrows it. Made once per name."""
        if name in getattr(self, "_roles", set()):
            return
        c = ["-c", str(self.conf)]
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["sts:AssumeRole"],
            "Principal": {"AWS": ["arn:aws:iam:::user/mediagate"]}}]}, separators=(",", ":"))
        allow = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::*"}]},
            separators=(",", ":"))
        self._run("radosgw-admin", *c, "role", "create", f"--role-name={name}", "--path=/",
                  f"--assume-role-policy-doc={trust}")
        self._run("radosgw-admin", *c, "role-policy", "put", f"--role-name={name}",
                  "--policy-name=all", f"--policy-doc={allow}")
        if not getattr(self, "_roles", None):
            # The gateway's STS, on from here (after the role: radosgw-admin
            # waits for a gateway it notifies, and a killed one's watch
            # lingers). It changes how a wrong secret is refused
            # (AccessDenied, no longer SignatureDoesNotMatch), so only a
            # session that asks has it.
            with open(self.conf, "a") as f:
                f.write(f"rgw sts key = {uuid.uuid4().hex[:16]}\nrgw s3 auth use sts = true\n")
            self.kill_rgw()
            self.start_rgw()
        self._roles = getattr(self, "_roles", set()) | {name}

    def kill_rgw(self):
        p = self.procs.pop("rgw")
        p.kill()
        p.wait()

    def start_rgw(self):
        self._spawn("rgw", "radosgw", "-c", str(self.conf), "-f", "-n", "client.rgw")
        self._wait(f"gateway answering on {self.endpoint}", self.rgw_answers)

    def rss_kib(self):
        """Each daemon's resident memory (VmRSS, KiB)."""
        out = {}
        for name, p in self.procs.items():
            try:
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[name] = int(line.split()[1])
            except OSError:
                pass
        return out

    def stop(self):
        # The gateway first, the monitor last; SIGKILL after a short grace.
        for name in ("rgw", "osd", "mon"):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.terminate()
        end = time.monotonic() + 10
        for name, p in list(self.procs.items()):
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
        if self.dir and not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def main():
    import argparse
    ap = argparse.ArgumentParser(description="a single-node Ceph RGW on loopback")
    ap.add_argument("--memstore-bytes", type=int, default=MEMSTORE_BYTES)
    ap.add_argument("parent", nargs="?")
    args = ap.parse_args()
    store = CephRgw(args.parent, memstore_bytes=args.memstore_bytes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        store.start()
        print(f"endpoint {store.endpoint}\naccess key {store.access_key}\n"
              f"secret key {store.secret_key}\nup in {store.startup_s:.1f} s\n"
              f"rss KiB {store.rss_kib()}", flush=True)
        signal.pause()
    except CephError as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        store.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
