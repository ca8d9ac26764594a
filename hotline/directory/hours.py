# -*- test-case-name: tests.directory.test_directory -*-
"""Service hours of a municipal hotline: ``24/7`` or ``mon-fri 08:30-12:00 14:00-17:30; sat 09:00-12:00``.

Times are the site's local time; ``is_open`` takes an aware datetime and converts it.
A range may pass midnight (``22:00-06:00`` on ``mon`` is open Monday night into Tuesday).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hotline.directory.exceptions import InvalidServiceHours

__all__ = ["ServiceHours", "parse_hours", "ALWAYS"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FORM = "write '24/7' or e.g. 'mon-fri 08:30-17:30; sat 09:00-12:00'"


@dataclass(frozen=True)
class ServiceHours:
    """Opening times per weekday (0 = Monday) as minute ranges; ``always`` for 24/7."""

    text: str
    always: bool
    #: weekday → tuple of (start_minute, end_minute); end may be ≤ start when crossing midnight.
    ranges: tuple[tuple[tuple[int, int], ...], ...] = ((),) * 7

    def is_open(self, at: dt.datetime, zone: dt.tzinfo) -> bool:
        """Whether the line answers at ``at`` (aware) in the site's zone ``zone``."""
        if self.always:
            return True
        local = at.astimezone(zone)
        return self.is_open_local(local.weekday(), local.hour * 60 + local.minute)

    def is_open_local(self, today: int, minute: int) -> bool:
        """Whether the line answers on local weekday ``today`` (0 = Monday) at ``minute``
        after local midnight; the search converts the time once, not once per entry."""
        if self.always:
            return True
        yesterday = (today - 1) % 7
        for start, end in self.ranges[today]:
            if (start < end and start <= minute < end) or (end <= start and minute >= start):
                return True
        for start, end in self.ranges[yesterday]:
            if end <= start and minute < end:
                return True
        return False


ALWAYS = ServiceHours("24/7", True)


def _minute(text: str) -> int:
    hh, _, mm = text.partition(":")
    if not (hh.isdigit() and mm.isdigit() and len(mm) == 2):
        raise ValueError(text)
    h, m = int(hh), int(mm)
    if h == 24 and m == 0:
        return 24 * 60
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(text)
    return h * 60 + m


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidServiceHours(f"unknown day {part.strip()!r} (use mon..sun); {_FORM}")
        a = DAYS.index(first)
        b = DAYS.index(last) if last else a
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        days.extend(span)
    return days


def parse_hours(text: str) -> ServiceHours:
    """Read a service-hours text. Raises InvalidServiceHours saying what is wrong."""
    cleaned = " ".join((text or "").strip().lower().split())
    if cleaned in ("24/7", "24h", "always", "全天"):
        return ServiceHours("24/7", True)
    if not cleaned:
        raise InvalidServiceHours(f"service hours are empty; {_FORM}")
    ranges: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for clause in cleaned.split(";"):
        words = clause.split()
        if len(words) < 2:
            raise InvalidServiceHours(f"{clause.strip()!r} needs days and times; {_FORM}")
        days = _days(words[0])
        for span in words[1:]:
            start_text, sep, end_text = span.partition("-")
            try:
                if not sep:
                    raise ValueError(span)
                start, end = _minute(start_text), _minute(end_text)
            except ValueError:
                raise InvalidServiceHours(f"{span!r} is not a time range like 08:30-17:30; "
                                          f"{_FORM}") from None
            if start == end:
                raise InvalidServiceHours(f"{span!r} is an empty range; {_FORM}")
            for day in days:
                ranges[day].append((start, end % (24 * 60) if end == 24 * 60 else end))
    return ServiceHours(cleaned, False, tuple(tuple(r) for r in ranges))
