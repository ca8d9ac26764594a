# -*- test-case-name: tests.tickets.test_calendar -*-
"""The site's own working-day exceptions (a local holiday, a day worked anyway) over China's
calendar: stored in ``work_calendar_day``, read by every deadline the ticket service computes.

Units of work that take the caller's session; the command line (``hotline calendar``) and the
JSON API share them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import WorkCalendarDay, utcnow
from hotline.tickets.clock import WorkCalendar
from hotline.tickets.exceptions import InvalidRequest

__all__ = ["CalendarDay", "load_calendar", "add_day", "remove_day", "list_days", "parse_day"]


@dataclass(frozen=True)
class CalendarDay:
    """One day as the calendar counts it, and why."""

    day: dt.date
    workday: bool
    #: site (an exception of this site), national (chinesecalendar), fallback (Mon-Fri).
    source: str
    note: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"day": self.day.isoformat(), "workday": self.workday, "source": self.source,
                "note": self.note}


def parse_day(text: str) -> dt.date:
    """A YYYY-MM-DD date; InvalidRequest otherwise."""
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise InvalidRequest({"day": f"{text!r} is not a date (YYYY-MM-DD)"}) from None


def load_calendar(session: Session) -> WorkCalendar:
    """China's calendar with this site's exceptions as stored now."""
    rows = session.execute(select(WorkCalendarDay.day, WorkCalendarDay.workday)).all()
    return WorkCalendar({dt.date.fromisoformat(day): bool(work) for day, work in rows})


def add_day(session: Session, day: dt.date, *, workday: bool, note: str | None,
            actor: str) -> CalendarDay:
    """Record (or change) a site exception for ``day``. Deadlines already set keep their time;
    those computed from now on count the day as given."""
    if note is not None and len(note) > 200:
        raise InvalidRequest({"note": "at most 200 characters"})
    row = session.get(WorkCalendarDay, day.isoformat())
    if row is None:
        row = WorkCalendarDay(day=day.isoformat(), workday=workday, note=note,
                              created_by=actor[:50], created_at=utcnow())
        session.add(row)
    else:
        row.workday, row.note, row.created_by = workday, note, actor[:50]
    session.flush()
    return CalendarDay(day, workday, "site", note)


def remove_day(session: Session, day: dt.date) -> bool:
    """Drop the site's exception for ``day`` (China's calendar applies again); whether there
    was one."""
    row = session.get(WorkCalendarDay, day.isoformat())
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def list_days(session: Session, first: dt.date, last: dt.date, *,
              exceptions_only: bool = False) -> list[CalendarDay]:
    """Each day from ``first`` to ``last`` with whether it is worked and why (at most a year)."""
    if last < first:
        raise InvalidRequest({"to": "is before from"})
    if (last - first).days > 366:
        raise InvalidRequest({"to": "list at most a year at a time"})
    notes = dict(session.execute(select(WorkCalendarDay.day, WorkCalendarDay.note)).all())
    calendar = load_calendar(session)
    out = []
    day = first
    while day <= last:
        source = calendar.source(day)
        if not exceptions_only or source == "site":
            out.append(CalendarDay(day, calendar.is_workday(day), source,
                                   notes.get(day.isoformat())))
        day += dt.timedelta(days=1)
    return out
