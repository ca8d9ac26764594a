# -*- test-case-name: tests.indices.test_aggregate -*-
"""The daily aggregate behind the dimension indices: one site-local day's events folded into
``index_day`` rows (level-1 grid × department × category), so a page reads a few hundred
aggregate rows instead of every ticket.

What a day's events add (the definitions the pages print live in ``formulas``):

- ``demands``: tickets received that day; ``repeats``: of those, tickets whose citizen had
  already filed one in the same category since the start of the ``REPEAT_WINDOW`` days
  before that day (or earlier the same day);
- ``finished``: replies (办理回复) that day to tickets with a statutory clock; ``on_time``: of
  those, replies by the ticket's deadline (``Ticket.due_at``, the one deadline rule's answer);
- ``closed`` / ``reopened``: follow-ups that closed the ticket / sent it back (不满意重办);
- ``surveyed`` / ``satisfied``: satisfaction ratings that day / with a score ≥ the threshold.

Four cuts are kept, each summed from the same counters when the day is folded so that a page
reads a few rows a day: ``area`` rows (level-1 grid × category: the early warning and 每月一题
read them), ``grid`` rows (one per level-1 grid: the grid, community and street tables and a
grid's trend), ``category`` rows (one per category: the category table and the district's
trend) and ``department`` rows (one per lead department). A ticket counts where it stands when its day is folded (its grid,
rolled up to the level-1 grid; its lead department; its category). Folding a day rewrites that day's rows only, from
that day's events only: the cost of keeping the indices up to date is one day's events.
A day folded after it settled (``SETTLE`` past its end) is not folded again unless rows dated
in it arrive later; each fold keeps the highest ids it could see (``IndexFold.*_mark``) so
that those rows are found by their ids, not by reading the day again.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, exists, func, select
from sqlalchemy.orm import Session, aliased

from db.models import Grid, IndexDay, IndexFold, SurveyResult, Ticket, TicketEvent, utcnow

__all__ = ["COUNTERS", "CUTS", "REPEAT_WINDOW", "SETTLE", "FoldResult", "day_bounds", "fold_day",
           "catch_up", "grid_rollup", "local_day", "count_events", "row_marks"]

#: The counters of one ``index_day`` row, in order.
COUNTERS = ("demands", "repeats", "finished", "on_time", "closed", "reopened", "surveyed",
            "satisfied")
#: Their positions in a fold's counter lists (the names above, in their order).
(_DEMANDS, _REPEATS, _FINISHED, _ON_TIME, _CLOSED, _REOPENED, _SURVEYED,
 _SATISFIED) = range(len(COUNTERS))
#: The cuts of ``index_day`` (``IndexDay.cut``), as described above.
CUTS = ("area", "grid", "category", "department")
#: A demand is a repeat when the same citizen filed one in the same category this recently.
REPEAT_WINDOW = dt.timedelta(days=30)

_Key = tuple[int | None, int | None, str]


@dataclass(frozen=True)
class FoldResult:
    """What folding one day did: the day, the events read and the aggregate rows written."""

    day: dt.date
    events: int
    rows: int


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where site-local ``day`` begins and the next begins."""
    zone = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def local_day(at: dt.datetime, timezone: str) -> dt.date:
    """The site-local day of instant ``at``."""
    return at.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def grid_rollup(session: Session) -> dict[int, int]:
    """Each grid's level-1 grid (a sub-grid's parent, a level-1 grid itself)."""
    return {gid: parent or gid for gid, parent in session.execute(
        select(Grid.id, Grid.parent_id))}


def count_events(session: Session, start: dt.datetime, end: dt.datetime, *,
                 rollup: dict[int, int] | None = None, satisfied_min_score: int = 4
                 ) -> tuple[dict[_Key, dict[str, int]], int]:
    """The counters of the events from ``start`` to ``end`` by (level-1 grid, department,
    category), and how many events were read: what a fold writes for a day, or (over a
    longer span) the same figures recomputed from the raw rows."""
    counts, events = _count(session, start, end, grid_rollup(session) if rollup is None
                            else rollup, satisfied_min_score)
    return {key: dict(zip(COUNTERS, values, strict=True)) for key, values in counts.items()}, \
        events


