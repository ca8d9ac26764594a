"""Tests for L{hotline.reports.periods}: site-local days to UTC bounds, bad input refused."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.reports.exceptions import BadPeriod
from hotline.reports.periods import MAX_DAYS, day_period, period


def test_bounds_are_site_local_days_in_utc() -> None:
    """A Shanghai week starts at 16:00 UTC the day before and ends, excluded, a week later."""
    p = period("2026-11-02", "2026-11-08", "Asia/Shanghai")
    assert p.start == dt.datetime(2026, 11, 1, 16, tzinfo=dt.UTC)
    assert p.end == dt.datetime(2026, 11, 8, 16, tzinfo=dt.UTC)
    assert (p.days, p.label) == (7, "2026-11-02 – 2026-11-08")
    assert day_period("2026-11-02", "UTC").label == "2026-11-02"


@pytest.mark.parametrize("first, last, zone, why", [
    ("2026-11-2x", "2026-11-08", "UTC", "is not a date"),
    ("2026-11-08", "2026-11-01", "UTC", "before it starts"),
    ("2000-01-01", "2026-01-01", "UTC", f"at most {MAX_DAYS}"),
    ("2026-11-01", "2026-11-08", "Mars/Olympus", "unknown time zone"),
])
def test_bad_periods_refused(first: str, last: str, zone: str, why: str) -> None:
    """Malformed dates, a reversed or too long period and an unknown zone are refused."""
    with pytest.raises(BadPeriod, match=why):
        period(first, last, zone)
