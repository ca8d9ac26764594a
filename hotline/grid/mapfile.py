# -*- test-case-name: tests.grid.test_mapfile -*-
"""Reading and checking a district map file (GeoJSON) with shapely, without touching the
database: ``read_map`` returns a ``DistrictMap`` or raises ``MapRefused`` listing every problem.

The file is a GeoJSON FeatureCollection in WGS-84 longitude/latitude. Its own ``name`` and
``sample`` members name the map and mark the shipped sample. Each feature is one area::

    {"type": "Feature",
     "properties": {"level": "sub_grid", "code": "G001-01", "name": "...", "parent": "G001"},
     "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], ...]]}}

``level`` is street, community, grid or sub_grid; every level but street names its ``parent``
one level up. Checked: valid polygons (shapely's reason, e.g. a self-intersection, is quoted),
codes unique in the file, every parent present and one level up, every area inside its parent,
no two areas of one parent overlapping (a point could not be placed).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from hotline.grid.exceptions import MapProblem, MapRefused
from hotline.grid.schemas import LEVEL_LABELS, AreaLevel

__all__ = ["Area", "DistrictMap", "read_map", "check_areas", "CONTAINMENT_TOLERANCE",
           "MAX_FEATURES"]

#: How far (degrees, ~0.5 m) an area may stick out of its parent or into a sibling: surveyed
#: outlines are digitised separately and never share edges to the last digit.
CONTAINMENT_TOLERANCE = 5e-6
#: A district map larger than this is not a district's (and would take minutes to check).
MAX_FEATURES = 20_000
_CODE_MAX, _NAME_MAX = 32, 100


@dataclass(frozen=True)
class Area:
    """One area of the map, checked: its level, code, name, parent code and outline."""

    level: AreaLevel
    code: str
    name: str
    parent: str | None
    geometry: BaseGeometry

    def geojson(self) -> dict[str, Any]:
        """The outline as a GeoJSON geometry object (what the database keeps)."""
        return shapely.geometry.mapping(self.geometry)  # type: ignore[return-value]


@dataclass(frozen=True)
class DistrictMap:
    """A checked map: its name, whether it is the SAMPLE map, and its areas top down."""

    name: str
    sample: bool
    areas: tuple[Area, ...]

    def of_level(self, level: AreaLevel) -> list[Area]:
        return [a for a in self.areas if a.level == level]

    def counts(self) -> dict[str, int]:
        """Areas per level: {"street": 7, "community": 45, "grid": 120, "sub_grid": 532}."""
        found = Counter(a.level.value for a in self.areas)
        return {level.value: found.get(level.value, 0) for level in AreaLevel}


def read_map(text: str | bytes) -> DistrictMap:
    """Parse and check a map file. Raises MapRefused naming every problem found."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise MapRefused([MapProblem(None, None, "not-json", f"not JSON: {e}")]) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise MapRefused([MapProblem(None, None, "not-feature-collection",
                                     "not a GeoJSON FeatureCollection with a features list")])
    features = data["features"]
    if not features:
        raise MapRefused([MapProblem(None, None, "empty", "the file has no features")])
    if len(features) > MAX_FEATURES:
        raise MapRefused([MapProblem(None, None, "too-large",
                                     f"{len(features)} features; at most {MAX_FEATURES}")])
    problems: list[MapProblem] = []
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        problems.append(MapProblem(None, None, "bad-name", "name must be text of at most 200"))
        name = None
    areas: list[tuple[int, Area]] = []
    for i, feature in enumerate(features):
        area = _read_feature(i, feature, problems)
        if area is not None:
            areas.append((i, area))
    # Areas refused on their own (a broken outline) still exist as parents: their children
    # are not reported again as having an unknown parent.
    refused = {p.code for p in problems if p.code} - {a.code for _, a in areas}
    problems += check_areas(areas, refused=refused)
    if problems:
        raise MapRefused(problems)
    order = list(AreaLevel)
    areas.sort(key=lambda ia: (order.index(ia[1].level), ia[0]))
    return DistrictMap(name or "district map", data.get("sample") is True,
                       tuple(a for _, a in areas))


