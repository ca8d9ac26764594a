"""bench.ami peer: panoramisk (asyncio), counting events a '*' handler gets."""

import asyncio
import json
import sys
import time

from panoramisk import Manager

host, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stall = float(sys.argv[5]) if len(sys.argv) > 5 else limit
state = {"count": 0, "start": None, "end": None, "cpu": None, "cpu_end": None}
#: (event name, Uniqueid) of every event handled: read by each handler, as a consumer would.
seen: set = set()


async def main():
    done = asyncio.Event()
    manager = Manager(host=host, port=port, username="bench", secret="bench", ping_delay=3600)

    def on_event(manager, message):
        # Equal work in every reader: the event name and the Uniqueid header.
        seen.add((message.event, message.get("Uniqueid")))
        state["count"] += 1
        if state["start"] is None:
            state["start"] = time.perf_counter()
            state["cpu"] = time.process_time()
        if state["count"] >= n:
            state["end"] = time.perf_counter()
            state["cpu_end"] = time.process_time()
            done.set()

    manager.register_event("*", on_event)
    await manager.connect()
    note = ""
    began = time.monotonic()
    last_count, last_change = -1, began
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), 0.25)
        except TimeoutError:
            pass
        now = time.monotonic()
        if done.is_set():
            break
        if now - began >= limit:
            note = "time limit reached"
            break
        if state["count"] != last_count:
            last_count, last_change = state["count"], now
        elif state["start"] is not None and now - last_change >= stall:
            note = f"stalled: no event for {stall:.0f}s"
            break
    end = state["end"] or time.perf_counter()
    cpu_end = state["cpu_end"] or time.process_time()
    print(json.dumps({"events": state["count"], "seconds": end - (state["start"] or end),
                      "cpu_seconds": cpu_end - (state["cpu"] or cpu_end), "note": note}))
    manager.close()


asyncio.run(main())
