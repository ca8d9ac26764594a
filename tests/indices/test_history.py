"""Tests for L{hotline.indices.history}: the demo's SAMPLE history on the shipped sample map
fills the indices and raises its one planted warning; loading it twice writes nothing more."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Grid, Ticket
from hotline.indices.history import demo_history, has_sample_history, write_rows
from hotline.indices.queries import index_table
from hotline.indices.service import refresh
from hotline.sample import seed_sample

TZ = "Asia/Shanghai"


def test_demo_history_fills_indices_and_plants_one_warning(session: Session) -> None:
    """On the sample district, 90 days of sample history give every street indices, every
    level-1 grid a sample population, and the refresh raises the planted warning; a second
    load is skipped."""
    seed_sample(session)
    now = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    today = dt.date(2026, 11, 20)
    written = demo_history(session, today=today, timezone=TZ, now=now, days=40, per_day=120)
    assert written is not None and written.tickets > 40 * 80 and has_sample_history(session)
    assert session.scalar(select(func.count()).where(Grid.level == 1,
                                                     Grid.population.is_(None))) == 0
    result = refresh(session, timezone=TZ, now=now)
    assert [(w["grid"], w["category"]) for w in result["raised"]] == [("G001", "供水")]
    streets = index_table(session, "street", today - dt.timedelta(days=29), today)
    assert len(streets) == 7 and all(r.indices.composite is not None for r in streets)
    count = session.scalar(select(func.count(Ticket.id)))
    assert demo_history(session, today=today, timezone=TZ, now=now) is None
    assert session.scalar(select(func.count(Ticket.id))) == count
    assert session.scalar(select(func.count(Ticket.id)).where(
        Ticket.number.not_like("SX%"))) == 0


def test_rows_are_written_as_given_and_refused_when_a_required_column_is_missing(
        session: Session) -> None:
    """The bulk writer (COPY on PostgreSQL, a Core insert on SQLite) keeps every value as
    given: instants, Chinese text, NULLs; rows leaving out a column the database cannot fill
    are refused before anything is written."""
    seed_sample(session)
    at = dt.datetime(2026, 11, 20, 1, 2, 3, 456000, tzinfo=dt.UTC)
    row = {"id": 990001, "number": "SX20261120-990001", "kind": "help", "channel": "web",
           "status": "received", "category": "供水", "grid_id": None, "address": None,
           "description": "示例数据：供水问题\t含制表符\\和反斜杠", "citizen_id": None,
           "department_id": None, "created_at": at, "updated_at": at, "clock_started_at": at,
           "due_at": at + dt.timedelta(days=14), "version": 1, "reopen_count": 0,
           "needs_completion": False}
    missing = {k: v for k, v in row.items() if k != "status"}
    with pytest.raises(ValueError, match="ticket.status is required"):
        write_rows(session, Ticket.__table__, [missing])
    assert session.get(Ticket, 990001) is None
    write_rows(session, Ticket.__table__, [row])
    session.expire_all()
    ticket = session.get(Ticket, 990001)
    assert ticket is not None and ticket.description == row["description"]
    assert ticket.created_at == at and ticket.due_at == row["due_at"]
    assert ticket.grid_id is None and ticket.category == "供水" and ticket.version == 1
