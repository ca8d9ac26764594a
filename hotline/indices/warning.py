# -*- test-case-name: tests.indices.test_warning -*-
"""Early warning (风险预警, 临界监控预测): each level-1 grid × category's demands of a day
against its own baseline, with a stated statistical control limit.

The rule: the baseline λ is the cell's mean daily demands over the ``BASELINE_DAYS`` days
before (read from the daily aggregate, floored at ``MIN_BASELINE`` so a quiet cell is not
alarmed by its first two tickets); the control limit is the Poisson upper quantile, the
smallest k with P(X ≤ k) ≥ ``CONFIDENCE`` for X ~ Poisson(λ); an alert is raised when the
day's count exceeds the limit and is at least ``MIN_COUNT``. Each alert keeps its evidence
(the baseline days' counts, the day's ticket numbers); a supervisor may turn it into a
proactive task (未诉先办): a ticket on the ``proactive`` channel in the grid and category,
which waits in the dispatcher's queue like any other.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import EarlyWarning, Grid, IndexDay, Ticket, utcnow
from hotline.indices.aggregate import day_bounds
from hotline.indices.exceptions import NoSuchWarning, WarningHandled

__all__ = ["BASELINE_DAYS", "CONFIDENCE", "MIN_BASELINE", "MIN_COUNT", "RULE",
           "poisson_limit", "scan", "list_warnings", "warning_view", "make_task", "dismiss"]

BASELINE_DAYS = 28
CONFIDENCE = 0.999
MIN_BASELINE = 0.2
MIN_COUNT = 3
#: The rule as the pages print it.
RULE = (f"控制限：以该网格该类别前 {BASELINE_DAYS} 天日均诉求数为基线 λ（下限 {MIN_BASELINE}），"
        f"取泊松分布上 {CONFIDENCE:.1%} 分位数 k（P(X ≤ k) ≥ {CONFIDENCE}）；当日诉求数超过 k 且不少于 "
        f"{MIN_COUNT} 件时预警。")
_TICKETS_KEPT = 50


def poisson_limit(baseline: float, confidence: float = CONFIDENCE) -> int:
    """The smallest k with P(X ≤ k) ≥ ``confidence`` for X ~ Poisson(max(baseline,
    MIN_BASELINE))."""
    lam = max(baseline, MIN_BASELINE)
    term = math.exp(-lam)
    total, k = term, 0
    while total < confidence:
        k += 1
        term *= lam / k
        total += term
    return k


def scan(session: Session, day: dt.date, *, timezone: str) -> list[EarlyWarning]:
    """Check every grid × category with demands on ``day``; returns the warnings raised for
    the first time (a warning already raised for the cell and day gets its count and evidence
    updated, keeping its status)."""
    first = day - dt.timedelta(days=BASELINE_DAYS)
    history: dict[tuple[int, str], dict[dt.date, int]] = defaultdict(dict)
    for grid_id, category, d, n in session.execute(
            select(IndexDay.grid_id, IndexDay.category, IndexDay.day,
                   func.sum(IndexDay.demands))
            .where(IndexDay.cut == "area", IndexDay.day >= first, IndexDay.day <= day,
                   IndexDay.grid_id.is_not(None),
                   IndexDay.category != "")
            .group_by(IndexDay.grid_id, IndexDay.category, IndexDay.day)):
        history[(grid_id, category)][d] = int(n)
    raised = []
    for (grid_id, category), counts in history.items():
        today = counts.get(day, 0)
        if today < MIN_COUNT:
            continue
        days = [first + dt.timedelta(days=i) for i in range(BASELINE_DAYS)]
        series = [counts.get(d, 0) for d in days]
        baseline = sum(series) / BASELINE_DAYS
        limit = poisson_limit(baseline)
        if today <= limit:
            continue
        evidence = {"rule": RULE, "baseline_days": [d.isoformat() for d in days],
                    "baseline_counts": series,
                    "tickets": _tickets(session, day, grid_id, category, timezone)}
        found = session.scalar(select(EarlyWarning).where(
            EarlyWarning.day == day, EarlyWarning.grid_id == grid_id,
            EarlyWarning.category == category))
        if found is not None:
            found.count, found.baseline, found.control_limit, found.evidence = (
                today, baseline, limit, evidence)
            continue
        warning = EarlyWarning(day=day, grid_id=grid_id, category=category, count=today,
                               baseline=baseline, control_limit=limit, evidence=evidence,
                               status="open", raised_at=utcnow())
        session.add(warning)
        raised.append(warning)
    session.flush()
    return raised


def _tickets(session: Session, day: dt.date, grid_id: int, category: str,
             timezone: str) -> list[str]:
    start, end = day_bounds(day, timezone)
    inside = select(Grid.id).where((Grid.id == grid_id) | (Grid.parent_id == grid_id))
    return list(session.scalars(
        select(Ticket.number).where(Ticket.created_at >= start, Ticket.created_at < end,
                                    Ticket.category == category, Ticket.grid_id.in_(inside))
        .order_by(Ticket.created_at).limit(_TICKETS_KEPT)))


def warning_view(warning: EarlyWarning) -> dict[str, Any]:
    """The API's (and the pushed event's) form of one warning."""
    return {"id": warning.id, "day": warning.day.isoformat(), "grid": warning.grid.code,
            "grid_name": warning.grid.name, "category": warning.category,
            "count": warning.count, "baseline": round(warning.baseline, 3),
            "control_limit": warning.control_limit, "status": warning.status,
            "raised_at": warning.raised_at.isoformat(),
            "ticket": warning.ticket.number if warning.ticket is not None else None,
            "ticket_id": warning.ticket_id, "handled_by": warning.handled_by,
            "evidence": warning.evidence}


def list_warnings(session: Session, *, status: str | None = None, limit: int = 200
                  ) -> list[dict[str, Any]]:
    """The warnings, newest day first (only those of ``status`` when given)."""
    q = select(EarlyWarning).order_by(EarlyWarning.day.desc(), EarlyWarning.count.desc())
    if status:
        q = q.where(EarlyWarning.status == status)
    return [warning_view(w) for w in session.scalars(q.limit(limit))]


def _open(session: Session, warning_id: int) -> EarlyWarning:
    warning = session.get(EarlyWarning, warning_id)
    if warning is None:
        raise NoSuchWarning(f"no early warning {warning_id}", {"warning": warning_id})
    if warning.status != "open":
        raise WarningHandled(f"early warning {warning_id} is already {warning.status}",
                             {"status": warning.status, "ticket": warning.ticket_id})
    return warning


def make_task(session: Session, warning_id: int, *, tickets: Any, actor: str) -> Ticket:
    """Turn an open warning into a proactive task (未诉先办): a ticket in its grid and category
    on the ``proactive`` channel, received for the dispatcher. Raises NoSuchWarning,
    WarningHandled."""
    warning = _open(session, warning_id)
    numbers = warning.evidence.get("tickets", [])
    text = (f"【未诉先办】风险预警：{warning.day:%Y年%m月%d日} {warning.grid.name}（{warning.grid.code}）"
            f"“{warning.category}”诉求 {warning.count} 件，超过控制限 {warning.control_limit} 件"
            f"（基线日均 {warning.baseline:.2f} 件）。相关诉求：{'、'.join(numbers[:20]) or '无'}。"
            "请派单主动排查处置。")
    ticket = tickets.intake(session, {"kind": "suggestion", "channel": "proactive",
                                      "description": text, "category": warning.category,
                                      "grid": warning.grid.code}, actor=actor)
    warning.status, warning.ticket, warning.handled_by = "tasked", ticket, actor
    session.flush()
    return ticket


def dismiss(session: Session, warning_id: int, *, actor: str) -> EarlyWarning:
    """Close an open warning without a task (looked at, nothing to do)."""
    warning = _open(session, warning_id)
    warning.status, warning.handled_by = "dismissed", actor
    session.flush()
    return warning
