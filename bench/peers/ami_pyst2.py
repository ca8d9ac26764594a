"""bench.ami peer: pyst2's asterisk.manager (threaded, line-by-line reader), counting events."""

import json
import os
import sys
import threading
import time

from asterisk.manager import Manager

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
state = {"count": 0, "start": None, "end": None}
done = threading.Event()


def on_event(event, manager):
    state["count"] += 1
    if state["start"] is None:
        state["start"] = time.perf_counter()
    if state["count"] >= n:
        state["end"] = time.perf_counter()
        done.set()


manager = Manager()
manager.register_event("*", on_event)
manager.connect(host, port)
manager.login("bench", "bench")
finished = done.wait(limit)
end = state["end"] or time.perf_counter()
note = "" if finished else "time limit reached"
print(json.dumps({"events": state["count"], "seconds": end - (state["start"] or end), "note": note}),
      flush=True)
os._exit(0)  # its reader threads are not daemons and block on the socket
