"""Tests for L{hotline.indices.aggregate} and L{hotline.indices.queries}: the daily aggregate,
kept up day by day, gives the same indices as recomputing from the raw rows (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import IndexDay, IndexFold, SurveyResult, Ticket, TicketEvent
from hotline.indices.aggregate import SETTLE, catch_up, day_bounds, fold_day
from hotline.indices.exceptions import BadIndexQuery
from hotline.indices.formulas import indices_of
from hotline.indices.history import Spike, generate_history
from hotline.indices.queries import index_table, trend
from tests.indices.seed import POPULATION, TZ, recompute, small_district

FIRST = dt.date(2026, 9, 1)
DAYS = 30
LAST = FIRST + dt.timedelta(days=DAYS - 1)
NOW = dt.datetime(2026, 10, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 on 1 October, site time


@pytest.fixture
def district(session: Session) -> Session:
    small_district(session)
    generate_history(session, first_day=FIRST, days=DAYS, per_day=40, timezone=TZ, now=NOW,
                     citizens=150)
    return session


def _table(session: Session, by: str, first: dt.date, last: dt.date) -> dict[str, dict]:
    return {r.code: {k: r.counts[k] for k in r.counts} for r in
            index_table(session, by, first, last)}


@pytest.mark.parametrize("by", ["street", "community", "grid", "department", "category"])
def test_indices_equal_recomputation_from_raw_rows(district: Session, by: str) -> None:
    """Every dimension's counters over a month and over one week, read from the aggregate
    built day by day, equal those recomputed from every ticket, event and survey."""
    folded = catch_up(district, NOW.date(), timezone=TZ)
    assert [f.day for f in folded][0] == FIRST
    for first, last in ((FIRST, LAST), (dt.date(2026, 9, 7), dt.date(2026, 9, 13))):
        assert _table(district, by, first, last) == recompute(district, first, last, by)


def _rows_before(session: Session, day: dt.date) -> set[tuple]:
    return {(r.day, r.grid_id, r.department_id, r.category, r.demands, r.finished)
            for r in session.scalars(select(IndexDay).where(IndexDay.day < day))}


def test_a_new_day_updates_only_its_own_rows(district: Session) -> None:
    """Folding again after a new day's tickets folds the new day only (the last folded day had
    settled when it was folded: folded after its end, nothing dated in it arrived since),
    leaves earlier days' rows as they were, and the indices still equal recomputation."""
    catch_up(district, LAST, timezone=TZ)
    before = _rows_before(district, LAST + dt.timedelta(days=1))
    generate_history(district, first_day=LAST + dt.timedelta(days=1), days=1, per_day=40,
                     timezone=TZ, now=NOW + dt.timedelta(days=1), seed=7, citizens=150)
    folded = catch_up(district, LAST + dt.timedelta(days=1), timezone=TZ)
    assert [f.day for f in folded] == [LAST + dt.timedelta(days=1)]
    assert _rows_before(district, LAST + dt.timedelta(days=1)) == before
    end = LAST + dt.timedelta(days=1)
    assert _table(district, "grid", FIRST, end) == recompute(district, FIRST, end, "grid")
    assert district.scalar(select(IndexFold.events).where(IndexFold.day == end)) > 0


def test_a_day_folded_before_it_settled_is_folded_again(district: Session) -> None:
    """A day last folded before its end (plus the settling margin) may have had events since:
    the next catch-up folds it again, with the days after it."""
    catch_up(district, LAST, timezone=TZ)
    end = day_bounds(LAST, TZ)[1]
    district.get(IndexFold, LAST).folded_at = end + SETTLE - dt.timedelta(seconds=1)
    folded = catch_up(district, LAST + dt.timedelta(days=1), timezone=TZ)
    assert [f.day for f in folded] == [LAST, LAST + dt.timedelta(days=1)]
    assert district.get(IndexFold, LAST).folded_at > end + SETTLE


