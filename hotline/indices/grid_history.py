# -*- test-case-name: tests.indices.test_grid_history -*-
"""Generated SAMPLE history of the grid workers, to go with the sample tickets
(L{hotline.indices.history}): each worker's daily log (民情日志) on most days, their visits
(走访), and the report record (上报) behind every sample ticket on the grid_worker channel, so
the daily report's logs, the phone page's lists and the grid reports have something to show.

Deterministic for a seed; every text says 示例数据, every key starts with ``SX-``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.models import Grid, GridLog, GridReport, GridVisit, GridWorker, Ticket
from hotline.indices.aggregate import day_bounds
from hotline.indices.history import SAMPLE_PREFIX

__all__ = ["GridHistory", "generate_grid_history"]

_FOUND = ("楼道堆物", "路灯不亮", "井盖缺失", "垃圾清运不及时", "违章停车", "绿地破损")
_VISITED = ("独居老人", "低保户", "新迁入住户", "商铺", "重点人员")


@dataclass(frozen=True)
class GridHistory:
    logs: int
    visits: int
    reports: int


def generate_grid_history(session: Session, *, first_day: dt.date, days: int, timezone: str,
                          now: dt.datetime, seed: int = 19) -> GridHistory:
    """Logs and visits of every grid worker over ``days`` days from ``first_day`` (up to
    ``now``), and a report record for each sample ticket a grid worker filed (the worker of
    the ticket's level-1 grid)."""
    rng = random.Random(seed * 104729 + 3)
    workers = session.execute(select(GridWorker.id, GridWorker.grid_id, Grid.code)
                              .join(Grid, Grid.id == GridWorker.grid_id)
                              .order_by(GridWorker.id)).all()
    logs: list[dict] = []
    visits: list[dict] = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        start, _ = day_bounds(day, timezone)
        for worker, grid, code in workers:
            visited = 0
            for n in range(rng.choice((0, 0, 1, 1, 2))):
                at = start + dt.timedelta(hours=rng.randint(9, 16), minutes=rng.randrange(60))
                if at > now:
                    continue
                visited += 1
                visits.append({"key": f"{SAMPLE_PREFIX}-V-{worker}-{day:%Y%m%d}-{n}",
                               "worker_id": worker, "grid_id": grid,
                               "subject": "key_person" if rng.random() < 0.2 else "household",
                               "visitee": f"示例数据：{rng.choice(_VISITED)}",
                               "notes": "示例数据：走访了解近况，无新增诉求", "visited_at": at,
                               "created_at": at})
            written = start + dt.timedelta(hours=rng.randint(17, 20), minutes=rng.randrange(60))
            if written > now or rng.random() < 0.15:
                continue
            found = rng.sample(_FOUND, rng.randint(0, 2))
            text = (f"示例数据：巡查网格 {code}，走访 {visited} 户；"
                    + (f"发现{'、'.join(found)}，已上报" if found else "未发现新问题"))
            logs.append({"worker_id": worker, "day": day.isoformat(), "text": text,
                         "created_at": written, "updated_at": written})
    worker_of = {grid: worker for worker, grid, _ in workers}
    parents = dict(session.execute(select(Grid.id, Grid.parent_id)).all())
    reports = []
    for ticket, grid, created in session.execute(
            select(Ticket.id, Ticket.grid_id, Ticket.created_at)
            .where(Ticket.number.like(f"{SAMPLE_PREFIX}%"), Ticket.channel == "grid_worker")
            .order_by(Ticket.id)):
        level1 = parents.get(grid) or grid
        if level1 not in worker_of:
            continue
        reports.append({"key": f"{SAMPLE_PREFIX}-R-{ticket}", "worker_id": worker_of[level1],
                        "ticket_id": ticket, "received_at": created,
                        "made_at": created - dt.timedelta(minutes=rng.randint(1, 20))})
    for model, rows in ((GridLog, logs), (GridVisit, visits), (GridReport, reports)):
        if rows:
            session.execute(insert(model), rows)
    session.flush()
    return GridHistory(len(logs), len(visits), len(reports))
