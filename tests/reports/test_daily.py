"""Tests for L{hotline.reports.daily}: the daily public-sentiment report over a seeded day,
stored in the database and as HTML, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import ReportRecord
from db.session import make_engine, make_session_factory
from hotline.reports.daily import (
    build_daily,
    load_daily,
    next_run,
    report_day,
    run_daily_report,
)
from hotline.reports.periods import period
from tests.reports.seed import DAY, TZ, seed_daily

#: The report is written the morning after.
NOW = dt.datetime(2026, 11, 4, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def seeded(session: Session) -> tuple[Session, dict]:
    return session, seed_daily(session)


def test_figures_known_by_construction(seeded: tuple[Session, dict]) -> None:
    """Volumes, hot spots (level-2 grids counted in their level-1 grid), the incident, overdue
    promises, notable tickets and the hourly pressure are what the seed was built to give."""
    session, want = seeded
    r = build_daily(session, DAY, timezone=TZ, now=NOW)
    assert (r.tickets, r.inbound_calls) == (want["tickets"], want["inbound_calls"])
    assert {code: n for code, _, n in r.by_channel} == want["by_channel"]
    assert dict(r.by_category) == want["by_category"]
    assert r.grid_counts == want["grid_counts"]
    assert r.hot_spots[0][0] == "G002"
    assert [(i["tickets"], i["grid"]) for i in r.new_incidents] == [(want["incident_tickets"],
                                                                      "G001")]
    assert [o["ticket"] for o in r.overdue] == want["overdue"]
    assert r.overdue_total == 2
    reopened = [n["ticket"] for n in r.notable if n["why"].startswith("不满意重办")]
    assert reopened == [want["reopened"]]
    repeat = [n["ticket"] for n in r.notable if "当日来电或来信" in n["why"]]
    assert repeat == want["repeat"]
    assert len(r.pressure) == 24
    assert {h.hour: h.capacity for h in r.pressure if h.capacity} == want["capacity"]
    assert {h.hour: h.calls for h in r.pressure if h.calls} == want["calls_by_hour"]
    assert {h.hour: h.tickets for h in r.pressure if h.tickets} == want["tickets_by_hour"]


def test_job_stores_the_report_once_per_day(db_url: str) -> None:
    """The scheduler's job writes the previous site-local day's report (figures and escaped
    HTML) in its own unit of work; running it again replaces it rather than adding a row."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with factory() as s:
            seed_daily(s)
        settings = {"grid_geometry": "", "calls_per_agent_hour": 6.0}
        assert run_daily_report(factory, settings, timezone=TZ, clock=lambda: NOW) == DAY
        assert run_daily_report(factory, settings, timezone=TZ, clock=lambda: NOW) == DAY
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(ReportRecord)) == 1
            record = load_daily(s, DAY)
            assert record is not None and record.data["tickets"] == 12
            assert "<script>x</script>" not in record.html
            assert "&lt;script&gt;x&lt;/script&gt;" in record.html
            assert "停水 &lt;b&gt;片区&lt;/b&gt;" in record.html
            assert "<svg" in record.html and "data-code='G002' data-count='6'" in record.html
            assert load_daily(s, "2026-11-02") is None
    finally:
        engine.dispose()


def test_schedule_times() -> None:
    """The job reports on the site-local day before; its next run is the configured local time."""
    assert report_day(NOW, TZ).isoformat() == DAY  # 08:00 on the 4th in Shanghai
    assert next_run(NOW, at="07:30", timezone=TZ) == dt.datetime(2026, 11, 4, 23, 30,
                                                                 tzinfo=dt.UTC)
    assert next_run(NOW, at="09:00", timezone=TZ) == dt.datetime(2026, 11, 4, 1, 0,
                                                                 tzinfo=dt.UTC)


def test_day_with_clock_change() -> None:
    """A day on which clocks change has 23 or 25 hours; the period's bounds follow the zone."""
    p = period("2026-03-08", "2026-03-08", "America/New_York")
    assert (p.end - p.start) == dt.timedelta(hours=23)


def test_daily_report_shows_the_grid_workers_logs(seeded: tuple[Session, dict]) -> None:
    """The report of a day with grid-worker logs (民情日志) lists each with its worker and
    grid, escaped in the page; another day's log is not in it."""
    from db.models import Grid, GridLog, GridWorker
    from hotline.reports.charts import load_geometry
    from hotline.reports.render import daily_html

    session, _ = seeded
    grid = session.scalar(select(Grid).where(Grid.code == "G001"))
    worker = GridWorker(name="王伟", grid=grid)
    session.add(worker)
    at = dt.datetime(2026, 11, 3, 10, tzinfo=dt.UTC)
    session.add_all([
        GridLog(worker=worker, day=DAY, text="幸福路 <b>积水</b> 已报修；走访独居老人 3 户",
                created_at=at, updated_at=at),
        GridLog(worker=worker, day="2026-11-02", text="前一天的日志", created_at=at,
                updated_at=at)])
    session.flush()
    report = build_daily(session, DAY, timezone=TZ, now=NOW)
    assert [(g["worker"], g["grid"], g["text"]) for g in report.grid_logs] == \
        [("王伟", "G001", "幸福路 <b>积水</b> 已报修；走访独居老人 3 户")]
    html = daily_html(report, load_geometry())
    assert "民情日志" in html and "幸福路 &lt;b&gt;积水&lt;/b&gt; 已报修" in html
    assert "前一天的日志" not in html
