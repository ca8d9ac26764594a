# -*- test-case-name: tests.reports.test_areas -*-
"""Tickets by area of the imported map, for the heat map's drill-down: the whole district by
street, community, grid or sub-grid, or the areas inside one of them (street → community →
grid → sub-grid). Queries take a session; the drawing comes from the areas' own outlines
(longitude/latitude projected onto the chart), so the chart is the district's real map."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Community, Grid, Street, Ticket
from hotline.grid import maps
from hotline.grid.schemas import LEVEL_LABELS, AreaLevel
from hotline.reports.charts import GridGeometry, GridShape
from hotline.reports.exceptions import ReportError
from hotline.reports.periods import Period

__all__ = ["AreaCount", "AreaView", "has_map", "area_view", "DRAWING_WIDTH"]

#: The chart's drawing area at most; the map keeps its proportions inside it.
DRAWING_WIDTH = 1000.0
DRAWING_HEIGHT = 700.0
_MIN_WIDTH = 700.0


@dataclass(frozen=True)
class AreaCount:
    """One area on the chart: its code, name, level, tickets in the period, and whether it
    has areas inside it to drill into."""

    code: str
    name: str
    level: AreaLevel
    tickets: int
    deeper: bool


@dataclass(frozen=True)
class AreaView:
    """What the drill-down shows: where it is (the trail from the district down), the level
    shown, each area's count, and the chart geometry."""

    trail: list[tuple[str, str, AreaLevel]]
    level: AreaLevel
    areas: list[AreaCount]
    geometry: GridGeometry
    total: int


def has_map(session: Session) -> bool:
    """Whether a map with outlines was imported (else the heat map draws its geometry file)."""
    return session.scalar(select(func.count()).select_from(Street)
                          .where(Street.geometry.is_not(None))) not in (None, 0)


def _ancestry(session: Session) -> dict[int, dict[AreaLevel, str]]:
    """For every grid id, the codes of the areas it lies in, at each level."""
    communities = {cid: (code, street) for cid, code, street in session.execute(
        select(Community.id, Community.code, Street.code).join(Street))}
    grids = {g.id: g for g in session.execute(
        select(Grid.id, Grid.code, Grid.level, Grid.parent_id, Grid.community_id)).all()}
    out: dict[int, dict[AreaLevel, str]] = {}
    for g in grids.values():
        top = grids.get(g.parent_id) if g.level == 2 and g.parent_id in grids else g
        path: dict[AreaLevel, str] = {AreaLevel.GRID: top.code}
        if g.level == 2:
            path[AreaLevel.SUB_GRID] = g.code
        if top.community_id in communities:
            path[AreaLevel.COMMUNITY], path[AreaLevel.STREET] = communities[top.community_id]
        out[g.id] = path
    return out


def _project(rows: list[maps.AreaRow], title: str) -> GridGeometry:
    """The outlines in drawing units: longitude scaled by the cosine of the latitude (so the
    map keeps its shape), north up, fitted into DRAWING_WIDTH x DRAWING_HEIGHT."""
    shapes = []
    polygons = []
    for row in rows:
        if row.geometry is None:
            continue
        geom = shape(row.geometry)
        if geom.geom_type == "MultiPolygon":
            geom = max(geom.geoms, key=lambda p: p.area)
        polygons.append((row, list(geom.exterior.coords)[:-1]))
    if not polygons:
        raise ReportError("the areas have no outlines to draw", {})
    lons = [x for _, pts in polygons for x, _ in pts]
    lats = [y for _, pts in polygons for _, y in pts]
    k = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * k, 1e-9)
    span_y = max(max(lats) - min(lats), 1e-9)
    scale = min((DRAWING_WIDTH - 20) / span_x, (DRAWING_HEIGHT - 20) / span_y)
    # Never narrower than the title and the legend need.
    width, height = max(span_x * scale + 20, _MIN_WIDTH), span_y * scale + 20
    for row, pts in polygons:
        shapes.append(GridShape(row.code, row.name, tuple(
            (10 + (x - min(lons)) * k * scale, 10 + (max(lats) - y) * scale) for x, y in pts)))
    return GridGeometry(title, width, height, tuple(shapes))


def _whole(session: Session, level: AreaLevel) -> list[maps.AreaRow]:
    if level == AreaLevel.STREET:
        return maps.children_of(session, None)
    if level == AreaLevel.COMMUNITY:
        return [maps.AreaRow(AreaLevel.COMMUNITY, c.code, c.name, None, c.geometry, c.id)
                for c in session.scalars(select(Community).order_by(Community.code))]
    wanted = 1 if level == AreaLevel.GRID else 2
    return [maps.AreaRow(level, g.code, g.name, None, g.geometry, g.id)
            for g in session.scalars(select(Grid).where(Grid.level == wanted,
                                                        Grid.geometry.is_not(None))
                                     .order_by(Grid.code))]


def area_view(session: Session, period: Period, *, within: str | None = None,
              level: str | None = None) -> AreaView:
    """Tickets opened in ``period`` per area: the areas inside ``within`` (one level down),
    or the whole district at ``level`` (default: the level-1 grids). Raises ReportError for
    an unknown level, NoSuchArea for an unknown code."""
    trail: list[tuple[str, str, AreaLevel]] = []
    if within:
        here = maps.area_of(session, within)
        node: maps.AreaRow | None = here
        while node is not None:
            trail.insert(0, (node.code, node.name, node.level))
            node = maps.area_of(session, node.parent) if node.parent else None
        rows = maps.children_of(session, within)
        shown = here.level.child
        if shown is None or not rows:
            rows, shown = [here], here.level  # a sub-grid (or an empty area): itself
    else:
        try:
            shown = AreaLevel(level or AreaLevel.GRID)
        except ValueError:
            raise ReportError(f"level must be one of {', '.join(lv.value for lv in AreaLevel)}",
                              {"level": level}) from None
        rows = _whole(session, shown)
    ancestry = _ancestry(session)
    counts: Counter[str] = Counter()
    for grid_id, n in session.execute(
            select(Ticket.grid_id, func.count()).where(
                Ticket.grid_id.is_not(None), Ticket.created_at >= period.start,
                Ticket.created_at < period.end).group_by(Ticket.grid_id)):
        code = ancestry.get(grid_id, {}).get(shown)
        if code is not None:
            counts[code] += n
    title = f"各{LEVEL_LABELS[shown]}诉求量 {period.zh_label}"
    if trail:
        title = f"{trail[-1][1]} · {title}"
    areas = [AreaCount(r.code, r.name, r.level, counts.get(r.code, 0),
                       r.level != AreaLevel.SUB_GRID) for r in rows]
    return AreaView(trail, shown, areas, _project(rows, title),
                    sum(a.tickets for a in areas))
