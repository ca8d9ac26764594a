"""Every report page and the wall board read in Simplified Chinese: the text a person sees (tags,
attributes, styles and scripts left aside; chart tooltips included) holds no English words beyond a short list of codes
and units, and dates are written the zh-CN way."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Department, Grid, Incident, Ticket, TicketEvent
from hotline.reports import render
from hotline.reports.pages import (
    SiteSettings,
    daily_view,
    heat_map_view,
    pressure_view,
    rates_view,
    service_view,
    sla_view,
)
from hotline.reports.wallboard import database_figures
from tests.reports.seed import DAY, seed_daily, seed_rates, seed_sla
from tests.reports.test_pressure import DAY as PRESSURE_DAY
from tests.reports.test_pressure import seed as seed_pressure

SITE = SiteSettings("Asia/Shanghai", {"satisfied_min_score": 4, "calls_per_agent_hour": 6.0,
                                      "grid_geometry": "", "service_level_s": 15.0,
                                      "pressure_step_min": 15})
WEEK = {b"from": [b"2026-11-02"], b"to": [b"2026-11-08"]}

#: Latin words a Chinese report may carry: codes, units, standards, the zone's name.
ALLOWED = frozenset({"SLA", "CSV", "UTC", "GB", "PDF", "Asia", "Shanghai", "SVG"})

_HIDDEN = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(page: str, data: Iterable[str] = ()) -> set[str]:
    """The Latin words a reader sees on ``page`` (markup removed, tooltips kept, entities
    decoded), but the
    allowed codes and the words of ``data`` (names and codes that are the site's data)."""
    text = html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", page)))
    known = set(ALLOWED)
    for item in data:
        known.update(_WORD.findall(item))
    return {w for w in _WORD.findall(text) if w not in known}


def test_the_scanner_finds_english() -> None:
    """The check can fail: an English label is found, a code in the allow-list and markup
    are not."""
    assert english_words("<p class='x'>Service level 服务水平 SLA</p>") == {"Service", "level"}
    assert english_words("<svg><style>.a{fill:red}</style><text>来电</text></svg>") == set()
    assert english_words("<svg><title>Calls</title></svg>") == {"Calls"}


def _site_data(session: Session) -> list[str]:
    """The seeded names, numbers, categories and texts a page shows as they are."""
    columns = (Ticket.number, Ticket.category, TicketEvent.text, Department.name, Grid.name,
               Incident.title)
    return [str(v) for c in columns for v in session.scalars(select(c)) if v]


#: Each report page: the seed that fills it, its view and its parameters.
PAGES = {
    "sla": (seed_sla, sla_view, {**WEEK, b"weeks": [b"4"]}),
    "sla-tickets": (seed_sla, sla_view, {**WEEK, b"view": [b"tickets"]}),
    "rates": (seed_rates, rates_view, WEEK),
    "daily": (seed_daily, daily_view, {b"date": [DAY.encode()]}),
    "heat-map": (seed_daily, heat_map_view, {b"from": [DAY.encode()], b"to": [DAY.encode()],
                                             b"format": [b"html"]}),
    "service": (seed_pressure, service_view, {b"from": [PRESSURE_DAY.encode()],
                                              b"to": [PRESSURE_DAY.encode()]}),
    "pressure": (seed_pressure, pressure_view, {b"date": [PRESSURE_DAY.encode()]}),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_report_pages_are_chinese(session: Session, name: str) -> None:
    """Each report page (the SLA report with its drill-down and weekly trend, the three rates,
    the daily report, the heat map, the service figures, the pressure page) shows no English
    words and writes its dates as 2026年11月2日."""
    seed, view, args = PAGES[name]
    seed(session)
    text = view(session, args, settings=SITE).body.decode("utf-8")
    assert english_words(text, _site_data(session)) == set()
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)


def test_wall_board_is_chinese(session: Session) -> None:
    """The wall board's tiles read in Chinese, the service level definition included."""
    seed_pressure(session)
    now = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)
    board = {"calls_waiting": 3, "calls_talking": 2, "longest_wait_s": 42.0, "agents_free": 1,
             "agents_ringing": 0, "agents_talking": 2, "agents_paused": 1, "agents_wrapup": 0,
             "agents_unavailable": 0, "now": now.isoformat(),
             **database_figures(session, now, timezone="Asia/Shanghai", service_level_s=15.0)}
    assert english_words(render.wallboard_html(board)) == set()
    assert english_words(render.wallboard_html(board, page_=True)) == set()
