"""bench.ami peer: our AMIClient on the real Twisted reactor, counting events a subscriber gets.

Arguments: host port events limit [stall]. Prints one JSON line: events, seconds (wall clock
from the first event to the last), cpu_seconds (this process's CPU time over the same span) and
reader ("compiled", or "python" when the Python twins of hotline/ami/_speedups.c did the work).
"""

import json
import sys
import time

from twisted.internet import reactor
from twisted.internet.task import LoopingCall

from hotline.ami import protocol
from hotline.ami.client import AMIClient

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stall = float(sys.argv[5]) if len(sys.argv) > 5 else limit
state = {"count": 0, "start": None, "cpu": None, "end": None, "cpu_end": None, "note": "",
         "seen": 0}
#: (event name, Uniqueid) of every event handled: read by each handler, as a consumer would.
seen_events: set = set()
client = AMIClient(host=host, port=port, username="bench", secret="bench", reactor=reactor,
                   keepalive_interval=None)


@client.subscribe("*")
def count(message):
    # Equal work in every reader: the event name and the Uniqueid header.
    seen_events.add((message.name, message.get("Uniqueid")))
    state["count"] += 1
    if state["start"] is None:
        state["start"] = time.perf_counter()
        state["cpu"] = time.process_time()
    if state["count"] >= n:
        state["end"] = time.perf_counter()
        state["cpu_end"] = time.process_time()
        reactor.stop()


def give_up(note):
    state["end"] = time.perf_counter()
    state["cpu_end"] = time.process_time()
    state["note"] = note
    reactor.stop()


def watch():
    if state["start"] is not None and state["count"] == state["seen"]:
        give_up(f"stalled: no event for {stall:.0f}s")
    state["seen"] = state["count"]


reactor.callLater(limit, give_up, "time limit reached")
LoopingCall(watch).start(stall, now=False)
client.start()
reactor.run()
start, cpu = state["start"] or state["end"], state["cpu"] or state["cpu_end"]
# Which framing ran: the compiled steps, or their Python twins (not built, or ami_ours_twins.py).
reader = "python" if protocol._frame_messages is protocol.frame_messages else "compiled"
print(json.dumps({"events": state["count"], "seconds": state["end"] - start,
                  "cpu_seconds": state["cpu_end"] - cpu, "note": state["note"], "reader": reader}))
