#!/usr/bin/env python3
"""CPU accounting for bench/status.sh, from /proc.

  cpustat.py snap FILE
      Records every process's user+system ticks (with its parent and
      whether it is a kernel thread) and the machine's busy ticks.

  cpustat.py diff BEFORE AFTER SECONDS APP_PID NGINX_PID PG_PID WRK_CPU_SECONDS SELF_PID
      Prints the cores each part used between the two snapshots:
        app nginx pg wrk others rest
      app    the mediagate process (all its threads)
      nginx  the nginx master and its children
      pg     the postmaster and its children
      wrk    the load generator (measured by the shell's `time`)
      others user processes outside the stack and outside SELF_PID's tree
             (the benchmark script), alive at the second snapshot
             (anything else running on the machine: it skews the numbers)
      rest   the machine's busy time not accounted above: mostly the
             kernel's softirq work for loopback TCP and unix sockets,
             kernel threads, and processes that exited during the run

  cpustat.py busy SECONDS
      Prints how many cores the machine kept busy over SECONDS, and the top
      user processes over that time (to tell whether the machine is quiet).
"""
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
PF_KTHREAD = 0x00200000


def snapshot():
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        # rest[0] is field 3 (state): ppid is field 4, flags 9, utime 14, stime 15
        procs[int(d)] = (int(rest[1]), comm, int(rest[11]) + int(rest[12]),
                         bool(int(rest[6]) & PF_KTHREAD))
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy excludes idle,
    # iowait and steal
    busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6]
    return procs, busy


def write(path):
    procs, busy = snapshot()
    with open(path, "w") as f:
        f.write(f"busy {busy}\n")
        for pid, (ppid, comm, ticks, kthread) in procs.items():
            f.write(f"{pid} {ppid} {ticks} {int(kthread)} {comm.replace(' ', '_')}\n")


def read(path):
    procs = {}
    busy = 0
    with open(path) as f:
        for line in f:
            p = line.split()
            if p[0] == "busy":
                busy = int(p[1])
                continue
            procs[int(p[0])] = (int(p[1]), p[4], int(p[2]), p[3] == "1")
    return procs, busy


def tree(procs, root):
    """root and its descendants."""
    out = {root}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _, _, _) in procs.items():
            if ppid in out and pid not in out:
                out.add(pid)
                grew = True
    return out


def diff(before, after, secs, app, nginx, pg, wrk_cpu, self_pid):
    b, bbusy = read(before)
    a, abusy = read(after)

    def used(pids):
        t = 0
        for pid in pids:
            if pid in a:
                # a process born during the run counts from zero
                prev = b[pid][2] if pid in b and b[pid][1] == a[pid][1] else 0
                t += a[pid][2] - prev
        return t / HZ / secs

    groups = {"app": {app}, "nginx": tree(a, nginx), "pg": tree(a, pg)}
    mine = set().union(*groups.values())
    me = tree(a, self_pid) | {os.getpid()}
    others = [pid for pid, (_, comm, _, kt) in a.items()
              if not kt and pid not in mine and pid not in me and comm != "wrk"]
    res = {k: used(v) for k, v in groups.items()}
    res["wrk"] = wrk_cpu / secs
    res["others"] = used(others)
    busy = (abusy - bbusy) / HZ / secs
    res["rest"] = max(0.0, busy - sum(res.values()))
    print(" ".join(f"{res[k]:.2f}" for k in ("app", "nginx", "pg", "wrk", "others", "rest")))


def busy(secs):
    b, bb = snapshot()
    time.sleep(secs)
    a, ab = snapshot()
    top = []
    for pid, (_, comm, ticks, kt) in a.items():
        if kt or pid == os.getpid():
            continue
        prev = b[pid][2] if pid in b else 0
        if ticks - prev > 0:
            top.append(((ticks - prev) / HZ / secs, comm))
    top.sort(reverse=True)
    names = ", ".join(f"{c} {u:.2f}" for u, c in top[:4])
    print(f"{(ab - bb) / HZ / secs:.2f} {names or '-'}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "snap":
        write(sys.argv[2])
    elif cmd == "diff":
        diff(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]),
             int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9]))
    elif cmd == "busy":
        busy(float(sys.argv[2]))
    else:
        sys.exit(__doc__)
