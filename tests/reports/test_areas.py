"""Tests for L{hotline.reports.areas} and the heat map view: with the SAMPLE map imported,
tickets counted street → community → grid → sub-grid, each level linking one down."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy.orm import Session

from hotline.grid import maps
from hotline.grid.exceptions import NoSuchArea
from hotline.grid.mapfile import read_map
from hotline.reports.areas import area_view, has_map
from hotline.reports.exceptions import ReportError
from hotline.reports.pages import SiteSettings, heat_map_view
from hotline.reports.periods import period
from hotline.tickets.service import TicketService

TZ = "Asia/Shanghai"
DAY = "2026-11-03"
SITE = SiteSettings(TZ, {"grid_geometry": ""})
#: Sub-grid → tickets filed there on DAY (G001..G003 are in community C01 of street S01).
PLACED = {"G001-01": 2, "G001-02": 1, "G002-01": 3, "G042-01": 4}


@pytest.fixture
def seeded(session: Session) -> Session:
    maps.import_map(session, read_map(maps.sample_map_path().read_bytes()), actor="test")
    at = dt.datetime(2026, 11, 3, 2, tzinfo=dt.UTC)
    service = TicketService(clock=lambda: at)
    for code, n in PLACED.items():
        for _ in range(n):
            service.intake(session, {"channel": "web", "kind": "help", "description": "x",
                                     "grid": code}, actor="t")
    service.intake(session, {"channel": "web", "kind": "help", "description": "no grid"},
                   actor="t")
    return session


def test_drill_down_counts_each_level(seeded: Session) -> None:
    """The whole district by street sums every placed ticket; inside S01 the community C01
    holds G001-G003's tickets; inside C01 the grids; inside G001 its sub-grids."""
    p = period(DAY, DAY, TZ)
    streets = area_view(seeded, p, level="street")
    assert len(streets.areas) == 7 and streets.total == sum(PLACED.values())
    s01 = next(a for a in streets.areas if a.code == "S01")
    communities = area_view(seeded, p, within="S01")
    assert {a.level for a in communities.areas} == {"community"}
    assert sum(a.tickets for a in communities.areas) == s01.tickets
    grids = {a.code: a.tickets for a in area_view(seeded, p, within="C01").areas}
    assert (grids["G001"], grids["G002"]) == (3, 3)
    subs = area_view(seeded, p, within="G001")
    assert {a.code: a.tickets for a in subs.areas if a.tickets} == {"G001-01": 2, "G001-02": 1}
    assert [code for code, _, _ in subs.trail] == ["S01", "C01", "G001"]
    assert not any(a.deeper for a in subs.areas)
    whole = area_view(seeded, p)
    assert whole.level == "grid" and len(whole.areas) == 120


def test_bad_level_and_unknown_area(seeded: Session) -> None:
    """An unknown level is a report error; an unknown code says no such area."""
    p = period(DAY, DAY, TZ)
    with pytest.raises(ReportError):
        area_view(seeded, p, level="province")
    with pytest.raises(NoSuchArea):
        area_view(seeded, p, within="NOPE")


def test_heat_map_view_links_one_level_down(seeded: Session) -> None:
    """The SVG links every street into its communities; the fragment adds the trail and the
    counts table; without an imported map the geometry file is drawn as before."""
    params = {b"from": [DAY.encode()], b"to": [DAY.encode()], b"level": [b"street"]}
    svg = heat_map_view(seeded, params, settings=SITE)
    root = ET.fromstring(svg.body)
    ns = {"s": "http://www.w3.org/2000/svg"}
    links = [a.get("href") for a in root.iter("{http://www.w3.org/2000/svg}a")]
    assert len(links) == 7 and all("within=S0" in h for h in links)
    assert len(root.findall(".//s:g[@class='grid']", ns)) == 7
    fragment = heat_map_view(seeded, {**params, b"fragment": [b"1"], b"level": [],
                                      b"within": [b"G001"]}, settings=SITE).body.decode()
    assert 'id="drill-trail"' in fragment and "社区 示例第1社区" in fragment
    assert '<tr data-code="G001-01"><td>G001-01' in fragment


def test_no_map_no_drill_down(session: Session) -> None:
    """Before any map import there is nothing to drill into."""
    assert not has_map(session)