def _count(session: Session, start: dt.datetime, end: dt.datetime, rollup: dict[int, int],
           satisfied_min_score: int) -> tuple[dict[_Key, list[int]], int]:
    """L{count_events}'s work, each key's counters a list in the order of L{COUNTERS} (a city
    day has ~80,000 groups, each summed into four cuts by position)."""
    counts: dict[_Key, list[int]] = {}
    events = 0
    width = len(COUNTERS)

    def row_of(grid_id: int | None, department_id: int | None,
               category: str | None) -> list[int]:
        key = (rollup.get(grid_id, grid_id) if grid_id is not None else None, department_id,
               category or "")
        row = counts.get(key)
        if row is None:
            row = counts[key] = [0] * width
        return row

    # Counted by the database, grouped by the ticket's grid, department and category: a city
    # day is ~100,000 rows, and reading them one by one in Python cost as much as the queries
    # (profiled on the benchmark's city-scale days). The groups are then rolled up to level-1
    # grids here, with NULL and empty categories taken as one.
    connection = session.connection()
    earlier = aliased(Ticket)
    repeat = exists().where(earlier.citizen_id == Ticket.citizen_id,
                            earlier.category == Ticket.category,
                            earlier.created_at >= start - REPEAT_WINDOW,
                            earlier.created_at < Ticket.created_at)
    counted = and_(Ticket.citizen_id.is_not(None), Ticket.category.is_not(None),
                   Ticket.category != "", repeat)
    group = (Ticket.grid_id, Ticket.department_id, Ticket.category)
    for grid_id, dept_id, category, demands, repeats in connection.execute(
            select(*group, func.count(), func.sum(case((counted, 1), else_=0)))
            .where(Ticket.created_at >= start, Ticket.created_at < end).group_by(*group)).all():
        row = row_of(grid_id, dept_id, category)
        row[_DEMANDS] += demands
        row[_REPEATS] += repeats or 0
        events += demands
    reply = and_(TicketEvent.action == "reply", Ticket.due_at.is_not(None))
    for grid_id, dept_id, category, n, finished, on_time, closed, reopened in connection.execute(
            select(*group, func.count(), func.sum(case((reply, 1), else_=0)),
                   func.sum(case((and_(reply, TicketEvent.at <= Ticket.due_at), 1), else_=0)),
                   func.sum(case((TicketEvent.action == "close", 1), else_=0)),
                   func.sum(case((TicketEvent.action == "reopen", 1), else_=0)))
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(TicketEvent.at >= start, TicketEvent.at < end,
                   TicketEvent.action.in_(("reply", "close", "reopen")))
            .group_by(*group)).all():
        row = row_of(grid_id, dept_id, category)
        events += n
        row[_FINISHED] += finished or 0
        row[_ON_TIME] += on_time or 0
        row[_CLOSED] += closed or 0
        row[_REOPENED] += reopened or 0
    for grid_id, dept_id, category, surveyed, satisfied in connection.execute(
            select(*group, func.count(),
                   func.sum(case((SurveyResult.score >= satisfied_min_score, 1), else_=0)))
            .join(Ticket, Ticket.id == SurveyResult.ticket_id)
            .where(SurveyResult.at >= start, SurveyResult.at < end,
                   SurveyResult.outcome == "rated", SurveyResult.score.is_not(None))
            .group_by(*group)).all():
        row = row_of(grid_id, dept_id, category)
        events += surveyed
        row[_SURVEYED] += surveyed
        row[_SATISFIED] += satisfied or 0
    return counts, events


def fold_day(session: Session, day: dt.date, *, timezone: str, satisfied_min_score: int = 4,
             rollup: dict[int, int] | None = None,
             marks: tuple[int, int, int] | None = None) -> FoldResult:
    """Rewrite ``day``'s aggregate rows from that day's events; returns what was done.

    ``marks`` are the highest ids when the catch-up began (L{row_marks}), read before
    counting so that a row written meanwhile is above them and found by the next catch-up."""
    marks = row_marks(session) if marks is None else marks
    start, end = day_bounds(day, timezone)
    counts, events = _count(session, start, end, grid_rollup(session) if rollup is None
                            else rollup, satisfied_min_score)
    session.execute(delete(IndexDay).where(IndexDay.day == day))
    rows = [{"day": day, "cut": cut, "grid_id": g, "department_id": d, "category": c,
             **values} for (cut, g, d, c), values in _cuts(counts).items()]
    if rows:
        session.connection().execute(IndexDay.__table__.insert(), rows)
    fold = session.get(IndexFold, day)
    if fold is None:
        fold = IndexFold(day=day)
        session.add(fold)
    fold.folded_at, fold.events = utcnow(), events
    fold.ticket_mark, fold.event_mark, fold.survey_mark = marks
    session.flush()
    return FoldResult(day, events, len(rows))