def test_rows_dated_in_a_settled_day_are_folded_when_they_arrive(district: Session) -> None:
    """A reply and a rating dated in a settled day, written after it was folded (a site
    writing what it could not write at the time), make the next catch-up fold that day again
    and no other settled day; the indices equal recomputation. Then nothing is left to fold."""
    catch_up(district, LAST, timezone=TZ)
    late_day = FIRST + dt.timedelta(days=10)
    before = _rows_before(district, late_day)
    at = day_bounds(late_day, TZ)[0] + dt.timedelta(hours=5)
    ticket = district.scalars(select(Ticket).where(Ticket.created_at < at,
                                                   Ticket.due_at.is_not(None))
                              .order_by(Ticket.id).limit(1)).one()
    district.add_all([TicketEvent(ticket_id=ticket.id, at=at, actor="late", action="reply",
                                  from_status="dispatched", to_status="replied"),
                      SurveyResult(ticket_id=ticket.id, score=5, outcome="rated", at=at)])
    district.flush()
    folded = catch_up(district, LAST, timezone=TZ)
    assert [f.day for f in folded] == [late_day]
    assert _rows_before(district, late_day) == before
    for by in ("grid", "department"):
        assert _table(district, by, FIRST, LAST) == recompute(district, FIRST, LAST, by)
    assert catch_up(district, LAST, timezone=TZ) == []  # nothing new: nothing to fold


def test_refolding_a_day_is_idempotent(district: Session) -> None:
    """Folding the same day twice leaves one set of rows for it, not two."""
    fold_day(district, FIRST, timezone=TZ)
    once = _table(district, "grid", FIRST, FIRST)
    fold_day(district, FIRST, timezone=TZ)
    assert _table(district, "grid", FIRST, FIRST) == once
    assert once == recompute(district, FIRST, FIRST, "grid")


def test_intensity_divides_by_the_areas_residents(district: Session) -> None:
    """A grid's demand intensity is its demands per 1,000 of its residents; a street's divides
    by the residents of all its grids."""
    catch_up(district, NOW.date(), timezone=TZ)
    grids = {r.code: r for r in index_table(district, "grid", FIRST, LAST)}
    g1 = grids["G001"]
    assert g1.population == POPULATION["G001"]
    assert g1.indices.intensity == pytest.approx(g1.counts["demands"] * 1000 / 3000)
    streets = {r.code: r for r in index_table(district, "street", FIRST, LAST)}
    assert streets["S1"].population == 3000 + 4500 + 2500


def test_composite_follows_the_stated_weights() -> None:
    """The composite is 100 × the weighted mean of timeliness, resolution, satisfaction and
    (1 − repeat rate), and re-weights over the parts that exist."""
    full = indices_of({"demands": 10, "repeats": 2, "finished": 4, "on_time": 3, "closed": 9,
                       "reopened": 1, "surveyed": 5, "satisfied": 4}, 1000)
    assert full.composite == pytest.approx(100 * (0.3 * 0.75 + 0.25 * 0.9 + 0.3 * 0.8
                                                  + 0.15 * 0.8))
    partial = indices_of({"demands": 0, "repeats": 0, "finished": 2, "on_time": 1, "closed": 0,
                          "reopened": 0, "surveyed": 0, "satisfied": 0}, None)
    assert partial.composite == pytest.approx(50.0)
    assert partial.intensity is None and partial.satisfaction is None


def test_trend_by_week_sums_its_days(district: Session) -> None:
    """A weekly trend's demands are the sums of the daily trend's days of that week."""
    catch_up(district, NOW.date(), timezone=TZ)
    daily = trend(district, FIRST, LAST, step="day")
    weekly = trend(district, FIRST, LAST, step="week")
    assert sum(p.counts["demands"] for p in weekly) == sum(p.counts["demands"] for p in daily)
    monday = weekly[1].start
    assert weekly[1].counts["demands"] == sum(
        p.counts["demands"] for p in daily if monday <= p.start < monday + dt.timedelta(days=7))


def test_bad_queries_are_refused(district: Session) -> None:
    """An unknown dimension, a reversed period or an unknown grid is a BadIndexQuery."""
    with pytest.raises(BadIndexQuery):
        index_table(district, "planet", FIRST, LAST)
    with pytest.raises(BadIndexQuery):
        index_table(district, "grid", LAST, FIRST)
    with pytest.raises(BadIndexQuery):
        trend(district, FIRST, LAST, grid="G999")


def test_spike_lands_in_its_cell(district: Session) -> None:
    """Sample history with a spike puts the extra tickets in that grid and category."""
    day = LAST + dt.timedelta(days=1)
    generate_history(district, first_day=day, days=1, per_day=0, timezone=TZ,
                     now=NOW + dt.timedelta(days=2), spikes=[Spike(day, "G003", "供水", 9)])
    catch_up(district, day, timezone=TZ)
    rows = {r.code: r.counts["demands"] for r in index_table(district, "grid", day, day)
            if r.counts["demands"]}
    assert rows == {"G003": 9}
