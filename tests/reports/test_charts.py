"""Tests for L{hotline.reports.charts}: well-formed, escaped SVG from a grid geometry."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hotline.reports.charts import (
    HEAT_COLOURS,
    HourLoad,
    WeekSLA,
    heat_class,
    heat_map_svg,
    load_geometry,
    pressure_curve_svg,
    sla_trend_svg,
)
from hotline.reports.exceptions import BadGeometry

NS = {"s": "http://www.w3.org/2000/svg"}


def test_sample_geometry_has_the_districts_120_grids() -> None:
    """The shipped geometry has one outline for each level-1 grid code hotline/sample.py makes."""
    geometry = load_geometry()
    assert [g.code for g in geometry.grids] == [f"G{i:03d}" for i in range(1, 121)]
    assert all(len(g.polygon) >= 3 for g in geometry.grids)
    for g in geometry.grids:
        assert all(0 <= x <= geometry.width and 0 <= y <= geometry.height for x, y in g.polygon)


def test_heat_map_shades_by_count() -> None:
    """Each grid is a polygon carrying its count, coloured by its class; grids without tickets
    are the empty colour; the SVG parses as XML."""
    geometry = load_geometry()
    counts = {"G001": 10, "G002": 5, "G003": 1}
    root = ET.fromstring(heat_map_svg(geometry, counts))
    groups = root.findall(".//s:g[@class='grid']", NS)
    assert len(groups) == 120
    by_code = {g.get("data-code"): g for g in groups}
    assert by_code["G001"].get("data-count") == "10"
    assert by_code["G001"].find("s:polygon", NS).get("fill") == HEAT_COLOURS[5]
    assert by_code["G002"].find("s:polygon", NS).get("fill") == HEAT_COLOURS[3]
    assert by_code["G003"].find("s:polygon", NS).get("fill") == HEAT_COLOURS[1]
    assert by_code["G120"].find("s:polygon", NS).get("fill") == HEAT_COLOURS[0]
    assert [heat_class(n, 10) for n in (0, 1, 2, 3, 9, 10)] == [0, 1, 1, 2, 5, 5]


def test_names_are_escaped(tmp_path: Path) -> None:
    """A grid name or title with markup stays text: the SVG still parses and has no script."""
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"width": 100, "height": 100, "grids": [
        {"code": "X<1>", "name": "<script>alert(1)</script>", "polygon": [[0, 0], [50, 0],
                                                                         [50, 50]]}]}))
    svg = heat_map_svg(load_geometry(path), {"X<1>": 3}, title="a & b <i>")
    root = ET.fromstring(svg)
    assert root.find(".//s:script", NS) is None and "<script>" not in svg
    assert root.find("s:title", NS).text == "a & b <i>"


@pytest.mark.parametrize("content, why", [
    (None, "cannot read"),
    ("not json", "cannot read"),
    ('{"width": 10, "height": 10}', "not usable"),
    ('{"width": 10, "height": 10, "grids": [{"code": "A", "polygon": [[0, 0], [1, 1]]}]}',
     "fewer than 3"),
    ('{"width": 10, "height": 10, "grids": [{"code": "A", "polygon": [[0,0],[1,0],[1,1]]},'
     ' {"code": "A", "polygon": [[0,0],[1,0],[1,1]]}]}', "twice"),
    ('{"width": 10, "height": 10, "grids": []}', "no grids"),
])
def test_bad_geometry_refused(tmp_path: Path, content: str | None, why: str) -> None:
    """A missing, malformed or inconsistent geometry file is refused saying what is wrong."""
    path = tmp_path / "g.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BadGeometry, match=why):
        load_geometry(path)


def test_pressure_curve() -> None:
    """One bar per hour, a tickets line and a capacity step line, as parseable SVG."""
    hours = [HourLoad(h, tickets=h % 5, calls=h % 7, capacity=12.0 if 8 <= h < 18 else 0)
             for h in range(24)]
    root = ET.fromstring(pressure_curve_svg(hours))
    assert len(root.findall(".//s:rect[@class='calls']", NS)) == 24
    assert root.find(".//s:polyline[@class='tickets']", NS) is not None
    assert len(root.find(".//s:polyline[@class='capacity']", NS).get("points").split()) == 48


def test_sla_trend_leaves_gaps() -> None:
    """A point per week with a rate, none for a week with nothing settled."""
    weeks = [WeekSLA("2026-W44", 0.9, 10), WeekSLA("2026-W45", None, 0),
             WeekSLA("2026-W46", 0.5, 4)]
    root = ET.fromstring(sla_trend_svg(weeks, target=0.95))
    points = root.findall(".//s:circle[@class='week']", NS)
    assert [p.get("data-week") for p in points] == ["2026-W44", "2026-W46"]
    assert root.find(".//s:line[@class='target']", NS) is not None
