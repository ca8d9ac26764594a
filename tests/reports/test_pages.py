"""Tests for L{hotline.reports.pages}: the views the console mounts, with request parameters as
twisted.web gives them (lists of bytes)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy.orm import Session

from hotline.reports.exceptions import ReportError
from hotline.reports.pages import (
    SiteSettings,
    daily_view,
    heat_map_view,
    pressure_view,
    rates_view,
    sla_view,
)
from tests.reports.seed import DAY, SLA_BY_DEPARTMENT, seed_daily, seed_rates, seed_sla

SITE = SiteSettings("Asia/Shanghai", {"satisfied_min_score": 4, "calls_per_agent_hour": 6.0,
                                      "grid_geometry": ""})
WEEK_ARGS = {b"from": [b"2026-11-02"], b"to": [b"2026-11-08"]}


def test_sla_filter_by_department_then_csv(session: Session) -> None:
    """The supervisor's path: the SLA page, filtered to one department, then its CSV download
    (a file name given) with that department's counts."""
    seed_sla(session)
    page = sla_view(session, {**WEEK_ARGS, b"department": [b"D2"], b"weeks": [b"4"]},
                    settings=SITE)
    assert page.content_type.startswith("text/html") and page.filename is None
    assert "承办部门 = D2".encode() in page.body and b"class='chart sla-trend'" in page.body
    download = sla_view(session, {**WEEK_ARGS, b"department": [b"D2"], b"format": [b"csv"]},
                        settings=SITE)
    assert download.filename == "sla-2026-11-02-2026-11-08.csv"
    rows = list(csv.DictReader(io.StringIO(download.body.decode("utf-8-sig"))))
    d2 = next(r for r in rows if r["department"] == "D2")
    assert int(d2["met"]) == SLA_BY_DEPARTMENT["D2"]["met"]
    assert [r["department"] for r in rows] == ["D2", ""]


def test_drill_down_view(session: Session) -> None:
    """view=tickets lists the callbacks of one outcome; as CSV too."""
    seed_sla(session)
    args = {**WEEK_ARGS, b"department": [b"D1"], b"view": [b"tickets"], b"outcome": [b"late"]}
    page = sla_view(session, args, settings=SITE)
    assert page.body.count(b"<tr data-ticket=") == 14
    rows = sla_view(session, {**args, b"format": [b"csv"]}, settings=SITE)
    assert len(rows.body.decode("utf-8-sig").strip().splitlines()) == 15


@pytest.mark.parametrize("args", [
    {b"from": [b"yesterday"]},
    {**WEEK_ARGS, b"format": [b"pdf"]},
    {**WEEK_ARGS, b"by": [b"colour"]},
    {**WEEK_ARGS, b"offset": [b"ten"], b"view": [b"tickets"]},
    {**WEEK_ARGS, b"department": [b"\xff"]},
])
def test_bad_parameters_are_400(session: Session, args) -> None:
    """Malformed parameters raise a ReportError the web layer turns into a 400."""
    with pytest.raises(ReportError) as e:
        sla_view(session, args, settings=SITE)
    assert e.value.status_code == 400


def test_rates_view(session: Session) -> None:
    """The rates view answers the page, or the CSV download."""
    seed_rates(session)
    assert "响应率".encode() in rates_view(session, WEEK_ARGS, settings=SITE).body
    download = rates_view(session, {**WEEK_ARGS, b"format": [b"csv"]}, settings=SITE)
    assert download.filename == "rates-2026-11-02-2026-11-08.csv"


def test_daily_heat_map_and_pressure(session: Session) -> None:
    """The daily report, heat map and pressure curve views answer HTML or SVG (the pressure
    page holds the hourly load and the threshold panels; format=svg the load chart alone)."""
    seed_daily(session)
    daily = daily_view(session, {b"date": [DAY.encode()]}, settings=SITE)
    assert "民情报告".encode() in daily.body
    svg = heat_map_view(session, {b"from": [DAY.encode()], b"to": [DAY.encode()]},
                        settings=SITE)
    root = ET.fromstring(svg.body)
    assert svg.content_type.startswith("image/svg+xml")
    counts = {g.get("data-code"): g.get("data-count") for g in root.iter()
              if g.get("data-code")}
    assert counts["G002"] == "6"
    curve = pressure_view(session, {b"date": [DAY.encode()], b"format": [b"svg"]},
                          settings=SITE)
    ET.fromstring(curve.body)
    page = pressure_view(session, {b"date": [DAY.encode()]}, settings=SITE)
    assert page.content_type.startswith("text/html") and "临界监控".encode() in page.body


def test_errors_carry_their_http_meaning() -> None:
    """A report error renders like any domain error: status 400, error id, message, details."""
    from hotline.reports.periods import period

    with pytest.raises(ReportError) as e:
        period("2026-11-08", "2026-11-01", "Asia/Shanghai")
    assert e.value.status_code == 400
    assert e.value.to_dict() == {"error_id": "bad-period",
                                 "message": "the period ends (2026-11-01) before it starts "
                                            "(2026-11-08)",
                                 "details": {"from": "2026-11-08", "to": "2026-11-01"}}
