"""A small HTTP proxy in front of an S3 store that injects faults on
demand: the next N requests answered 503 SlowDown (with a Retry-After), or
every answer delayed. Requests pass through unchanged (the Host header
included, so SigV4 signatures stay valid); each request's arrival time
and answer status are recorded, so a test reads how the client behaved
(how many tries, how far apart) from the proxy's side.

    proxy = FaultProxy(upstream_port).start()
    proxy.slow_down(2, retry_after=1)   # the next two requests: 503 SlowDown
    proxy.delay(3.0)                    # every answer 3 s late (0: off)
    proxy.lose_answers(1, "PUT")        # the next PUT reaches the store, its
                                        # answer never reaches the client
    proxy.lose_answers(1, "POST", skip=1)  # the same, for the second POST
    proxy.log                           # [(monotonic time, method, path, status)]
    proxy.stop()
"""

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b'<Message>Please reduce your request rate.</Message></Error>')
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-connection"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _relay(self):
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with proxy.lock:
            inject = proxy.pending > 0
            if inject:
                proxy.pending -= 1
            delay, retry_after = proxy.delay_s, proxy.retry_after
        if delay:
            time.sleep(delay)
        if inject:
            proxy.record(self.command, self.path, 503)
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOW_DOWN)
            return
        up = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            up.request(self.command, self.path, body=body, headers=headers)
            r = up.getresponse()
            data = r.read()
        except OSError:
            proxy.record(self.command, self.path, 0)
            self.close_connection = True
            return
        finally:
            up.close()
        with proxy.lock:
            lose = proxy.lose > 0 and proxy.lose_method in (None, self.command)
            if lose and proxy.lose_skip > 0:
                proxy.lose_skip -= 1
                lose = False
            elif lose:
                proxy.lose -= 1
        if lose:
            proxy.record(self.command, self.path, f"lost {r.status}")
            self.close_connection = True  # the store did it; the client hears nothing
            return
        proxy.record(self.command, self.path, r.status)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if self.command != "HEAD" or r.getheader("Content-Length") is None:
            self.send_header("Content-Length", str(len(data)))
        else:
            self.send_header("Content-Length", r.getheader("Content-Length"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay


class FaultProxy:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.pending = 0
        self.retry_after = None
        self.delay_s = 0.0
        self.lose, self.lose_method, self.lose_skip = 0, None, 0
        self.log = []
        self.server = None
        self.thread = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.proxy = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def record(self, method, path, status):
        with self.lock:
            self.log.append((time.monotonic(), method, path, status))

    def slow_down(self, n, retry_after=None):
        """The next n requests are answered 503 SlowDown."""
        with self.lock:
            self.pending, self.retry_after = n, retry_after

    def lose_answers(self, n, method=None, skip=0):
        """The next n requests (of method, if given; after skip of them)
        reach the store; their answers are dropped with the connection."""
        with self.lock:
            self.lose, self.lose_method, self.lose_skip = n, method, skip

    def delay(self, seconds):
        with self.lock:
            self.delay_s = seconds

    def clear(self):
        with self.lock:
            self.pending, self.retry_after, self.delay_s = 0, None, 0.0
            self.lose, self.lose_method, self.lose_skip = 0, None, 0
            self.log.clear()
