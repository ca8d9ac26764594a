"""Tests for L{hotline.indices.grid_history}: the demo's SAMPLE grid-worker logs, visits and
reports are listed where the console and the daily report read them, and agree with the
sample tickets filed on the grid_worker channel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Grid, GridLog, GridReport, GridVisit, GridWorker, Ticket
from hotline.grid.service import day_logs
from hotline.indices.history import demo_history
from hotline.reports.daily import build_daily
from hotline.sample import seed_sample

TZ = "Asia/Shanghai"
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
DAYS = 6


def test_grid_workers_logs_visits_and_reports_are_listed(session: Session) -> None:
    """Each day of the history has most grid workers' logs (one per worker at most) in the
    daily report, sample-labelled; every sample grid_worker ticket has one report by the
    worker of its level-1 grid; visits lie in the workers' own grids."""
    seed_sample(session)
    written = demo_history(session, today=TODAY, timezone=TZ, now=NOW, days=DAYS, per_day=60)
    assert written is not None
    workers = session.scalar(select(func.count(GridWorker.id)))
    for offset in range(1, DAYS + 1):
        day = TODAY - dt.timedelta(days=offset)
        logs = day_logs(session, day.isoformat())
        assert workers // 2 < len(logs) <= workers
        assert all(log["text"].startswith("示例数据") for log in logs)
    assert session.scalar(select(func.count(GridLog.id))) == written.grid_logs
    assert day_logs(session, TODAY.isoformat()) == []  # written in the evening: not yet
    daily = build_daily(session, TODAY - dt.timedelta(days=1), timezone=TZ, now=NOW)
    assert daily.grid_logs == day_logs(session, (TODAY - dt.timedelta(days=1)).isoformat())

    filed = session.execute(
        select(Ticket.id, Ticket.grid_id, GridReport.worker_id)
        .outerjoin(GridReport, GridReport.ticket_id == Ticket.id)
        .where(Ticket.channel == "grid_worker")).all()
    assert filed and all(worker is not None for _, _, worker in filed)
    assert len(filed) == written.grid_reports
    parent = dict(session.execute(select(Grid.id, Grid.parent_id)).all())
    own = dict(session.execute(select(GridWorker.id, GridWorker.grid_id)).all())
    assert all(own[worker] == (parent[grid] or grid) for _, grid, worker in filed)
    visits = session.execute(select(GridVisit.worker_id, GridVisit.grid_id)).all()
    assert len(visits) == written.grid_visits > 0
    assert all(own[worker] == grid for worker, grid in visits)
