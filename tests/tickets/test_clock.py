"""The statutory clock without a database: working days across holidays and adjusted working
days (dates chinesecalendar knows), the fallback for unknown years, deadlines and lights."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from hotline.tickets.clock import (
    DeadlineRules,
    Light,
    WorkCalendar,
    add_working_days,
    dispatch_clock,
    extended_clock,
    light,
    start_clock,
    working_seconds,
)

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
RULES = DeadlineRules(
    working_days={"consultation": 2, "complaint": 20, "default": 20},
    reopen_working_days={"consultation": 1, "complaint": 10, "default": 10},
    first_contact_kinds=frozenset({"complaint", "help"}), first_contact_hours=24,
    dispatch_working_days=1, warn_fraction=0.75)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZONE)


def test_two_working_days_from_a_monday_end_on_wednesday():
    """Two working days from Monday 10:00 in an ordinary week end on Wednesday 10:00."""
    start = local(2024, 11, 18, 10, 0)
    assert add_working_days(start, 2, WorkCalendar(), ZONE) == local(2024, 11, 20, 10, 0)


def test_the_clock_stops_over_a_weekend():
    """Started on a Saturday, two working days end at the end of Tuesday."""
    start = local(2024, 11, 16, 10, 0)
    assert add_working_days(start, 2, WorkCalendar(), ZONE) == local(2024, 11, 20, 0, 0)


def test_across_a_public_holiday():
    """National Day 2024 (1-7 October off): two working days from Monday 30 September 10:00
    run 30 September and 8 October, ending on 9 October 10:00, not on 2 October."""
    start = local(2024, 9, 30, 10, 0)
    assert add_working_days(start, 2, WorkCalendar(), ZONE) == local(2024, 10, 9, 10, 0)


def test_across_an_adjusted_working_day():
    """Saturday 12 October 2024 was worked (调休): two working days from Friday 11 October 10:00
    end on Monday 14 October 10:00, a day earlier than Monday-Friday would count."""
    start = local(2024, 10, 11, 10, 0)
    calendar = WorkCalendar()
    assert calendar.is_workday(dt.date(2024, 10, 12)) is True
    assert add_working_days(start, 2, calendar, ZONE) == local(2024, 10, 14, 10, 0)
    assert calendar.is_workday(dt.date(2024, 9, 29)) is True  # Sunday, worked before the holiday


def test_site_exceptions_win_over_the_national_calendar():
    """A local holiday on a Tuesday and a worked Sunday move the deadline accordingly."""
    start = local(2024, 11, 18, 10, 0)  # Monday
    calendar = WorkCalendar({dt.date(2024, 11, 19): False})
    assert add_working_days(start, 2, calendar, ZONE) == local(2024, 11, 21, 10, 0)
    worked_sunday = WorkCalendar({dt.date(2024, 11, 17): True})
    saturday = local(2024, 11, 16, 12, 0)
    assert add_working_days(saturday, 1, worked_sunday, ZONE) == local(2024, 11, 18, 0, 0)
    assert worked_sunday.source(dt.date(2024, 11, 17)) == "site"


def test_a_year_without_data_falls_back_to_monday_to_friday_and_says_so():
    """A year the package does not know counts Monday-Friday and reports the fallback once."""
    years: list[int] = []
    calendar = WorkCalendar(on_fallback=years.append)
    start = local(2040, 1, 6, 10, 0)  # a Friday
    assert add_working_days(start, 2, calendar, ZONE) == local(2040, 1, 10, 10, 0)
    assert calendar.is_workday(dt.date(2040, 1, 7)) is False  # Saturday
    assert years == [2040]
    assert calendar.source(dt.date(2040, 1, 9)) == "fallback"


def test_working_seconds_matches_the_deadline():
    """The working time between a start and its deadline is exactly the days asked for."""
    calendar = WorkCalendar()
    start = local(2024, 9, 27, 15, 30)
    due = add_working_days(start, 3, calendar, ZONE)
    assert working_seconds(start, due, calendar, ZONE) == pytest.approx(3 * 86400)


def test_consultation_and_complaint_deadlines_follow_two_twenty():
    """A consultation gets 2 working days, a complaint 20 and a 24 h first-contact clock."""
    calendar = WorkCalendar()
    start = local(2024, 11, 18, 10, 0)
    consultation = start_clock("consultation", start, RULES, calendar, ZONE)
    complaint = start_clock("complaint", start, RULES, calendar, ZONE)
    assert consultation.due_at == local(2024, 11, 20, 10, 0)
    assert consultation.first_contact_due_at is None
    assert complaint.due_at == add_working_days(start, 20, calendar, ZONE)
    assert complaint.first_contact_due_at == local(2024, 11, 19, 10, 0)
    # The warning instant: 75 % of the working time.
    assert consultation.warn_at == local(2024, 11, 19, 22, 0)


def test_reopened_deadline_is_shorter():
    """A reopened ticket's clock is shorter than its first one and has no first contact."""
    calendar = WorkCalendar()
    start = local(2024, 11, 18, 10, 0)
    first = start_clock("complaint", start, RULES, calendar, ZONE)
    again = start_clock("complaint", start, RULES, calendar, ZONE, reopened=True)
    assert again.due_at < first.due_at and again.first_contact_due_at is None


