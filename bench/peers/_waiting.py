"""Shared by the threaded bench.ami peers (plain stdlib: it runs in each peer's own venv)."""

import threading
import time


def wait_for_events(done: threading.Event, state: dict, limit: float, stall: float) -> str:
    """Wait for C{done}; give up at the time limit, or after C{stall} seconds without an event.

    @return: C{""} when done, else why not (shown in the bench's table).
    """
    began = time.monotonic()
    last_count, last_change = -1, began
    while not done.wait(0.25):
        now = time.monotonic()
        if now - began >= limit:
            return "time limit reached"
        if state["count"] != last_count:
            last_count, last_change = state["count"], now
        elif state["start"] is not None and now - last_change >= stall:
            return f"stalled: no event for {stall:.0f}s"
    return ""