#: The tables whose rows a fold reads, with the column naming the instant each row counts at.
_SOURCES = ((Ticket, Ticket.created_at), (TicketEvent, TicketEvent.at),
            (SurveyResult, SurveyResult.at))


def row_marks(session: Session) -> tuple[int, int, int]:
    """The highest ticket, event and rating ids now (0 for an empty table)."""
    return tuple(session.scalar(select(func.coalesce(func.max(model.id), 0)))  # type: ignore
                 for model, _at in _SOURCES)


def _cuts(counts: dict[_Key, list[int]]) -> dict[tuple[str, int | None, int | None, str],
                                              dict[str, int]]:
    """The fine counters summed into the cuts the aggregate keeps (L{CUTS}); most fine
    counters are zero, and only the others are added (a city day has ~20,000 fine keys)."""
    sums: dict[tuple[str, int | None, int | None, str], list[int]] = {}
    width = len(COUNTERS)
    for (grid, department, category), values in counts.items():
        present = [(i, v) for i, v in enumerate(values) if v]
        for key in (("area", grid, None, category), ("grid", grid, None, ""),
                    ("category", None, None, category), ("department", None, department, "")):
            row = sums.get(key)
            if row is None:
                row = sums[key] = [0] * width
            for i, v in present:
                row[i] += v
    return {key: dict(zip(COUNTERS, row, strict=True)) for key, row in sums.items()}


def _first_day(session: Session, timezone: str) -> dt.date | None:
    first = session.scalar(select(func.min(Ticket.created_at)))
    return local_day(first, timezone) if first is not None else None


def catch_up(session: Session, today: dt.date, *, timezone: str, satisfied_min_score: int = 4,
             rebuild: bool = False) -> list[FoldResult]:
    """Fold the days that can have changed, up to ``today``: from the first day that had not
    settled when last folded (L{SETTLE}) or was never folded, and each settled day that got
    rows since the last catch-up (their ids are above its marks); with nothing folded yet (or
    ``rebuild``) every day from the first ticket's."""
    marks = row_marks(session)
    first = None if rebuild else _first_unsettled(session, timezone)
    late: set[dt.date] = set() if first is None else _late_days(session, first, timezone)
    if first is None:
        first = _first_day(session, timezone)
    if first is not None:
        late.update(_days(first, today))
    days = sorted(day for day in late if day <= today)
    if not days:
        return []
    rollup = grid_rollup(session)
    return [fold_day(session, day, timezone=timezone, satisfied_min_score=satisfied_min_score,
                     rollup=rollup, marks=marks) for day in days]


#: A day folded this long after its end is settled: what it counts will not change unless rows
#: dated in it arrive later (which the marks catch). The margin covers a write begun before
#: midnight and committed after.
SETTLE = dt.timedelta(minutes=15)


def _first_unsettled(session: Session, timezone: str) -> dt.date | None:
    """The day after the last settled one of the latest folds; None if nothing is folded."""
    recent = session.execute(select(IndexFold.day, IndexFold.folded_at)
                             .order_by(IndexFold.day.desc()).limit(7)).all()
    if not recent:
        return None
    first = recent[0].day + dt.timedelta(days=1)
    for day, folded_at in recent:
        if folded_at >= day_bounds(day, timezone)[1] + SETTLE:
            break
        first = day
    return first


def _late_days(session: Session, before: dt.date, timezone: str) -> set[dt.date]:
    """The settled days (before ``before``) that received rows after the last catch-up began:
    rows above the newest marks, dated before ``before``. A city's refresh finds none, reading
    only the rows written since the last one (by their primary key).

    PostgreSQL hands out ids before commit: a row dated in a settled day whose transaction was
    still open while a catch-up read the marks is below them and counted only by a rebuild
    (``hotline index update --rebuild``); the window is that transaction's last moments."""
    marks = session.execute(select(func.max(IndexFold.ticket_mark),
                                   func.max(IndexFold.event_mark),
                                   func.max(IndexFold.survey_mark))).one()
    start = day_bounds(before, timezone)[0]
    days: set[dt.date] = set()
    for (model, at), mark in zip(_SOURCES, marks, strict=True):
        if mark is None:  # folded before the marks existed: nothing to compare with
            continue
        # By primary key, in a subquery ordered by it: SQLite would otherwise walk the
        # instant's index from the history's first day (measured with EXPLAIN QUERY PLAN).
        newer = select(at.label("at")).where(model.id > mark).order_by(model.id).subquery()
        for (when,) in session.execute(select(newer.c.at).distinct()
                                       .where(newer.c.at < start)):
            days.add(local_day(when, timezone))
    return days


def _days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)

