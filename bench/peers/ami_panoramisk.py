"""bench.ami peer: panoramisk (asyncio), counting events a '*' handler gets."""

import asyncio
import json
import sys
import time

from panoramisk import Manager

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
state = {"count": 0, "start": None, "end": None}


async def main():
    done = asyncio.Event()
    manager = Manager(host=host, port=port, username="bench", secret="bench", ping_delay=3600)

    def on_event(manager, message):
        state["count"] += 1
        if state["start"] is None:
            state["start"] = time.perf_counter()
        if state["count"] >= n:
            state["end"] = time.perf_counter()
            done.set()

    manager.register_event("*", on_event)
    await manager.connect()
    try:
        await asyncio.wait_for(done.wait(), limit)
        note = ""
    except TimeoutError:
        note = "time limit reached"
    end = state["end"] or time.perf_counter()
    print(json.dumps({"events": state["count"], "seconds": end - (state["start"] or end),
                      "note": note}))
    manager.close()


asyncio.run(main())
