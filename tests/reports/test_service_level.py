"""Tests for L{hotline.reports.service_level}: the service figures by hour and by day over
seeded call rows, the command that writes them and the wall board's 24-hour connection rate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from db.models import Call
from hotline.cli.main import main
from hotline.reports.periods import period
from hotline.reports.service_level import ServiceFigures, service_report
from hotline.reports.wallboard import database_figures

TZ = "Asia/Shanghai"
# 2026-11-26 09:xx and 10:xx in Shanghai.
NINE = dt.datetime(2026, 11, 26, 1, 10, tzinfo=dt.UTC)
TEN = dt.datetime(2026, 11, 26, 2, 20, tzinfo=dt.UTC)


def _seed(session: Session) -> None:
    """09:xx: answered after 5, 15 and 16 s, abandoned after 40 s; 10:xx: answered after 3 s,
    abandoned after 2 s; a greeting hang-up (never queued) and a callback are not counted."""
    rows = [(NINE, "completed", 5.0), (NINE, "completed", 15.0), (NINE, "completed", 16.0),
            (NINE, "abandoned", 40.0), (TEN, "completed", 3.0), (TEN, "abandoned", 2.0),
            (TEN, "completed", None)]
    for k, (at, status, wait) in enumerate(rows):
        answered = at if status == "completed" and wait is not None else None
        session.add(Call(uniqueid=f"s.{k}", linkedid=f"s.{k}", direction="inbound",
                         started_at=at, status=status, queue_wait_s=wait, answered_at=answered))
    session.add(Call(uniqueid="cb.1", linkedid="cb.1", direction="callback", started_at=TEN,
                     status="completed", queue_wait_s=100.0, answered_at=TEN))
    session.commit()


def test_figures_by_hour_and_day(session: Session) -> None:
    """By hour: 09:00 has 2 of 4 answered within 15 s (exactly 15 s counts), 3 of 4 connected,
    1 abandoned, 12 s average and 40 s longest wait; by day every day of the period is a row,
    the empty one with no rates."""
    _seed(session)
    by_hour = service_report(session, period("2026-11-26", "2026-11-26", TZ), by="hour",
                             threshold_s=15.0)
    nine, ten = by_hour.rows
    assert (nine.label, ten.label) == ("2026-11-26 09:00", "2026-11-26 10:00")
    assert (nine.settled, nine.answered, nine.answered_in_time, nine.abandoned) == (4, 3, 2, 1)
    assert nine.service_level == pytest.approx(0.5)
    assert nine.connection_rate == pytest.approx(0.75)
    assert nine.abandon_rate == pytest.approx(0.25)
    assert (nine.average_wait_s, nine.longest_wait_s) == (pytest.approx(12.0), 40.0)
    assert (ten.settled, ten.answered_in_time) == (2, 1)
    assert by_hour.total.settled == 6 and by_hour.total.service_level == pytest.approx(0.5)
    by_day = service_report(session, period("2026-11-25", "2026-11-26", TZ), by="day")
    assert [r.label for r in by_day.rows] == ["2026-11-25", "2026-11-26"]
    assert by_day.rows[0].service_level is None and by_day.rows[1].settled == 6


def test_empty_figures_have_no_rates() -> None:
    """With nothing settled every rate and wait is None, never a division by zero."""
    f = ServiceFigures("x")
    assert (f.service_level, f.connection_rate, f.abandon_rate, f.average_wait_s) == \
        (None, None, None, None)


def test_wallboard_shows_the_24_hour_connection_rate(session: Session) -> None:
    """The wall board's connection rate covers the last 24 hours, today's waits today."""
    _seed(session)
    now = TEN + dt.timedelta(hours=1)
    f = database_figures(session, now, timezone=TZ, service_level_s=15.0)
    assert f["connection_rate_24h"] == pytest.approx(4 / 6) and f["settled_24h"] == 6
    assert f["service_level"] == pytest.approx(3 / 6)
    assert f["abandon_rate_today"] == pytest.approx(2 / 6)
    assert f["longest_wait_today_s"] == 40.0


def test_command_writes_json_by_hour(db_url: str, session: Session, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``hotline report service --by hour --format json`` writes the same figures."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    _seed(session)
    out = tmp_path / "service.json"
    assert main(["report", "service", "--from", "2026-11-26", "--to", "2026-11-26",
                 "--by", "hour", "--format", "json", "-o", str(out)]) == 0
    data = json.loads(out.read_text("utf-8"))
    assert data["threshold_s"] == 15.0
    assert [r["answered_in_time"] for r in data["rows"]] == [2, 1]
    assert data["total"]["connection_rate"] == pytest.approx(4 / 6)
