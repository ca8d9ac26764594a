"""Tests for L{hotline.grid.maps}: the hierarchy read back level by level, areas' grids for the
reports' filters, and the map in force after an import."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Grid
from hotline.grid import maps
from hotline.grid.mapfile import read_map


def test_hierarchy_and_grids_within(session) -> None:
    """Streets hold communities hold grids hold sub-grids; an area's grids are all the grids
    and sub-grids below it (a grid includes itself)."""
    info = maps.import_map(session, read_map(maps.sample_map_path().read_bytes()),
                           actor="test")
    assert info.sample and info.counts["sub_grid"] == 532
    streets = maps.children_of(session, None)
    assert [s.code for s in streets] == [f"S{i:02d}" for i in range(1, 8)]
    community = maps.children_of(session, "S01")[0]
    grids = maps.children_of(session, community.code)
    assert {g.level for g in grids} == {"grid"} and grids[0].parent == community.code
    subs = maps.children_of(session, grids[0].code)
    assert subs and all(s.parent == grids[0].code for s in subs)
    assert maps.children_of(session, subs[0].code) == []
    within_grid = maps.grid_ids_within(session, grids[0].code)
    assert len(within_grid) == len(subs) + 1
    street_ids = set(maps.grid_ids_within(session, "S01"))
    assert set(within_grid) <= street_ids
    levels = session.execute(select(Grid.level).where(Grid.id.in_(street_ids))).scalars()
    assert set(levels) == {1, 2}
    total = sum(len(maps.grid_ids_within(session, s.code)) for s in streets)
    assert total == 120 + 532
    assert maps.grid_ids_within(session, "NOPE") == ()