def _read_feature(i: int, feature: Any, problems: list[MapProblem]) -> Area | None:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        problems.append(MapProblem(i, None, "not-feature", "not a GeoJSON Feature"))
        return None
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        problems.append(MapProblem(i, None, "no-properties",
                                   "has no properties (level, code, name, parent)"))
        return None
    code = props.get("code")
    if not isinstance(code, str) or not code.strip() or len(code.strip()) > _CODE_MAX:
        problems.append(MapProblem(i, None, "bad-code",
                                   f"code must be text of 1-{_CODE_MAX} characters"))
        code = None
    else:
        code = code.strip()
    ok = code is not None
    try:
        level = AreaLevel(props.get("level"))
    except ValueError:
        problems.append(MapProblem(i, code, "bad-level", f"level {props.get('level')!r} is not "
                                   f"one of {', '.join(lv.value for lv in AreaLevel)}"))
        level, ok = None, False
    name = props.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > _NAME_MAX:
        problems.append(MapProblem(i, code, "bad-name",
                                   f"name must be text of 1-{_NAME_MAX} characters"))
        ok = False
    parent = props.get("parent")
    if level is not None and level.parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            problems.append(MapProblem(i, code, "no-parent", f"a {level.value} needs the code "
                                       f"of its {level.parent.value} in parent"))
            ok = False
    elif parent not in (None, ""):
        problems.append(MapProblem(i, code, "unexpected-parent", "a street has no parent"))
        ok = False
    geometry = _read_geometry(i, code, feature.get("geometry"), problems)
    if not ok or geometry is None:
        return None
    assert level is not None and code is not None
    return Area(level, code, name.strip(), parent.strip() if level.parent else None, geometry)


def _read_geometry(i: int, code: str | None, raw: Any,
                   problems: list[MapProblem]) -> BaseGeometry | None:
    if not isinstance(raw, Mapping) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        problems.append(MapProblem(i, code, "bad-geometry",
                                   "geometry must be a Polygon or MultiPolygon"))
        return None
    try:
        geometry = shape(raw)
    except Exception as e:  # noqa: BLE001 - shapely raises several kinds for bad coordinates
        problems.append(MapProblem(i, code, "bad-geometry", f"coordinates unreadable: {e}"))
        return None
    if geometry.is_empty:
        problems.append(MapProblem(i, code, "bad-geometry", "the polygon is empty"))
        return None
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        problems.append(MapProblem(i, code, "not-lon-lat",
                                   "coordinates are not longitude/latitude (WGS-84)"))
        return None
    if not geometry.is_valid:
        problems.append(MapProblem(i, code, "invalid-polygon",
                                   f"invalid polygon: {shapely.is_valid_reason(geometry)}"))
        return None
    return geometry


def check_areas(areas: Iterable[tuple[int, Area]], *,
                refused: Iterable[str] = ()) -> list[MapProblem]:
    """The checks between areas: unique codes, parents present one level up, every area
    inside its parent, siblings not overlapping. ``refused`` are codes of areas already
    refused for themselves, whose children are not checked against them. A duplicate is
    reported once, and only the first area of a code takes part in the other checks."""
    areas = list(areas)
    refused = set(refused)
    problems: list[MapProblem] = []
    by_code: dict[str, list[int]] = defaultdict(list)
    for i, area in areas:
        by_code[area.code].append(i)
    for code, where in by_code.items():
        if len(where) > 1:
            for i in where[1:]:
                problems.append(MapProblem(i, code, "duplicate-code",
                                           f"duplicate code {code}: also feature "
                                           f"#{where[0]}"))
    first = {code: next(a for i, a in areas if i == where[0]) for code, where in by_code.items()}
    siblings: dict[str, list[tuple[int, Area]]] = defaultdict(list)
    for i, area in areas:
        if by_code[area.code][0] != i:
            continue
        if area.parent is None:
            siblings[""].append((i, area))
            continue
        parent = first.get(area.parent)
        label = LEVEL_LABELS[area.level]
        if parent is None and area.parent in refused:
            continue
        if parent is None:
            problems.append(MapProblem(i, area.code, "unknown-parent",
                                       f"{label} {area.code}: parent {area.parent} is not in "
                                       "the file"))
            continue
        if parent.level != area.level.parent:
            problems.append(MapProblem(i, area.code, "wrong-parent-level",
                                       f"{label} {area.code}: parent {area.parent} is a "
                                       f"{parent.level.value}, not a {area.level.parent}"))
            continue
        siblings[parent.code].append((i, area))
        if not parent.geometry.buffer(CONTAINMENT_TOLERANCE).covers(area.geometry):
            outside = area.geometry.difference(parent.geometry).area
            share = 100 * outside / area.geometry.area if area.geometry.area else 100.0
            problems.append(MapProblem(
                i, area.code, "outside-parent",
                f"{area.level.value} {area.code} is not inside its {parent.level.value} "
                f"{parent.code} ({share:.1f}% of its area lies outside)"))
    for group in siblings.values():
        problems += _overlaps(group)
    return problems


def _overlaps(group: list[tuple[int, Area]]) -> list[MapProblem]:
    if len(group) < 2:
        return []
    geoms = [a.geometry for _, a in group]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    problems = []
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        (i, one), (_, other) = group[a], group[b]
        shared = one.geometry.intersection(other.geometry).area
        smaller = min(one.geometry.area, other.geometry.area)
        # Shared edges have no area; slivers narrower than the tolerance are digitising noise.
        if shared > max(smaller * 1e-4, CONTAINMENT_TOLERANCE ** 2):
            problems.append(MapProblem(i, one.code, "overlap",
                                       f"{one.level.value} {one.code} overlaps {other.code} "
                                       f"({100 * shared / smaller:.1f}% of the smaller)"))
    return problems