def test_extension_moves_the_deadline_by_working_days():
    """An approved extension of 2 days counts from the deadline in force, skipping rest days."""
    calendar = WorkCalendar()
    clock = dispatch_clock(local(2024, 11, 21, 10, 0), RULES, calendar, ZONE)  # due Fri 10:00
    assert clock.due_at == local(2024, 11, 22, 10, 0)
    longer = extended_clock(clock, 2, RULES, calendar, ZONE)
    assert longer.due_at == local(2024, 11, 26, 10, 0)
    assert longer.started_at == clock.started_at and longer.warn_at > clock.warn_at


def test_lights_green_yellow_red():
    """Green before 75 % of the working time is used, yellow after, red once overdue."""
    calendar = WorkCalendar()
    start = local(2024, 11, 18, 10, 0)
    due = local(2024, 11, 20, 10, 0)

    def at(*args: int) -> Light:
        return light(start, due, local(*args), calendar, ZONE)
    assert at(2024, 11, 19, 9, 0) == Light.GREEN
    assert at(2024, 11, 19, 22, 0) == Light.YELLOW
    assert at(2024, 11, 20, 10, 0) == Light.RED
    assert light(None, None, local(2024, 11, 20), calendar, ZONE) == Light.GREEN


def test_weekend_time_does_not_turn_the_light():
    """Working time only: a ticket dispatched on Friday evening is still green on Sunday."""
    calendar = WorkCalendar()
    start = local(2024, 11, 15, 18, 0)
    due = add_working_days(start, 2, calendar, ZONE)
    assert light(start, due, local(2024, 11, 17, 23, 0), calendar, ZONE) == Light.GREEN


def test_first_contact_clock_counts_in_real_hours():
    """A complaint not contacted within 24 h is red even when its main deadline is far."""
    calendar = WorkCalendar()
    clock = start_clock("complaint", local(2024, 11, 18, 10, 0), RULES, calendar, ZONE)
    late = local(2024, 11, 19, 11, 0)
    assert light(clock.started_at, clock.due_at, late, calendar, ZONE,
                 first_contact_due_at=clock.first_contact_due_at) == Light.RED
    assert light(clock.started_at, clock.due_at, late, calendar, ZONE,
                 first_contact_due_at=clock.first_contact_due_at,
                 first_contacted_at=local(2024, 11, 18, 15, 0)) == Light.GREEN
    assert light(clock.started_at, clock.due_at, local(2024, 11, 19, 5, 0), calendar, ZONE,
                 first_contact_due_at=clock.first_contact_due_at) == Light.YELLOW


def test_settings_that_make_no_sense_are_named():
    """A reopen deadline longer than the first one or a warning share of 1 is refused."""
    from hotline.config import loads

    settings = dict(loads("")["tickets"])
    settings["warn_fraction"] = 1.0
    settings["reopen_days"] = dict(settings["reopen_days"], consultation=5.0)
    with pytest.raises(ValueError) as caught:
        DeadlineRules.from_settings(settings)
    assert "warn_fraction" in str(caught.value) and "reopen_days.consultation" in \
        str(caught.value)
