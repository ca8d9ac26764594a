"""bench.ami peer: pyst2's asterisk.manager (threaded, line-by-line reader), counting events."""

import json
import os
import sys
import threading
import time

from asterisk.manager import Manager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _waiting import wait_for_events  # noqa: E402

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stall = float(sys.argv[5]) if len(sys.argv) > 5 else limit
state = {"count": 0, "start": None, "end": None, "cpu": None, "cpu_end": None}
#: (event name, Uniqueid) of every event handled: read by each handler, as a consumer would.
seen: set = set()
done = threading.Event()


def on_event(event, manager):
    # Equal work in every reader: the event name and the Uniqueid header.
    seen.add((event.name, event.headers.get("Uniqueid")))
    state["count"] += 1
    if state["start"] is None:
        state["start"] = time.perf_counter()
        state["cpu"] = time.process_time()
    if state["count"] >= n:
        state["end"] = time.perf_counter()
        state["cpu_end"] = time.process_time()
        done.set()


manager = Manager()
manager.register_event("*", on_event)
manager.connect(host, port)
manager.login("bench", "bench")
note = wait_for_events(done, state, limit, stall)
end = state["end"] or time.perf_counter()
cpu_end = state["cpu_end"] or time.process_time()
print(json.dumps({"events": state["count"], "seconds": end - (state["start"] or end),
                  "cpu_seconds": cpu_end - (state["cpu"] or cpu_end), "note": note}),
      flush=True)
os._exit(0)  # its reader threads are not daemons and block on the socket
