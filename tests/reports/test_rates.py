"""Tests for L{hotline.reports.rates}: the three rates over a seeded database whose counts are
known by construction, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from hotline.reports.exceptions import UnknownFilterValue
from hotline.reports.rates import rates_report
from tests.reports.seed import WEEK, expected_rates, seed_rates

_KEYS = ("dispatched", "responded", "resolved", "surveyed", "satisfied")


@pytest.fixture
def seeded(session: Session) -> Session:
    seed_rates(session)
    return session


def test_counts_known_by_construction(seeded: Session) -> None:
    """Each department's dispatched, responded-in-time, resolved, surveyed and satisfied counts
    are those the seed was built to give: only the latest dispatch in the period counts, an
    answer before the dispatch is none, a dispatch the week before is out."""
    report = rates_report(seeded, WEEK)
    got = {r.code: {k: getattr(r, k) for k in _KEYS} for r in report.rows}
    assert got == expected_rates()
    want = expected_rates()
    assert report.total.dispatched == sum(c["dispatched"] for c in want.values())
    d1 = next(r for r in report.rows if r.code == "D1")
    assert d1.response_rate == pytest.approx(want["D1"]["responded"] / want["D1"]["dispatched"])
    assert d1.satisfaction_rate == pytest.approx(want["D1"]["satisfied"] / want["D1"]["surveyed"])


def test_threshold_and_department_filter(seeded: Session) -> None:
    """A stricter satisfaction threshold counts only fives; one department can be asked for."""
    report = rates_report(seeded, WEEK, department="D2", satisfied_min_score=5)
    assert [r.code for r in report.rows] == ["D2"]
    # Scores cycle 5, 4, 3, 1, none over j; D2 has j = 1, 4, 7, ...: count the fives.
    fives = sum(1 for j in range(1, 60, 3) if j % 5 == 0)
    assert report.rows[0].satisfied == fives
    assert "5 分及以上" in dict(report.definitions)["满意率"]


def test_bad_input_refused(seeded: Session) -> None:
    """An unknown department or a threshold outside 1-5 is refused."""
    with pytest.raises(UnknownFilterValue):
        rates_report(seeded, WEEK, department="NOPE")
    with pytest.raises(UnknownFilterValue):
        rates_report(seeded, WEEK, satisfied_min_score=9)
