"""Tests for L{hotline.grid.locate}: tickets placed by point-in-polygon or by the address
table, over a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Grid, Ticket
from hotline.grid import maps
from hotline.grid.exceptions import AddressesRefused
from hotline.grid.locate import (
    GridIndex,
    GridLocator,
    export_addresses,
    import_addresses,
    normalise_address,
)
from hotline.grid.mapfile import read_map
from hotline.tickets.service import TicketService
from tests.grid.support import SUB_POINT, collection, tiny_map


def _index() -> GridIndex:
    district = read_map(collection(tiny_map()))
    return GridIndex((i, a.code, 1 if a.level == "grid" else 2, a.geojson())
                     for i, a in enumerate(district.areas) if a.level in ("grid", "sub_grid"))


def test_point_gets_the_sub_grid_then_the_grid() -> None:
    """A point gets the sub-grid it lies in; a point outside the map gets nothing."""
    index = _index()
    lat, lon = SUB_POINT
    placed = index.locate(lon, lat)
    assert (placed.code, placed.level, placed.how) == ("T1-02", 2, "point")
    assert index.locate(100.2, 30.5).code == "T1-01"
    assert index.locate(101.9, 30.1).code == "T2-02"
    assert index.locate(99.0, 30.5) is None


def test_grid_answers_where_no_sub_grid_covers() -> None:
    """Where a grid has no sub-grid under a point, the level-1 grid is the answer."""
    district = read_map(collection(tiny_map()[:4] + tiny_map()[4:6]))  # T2 has no sub-grids
    index = GridIndex((i, a.code, 1 if a.level == "grid" else 2, a.geojson())
                      for i, a in enumerate(district.areas) if a.level in ("grid", "sub_grid"))
    assert index.locate(101.5, 30.5).code == "T2"


def test_bulk_agrees_with_one_by_one() -> None:
    """locate_many gives the same codes as locate for every point, None outside."""
    index = _index()
    lons = [100.1, 100.6, 101.2, 101.8, 99.0, 100.75]
    lats = [30.1, 30.9, 30.5, 30.2, 30.5, 30.5]
    one_by_one = [(p.code if p else None) for p in (index.locate(x, y)
                                                    for x, y in zip(lons, lats, strict=True))]
    assert index.locate_many(lons, lats) == one_by_one
    assert one_by_one[4] is None


def test_addresses_are_normalised() -> None:
    """Full-width digits, spaces and case do not make two addresses."""
    assert normalise_address("幸福路 １２号 A座") == normalise_address("幸福路12号a座")


def _load_tiny(session) -> None:
    maps.import_map(session, read_map(collection(tiny_map())), actor="test")


def test_intake_with_coordinates_gets_its_sub_grid(session) -> None:
    """A ticket filed with coordinates and no grid lands in the sub-grid holding the point,
    and keeps its coordinates."""
    _load_tiny(session)
    lat, lon = SUB_POINT
    ticket = TicketService(locator=GridLocator()).intake(session, {
        "channel": "web", "kind": "help", "description": "路灯不亮", "latitude": lat,
        "longitude": lon}, actor="test")
    assert ticket.grid.code == "T1-02" and ticket.grid.parent.code == "T1"
    assert (ticket.latitude, ticket.longitude) == (lat, lon)


def test_intake_with_only_an_address_uses_the_address_table(session) -> None:
    """A ticket with only an address is placed by the longest known address it starts with;
    an unknown address leaves it without a grid."""
    _load_tiny(session)
    result = import_addresses(session, "address,grid\n幸福路12号,T2-01\n幸福路12号3单元,T2-02\n"
                                       "和平街8号,T1\n")
    assert (result.added, result.updated) == (3, 0)
    service = TicketService(locator=GridLocator())
    placed = [service.intake(session, {"channel": "web", "kind": "help", "description": "漏水",
                                       "address": address}, actor="test").grid
              for address in ("幸福路 12 号 3 单元 501", "幸福路１２号", "和平街8号院", "无名路")]
    assert [g.code if g else None for g in placed] == ["T2-02", "T2-01", "T1", None]


def test_address_table_refused_whole_and_round_trips(session) -> None:
    """A table with an unknown grid or a duplicate line changes nothing and names each line;
    a good one exports as it was imported."""
    _load_tiny(session)
    with pytest.raises(AddressesRefused) as caught:
        import_addresses(session, "address,grid\n幸福路12号,T9\n和平街8号,T1\n和平街 8号,T1\n")
    assert caught.value.problems == ["line 2: no grid or sub-grid with code 'T9'",
                                     "line 4: address '和平街8号' appears twice"]
    assert export_addresses(session) == "address,grid,latitude,longitude\n"
    text = "address,grid,latitude,longitude\n和平街8号,T1,30.5,100.5\n"
    import_addresses(session, text)
    assert export_addresses(session) == text


def test_locator_follows_a_new_map(session) -> None:
    """After another import moves a sub-grid's outline, the same locator places by the new
    one (its index is versioned by the map import)."""
    _load_tiny(session)
    locator = GridLocator()
    lat, lon = SUB_POINT
    assert locator.place(session, latitude=lat, longitude=lon).code == "T1-02"
    swapped = tiny_map()
    swapped[4]["properties"]["code"], swapped[5]["properties"]["code"] = "T1-02", "T1-01"
    maps.import_map(session, read_map(collection(swapped)), actor="test")
    assert locator.place(session, latitude=lat, longitude=lon).code == "T1-01"


def test_import_keeps_grids_tickets_point_at(session) -> None:
    """A new map without a grid that tickets still use is refused naming it; the map in
    force is unchanged."""
    _load_tiny(session)
    lat, lon = SUB_POINT
    TicketService(locator=GridLocator()).intake(
        session, {"channel": "web", "kind": "help", "description": "x", "latitude": lat,
                  "longitude": lon}, actor="test")
    without = [f for f in tiny_map() if f["properties"]["code"] != "T1-02"]
    from hotline.grid.exceptions import MapRefused

    with pytest.raises(MapRefused) as caught:
        maps.import_map(session, read_map(collection(without)), actor="test")
    assert [p.code for p in caught.value.problems] == ["T1-02"]
    assert "1 tickets" in caught.value.problems[0].message
    assert session.scalar(select(Grid).where(Grid.code == "T1-02")) is not None
    assert session.scalar(select(Ticket.id)) is not None
