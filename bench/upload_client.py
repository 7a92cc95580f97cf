"""Times uploads from the last byte sent to the answer: for each of N
uploads, PUT SIZE bytes over a fresh connection (sendall, then read the
answer). Prints one line: 'BENCH <label> n=N p50_ms=… p99_ms=… max_ms=…'.

usage: upload_client.py LABEL PORT N SIZE URLS_FILE
URLS_FILE holds one path per line (with its query), used in order.
"""
import socket
import statistics
import sys
import time

label, port, n, size, urls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
paths = [line.strip() for line in open(urls) if line.strip()][:n]
body = bytes(range(256)) * (size // 256) + b"\0" * (size % 256)
times = []
for p in paths:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((f"PUT {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: video/mp4\r\n"
               f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode())
    s.sendall(body)
    t0 = time.perf_counter()
    answer = b""
    while b"\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    t1 = time.perf_counter()
    while s.recv(65536):
        pass
    s.close()
    status = answer.split(b" ", 2)[1:2]
    if status != [b"201"]:
        sys.exit(f"{p}: answered {answer[:200]!r}")
    times.append((t1 - t0) * 1000)
times.sort()
p99 = times[min(len(times) - 1, int(round(0.99 * len(times))) - 1)]
print(f"BENCH {label} n={len(times)} p50_ms={statistics.median(times):.2f} p99_ms={p99:.2f} max_ms={times[-1]:.2f}")
