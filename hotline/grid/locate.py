# -*- test-case-name: tests.grid.test_locate -*-
"""Placing a ticket on the map: by point-in-polygon for one with coordinates, by the address
table for one with only an address.

``GridIndex`` is the pure part: the sub-grids and grids in a shapely STRtree, so a point is
tested against the few outlines whose boxes hold it rather than all 532 (bench.grid measures
both). ``GridLocator`` keeps one index per map version and rebuilds it when a newer map was
imported, by this controller or by another node.
"""

from __future__ import annotations

import csv
import io
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Grid, GridAddress
from hotline.grid.exceptions import AddressesRefused
from hotline.grid.maps import map_version

__all__ = ["Placed", "GridIndex", "GridLocator", "normalise_address", "import_addresses",
           "export_addresses", "place_address", "AddressImport"]


@dataclass(frozen=True)
class Placed:
    """Where a point or an address falls: the most precise grid found (a sub-grid, else a
    level-1 grid) and how it was found (point, address)."""

    grid_id: int
    code: str
    level: int
    how: str


class GridIndex:
    """The outlines of one map version, searchable by point.

    ``outlines`` are (grid id, code, level, GeoJSON geometry). A point inside a sub-grid gets
    the sub-grid; a point inside a level-1 grid that no sub-grid covers gets the grid.
    """

    def __init__(self, outlines: Iterable[tuple[int, str, int, dict[str, Any]]]) -> None:
        rows = sorted(outlines, key=lambda r: -r[2])  # sub-grids first: the precise answer
        self._rows = [(grid_id, code, level) for grid_id, code, level, _ in rows]
        self._geoms = np.array([shape(g) for *_, g in rows], dtype=object)
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)

    def __len__(self) -> int:
        return len(self._rows)

    def locate(self, longitude: float, latitude: float) -> Placed | None:
        """The grid holding the point, or None when it is outside the map."""
        hits = self._tree.query(shapely.Point(longitude, latitude), predicate="intersects")
        if len(hits) == 0:
            return None
        grid_id, code, level = self._rows[int(hits.min())]
        return Placed(grid_id, code, level, "point")

    def locate_many(self, longitudes: Sequence[float], latitudes: Sequence[float]
                    ) -> list[str | None]:
        """Codes for many points at once (vectorised: the bulk path for imports and bench)."""
        points = shapely.points(np.asarray(longitudes, dtype=float),
                                np.asarray(latitudes, dtype=float))
        found: list[str | None] = [None] * len(points)
        best = np.full(len(points), len(self._rows), dtype=np.int64)
        point_i, geom_i = self._tree.query(points, predicate="intersects")
        np.minimum.at(best, point_i, geom_i)
        for i, g in enumerate(best.tolist()):
            if g < len(self._rows):
                found[i] = self._rows[g][1]
        return found


def _outlines(session: Session) -> list[tuple[int, str, int, dict[str, Any]]]:
    return [(g.id, g.code, g.level, g.geometry) for g in session.scalars(
        select(Grid).where(Grid.geometry.is_not(None)))]


class GridLocator:
    """Places points and addresses for the ticket service; one per process, shared by threads.

    The index is built on first use and again whenever ``map_version`` moves on.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._index: GridIndex | None = None

    def index(self, session: Session) -> GridIndex | None:
        """The index of the map in force (None when no grid has an outline)."""
        version = map_version(session)
        with self._lock:
            if version != self._version:
                outlines = _outlines(session)
                self._index = GridIndex(outlines) if outlines else None
                self._version = version
            return self._index

    def place(self, session: Session, *, latitude: float | None = None,
              longitude: float | None = None, address: str | None = None) -> Placed | None:
        """The grid of a point (preferred) or else of an address; None when neither is known."""
        if latitude is not None and longitude is not None:
            index = self.index(session)
            placed = index.locate(longitude, latitude) if index is not None else None
            if placed is not None:
                return placed
        if address:
            return place_address(session, address)
        return None


# -- the address table ----------------------------------------------------------------------------

def normalise_address(text: str) -> str:
    """An address as the table keys it: NFKC (full-width digits and letters to half-width),
    no white space, lower case. ``幸福路 １２号`` and ``幸福路12号`` are one address."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


