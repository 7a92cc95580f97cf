#!/usr/bin/env python3
"""Does a finished request still hold its thread? A FastCGI client on the
app's unix socket, in nginx's place: connection A sends GET /healthz, reads
the whole answer, then keeps its end open and keeps writing a byte every
50 ms, as a peer slow to close would. Meanwhile connection B sends the same
request. With one request thread, B is answered only if the app let go of A
once A's answer was written.

    fcgi_close.py SOCKET   prints "b_answered=yes|no a_closed=yes|no"

It gives up after 10 s (a bound on the test, not a measure of speed).
"""
import socket
import struct
import sys
import threading
import time

PARAMS = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "REQUEST_URI": "/healthz",
          "SERVER_NAME": "localhost", "REQUEST_SCHEME": "http"}


def record(kind, content):
    return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content


def pair(k, v):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(k)) + length(len(v)) + k + v


def request():
    params = b"".join(pair(k.encode(), v.encode()) for k, v in PARAMS.items())
    # BEGIN_REQUEST (responder, no keep-alive), PARAMS, their end, empty STDIN
    return (record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b"")
            + record(5, b""))


def answer(s):
    """The STDOUT of one request, read until END_REQUEST; None at EOF before it."""
    buf, out = b"", b""
    while True:
        while len(buf) >= 8:
            _, kind, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
            if len(buf) < 8 + clen + plen:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if kind == 6:
                out += content
            elif kind == 3:
                return out
        data = s.recv(65536)
        if not data:
            return None
        buf += data


def main():
    path = sys.argv[1]
    a = socket.socket(socket.AF_UNIX)
    a.connect(path)
    a.sendall(request())
    got = answer(a)
    if not got or not got.startswith(b"Status: 200"):
        print(f"A was not answered 200: {got!r}")
        return 1
    result = {}

    def ask_b():
        b = socket.socket(socket.AF_UNIX)
        b.connect(path)
        b.sendall(request())
        result["b"] = answer(b)
        b.close()

    t = threading.Thread(target=ask_b, daemon=True)
    t.start()
    a_closed = False
    deadline = time.monotonic() + 10
    while t.is_alive() and time.monotonic() < deadline:
        try:
            a.send(b"x")
        except OSError:
            a_closed = True
        time.sleep(0.05)
    b = result.get("b")
    print(f"b_answered={'yes' if b and b.startswith(b'Status: 200') else 'no'} "
          f"a_closed={'yes' if a_closed else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
