# -*- test-case-name: tests.indices.test_aggregate -*-
"""Generated SAMPLE history: tickets through their whole life (received, dispatched, replied,
followed up, closed or reopened, rated), written in bulk so that a demo, a test or a benchmark
has months of it in seconds. Every ticket's number starts with ``SX`` (sample) and its text
says 示例数据; nothing here is a real citizen's (phones are in the reserved 199 9xxx range).

Deterministic for a given seed. A spike (``Spike``) adds extra tickets to one grid × category
on one day, which the early warning must catch.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from db.models import Citizen, Department, Grid, SurveyResult, Ticket, TicketEvent
from hotline.indices.aggregate import day_bounds

__all__ = ["SAMPLE_CATEGORIES", "SAMPLE_PREFIX", "HOURLY_SHAPE", "Spike", "HistoryResult",
           "generate_history", "demo_history", "has_sample_history", "arrival",
           "resync_sequence", "write_rows"]

#: Every generated ticket's number starts with this.
SAMPLE_PREFIX = "SX"

#: The categories sample tickets are spread over, with their relative weights.
SAMPLE_CATEGORIES = {"供水": 5, "供暖": 4, "噪声扰民": 4, "物业管理": 6, "道路交通": 3,
                     "环境卫生": 5, "停车": 3, "劳动保障": 2}
_KINDS = ("complaint", "help", "consultation", "suggestion")
_CHANNELS = ("hotline", "hotline", "hotline", "web", "wechat", "grid_worker", "sub_12345")

#: Relative weight of each site-local hour (06-21) in the day's demands and calls: two peaks,
#: 9-11 and 14-16, as a citizens' line sees them; nothing at night.
HOURLY_SHAPE = {6: 1, 7: 2, 8: 4, 9: 8, 10: 8, 11: 7, 12: 4, 13: 4, 14: 7, 15: 7, 16: 6,
                17: 4, 18: 3, 19: 2, 20: 2, 21: 1}


def arrival(rng: random.Random, day_start: dt.datetime) -> dt.datetime:
    """A moment of the day beginning at ``day_start`` drawn from L{HOURLY_SHAPE}."""
    hour = rng.choices(list(HOURLY_SHAPE), list(HOURLY_SHAPE.values()))[0]
    return day_start + dt.timedelta(seconds=hour * 3600 + rng.randrange(3600))


@dataclass(frozen=True)
class Spike:
    """Extra tickets on one site-local day in one level-1 grid (by code) and category."""

    day: dt.date
    grid: str
    category: str
    extra: int


@dataclass(frozen=True)
class HistoryResult:
    tickets: int
    events: int
    surveys: int
    first_day: dt.date
    last_day: dt.date
    #: Written by L{demo_history} only (the line's and the grid workers' history).
    calls: int = 0
    abandoned: int = 0
    agent_changes: int = 0
    callbacks: int = 0
    grid_logs: int = 0
    grid_visits: int = 0
    grid_reports: int = 0


def _citizens(session: Session, count: int) -> list[int]:
    phones = [f"1999{i:07d}" for i in range(count)]
    known = dict(session.execute(select(Citizen.phone, Citizen.id)
                                 .where(Citizen.phone.like("1999%"))).all())
    missing = [{"phone": p, "name": "示例市民", "created_at": dt.datetime.now(dt.UTC)}
               for p in phones if p not in known]
    if missing:
        session.execute(insert(Citizen), missing)
        known = dict(session.execute(select(Citizen.phone, Citizen.id)
                                     .where(Citizen.phone.like("1999%"))).all())
    return [known[p] for p in phones]


def write_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Write generated rows (each with the same keys) in bulk: PostgreSQL's ``COPY`` (a year of
    a city line is 40 M rows: row-by-row inserts took an hour), elsewhere a Core insert (the
    ORM's bulk path costs more than the database here). Every column left out must be one the
    database fills, or the rows are refused before anything is written."""
    if not rows:
        return
    names = list(rows[0])
    for column in table.columns:
        if column.name not in names and not column.nullable and column.server_default is None \
                and not column.primary_key:
            raise ValueError(f"{table.name}.{column.name} is required: the rows leave it out")
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    quoted = ", ".join(f'"{n}"' for n in names)
    with session.connection().connection.driver_connection.cursor() as cursor, \
            cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[n] for n in names])


