"""The site's working-day exceptions on SQLite and PostgreSQL: added, changed, listed with
where each day's answer comes from, removed; deadlines computed after count them."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.tickets import calendar
from hotline.tickets.clock import add_working_days
from hotline.tickets.exceptions import InvalidRequest
from hotline.tickets.service import TicketService


def test_exceptions_are_kept_listed_and_removed(session):
    """A local holiday and a worked Saturday are listed as the site's, the days around them as
    national; adding a day again changes it; removing one restores the national answer."""
    calendar.add_day(session, dt.date(2024, 11, 19), workday=False, note="区运动会", actor="boss")
    calendar.add_day(session, dt.date(2024, 11, 23), workday=True, note=None, actor="boss")
    days = {d.day.isoformat(): d for d in calendar.list_days(
        session, dt.date(2024, 11, 18), dt.date(2024, 11, 24))}
    assert (days["2024-11-19"].workday, days["2024-11-19"].source,
            days["2024-11-19"].note) == (False, "site", "区运动会")
    assert (days["2024-11-23"].workday, days["2024-11-23"].source) == (True, "site")
    assert (days["2024-11-18"].workday, days["2024-11-18"].source) == (True, "national")
    assert [d.day for d in calendar.list_days(session, dt.date(2024, 11, 1),
                                              dt.date(2024, 11, 30), exceptions_only=True)] \
        == [dt.date(2024, 11, 19), dt.date(2024, 11, 23)]
    calendar.add_day(session, dt.date(2024, 11, 19), workday=True, note="改期", actor="boss")
    assert calendar.load_calendar(session).is_workday(dt.date(2024, 11, 19)) is True
    assert calendar.remove_day(session, dt.date(2024, 11, 23)) is True
    assert calendar.remove_day(session, dt.date(2024, 11, 23)) is False
    assert calendar.load_calendar(session).source(dt.date(2024, 11, 23)) == "national"


def test_deadlines_count_the_sites_days(session):
    """The ticket service reads the exceptions: a local holiday pushes a deadline a day."""
    service = TicketService()
    start = dt.datetime(2024, 11, 18, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 local
    before = add_working_days(start, 2, service.calendar(session), service.zone)
    calendar.add_day(session, dt.date(2024, 11, 19), workday=False, note=None, actor="boss")
    after = add_working_days(start, 2, service.calendar(session), service.zone)
    assert after - before == dt.timedelta(days=1)


def test_bad_days_and_ranges_are_refused(session):
    """A date that is not one, a range backwards or over a year: a clear error."""
    with pytest.raises(InvalidRequest):
        calendar.parse_day("2024-02-30")
    with pytest.raises(InvalidRequest):
        calendar.list_days(session, dt.date(2024, 2, 1), dt.date(2024, 1, 1))
    with pytest.raises(InvalidRequest):
        calendar.list_days(session, dt.date(2024, 1, 1), dt.date(2025, 6, 1))
