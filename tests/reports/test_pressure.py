"""Tests for L{hotline.reports.pressure}: the pressure curve's critical thresholds over seeded
calls and agent state changes that cross each threshold at known moments, as figures, as the
chart's marks, as the page's list and as the command's table."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from db.models import Agent, AgentStateChange, Call
from hotline.cli.main import main
from hotline.reports.charts import pressure_thresholds_svg
from hotline.reports.exceptions import ReportError
from hotline.reports.pages import SiteSettings, pressure_view
from hotline.reports.periods import day_period
from hotline.reports.pressure import Measure, Thresholds, pressure_report

TZ = "Asia/Shanghai"
DAY = "2026-11-26"
THRESHOLDS = Thresholds(calls_waiting=2, service_level=0.8, agents_free=1)
SITE = SiteSettings(TZ, {"calls_per_agent_hour": 6.0, "service_level_s": 15.0,
                         "pressure_calls_waiting": 2, "pressure_service_level": 0.8,
                         "pressure_agents_free": 1, "pressure_step_min": 15})

#: (measure, crossed, worst value, recovered), site-local, as the seed below is built to give.
EXPECTED = [
    ("service_level", "09:15:00", 0.0, "09:30:00"),
    ("calls_waiting", "09:20:10", 3.0, "09:20:50"),
    ("agents_free", "09:22:00", 0.0, "09:25:00"),
    ("agents_free", "10:05:00", 0.0, "10:10:00"),
]


def _at(hhmmss: str) -> dt.datetime:
    """A site-local time of DAY (Shanghai, UTC+8) in UTC."""
    h, m, s = map(int, hhmmss.split(":"))
    return dt.datetime(2026, 11, 26, h - 8, m, s, tzinfo=dt.UTC)


def seed(session: Session) -> None:
    """Two agents log in at 09:00 and out at 12:00, A2 pauses 10:00-10:30. Calls (started,
    left the queue, waited, agent): c1 09:18:30, answered 09:21:00 after 120 s by A1, talks to
    09:25; c2 09:18:30, answered 09:22:00 after 150 s by A2, talks to 09:26; c3 09:19:50,
    abandoned at 09:20:50 after 40 s; c4 09:35:00, answered after 5 s by A1 to 09:36; c5
    10:04:57, answered 10:05:00 after 3 s by A1 to 10:10. So three calls wait 09:20:10-09:20:50,
    the 09:15 step answers none of its three in 15 s (the 09:30 one all), nobody is free
    09:22-09:25 and, with A2 paused, 10:05-10:10."""
    a1, a2 = Agent(code="7101", name="甲"), Agent(code="7102", name="乙")
    session.add_all([a1, a2])
    session.flush()
    for agent, state, at in [(a1, "login", "09:00:00"), (a2, "login", "09:00:00"),
                             (a2, "pause", "10:00:00"), (a2, "unpause", "10:30:00"),
                             (a1, "logout", "12:00:00"), (a2, "logout", "12:00:00")]:
        session.add(AgentStateChange(agent_id=agent.id, state=state, at=_at(at)))
    calls = [("c1", "09:18:30", "09:21:00", "09:25:00", 120.0, a1),
             ("c2", "09:18:30", "09:22:00", "09:26:00", 150.0, a2),
             ("c3", "09:19:50", None, "09:20:50", 40.0, None),
             ("c4", "09:35:00", "09:35:05", "09:36:00", 5.0, a1),
             ("c5", "10:04:57", "10:05:00", "10:10:00", 3.0, a1)]
    for uid, started, answered, ended, wait, agent in calls:
        session.add(Call(uniqueid=f"pr.{uid}", linkedid=f"pr.{uid}", direction="inbound",
                         started_at=_at(started),
                         answered_at=_at(answered) if answered else None,
                         ended_at=_at(ended), queue_wait_s=wait,
                         agent_id=agent.id if agent else None,
                         status="completed" if answered else "abandoned"))
    session.commit()


def _crossings(report) -> list[tuple[str, str, float, str | None]]:
    p = report.period
    return [(str(c.measure), p.local(c.at).strftime("%H:%M:%S"), c.value,
             p.local(c.recovered_at).strftime("%H:%M:%S") if c.recovered_at else None)
            for c in report.crossings]


def test_crossings_at_known_moments(session: Session) -> None:
    """Each threshold is reported crossed, with its worst value and recovery, exactly at the
    moments the seeded calls and agent states make it so, and at no other."""
    seed(session)
    report = pressure_report(session, day_period(DAY, TZ), thresholds=THRESHOLDS,
                             step_min=15, now=_at("23:00:00"))
    assert _crossings(report) == EXPECTED
    by_label = {s.label: s for s in report.steps}
    assert len(report.steps) == 96
    assert by_label["09:15"].calls_waiting == 3 and by_label["09:30"].calls_waiting == 1
    assert by_label["09:15"].service.settled == 3
    assert by_label["09:15"].service.service_level == 0.0
    assert by_label["09:30"].service.service_level == 1.0
    assert by_label["08:45"].agents_free is None and by_label["09:00"].agents_free == 2
    assert by_label["10:00"].agents_free == 0 and by_label["10:15"].agents_free == 1
    assert by_label["12:00"].agents_free is None


def test_thresholds_move_the_marks(session: Session) -> None:
    """Looser lines leave fewer crossings: three waiting is not beyond a line of three, and a
    70 % service level line is still crossed by a step that answered none in time."""
    seed(session)
    loose = Thresholds(calls_waiting=3, service_level=0.7, agents_free=0)
    report = pressure_report(session, day_period(DAY, TZ), thresholds=loose, step_min=60,
                             now=_at("23:00:00"))
    assert _crossings(report) == [("service_level", "09:00:00", pytest.approx(1 / 4),
                                   "10:00:00")]


def test_chart_marks_each_crossing(session: Session) -> None:
    """The chart has one dashed threshold line per panel and one mark per crossing, at the
    crossing's site-local time."""
    seed(session)
    report = pressure_report(session, day_period(DAY, TZ), thresholds=THRESHOLDS,
                             now=_at("23:00:00"))
    root = ET.fromstring(pressure_thresholds_svg(report))
    marks = [(e.get("data-measure"), e.get("data-at")) for e in root.iter()
             if e.get("class") == "crossing"]
    assert sorted(marks) == sorted((m, at) for m, at, _, _ in EXPECTED)
    lines = {e.get("data-value") for e in root.iter()
             if e.get("class") == "threshold"}
    assert lines == {"2", "0.8", "1"}
    assert {e.get("data-measure") for e in root.iter() if e.get("class") == "panel"} == \
        {str(m) for m in Measure}


