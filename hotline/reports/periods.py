# -*- test-case-name: tests.reports.test_periods -*-
"""Report periods: whole site-local days, turned into the UTC bounds the records are stored in."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from hotline.reports.exceptions import BadPeriod

__all__ = ["Period", "parse_day", "period", "day_period", "MAX_DAYS"]

#: Longest period a report covers (ten years): a typo such as 2206 must not scan forever.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Period:
    """The site-local days ``first`` to ``last``, both included, in zone ``timezone``."""

    first: dt.date
    last: dt.date
    timezone: str

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def start(self) -> dt.datetime:
        """Start of the first day, in UTC (included)."""
        return _midnight(self.first, self.zone)

    @property
    def end(self) -> dt.datetime:
        """Start of the day after the last, in UTC (excluded)."""
        return _midnight(self.last + dt.timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} – {self.last.isoformat()}"

    @property
    def zh_label(self) -> str:
        """The period as a Chinese report writes it: 2026年11月2日至2026年11月8日."""
        def day(d: dt.date) -> str:
            return f"{d.year}年{d.month}月{d.day}日"

        if self.first == self.last:
            return day(self.first)
        return f"{day(self.first)}至{day(self.last)}"

    def local(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` (aware) in the site's zone, for display."""
        return moment.astimezone(self.zone)


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.UTC)


def parse_day(text: str | dt.date, field: str = "date") -> dt.date:
    """A day from ``YYYY-MM-DD``; raises BadPeriod naming the field when it is not one."""
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise BadPeriod(f"{field} {text!r} is not a date (write YYYY-MM-DD)",
                        {"field": field, "value": str(text)}) from None


def period(first: str | dt.date, last: str | dt.date, timezone: str) -> Period:
    """The period from ``first`` to ``last`` (both included); raises BadPeriod when a date is
    malformed, the order is wrong, the period is too long, or the zone is unknown."""
    start, end = parse_day(first, "from"), parse_day(last, "to")
    for day, name in ((start, "from"), (end, "to")):
        if not 1900 <= day.year <= 9998:  # the zone's offset would leave the calendar
            raise BadPeriod(f"{name} {day.isoformat()} is outside the years 1900 to 9998",
                            {"field": name, "value": day.isoformat()})
    if end < start:
        raise BadPeriod(f"the period ends ({end}) before it starts ({start})",
                        {"from": start.isoformat(), "to": end.isoformat()})
    if (end - start).days + 1 > MAX_DAYS:
        raise BadPeriod(f"the period has {(end - start).days + 1} days; at most {MAX_DAYS}",
                        {"from": start.isoformat(), "to": end.isoformat()})
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadPeriod(f"unknown time zone {timezone!r}", {"timezone": timezone}) from None
    return Period(start, end, timezone)


def day_period(day: str | dt.date, timezone: str) -> Period:
    """One site-local day."""
    return period(day, day, timezone)
