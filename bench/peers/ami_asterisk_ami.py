"""bench.ami peer: asterisk-ami (threaded reader), counting events its listener gets."""

import json
import os
import sys
import threading
import time

from asterisk.ami import AMIClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _waiting import wait_for_events  # noqa: E402

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stall = float(sys.argv[5]) if len(sys.argv) > 5 else limit
state = {"count": 0, "start": None, "end": None, "cpu": None, "cpu_end": None}
#: (event name, Uniqueid) of every event handled: read by each handler, as a consumer would.
seen: set = set()
done = threading.Event()


def on_event(event, source):
    # Equal work in every reader: the event name and the Uniqueid header.
    seen.add((event.name, event.keys.get("Uniqueid")))
    state["count"] += 1
    if state["start"] is None:
        state["start"] = time.perf_counter()
        state["cpu"] = time.process_time()
    if state["count"] >= n:
        state["end"] = time.perf_counter()
        state["cpu_end"] = time.process_time()
        done.set()


client = AMIClient(address=host, port=port, timeout=limit)
client.add_event_listener(on_event)
client.login(username="bench", secret="bench")
note = wait_for_events(done, state, limit, stall)
end = state["end"] or time.perf_counter()
cpu_end = state["cpu_end"] or time.process_time()
print(json.dumps({"events": state["count"], "seconds": end - (state["start"] or end),
                  "cpu_seconds": cpu_end - (state["cpu"] or cpu_end), "note": note}))
