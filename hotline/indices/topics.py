# -*- test-case-name: tests.indices.test_topics -*-
"""每月一题: each month's shortlist of recurring problems — level-1 grid × category cells with
the most demands and the lowest satisfaction, read from the daily aggregate — the tickets
behind one, and the topic a leader picks for the month and follows month by month."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Grid, IndexDay, MonthlyTopic, Ticket, utcnow
from hotline.indices.aggregate import day_bounds
from hotline.indices.exceptions import BadIndexQuery

__all__ = ["RULE", "parse_month", "shortlist", "cell_tickets", "pick", "topics", "follow"]

#: How the shortlist is ranked, as the page prints it.
RULE = ("候选问题：当月各网格 × 类别的诉求，按“诉求数 ×（1 + 不满意率）”从高到低取前若干项"
        "（不满意率 = 1 − 满意率；当月无评价的按 0 计）。")


def parse_month(text: str | None) -> tuple[dt.date, dt.date]:
    """First and last day of month ``YYYY-MM``; raises BadIndexQuery."""
    try:
        first = dt.date.fromisoformat(f"{text}-01")
    except (TypeError, ValueError):
        raise BadIndexQuery(f"month: expected YYYY-MM, got {text!r}", {"month": text}) \
            from None
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def shortlist(session: Session, month: str, *, size: int = 10) -> list[dict[str, Any]]:
    """The month's candidate problems, highest score first."""
    first, last = parse_month(month)
    rows = session.execute(
        select(Grid.code, Grid.name, IndexDay.category, func.sum(IndexDay.demands),
               func.sum(IndexDay.surveyed), func.sum(IndexDay.satisfied))
        .join(Grid, Grid.id == IndexDay.grid_id)
        .where(IndexDay.cut == "area", IndexDay.day >= first, IndexDay.day <= last,
               IndexDay.category != "")
        .group_by(Grid.code, Grid.name, IndexDay.category))
    out = []
    for code, name, category, demands, surveyed, satisfied in rows:
        demands, surveyed, satisfied = int(demands or 0), int(surveyed or 0), int(satisfied or 0)
        if not demands:
            continue
        unsatisfied = 1 - satisfied / surveyed if surveyed else 0.0
        out.append({"grid": code, "grid_name": name, "category": category, "demands": demands,
                    "surveyed": surveyed, "satisfaction": satisfied / surveyed if surveyed
                    else None, "score": round(demands * (1 + unsatisfied), 2)})
    out.sort(key=lambda r: (-r["score"], r["grid"], r["category"]))
    return out[:size]


def _grid(session: Session, code: str) -> Grid:
    grid = session.scalar(select(Grid).where(Grid.code == code, Grid.level == 1))
    if grid is None:
        raise BadIndexQuery(f"no level-1 grid {code!r}", {"grid": code})
    return grid


def cell_tickets(session: Session, month: str, grid: str, category: str, *, timezone: str,
                 limit: int = 200) -> list[dict[str, Any]]:
    """The drill-down: the month's tickets of one grid (its sub-grids included) × category."""
    first, last = parse_month(month)
    cell = _grid(session, grid)
    start, _ = day_bounds(first, timezone)
    _, end = day_bounds(last, timezone)
    inside = select(Grid.id).where((Grid.id == cell.id) | (Grid.parent_id == cell.id))
    return [{"id": t.id, "number": t.number, "status": t.status, "kind": t.kind,
             "created_at": t.created_at.isoformat(), "description": t.description[:80]}
            for t in session.scalars(
                select(Ticket).where(Ticket.grid_id.in_(inside), Ticket.category == category,
                                     Ticket.created_at >= start, Ticket.created_at < end)
                .order_by(Ticket.created_at).limit(limit))]


def pick(session: Session, month: str, grid: str, category: str, *, actor: str,
         note: str | None = None) -> MonthlyTopic:
    """Make (grid, category) the month's topic; picking again replaces the month's choice."""
    parse_month(month)
    cell = _grid(session, grid)
    category = (category or "").strip()[:50]
    if not category:
        raise BadIndexQuery("category: required", {"category": category})
    topic = session.scalar(select(MonthlyTopic).where(MonthlyTopic.month == month))
    if topic is None:
        topic = MonthlyTopic(month=month, grid=cell, category=category, picked_by=actor,
                             picked_at=utcnow(), note=note)
        session.add(topic)
    else:
        topic.grid, topic.category, topic.picked_by, topic.picked_at, topic.note = (
            cell, category, actor, utcnow(), note)
    session.flush()
    return topic


def follow(session: Session, topic: MonthlyTopic, *, months: int = 6) -> list[dict[str, Any]]:
    """The topic's cell month by month from its month on (demands, satisfaction)."""
    first, _ = parse_month(topic.month)
    out = []
    for _ in range(months):
        month = f"{first:%Y-%m}"
        start, end = parse_month(month)
        demands, surveyed, satisfied = session.execute(
            select(func.coalesce(func.sum(IndexDay.demands), 0),
                   func.coalesce(func.sum(IndexDay.surveyed), 0),
                   func.coalesce(func.sum(IndexDay.satisfied), 0))
            .where(IndexDay.cut == "area", IndexDay.grid_id == topic.grid_id,
                   IndexDay.category == topic.category, IndexDay.day >= start,
                   IndexDay.day <= end)).one()
        out.append({"month": month, "demands": int(demands),
                    "satisfaction": int(satisfied) / int(surveyed) if surveyed else None})
        first = end + dt.timedelta(days=1)
    return out


def topics(session: Session) -> list[dict[str, Any]]:
    """Every month's topic, newest first, each with its follow-up series."""
    return [{"month": t.month, "grid": t.grid.code, "grid_name": t.grid.name,
             "category": t.category, "picked_by": t.picked_by,
             "picked_at": t.picked_at.isoformat(), "note": t.note,
             "follow": follow(session, t)}
            for t in session.scalars(select(MonthlyTopic).order_by(MonthlyTopic.month.desc()))]
