# -*- test-case-name: tests.tickets.test_clock -*-
"""The statutory clock of a ticket: working days, deadlines and the green/yellow/red light.

This module is the one owner of the deadline rule. Lists, reports, the scheduler's reminders and
the timeliness indices all ask it and never count days themselves. It is pure: no database, no
clock of its own (``now`` comes in as an argument), so every rule is checked by unit tests.

Working days come from the ``chinesecalendar`` package (China's public holidays and the adjusted
working days, 调休) with a site's own exceptions on top (``hotline calendar add``). A year the
package has no data for falls back to Monday–Friday, logged once per year, never a crash.

Time is counted in *working time*: the whole of a working day (site-local midnight to midnight)
counts, a rest day counts nothing. "Two working days" from Monday 10:00 ends on Wednesday 10:00;
from Saturday 10:00 it ends at the end of Tuesday. The first contact with the citizen (24 h for
complaints and requests for help) runs in real hours.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hotline.config import check_ticket_settings

__all__ = ["Light", "LIGHT_LABELS", "DeadlineRules", "WorkCalendar", "Clock", "start_clock",
           "dispatch_clock", "extended_clock", "add_working_seconds", "working_seconds",
           "add_working_days", "light"]

_DAY_S = 86_400.0
#: How far a deadline may be counted before the calendar is judged to have no working days.
_MAX_DAYS = 3_660


class Light(enum.StrEnum):
    """How much of its time a ticket has used: what every list shows."""

    GREEN = "green"    # less than the warning share of its time used
    YELLOW = "yellow"  # the warning share (75 % by default) used: the department is reminded
    RED = "red"        # overdue: the ticket is on the supervisor's 督办 list


LIGHT_LABELS: dict[str, str] = {Light.GREEN: "正常", Light.YELLOW: "临期", Light.RED: "超期"}


def _fallback_warning(year: int) -> None:
    from twisted.logger import Logger

    Logger(namespace="hotline.tickets.clock").warn(
        "no holiday calendar for {year}: counting Monday-Friday as working days (update the "
        "chinesecalendar package, or add the year's days with `hotline calendar add`)",
        year=year)


class WorkCalendar:
    """Which days are working days: the site's exceptions, else China's calendar, else Mon–Fri.

    @param exceptions: site-local date → True (a working day) or False (a day off), from the
        ``work_calendar_day`` table; they win over the package.
    @param on_fallback: called once per year the package does not know (default: a log line).
    """

    def __init__(self, exceptions: Mapping[dt.date, bool] | None = None, *,
                 on_fallback: Callable[[int], None] = _fallback_warning) -> None:
        self.exceptions = dict(exceptions or {})
        self.on_fallback = on_fallback
        self._cache: dict[dt.date, bool] = {}
        self._unknown_years: set[int] = set()

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` (site-local) is a working day."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        if day in self.exceptions:
            value = self.exceptions[day]
        else:
            value = self._national(day)
        self._cache[day] = value
        return value

    def source(self, day: dt.date) -> str:
        """Where the answer for ``day`` comes from: ``site``, ``national`` or ``fallback``."""
        if day in self.exceptions:
            return "site"
        return "fallback" if not self.knows(day.year) else "national"

    @staticmethod
    def knows(year: int) -> bool:
        """Whether the holiday package has data for ``year``."""
        first, last = _package_years()
        return first <= year <= last

    def _national(self, day: dt.date) -> bool:
        """The package's answer; for a year it has no data for, Monday to Friday (logged once
        per year). The year is checked against the package's range first because the fallback
        is a decision the site should see in its log, not an error to recover from."""
        if not self.knows(day.year):
            if day.year not in self._unknown_years:
                self._unknown_years.add(day.year)
                self.on_fallback(day.year)
            return day.weekday() < 5
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))


@functools.cache
def _package_years() -> tuple[int, int]:
    """The first and last year the holiday package knows (read once: it does not change)."""
    import chinese_calendar

    return min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year


def _local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


def add_working_seconds(start: dt.datetime, seconds: float, calendar: WorkCalendar,
                        zone: dt.tzinfo) -> dt.datetime:
    """The instant when ``seconds`` of working time have passed after ``start`` (aware UTC).

    Raises ValueError when the calendar has no working day within ten years (a site table that
    marks every day off).
    """
    if seconds < 0:
        raise ValueError("working time to add must not be negative")
    local = start.astimezone(zone)
    day = local.date()
    left = seconds
    for _ in range(_MAX_DAYS):
        begin = _local_midnight(day, zone)
        end = _local_midnight(day + dt.timedelta(days=1), zone)
        if calendar.is_workday(day):
            frm = max(local, begin)
            available = (end - frm).total_seconds()
            if left <= available:
                return (frm + dt.timedelta(seconds=left)).astimezone(dt.UTC)
            left -= available
        day += dt.timedelta(days=1)
    raise ValueError("the calendar has no working day within ten years")


def add_working_days(start: dt.datetime, days: float, calendar: WorkCalendar,
                     zone: dt.tzinfo) -> dt.datetime:
    """``start`` plus ``days`` working days (see the module docstring for how they count)."""
    return add_working_seconds(start, days * _DAY_S, calendar, zone)


def working_seconds(start: dt.datetime, end: dt.datetime, calendar: WorkCalendar,
                    zone: dt.tzinfo) -> float:
    """Working time between two instants (0 when ``end`` is not after ``start``)."""
    if end <= start:
        return 0.0
    a, b = start.astimezone(zone), end.astimezone(zone)
    day = a.date()
    total = 0.0
    while day <= b.date():
        if calendar.is_workday(day):
            begin = max(a, _local_midnight(day, zone))
            finish = min(b, _local_midnight(day + dt.timedelta(days=1), zone))
            if finish > begin:
                total += (finish - begin).total_seconds()
        day += dt.timedelta(days=1)
    return total


@dataclass(frozen=True)
class DeadlineRules:
    """The ``[tickets]`` deadline settings: working days per ticket kind, and the rest.

    The defaults follow Dalian's "2·20" rule: consultations closed within 2 working days, other
    kinds within 20; first contact with the citizen within 24 h for complaints and requests for
    help; the clock starts at dispatch.
    """

    #: Kind → working days to close a dispatched ticket.
    working_days: Mapping[str, float]
    #: Kind → working days after a reopening (不满意重办): shorter than the first time.
    reopen_working_days: Mapping[str, float]
    #: Kinds whose citizen must be contacted within ``first_contact_hours`` of dispatch.
    first_contact_kinds: frozenset[str]
    first_contact_hours: float
    #: Working days the dispatcher has to dispatch a received or returned ticket.
    dispatch_working_days: float
    #: Share of the time used at which the light turns yellow and the department is reminded.
    warn_fraction: float = 0.75

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DeadlineRules:
        """From the ``[tickets]`` section. Raises ValueError naming a setting that makes no
        sense (``hotline.config.check_ticket_settings`` lists them all)."""
        problems: list[str] = []
        check_ticket_settings(settings, problems)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(working_days=dict(settings["deadline_days"]),
                   reopen_working_days=dict(settings["reopen_days"]),
                   first_contact_kinds=frozenset(settings["first_contact_kinds"]),
                   first_contact_hours=float(settings["first_contact_hours"]),
                   dispatch_working_days=float(settings["dispatch_days"]),
                   warn_fraction=float(settings["warn_fraction"]))

    def days(self, kind: str, *, reopened: bool = False) -> float:
        table = self.reopen_working_days if reopened else self.working_days
        return float(table.get(kind, table.get("default", 20)))


@dataclass(frozen=True)
class Clock:
    """One running clock of a ticket: when it started, when it is due, when it turns yellow,
    and (complaints, requests for help) when the citizen must have been contacted."""

    started_at: dt.datetime
    due_at: dt.datetime
    warn_at: dt.datetime
    first_contact_due_at: dt.datetime | None = None


def _clock(start: dt.datetime, due: dt.datetime, rules: DeadlineRules, calendar: WorkCalendar,
           zone: dt.tzinfo, first_contact: dt.datetime | None) -> Clock:
    total = working_seconds(start, due, calendar, zone)
    warn = add_working_seconds(start, total * rules.warn_fraction, calendar, zone)
    return Clock(start.astimezone(dt.UTC), due, warn, first_contact)


def start_clock(kind: str, start: dt.datetime, rules: DeadlineRules, calendar: WorkCalendar,
                zone: dt.tzinfo, *, reopened: bool = False) -> Clock:
    """The department's clock from a dispatch (or a reopening) at ``start``: THE deadline rule."""
    due = add_working_days(start, rules.days(kind, reopened=reopened), calendar, zone)
    first_contact = None
    if kind in rules.first_contact_kinds and not reopened:
        first_contact = (start + dt.timedelta(hours=rules.first_contact_hours)).astimezone(dt.UTC)
    return _clock(start, due, rules, calendar, zone, first_contact)


