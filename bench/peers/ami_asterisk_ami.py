"""bench.ami peer: asterisk-ami (threaded reader), counting events its listener gets."""

import json
import sys
import threading
import time

from asterisk.ami import AMIClient

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
state = {"count": 0, "start": None, "end": None}
done = threading.Event()


def on_event(event, source):
    state["count"] += 1
    if state["start"] is None:
        state["start"] = time.perf_counter()
    if state["count"] >= n:
        state["end"] = time.perf_counter()
        done.set()


client = AMIClient(address=host, port=port, timeout=limit)
client.add_event_listener(on_event)
client.login(username="bench", secret="bench")
finished = done.wait(limit)
end = state["end"] or time.perf_counter()
note = "" if finished else "time limit reached"
print(json.dumps({"events": state["count"], "seconds": end - (state["start"] or end), "note": note}))
