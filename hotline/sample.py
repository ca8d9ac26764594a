# -*- test-case-name: tests.test_sample -*-
"""Sample records for development and demonstrations (``hotline db seed-sample``).

The district's shape: 120 level-1 grids and 532 level-2 grids each with a grid worker, the
departments and the sample directory of municipal hotlines (hotline/directory/
sample_directory.csv). All SAMPLE data: grid workers' numbers are in the reserved test range
9991 0000 - 9991 9999. Seeding twice is refused rather than duplicating rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Grid, GridWorker, MunicipalHotline
from hotline.directory.service import DirectoryService

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
    level1 = [Grid(code=f"G{i:03d}", name=f"第{i}网格", level=1)
              for i in range(1, LEVEL1_GRIDS + 1)]
    session.add_all(level1)
    workers = 0
    per_parent = [LEVEL2_GRIDS // LEVEL1_GRIDS + (1 if i < LEVEL2_GRIDS % LEVEL1_GRIDS else 0)
                  for i in range(LEVEL1_GRIDS)]
    for parent, count in zip(level1, per_parent, strict=True):
        for j in range(1, count + 1):
            child = Grid(code=f"{parent.code}-{j:02d}", name=f"{parent.name}{j}号子网格",
                         level=2, parent=parent)
            name = _SURNAMES[workers % len(_SURNAMES)] + _GIVEN[workers % len(_GIVEN)]
            child.workers.append(GridWorker(name=name, phone=f"9991{workers:04d}"))
            session.add(child)
            workers += 1
    directory = directory or DirectoryService()
    result = directory.import_csv(session, sample_directory_text())
    session.flush()
    return SeedResult(LEVEL1_GRIDS, sum(per_parent), workers, result.added,
                      len(result.departments_created))
