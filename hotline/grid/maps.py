# -*- test-case-name: tests.grid.test_maps -*-
"""The map hierarchy in the database: importing a checked map (all or nothing), exporting it
back to GeoJSON, and reading it level by level for the pages and the drill-down reports.

Every function takes the caller's session and never commits. ``import_map`` refuses, with
every problem listed, a map that would orphan records: a grid missing from the new file while
tickets, incidents, workers, visits or addresses still point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    Community,
    Grid,
    GridAddress,
    GridVisit,
    GridWorker,
    Incident,
    MapImport,
    Street,
    Ticket,
    utcnow,
)
from hotline.grid.exceptions import MapProblem, MapRefused, NoSuchArea
from hotline.grid.mapfile import DistrictMap
from hotline.grid.schemas import AreaLevel

__all__ = ["sample_map_path", "import_map", "export_map", "current_map", "MapInfo", "AreaRow",
           "area_of", "children_of", "map_version"]


def sample_map_path() -> Path:
    """The SAMPLE map shipped with the project (scripts/make_sample_map.py writes it)."""
    return Path(str(resources.files("hotline.grid").joinpath("sample/district-sample.geojson")))


@dataclass(frozen=True)
class MapInfo:
    """The map in force: its name, whether it is the SAMPLE, its counts, when and by whom."""

    id: int
    name: str
    sample: bool
    counts: dict[str, int]
    actor: str
    imported_at: str


def map_version(session: Session) -> int:
    """The id of the newest map import (0: none), which changes with every import."""
    return session.scalar(select(func.max(MapImport.id))) or 0


def current_map(session: Session) -> MapInfo | None:
    """The newest accepted map, or None when no map was ever imported."""
    row = session.scalar(select(MapImport).order_by(MapImport.id.desc()).limit(1))
    if row is None:
        return None
    return MapInfo(row.id, row.name, row.sample, dict(row.counts), row.actor,
                   row.imported_at.isoformat())


def _referenced(session: Session, grid_ids: list[int]) -> dict[int, dict[str, int]]:
    """For each grid id, how many records of each kind point at it (empty: none)."""
    found: dict[int, dict[str, int]] = {}
    if not grid_ids:
        return found
    for label, column in (("tickets", Ticket.grid_id), ("incidents", Incident.grid_id),
                          ("grid workers", GridWorker.grid_id),
                          ("visits", GridVisit.grid_id), ("addresses", GridAddress.grid_id)):
        for chunk in range(0, len(grid_ids), 500):
            for grid_id, n in session.execute(
                    select(column, func.count()).where(column.in_(grid_ids[chunk:chunk + 500]))
                    .group_by(column)):
                found.setdefault(grid_id, {})[label] = n
    return found


def import_map(session: Session, district: DistrictMap, *, actor: str) -> MapInfo:
    """Make ``district`` the map in force: areas matched by code are updated (so tickets keep
    their grid), new ones added, ones missing from the file removed. Raises MapRefused when a
    grid to be removed still has records pointing at it; then nothing is changed."""
    wanted = {a.code: a for a in district.areas}
    grids_by_code = {g.code: g for g in session.scalars(select(Grid))}
    gone = [g for code, g in grids_by_code.items()
            if code not in wanted or wanted[code].level not in (AreaLevel.GRID,
                                                                   AreaLevel.SUB_GRID)]
    used = _referenced(session, [g.id for g in gone])
    if used:
        problems = []
        for g in gone:
            if g.id in used:
                what = ", ".join(f"{n} {label}" for label, n in used[g.id].items())
                problems.append(MapProblem(None, g.code, "still-used",
                                           f"grid {g.code} is missing from the file but {what} "
                                           "still refer to it"))
        raise MapRefused(problems)

    streets = {s.code: s for s in session.scalars(select(Street))}
    communities = {c.code: c for c in session.scalars(select(Community))}
    for area in district.of_level(AreaLevel.STREET):
        street = streets.get(area.code) or Street(code=area.code)
        street.name, street.geometry = area.name, area.geojson()
        streets[area.code] = street
        session.add(street)
    for area in district.of_level(AreaLevel.COMMUNITY):
        community = communities.get(area.code) or Community(code=area.code)
        community.name, community.geometry = area.name, area.geojson()
        community.street = streets[area.parent]  # type: ignore[index]
        communities[area.code] = community
        session.add(community)
    for area in district.of_level(AreaLevel.GRID):
        grid = grids_by_code.get(area.code) or Grid(code=area.code)
        grid.name, grid.geometry, grid.level = area.name, area.geojson(), 1
        grid.parent, grid.community = None, communities[area.parent]  # type: ignore[index]
        grids_by_code[area.code] = grid
        session.add(grid)
    for area in district.of_level(AreaLevel.SUB_GRID):
        grid = grids_by_code.get(area.code) or Grid(code=area.code)
        grid.name, grid.geometry, grid.level = area.name, area.geojson(), 2
        grid.parent, grid.community = grids_by_code[area.parent], None  # type: ignore[index]
        grids_by_code[area.code] = grid
        session.add(grid)
    session.flush()
    # Remove what the file no longer has: sub-grids before grids, grids before communities.
    for g in sorted(gone, key=lambda g: -g.level):
        session.delete(g)
        session.flush()
    for code, community in communities.items():
        if code not in wanted or wanted[code].level != AreaLevel.COMMUNITY:
            session.delete(community)
    session.flush()
    for code, street in streets.items():
        if code not in wanted or wanted[code].level != AreaLevel.STREET:
            session.delete(street)
    record = MapImport(name=district.name, sample=district.sample, counts=district.counts(),
                       actor=actor, imported_at=utcnow())
    session.add(record)
    session.flush()
    return current_map(session)  # type: ignore[return-value]


def _feature(level: AreaLevel, code: str, name: str, parent: str | None,
             geometry: dict[str, Any] | None) -> dict[str, Any]:
    props: dict[str, Any] = {"level": level.value, "code": code, "name": name}
    if parent is not None:
        props["parent"] = parent
    return {"type": "Feature", "properties": props, "geometry": geometry}


def export_map(session: Session) -> dict[str, Any]:
    """The map in force as a GeoJSON FeatureCollection that ``import`` accepts back unchanged.
    Areas without an outline (grids seeded before any map) are left out."""
    info = current_map(session)
    features = []
    for s in session.scalars(select(Street).order_by(Street.code)):
        features.append(_feature(AreaLevel.STREET, s.code, s.name, None, s.geometry))
    for c, street in session.execute(select(Community, Street.code).join(Street)
                                     .order_by(Community.code)):
        features.append(_feature(AreaLevel.COMMUNITY, c.code, c.name, street, c.geometry))
    for g, community in session.execute(
            select(Grid, Community.code).join(Community, Community.id == Grid.community_id)
            .where(Grid.level == 1).order_by(Grid.code)):
        features.append(_feature(AreaLevel.GRID, g.code, g.name, community, g.geometry))
    parents = {g.id: g.code for g in session.scalars(select(Grid).where(Grid.level == 1))}
    for g in session.scalars(select(Grid).where(Grid.level == 2).order_by(Grid.code)):
        features.append(_feature(AreaLevel.SUB_GRID, g.code, g.name, parents.get(g.parent_id),
                                 g.geometry))
    data: dict[str, Any] = {"type": "FeatureCollection",
                            "name": info.name if info else "district map",
                            "sample": bool(info and info.sample),
                            "features": [f for f in features if f["geometry"] is not None]}
    return data


@dataclass(frozen=True)
class AreaRow:
    """An area as pages and reports list it: level, code, name, parent, outline."""

    level: AreaLevel
    code: str
    name: str
    parent: str | None
    geometry: dict[str, Any] | None
    id: int


def area_of(session: Session, code: str) -> AreaRow:
    """The street, community, grid or sub-grid with ``code``. Raises NoSuchArea."""
    street = session.scalar(select(Street).where(Street.code == code))
    if street is not None:
        return AreaRow(AreaLevel.STREET, street.code, street.name, None, street.geometry,
                       street.id)
    community = session.scalar(select(Community).where(Community.code == code))
    if community is not None:
        return AreaRow(AreaLevel.COMMUNITY, community.code, community.name,
                       community.street.code, community.geometry, community.id)
    grid = session.scalar(select(Grid).where(Grid.code == code))
    if grid is not None:
        if grid.level == 1:
            return AreaRow(AreaLevel.GRID, grid.code, grid.name,
                           grid.community.code if grid.community else None, grid.geometry,
                           grid.id)
        return AreaRow(AreaLevel.SUB_GRID, grid.code, grid.name,
                       grid.parent.code if grid.parent else None, grid.geometry, grid.id)
    raise NoSuchArea(code)


def children_of(session: Session, code: str | None) -> list[AreaRow]:
    """The areas one level below ``code`` (the streets for None), ordered by code."""
    if code is None:
        return [AreaRow(AreaLevel.STREET, s.code, s.name, None, s.geometry, s.id)
                for s in session.scalars(select(Street).order_by(Street.code))]
    area = area_of(session, code)
    if area.level == AreaLevel.STREET:
        return [AreaRow(AreaLevel.COMMUNITY, c.code, c.name, code, c.geometry, c.id)
                for c in session.scalars(select(Community).where(Community.street_id == area.id)
                                         .order_by(Community.code))]
    if area.level == AreaLevel.COMMUNITY:
        return [AreaRow(AreaLevel.GRID, g.code, g.name, code, g.geometry, g.id)
                for g in session.scalars(select(Grid).where(Grid.community_id == area.id,
                                                            Grid.level == 1)
                                         .order_by(Grid.code))]
    if area.level == AreaLevel.GRID:
        return [AreaRow(AreaLevel.SUB_GRID, g.code, g.name, code, g.geometry, g.id)
                for g in session.scalars(select(Grid).where(Grid.parent_id == area.id)
                                         .order_by(Grid.code))]
    return []


def grid_ids_within(session: Session, code: str) -> tuple[int, ...]:
    """The ids of every grid and sub-grid inside the area ``code`` (a street, community, grid
    or sub-grid), itself included when it is a grid; empty when no area has that code."""
    from sqlalchemy import or_
    from sqlalchemy.orm import aliased

    parent = aliased(Grid)
    top = aliased(Grid)
    inside = select(Grid.id).outerjoin(parent, Grid.parent_id == parent.id)
    street = session.scalar(select(Street.id).where(Street.code == code))
    community = session.scalar(select(Community.id).where(Community.code == code))
    if street is not None or community is not None:
        # A grid's community is its own (level 1) or its parent's (level 2).
        inside = inside.join(top, top.id == func.coalesce(parent.id, Grid.id)) \
            .join(Community, Community.id == top.community_id)
        inside = inside.where(Community.street_id == street) if street is not None \
            else inside.where(Community.id == community)
    else:
        inside = inside.where(or_(Grid.code == code, parent.code == code))
    return tuple(session.scalars(inside.order_by(Grid.id)))


__all__ += ["grid_ids_within"]
