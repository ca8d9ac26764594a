"""Tests for L{hotline.reports.render}: HTML escaped and printable, CSV safe in spreadsheets."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session

from hotline.reports import render
from hotline.reports.rates import rates_report
from hotline.reports.sla import SLAFilter, sla_report, sla_tickets
from tests.reports.seed import WEEK, seed_rates, seed_sla


@pytest.mark.parametrize("value, cell", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("供水", "供水"), (7, 7), (0.5, 0.5), (None, ""), (True, "yes"),
])
def test_safe_cell(value, cell) -> None:
    """Text a spreadsheet would run as a formula is quoted; numbers and plain text stay."""
    assert render.safe_cell(value) == cell


def _parse(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, for spreadsheets"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_sla_csv_defuses_formulas_and_round_trips(session: Session) -> None:
    """Grouped by category, the seeded category '=cmd()' comes out quoted; every row has the
    header's width and the numbers read back as the report's."""
    seed_sla(session)
    report = sla_report(session, WEEK, by="category")
    rows = _parse(render.sla_csv(report))
    assert rows[0][:3] == ["category", "label", "due"]
    assert all(len(r) == len(rows[0]) for r in rows)
    keys = [r[0] for r in rows[1:-1]]
    assert "'=cmd()" in keys and "=cmd()" not in keys
    assert int(rows[-1][2]) == report.totals.due


def test_sla_html_escapes_and_prints(session: Session) -> None:
    """Department names with markup are escaped in the page and the drill-down links; the page
    carries the print style and the definitions; the fragment is not a whole document."""
    seed_sla(session)
    report = sla_report(session, WEEK, SLAFilter(category="=cmd()"), by="department")
    rows = sla_tickets(session, WEEK, SLAFilter(category="=cmd()"), limit=5)
    html = render.sla_html(report, tickets=rows)
    assert "住建 &lt;b&gt;&amp;&#34;局" in html and "<b>&" not in html
    assert "@media print" in html and "口径说明" in html
    assert "?from=2026-11-02&amp;to=2026-11-08&amp;by=department&amp;category=%3Dcmd%28%29" \
        "&amp;department=D1" in html
    assert "138****" in html and "13800130" not in html
    fragment = render.sla_html(report, page_=False)
    assert fragment.lstrip().startswith("<section") and "<html" not in fragment


def test_rates_html_prints_definitions(session: Session) -> None:
    """The rates page names each rate and its definition, and escapes department names."""
    seed_rates(session)
    html = render.rates_html(rates_report(session, WEEK))
    for term in ("响应率", "办结率", "满意率"):
        assert term in html
    assert "住建 &lt;b&gt;" in html
    rows = _parse(render.rates_csv(rates_report(session, WEEK)))
    assert rows[-1][1] == "total"


def test_wallboard_fragment() -> None:
    """The wall board tiles show the figures (wrap-up, the 24-hour connection rate, today's
    abandon rate and waits among them); a missing service level is a dash."""
    figures = {"calls_waiting": 3, "longest_wait_s": 41.6, "agents_free": 1,
               "agents_talking": 2, "agents_paused": 1, "agents_wrapup": 2,
               "service_level": None, "service_level_s": 15.0, "abandoned_today": 4,
               "abandon_rate_today": 0.25, "connection_rate_24h": 0.955,
               "average_wait_today_s": 7.5, "longest_wait_today_s": 63.0,
               "callbacks_due_next_hour": 5, "now": "2026-11-26T10:00:00+00:00"}
    html = render.wallboard_html(figures)
    assert "data-k=\"calls_waiting\"><div class=\"v\">3<" in html
    assert ">42 秒<" in html and ">—<" in html
    assert ">95.5%<" in html and "放弃率 25.0%" in html and ">7.5 秒<" in html
    assert "最长 63.0 秒" in html and "15 秒内接听" in html
    assert "data-k=\"agents_wrapup\"><div class=\"v\">2<" in html
