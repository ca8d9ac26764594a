"""The ceiling for bench.ami: a raw socket that only counts message separators."""

import json
import socket
import sys
import time

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sock = socket.create_connection((host, port))
sock.sendall(b"Action: Login\r\nActionID: raw-1\r\nUsername: bench\r\nSecret: bench\r\n\r\n")
target = n + 1  # the login response is one separator too
count = 0
tail = b""
start = cpu = None
deadline = time.perf_counter() + limit
while count < target and time.perf_counter() < deadline:
    data = sock.recv(262144)
    if not data:
        break
    if start is None:
        start, cpu = time.perf_counter(), time.process_time()
    chunk = tail + data
    count += chunk.count(b"\r\n\r\n")
    tail = chunk[-3:]
elapsed = time.perf_counter() - start
print(json.dumps({"events": count - 1, "seconds": elapsed, "cpu_seconds": time.process_time() - cpu}))