def test_page_json_and_command(session: Session, db_url: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The page lists the crossings beside the marked chart, the JSON carries the same moments,
    a bad step is a 400, and ``hotline report pressure`` prints them one a line."""
    seed(session)
    page = pressure_view(session, {b"date": [DAY.encode()]}, settings=SITE).body.decode()
    assert page.count("<tr class=\"crossing\"") == len(EXPECTED)
    assert page.count("class='crossing'") == len(EXPECTED)
    assert "2026年11月26日" in page and "越限时刻" in page
    data = json.loads(pressure_view(session, {"date": DAY, "format": "json"},
                                    settings=SITE).body)
    assert [(c["measure"], c["local"], c["recovered_local"]) for c in data["crossings"]] == \
        [(m, at, back) for m, at, _, back in EXPECTED]
    assert data["thresholds"] == {"calls_waiting": 2, "service_level": 0.8, "agents_free": 1}
    with pytest.raises(ReportError) as e:
        pressure_view(session, {"date": DAY, "step": "7"}, settings=SITE)
    assert e.value.status_code == 400
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    site = tmp_path / "site.toml"
    site.write_text("[reports]\npressure_calls_waiting = 2\n", "utf-8")
    monkeypatch.setenv("HOTLINE_CONFIG", str(site))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "pressure.txt"
    assert main(["report", "pressure", "--date", DAY, "-o", str(out)]) == 0
    lines = out.read_text("utf-8").splitlines()
    assert [line.split()[:2] for line in lines[2:]] == [[at, m] for m, at, _, _ in EXPECTED]
