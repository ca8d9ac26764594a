"""Fixtures of the grid tests: the console (tests/web) over a database holding the SAMPLE map,
a grid worker with an account on G001 and one on G002."""

from __future__ import annotations

import pytest_twisted
from shapely.geometry import shape
from sqlalchemy import select

from db.models import Grid
from hotline.grid import maps
from hotline.grid.mapfile import read_map
from tests.web.conftest import PASSWORDS, console  # noqa: F401 - console is a fixture

#: Grid worker accounts of the sample map: user → (password, level-1 grid).
WORKERS = {"wang": ("wang-grid-pass-1", "G001"), "li": ("li-grid-pass-01", "G002")}
DISPATCHER_PASSWORD = "paidan-pass-0001"


def load_sample_map(db, service) -> None:
    """The SAMPLE map and the two grid workers' accounts, bound to their grids by
    ``service`` (a GridWorkerService)."""
    from hotline.web import accounts

    with db.begin() as s:
        maps.import_map(s, read_map(maps.sample_map_path().read_bytes()), actor="test")
        for user, (password, grid) in WORKERS.items():
            accounts.create_user(s, user, role="grid_worker", password=password,
                                 display_name=f"网格员{user}")
            service.bind(s, user, grid, name={"wang": "王伟", "li": "李娜"}[user])
        # The dispatcher (派单员) who sends tickets back to a grid worker to verify on site.
        accounts.create_user(s, "paidan", role="dispatcher", password=DISPATCHER_PASSWORD,
                             display_name="派单员")


def inside(db, code: str) -> tuple[float, float]:
    """(latitude, longitude) of a point well inside the area ``code``."""
    with db.begin() as s:
        geometry = s.scalar(select(Grid.geometry).where(Grid.code == code))
    point = shape(geometry).representative_point()
    return point.y, point.x


@pytest_twisted.async_yield_fixture
async def grid_console(console, db):  # noqa: F811 - console is the fixture imported above
    """The console with the sample map and grid workers wang (G001) and li (G002)."""
    load_sample_map(db, console.grid.service)
    yield console


__all__ = ["WORKERS", "load_sample_map", "inside", "PASSWORDS"]
