#!/usr/bin/python3
"""bench/jwsync.sh's stand-in: tests/pytest/jwplatform_standin.py with
VIDEOS videos and CHANNELS channels shaped like the fixtures, on 127.0.0.1.
Prints its port on stdout; SIGHUP changes CHANGED% of the videos (their
"updated" and title) and prints "changed N"; SIGTERM stops it."""
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pytest"))
from jwplatform_standin import JWStandin, make_channel, make_video  # noqa: E402

jw = JWStandin(os.environ["KEY"], os.environ["SECRET"])
for i in range(int(os.environ.get("VIDEOS", "50000"))):
    v = make_video(f"b{i:07d}", 1465546996 + i)
    jw.videos[v["key"]] = v
for i in range(int(os.environ.get("CHANNELS", "50"))):
    c = make_channel(f"c{i:07d}")
    jw.channels[c["key"]] = c
done = threading.Event()


def change(*_):
    keys = list(jw.videos)
    step = max(1, round(100 / float(os.environ.get("CHANGED", "1"))))
    n = 0
    for k in keys[::step]:
        jw.videos[k]["updated"] += 100
        jw.videos[k]["title"] += " (changed)"
        n += 1
    print(f"changed {n}", flush=True)


signal.signal(signal.SIGHUP, change)
signal.signal(signal.SIGTERM, lambda *_: done.set())
print(jw.port, flush=True)
done.wait()
jw.close()