def resync_sequence(session: Session, table: str) -> None:
    """After rows written with explicit ids, PostgreSQL's id sequence of ``table`` moves past
    them (SQLite needs nothing)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT max(id) FROM {table}))"))


def generate_history(session: Session, *, first_day: dt.date, days: int, per_day: int,
                     timezone: str, now: dt.datetime, seed: int = 19,
                     spikes: Sequence[Spike] = (), citizens: int | None = None,
                     batch: int = 20_000) -> HistoryResult:
    """Write ``days`` days of sample tickets from ``first_day`` (about ``per_day`` a day,
    spread over the level-1 grids and their sub-grids, the departments and the sample
    categories) with their events up to ``now``; events after ``now`` are left to happen.

    Needs grids and departments (``hotline db seed-sample``); a department-less or grid-less
    database gets tickets without them.
    """
    rng = random.Random(seed)
    grid_rows = session.execute(select(Grid.id, Grid.code, Grid.parent_id)).all()
    level1 = {code: gid for gid, code, parent in grid_rows if parent is None}
    children: dict[int, list[int]] = {}
    for gid, _code, parent in grid_rows:
        if parent is not None:
            children.setdefault(parent, []).append(gid)
    grid_ids = list(level1.values())
    departments = list(session.scalars(select(Department.id).order_by(Department.id)))
    categories = list(SAMPLE_CATEGORIES)
    weights = list(SAMPLE_CATEGORIES.values())
    pool = _citizens(session, citizens or max(50, per_day * 20))
    next_id = (session.scalar(select(func.max(Ticket.id))) or 0) + 1
    tickets: list[dict] = []
    events: list[dict] = []
    surveys: list[dict] = []
    totals = [0, 0, 0]

    def flush() -> None:
        write_rows(session, Ticket.__table__, tickets)
        write_rows(session, TicketEvent.__table__, events)
        write_rows(session, SurveyResult.__table__, surveys)
        totals[0] += len(tickets)
        totals[1] += len(events)
        totals[2] += len(surveys)
        tickets.clear()
        events.clear()
        surveys.clear()

    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        start, _end = day_bounds(day, timezone)
        # Weekends are quieter; a little noise day to day.
        mean = per_day * (0.7 if day.weekday() >= 5 else 1.0)
        count = max(0, int(rng.gauss(mean, mean ** 0.5)))
        plan: list[tuple[int | None, str]] = []
        for _ in range(count):
            grid = rng.choice(grid_ids) if grid_ids else None
            plan.append((grid, rng.choices(categories, weights)[0]))
        for spike in spikes:
            if spike.day == day:
                plan.extend((level1[spike.grid], spike.category) for _ in range(spike.extra))
        for seq, (grid, category) in enumerate(plan):
            created = arrival(rng, start)
            if created > now:
                continue
            ticket_id = next_id
            next_id += 1
            placed = grid
            if grid is not None and children.get(grid) and rng.random() < 0.6:
                placed = rng.choice(children[grid])
            dept = rng.choice(departments) if departments else None
            due = created + dt.timedelta(days=14)
            life = [("dispatch", created + dt.timedelta(minutes=rng.randrange(10, 240)),
                     "received", "dispatched")]
            replied = life[0][1] + dt.timedelta(hours=rng.expovariate(1 / 120))
            life.append(("reply", replied, "dispatched", "replied"))
            verdict = rng.random()
            followed = replied + dt.timedelta(hours=rng.randrange(2, 48))
            if verdict < 0.85:
                life.append(("close", followed, "replied", "closed"))
            else:
                life.append(("reopen", followed, "replied", "dispatched"))
            status = "received"
            for action, at, before, after in life:
                if at > now:
                    break
                events.append({"ticket_id": ticket_id, "at": at, "actor": "sample",
                               "action": action, "from_status": before, "to_status": after,
                               "text": "示例数据"})
                status = after
                if action in ("close", "reopen") and rng.random() < 0.7:
                    score = 5 if action == "close" and rng.random() < 0.8 else rng.randint(1, 4)
                    surveys.append({"ticket_id": ticket_id, "score": score,
                                    "outcome": "rated", "at": at})
            tickets.append({
                "id": ticket_id, "number": f"SX{day:%Y%m%d}-{seq:06d}",
                "kind": rng.choice(_KINDS), "channel": rng.choice(_CHANNELS),
                "status": status, "category": category, "grid_id": placed,
                "address": None, "description": f"示例数据：{category}问题",
                "citizen_id": rng.choice(pool), "department_id": dept if status != "received"
                else None, "created_at": created, "updated_at": created,
                "clock_started_at": created, "due_at": due, "version": 1, "reopen_count": 0,
                "needs_completion": False})
            if len(tickets) >= batch:
                flush()
    flush()
    resync_sequence(session, "ticket")
    session.flush()
    return HistoryResult(totals[0], totals[1], totals[2], first_day,
                         first_day + dt.timedelta(days=days - 1))


def has_sample_history(session: Session) -> bool:
    """Whether generated SAMPLE tickets are in the database (pages then say so)."""
    return session.scalar(select(Ticket.id).where(Ticket.number.like(f"{SAMPLE_PREFIX}%"))
                          .limit(1)) is not None


def demo_history(session: Session, *, today: dt.date, timezone: str, now: dt.datetime,
                 days: int = 90, per_day: int = 150) -> HistoryResult | None:
    """The demo's SAMPLE history (``make run``): ``days`` days up to yesterday of tickets, the
    calls they came in on and more (L{hotline.indices.line_history}: calls, agents' shifts,
    callbacks), the grid workers' logs, visits and reports (L{hotline.indices.grid_history}),
    a spike in the first grid yesterday so the early warning has something to show, and a
    sample population (3,000-6,000) on level-1 grids that have none. None (nothing written)
    when sample history is already there."""
    # Imported here: both build on this module's tickets and helpers.
    from hotline.indices.grid_history import generate_grid_history
    from hotline.indices.line_history import generate_line_history

    if has_sample_history(session):
        return None
    grids = list(session.scalars(select(Grid).where(Grid.level == 1).order_by(Grid.code)))
    for n, grid in enumerate(grids):
        if grid.population is None:
            grid.population = 3000 + (n * 397) % 3000
    spikes = [Spike(today - dt.timedelta(days=1), grids[0].code, "供水", 15)] if grids else []
    first_day = today - dt.timedelta(days=days)
    tickets = generate_history(session, first_day=first_day, days=days, per_day=per_day,
                               timezone=timezone, now=now, spikes=spikes)
    line = generate_line_history(session, first_day=first_day, days=days, timezone=timezone,
                                 now=now)
    grid = generate_grid_history(session, first_day=first_day, days=days, timezone=timezone,
                                 now=now)
    return replace(tickets, calls=line.calls, abandoned=line.abandoned,
                   agent_changes=line.agent_changes, callbacks=line.callbacks,
                   grid_logs=grid.logs, grid_visits=grid.visits, grid_reports=grid.reports)
