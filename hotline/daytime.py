# -*- test-case-name: tests.scheduler.test_policy -*-
"""Times of day and daily windows as a site writes them (``07:30``, ``21:00-08:00``).

One parser for the scheduler's quiet hours and for ``hotline config check``: the check refuses
exactly what the scheduler would. Imports nothing of the project, so anything may use it.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["BadTime", "time_of_day", "daily_window"]

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class BadTime(ValueError):
    """Text that is not a time of day or a window; the message says which and why."""


def time_of_day(text: str, what: str) -> dt.time:
    """``"07:30"`` or ``"07:30:15"`` as a time; raises BadTime naming ``what``."""
    m = _CLOCK.match(text.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise BadTime(f"{what}: {text!r} is not a time of day (HH:MM or HH:MM:SS)")
    return dt.time(int(m[1]), int(m[2]), int(m[3] or 0))


def daily_window(text: str, what: str) -> tuple[dt.time, dt.time] | None:
    """``"21:00-08:00"`` as (start, end), crossing midnight allowed; None for ``""`` or a
    window that starts where it ends (no window). Raises BadTime."""
    if not text.strip():
        return None
    parts = text.split("-")
    if len(parts) != 2:
        raise BadTime(f"{what} {text!r}: write START-END, e.g. 21:00-08:00")
    start, end = time_of_day(parts[0], f"{what} start"), time_of_day(parts[1], f"{what} end")
    return None if start == end else (start, end)
