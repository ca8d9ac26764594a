"""bench.ami peer: our AMIClient on the real Twisted reactor, counting events a subscriber gets."""

import json
import sys
import time

from twisted.internet import reactor

from hotline.ami.client import AMIClient

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
state = {"count": 0, "start": None, "end": None}
client = AMIClient(host=host, port=port, username="bench", secret="bench", reactor=reactor,
                   keepalive_interval=None)


@client.subscribe("*")
def count(message):
    state["count"] += 1
    if state["start"] is None:
        state["start"] = time.perf_counter()
    if state["count"] >= n:
        state["end"] = time.perf_counter()
        reactor.stop()


def give_up():
    state["end"] = time.perf_counter()
    reactor.stop()


reactor.callLater(limit, give_up)
client.start()
reactor.run()
print(json.dumps({"events": state["count"], "seconds": state["end"] - (state["start"] or 0)}))
