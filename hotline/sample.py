# -*- test-case-name: tests.test_sample -*-
"""Sample records for development and demonstrations (``hotline db seed-sample``).

The district's shape: the SAMPLE map of 7 streets, 45 communities, 120 level-1 grids and 532
level-2 grids (hotline/grid/sample/district-sample.geojson, imported as a map marked sample),
a full-time grid worker on each level-1 grid (without a console account: ``hotline grid worker
add`` gives one), the departments and the sample directory of municipal hotlines
(hotline/directory/sample_directory.csv). All SAMPLE data: grid workers' numbers are in the
reserved test range 9991 0000 - 9991 9999. Seeding twice is refused rather than duplicating
rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Grid, GridWorker, MunicipalHotline
from hotline.directory.service import DirectoryService
from hotline.grid.mapfile import read_map
from hotline.grid.maps import import_map, sample_map_path

__all__ = ["SeedResult", "seed_sample", "sample_directory_text",
           "LEVEL1_GRIDS", "LEVEL2_GRIDS"]

LEVEL1_GRIDS = 120
LEVEL2_GRIDS = 532
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "军", "杰", "娟", "涛", "明", "霞", "平"]


class AlreadySeeded(Exception):
    """The database already has grids or directory entries; seeding would duplicate them."""


@dataclass(frozen=True)
class SeedResult:
    level1_grids: int
    level2_grids: int
    grid_workers: int
    directory_entries: int
    departments: int


def sample_directory_text() -> str:
    """The shipped sample directory CSV."""
    return resources.files("hotline.directory").joinpath("sample_directory.csv") \
        .read_text("utf-8")


def seed_sample(session: Session, directory: DirectoryService | None = None) -> SeedResult:
    """Add the sample grids, grid workers, departments and directory in the caller's unit of
    work. Raises AlreadySeeded when grids or directory entries exist."""
    grids = session.scalar(select(func.count(Grid.id)))
    hotlines = session.scalar(select(func.count(MunicipalHotline.id)))
    if grids or hotlines:
        raise AlreadySeeded(f"the database already has {grids} grids and {hotlines} directory "
                            "entries; seed only an empty database")
    district = read_map(sample_map_path().read_bytes())
    import_map(session, district, actor="seed-sample")
    level1 = list(session.scalars(select(Grid).where(Grid.level == 1).order_by(Grid.code)))
    for workers, grid in enumerate(level1):
        name = _SURNAMES[workers % len(_SURNAMES)] + _GIVEN[workers % len(_GIVEN)]
        session.add(GridWorker(name=name, phone=f"9991{workers:04d}", grid=grid))
    counts = district.counts()
    directory = directory or DirectoryService()
    result = directory.import_csv(session, sample_directory_text())
    session.flush()
    return SeedResult(counts["grid"], counts["sub_grid"], len(level1), result.added,
                      len(result.departments_created))
