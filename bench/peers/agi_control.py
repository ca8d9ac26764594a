"""Shared harness of the FastAGI benchmark servers: report readiness, then CPU time on request.

Imported by path (each server script runs as a plain file, in whichever venv its library is in),
so it uses nothing outside the standard library. Protocol on stdin/stdout with the parent:
the server prints C{READY <port>}; the parent writes C{start} (CPU counters are read), later
C{stop} (read again); the server prints one JSON line with the difference and exits.
"""

from __future__ import annotations

import json
import os
import sys
import threading

__all__ = ["report_when_told", "GET_NAME", "SET_NAME", "SET_VALUE", "SCRIPT", "COMMANDS"]

#: What each server's script does: GET VARIABLE, SET VARIABLE, EXEC NoOp.
SCRIPT = "inbound"
GET_NAME = "CALLERID(num)"
SET_NAME = "HOTLINE_CALL_ID"
SET_VALUE = "42"
#: Those three as command lines, for the floor servers that send them without formatting.
COMMANDS = [
    f'GET VARIABLE "{GET_NAME}"\n'.encode(),
    f'SET VARIABLE "{SET_NAME}" "{SET_VALUE}"\n'.encode(),
    b'EXEC "NoOp" "bench"\n',
]


def _cpu() -> tuple[float, float]:
    times = os.times()
    return times.user, times.system


def report_when_told(port: int) -> threading.Thread:
    """Announce C{port}, then serve the start/stop protocol from a daemon thread."""

    def run() -> None:
        start = _cpu()
        for line in sys.stdin:
            word = line.strip()
            if word == "start":
                start = _cpu()
                sys.stdout.write("STARTED\n")
                sys.stdout.flush()
            elif word == "stop":
                end = _cpu()
                sys.stdout.write(json.dumps({
                    "user_s": end[0] - start[0],
                    "sys_s": end[1] - start[1],
                    "pid": os.getpid(),
                }) + "\n")
                sys.stdout.flush()
                os._exit(0)
        os._exit(0)

    thread = threading.Thread(target=run, name="bench-control", daemon=True)
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()
    thread.start()
    return thread
