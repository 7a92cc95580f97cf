#!/usr/bin/env python3
"""A TCP proxy on loopback that cuts connections: for "the connection
dropped half-way through an upload", with real clients on the other side.

It listens on 127.0.0.1 (a free port unless given), forwards each
connection to TARGET (nginx) both ways, and counts the bytes clients send
(the upload), over all connections. Armed with a number of bytes, it
forwards exactly that many more and then drops the connection that crossed
the mark, both sides at once (a reset to the client, a close to the
server: as when a phone loses its network); the mark is then disarmed. Asked to, it
then refuses the next few requests too (their connection reset as they
send): a browser resends a request whose reused connection broke, and
that must fail as well for the page to see the cut. A
cut can also be asked for at any moment (cut_now), e.g. on a signal.

As a library (tests/pytest, bench):

    p = CutProxy(target_port)            # .port, .url
    p.arm(100 * 2**20)                   # cut once, 100 MiB of upload from now
    p.arm(100 * 2**20, refuse=1)         # ... and reset the next request too
    ... p.cuts, p.uploaded, p.wait_cut(timeout) ...
    p.hold(100 * 2**20); p.wait_held(timeout); ...; p.release()
    p.close()                            # also a context manager

From the shell: `cut_proxy.py TARGET_PORT [CUT_AFTER_BYTES]` prints its port
on a line of its own, cuts once after CUT_AFTER_BYTES of upload when given,
cuts every open connection on SIGUSR1, and stops on SIGTERM or SIGINT.
"""

import os
import select
import signal
import socket
import struct
import sys
import threading


class CutProxy:
    def __init__(self, target_port, target_host="127.0.0.1", port=0):
        self.target = (target_host, int(target_port))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.uploaded = 0        # client -> target bytes forwarded, all connections
        self.cuts = 0            # connections dropped so far
        self.refused = 0         # requests refused after a cut
        self._refuse_next = 0    # requests to refuse after the coming cut
        self._refusing = 0       # requests still to refuse now
        self._mark = None        # cut when uploaded reaches this; None: disarmed
        self._hold = None        # stop forwarding uploads at this; None: none
        self._held = False       # a client reached the hold mark
        self._lock = threading.Lock()
        self._cut = threading.Condition(self._lock)
        self._conns = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, nbytes, refuse=0):
        """Cut once, after NBYTES more bytes of upload (from now); then
        reset the connection of each of the next REFUSE requests sent."""
        with self._lock:
            self._mark = self.uploaded + int(nbytes)
            self._refuse_next = refuse

    def disarm(self):
        with self._lock:
            self._mark = None

    def hold(self, nbytes):
        """Forward NBYTES more bytes of upload, then none until release()."""
        with self._lock:
            self._hold = self.uploaded + int(nbytes)
            self._held = False

    def wait_held(self, timeout=None):
        """Waits until an upload stands at the hold mark; returns whether it does."""
        with self._cut:
            return self._cut.wait_for(lambda: self._held, timeout)

    def release(self):
        with self._cut:
            self._hold = None
            self._held = False
            self._cut.notify_all()

    def cut_now(self):
        """Drops every open connection."""
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            self._drop(c)

    def wait_cut(self, count=1, timeout=None):
        """Waits until COUNT cuts happened in all; returns whether they did."""
        with self._cut:
            return self._cut.wait_for(lambda: self.cuts >= count, timeout)

    def close(self):
        self._closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.cut_now()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            conn = _Conn(client, server)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._pump, args=(conn,), daemon=True).start()

    def _drop(self, conn):
        """A reset to the client (SO_LINGER 0), a plain close to the target;
        counted once per connection."""
        with self._lock:
            if conn.dropped:
                return
            conn.dropped = True
            self._conns.discard(conn)
            if conn.refuse:
                self.refused += 1
            else:
                self.cuts += 1
                self._refusing, self._refuse_next = self._refuse_next, 0
            self._cut.notify_all()
        try:
            conn.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for s in (conn.client, conn.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump(self, conn):
        socks = [conn.client, conn.server]
        try:
            while not conn.dropped:
                ready, _, _ = select.select(socks, [], [], 1.0)
                for s in ready:
                    data = s.recv(262144)
                    if not data:
                        return
                    if s is conn.client and self._refused_now(conn):
                        self._drop(conn)
                        return
                    if s is conn.client:
                        data = self._held_back(conn, data)
                        with self._lock:
                            room = None if self._mark is None else self._mark - self.uploaded
                            if room is not None and len(data) >= room:
                                data = data[:max(room, 0)]
                                self._mark = None
                                cut = True
                            else:
                                cut = False
                            self.uploaded += len(data)
                        if data:
                            conn.server.sendall(data)
                        if cut:
                            self._drop(conn)
                            return
                    else:
                        conn.client.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            for s in socks:
                s.close()


    def _refused_now(self, conn):
        """Whether CONN's client, sending, is one to refuse after a cut."""
        with self._lock:
            if self._refusing > 0:
                self._refusing -= 1
                conn.refuse = True
            return conn.refuse

    def _held_back(self, conn, data):
        """DATA once the hold mark lets it through: the bytes before the mark
        go at once, the rest after release()."""
        with self._cut:
            if self._hold is None or self.uploaded + len(data) <= self._hold:
                return data
            room = max(self._hold - self.uploaded, 0)
            head, data = data[:room], data[room:]
            self.uploaded += len(head)
        if head:
            conn.server.sendall(head)
        with self._cut:
            self._held = True
            self._cut.notify_all()
            self._cut.wait_for(lambda: self._hold is None or conn.dropped or self._closed)
        return data


class _Conn:
    def __init__(self, client, server):
        self.client = client
        self.server = server
        self.dropped = False
        self.refuse = False


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit("usage: cut_proxy.py TARGET_PORT [CUT_AFTER_BYTES]")
    proxy = CutProxy(int(argv[1]))
    if len(argv) == 3:
        proxy.arm(int(argv[2]))
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=proxy.cut_now).start())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(proxy.port, flush=True)
    while not stop.wait(0.5):
        pass
    proxy.close()
    print(f"uploaded {proxy.uploaded} cuts {proxy.cuts}", file=sys.stderr)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
