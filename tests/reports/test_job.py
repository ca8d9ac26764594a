"""Tests for L{hotline.reports.job}: the daily report written at ``daily_time`` on a hand-driven
clock, over a real database (SQLite and PostgreSQL) on the database's own thread pool."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import pytest_twisted
from sqlalchemy import func, select
from twisted.internet import reactor, task

from db.models import ReportRecord
from db.session import Database
from hotline.reports.daily import load_daily
from hotline.reports.job import DailyReportJob
from hotline.reports.plugin import daily_report
from tests.reports.seed import DAY, TZ, seed_daily

SETTINGS = {"daily_time": "07:30", "grid_geometry": "", "calls_per_agent_hour": 6.0}
#: 2026-11-04 07:00 in Shanghai: half an hour before the report of 2026-11-03 is due.
BEFORE = dt.datetime(2026, 11, 3, 23, 0, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 11, 3, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def database(db):
    """The started database of ``tests.support.database`` (its pool runs the job's work)."""
    return db


def _clock(at: dt.datetime) -> task.Clock:
    clock = task.Clock()
    clock.advance(at.timestamp())
    return clock


def _stored(db: Database) -> list[str]:
    with db.begin() as s:
        return list(s.scalars(select(ReportRecord.day).order_by(ReportRecord.day)))


async def _settle(job: DailyReportJob) -> None:
    """Wait for a run the clock started on the database's threads."""
    while job._running is not None:
        await job._running


@pytest_twisted.ensureDeferred
async def test_writes_yesterdays_report_at_daily_time(database):
    """Started at 07:00, the job catches up the report yesterday's run should have written
    (2026-11-02) and nothing more; at 07:30 site time the report of the day before is stored
    with the seeded figures, and the next run is armed for the next morning."""
    with database.begin() as s:
        want = seed_daily(s)
    clock = _clock(BEFORE)
    job = DailyReportJob(database=database, settings=SETTINGS, timezone=TZ, clock=clock)
    await job.start()
    assert job.next_at == DUE
    clock.advance(29 * 60)
    assert _stored(database) == job.runs == ["2026-11-02"]
    clock.advance(60)
    await _settle(job)
    assert job.runs == ["2026-11-02", DAY] and _stored(database) == ["2026-11-02", DAY]
    with database.begin() as s:
        record = load_daily(s, DAY)
        assert record.data["tickets"] == want["tickets"]
        assert "民情报告" in record.html
    assert job.next_at == DUE + dt.timedelta(days=1)
    await job.stop()
    assert job.next_at is None


@pytest_twisted.ensureDeferred
async def test_late_start_catches_up_once(database):
    """A controller started after 07:30 with yesterday's report missing writes it at once; a
    second start finds it stored and does not write it again."""
    clock = _clock(DUE + dt.timedelta(hours=2))
    job = DailyReportJob(database=database, settings=SETTINGS, timezone=TZ, clock=clock)
    await job.start()
    assert job.runs == [DAY] and _stored(database) == [DAY]
    await job.stop()
    again = DailyReportJob(database=database, settings=SETTINGS, timezone=TZ, clock=clock)
    await again.start()
    assert again.runs == []
    with database.begin() as s:
        assert s.scalar(select(func.count()).select_from(ReportRecord)) == 1
    await again.stop()


@pytest_twisted.ensureDeferred
async def test_a_node_that_does_not_lead_writes_nothing(database):
    """Only the scheduler's leader writes: a follower neither catches up nor runs at 07:30,
    and keeps its timer for the day it leads."""
    leading = [False]
    clock = _clock(DUE + dt.timedelta(hours=1))
    job = DailyReportJob(database=database, settings=SETTINGS, timezone=TZ, clock=clock,
                         leading=lambda: leading[0])
    await job.start()
    clock.advance(24 * 3600)
    await _settle(job)
    assert job.runs == [] and _stored(database) == []
    assert job.next_at == DUE + dt.timedelta(days=2)
    leading[0] = True
    clock.advance(24 * 3600)
    await _settle(job)
    assert job.runs == ["2026-11-05"]
    await job.stop()


def test_bad_daily_time_is_refused(tmp_path):
    """A daily_time that is not HH:MM is refused when the job is built."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", threads=1, reactor=reactor)
    with pytest.raises(ValueError):
        DailyReportJob(database=db, settings={**SETTINGS, "daily_time": "half past seven"},
                       timezone=TZ, clock=task.Clock())
    db.stop()


def test_attach_follows_the_scheduler_only_on_postgresql(tmp_path):
    """On SQLite the one node always writes; elsewhere the scheduler's leadership decides,
    unless the scheduler is switched off (then nobody leads and the node writes itself)."""
    config = {"reports": SETTINGS, "site": {"timezone": TZ}}
    sqlite, postgres = f"sqlite:///{tmp_path / 'a.db'}", "postgresql+psycopg://u@localhost/x"
    for url, leads, enabled, expected in ((sqlite, False, True, True),
                                          (postgres, False, True, False),
                                          (postgres, True, True, True),
                                          (postgres, False, False, True)):
        scheduler = SimpleNamespace(leading=leads, settings={"enabled": enabled})
        ctl = SimpleNamespace(db=SimpleNamespace(url=url), scheduler=scheduler, config=config,
                              reactor=task.Clock())
        job = daily_report(ctl)
        assert ctl.daily_report is job
        assert job._leading() is expected