def dispatch_clock(start: dt.datetime, rules: DeadlineRules, calendar: WorkCalendar,
                   zone: dt.tzinfo) -> Clock:
    """The dispatcher's clock for a ticket received, returned or reopened at ``start``."""
    due = add_working_days(start, rules.dispatch_working_days, calendar, zone)
    return _clock(start, due, rules, calendar, zone, None)


def extended_clock(clock: Clock, days: float, rules: DeadlineRules, calendar: WorkCalendar,
                   zone: dt.tzinfo) -> Clock:
    """The clock after an approved extension of ``days`` working days from its deadline."""
    due = add_working_days(clock.due_at, days, calendar, zone)
    return _clock(clock.started_at, due, rules, calendar, zone, clock.first_contact_due_at)


def light(started_at: dt.datetime | None, due_at: dt.datetime | None, now: dt.datetime,
          calendar: WorkCalendar, zone: dt.tzinfo, *, warn_fraction: float = 0.75,
          warn_at: dt.datetime | None = None,
          first_contact_due_at: dt.datetime | None = None,
          first_contacted_at: dt.datetime | None = None,
          first_contact_hours: float = 24.0) -> Light:
    """The light of a running clock at ``now``; a ticket without a clock is green.

    Red once ``due_at`` has passed; yellow once ``warn_fraction`` of the working time between
    start and due is used: from ``warn_at`` when the clock's is known (``Clock.warn_at``, the
    instant the reminder is sent, so the light and the reminder agree), else counted here. A
    first-contact deadline not yet met counts too (in real hours); the worse light is shown.
    """
    result = Light.GREEN
    if started_at is not None and due_at is not None:
        if now >= due_at:
            return Light.RED
        if warn_at is not None:
            if now >= warn_at:
                result = Light.YELLOW
        else:
            total = working_seconds(started_at, due_at, calendar, zone)
            used = working_seconds(started_at, now, calendar, zone)
            if total <= 0 or used >= total * warn_fraction:
                result = Light.YELLOW
    if first_contact_due_at is not None and first_contacted_at is None:
        if now >= first_contact_due_at:
            return Light.RED
        window = first_contact_hours * 3600.0
        if (first_contact_due_at - now).total_seconds() <= window * (1 - warn_fraction):
            result = Light.YELLOW
    return result


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    """The site's zone by IANA name (``site.timezone``)."""
    return zoneinfo.ZoneInfo(name)


__all__ += ["zone_of"]