#: The shortest known address a longer one may be placed by (幸福路12号3单元 → 幸福路12号);
#: shorter prefixes (a bare road name) would spread over several grids.
_MIN_PREFIX = 4


def place_address(session: Session, address: str) -> Placed | None:
    """The grid of the longest known address that ``address`` starts with, or None."""
    key = normalise_address(address)[:200]
    candidates = [key[:n] for n in range(len(key), _MIN_PREFIX - 1, -1)]
    if not candidates:
        return None
    rows = session.execute(select(GridAddress.address, Grid.id, Grid.code, Grid.level)
                           .join(Grid, Grid.id == GridAddress.grid_id)
                           .where(GridAddress.address.in_(candidates))).all()
    if not rows:
        return None
    best = max(rows, key=lambda r: len(r.address))
    return Placed(best.id, best.code, best.level, "address")


@dataclass(frozen=True)
class AddressImport:
    added: int
    updated: int
    unchanged: int


def import_addresses(session: Session, text: str) -> AddressImport:
    """Load an address table (CSV with a header: address, grid[, latitude, longitude]); a grid
    is a sub-grid or grid code. All or nothing: raises AddressesRefused listing every bad line.
    Known addresses are updated, others added; none is removed."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not {"address", "grid"} <= set(reader.fieldnames):
        raise AddressesRefused(["the header must name the columns address and grid "
                                "(latitude and longitude may follow)"])
    grids = {code: grid_id for grid_id, code in session.execute(select(Grid.id, Grid.code))}
    problems: list[str] = []
    rows: dict[str, tuple[int, float | None, float | None]] = {}
    for n, row in enumerate(reader, start=2):
        address = normalise_address(row.get("address") or "")
        code = (row.get("grid") or "").strip()
        if not address or len(address) > 200:
            problems.append(f"line {n}: the address must be 1-200 characters")
            continue
        if len(address) < _MIN_PREFIX:
            problems.append(f"line {n}: address {address!r} is too short to place anything")
            continue
        if code not in grids:
            problems.append(f"line {n}: no grid or sub-grid with code {code!r}")
            continue
        if address in rows:
            problems.append(f"line {n}: address {address!r} appears twice")
            continue
        try:
            lat = float(row["latitude"]) if row.get("latitude") else None
            lon = float(row["longitude"]) if row.get("longitude") else None
        except ValueError:
            problems.append(f"line {n}: latitude and longitude must be decimal numbers")
            continue
        rows[address] = (grids[code], lat, lon)
    if problems:
        raise AddressesRefused(problems)
    if not rows:
        raise AddressesRefused(["the file has no addresses"])
    existing = {a.address: a for a in session.scalars(select(GridAddress))}
    added = updated = unchanged = 0
    for address, (grid_id, lat, lon) in rows.items():
        known = existing.get(address)
        if known is None:
            session.add(GridAddress(address=address, grid_id=grid_id, latitude=lat,
                                    longitude=lon))
            added += 1
        elif (known.grid_id, known.latitude, known.longitude) != (grid_id, lat, lon):
            known.grid_id, known.latitude, known.longitude = grid_id, lat, lon
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return AddressImport(added, updated, unchanged)


def export_addresses(session: Session) -> str:
    """The address table as the CSV ``import_addresses`` reads."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["address", "grid", "latitude", "longitude"])
    for address, code, lat, lon in session.execute(
            select(GridAddress.address, Grid.code, GridAddress.latitude, GridAddress.longitude)
            .join(Grid, Grid.id == GridAddress.grid_id).order_by(GridAddress.address)):
        writer.writerow([address, code, "" if lat is None else lat, "" if lon is None else lon])
    return out.getvalue()
