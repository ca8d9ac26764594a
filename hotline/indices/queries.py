# -*- test-case-name: tests.indices.test_aggregate -*-
"""Reading the indices from the daily aggregate: ranking tables per street, community, grid,
department or category over a period, and trend series per day, week or month."""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Community, Department, Grid, IndexDay, IndexFold, Street
from hotline.indices.aggregate import COUNTERS
from hotline.indices.exceptions import BadIndexQuery
from hotline.indices.formulas import Indices, indices_of

__all__ = ["Dimension", "Granularity", "IndexRow", "TrendPoint", "index_table", "trend",
           "parse_day", "last_folded"]


class Dimension(enum.StrEnum):
    """What the rows of an index table are."""

    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"
    DEPARTMENT = "department"
    CATEGORY = "category"


DIMENSION_LABELS = {Dimension.STREET: "街道", Dimension.COMMUNITY: "社区", Dimension.GRID: "网格",
                    Dimension.DEPARTMENT: "部门", Dimension.CATEGORY: "类别"}


class Granularity(enum.StrEnum):
    """The step of a trend series."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


GRANULARITY_LABELS = {Granularity.DAY: "日", Granularity.WEEK: "周", Granularity.MONTH: "月"}


@dataclass(frozen=True)
class IndexRow:
    """One row of an index table: who, their residents, the summed counters, the indices."""

    code: str
    name: str
    population: int | None
    counts: dict[str, int]
    indices: Indices = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "indices", indices_of(self.counts, self.population))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "population": self.population,
                **self.counts, **self.indices.as_dict()}


@dataclass(frozen=True)
class TrendPoint:
    """One step of a trend: its first day, its label, the counters and the indices."""

    start: dt.date
    label: str
    counts: dict[str, int]
    indices: Indices

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "label": self.label, **self.counts,
                **self.indices.as_dict()}


def parse_day(text: str | None, name: str) -> dt.date:
    """A YYYY-MM-DD day; raises BadIndexQuery naming the field."""
    try:
        return dt.date.fromisoformat(text or "")
    except ValueError:
        raise BadIndexQuery(f"{name}: expected a day as YYYY-MM-DD, got {text!r}",
                            {name: text}) from None


def _check(first: dt.date, last: dt.date) -> None:
    if last < first:
        raise BadIndexQuery("the period ends before it starts",
                            {"from": first.isoformat(), "to": last.isoformat()})
    if (last - first).days > 731:
        raise BadIndexQuery("a period is at most two years", {"days": (last - first).days + 1})


def _sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(IndexDay, name)), 0) for name in COUNTERS]


def _populations(session: Session) -> dict[str, dict[str | None, int]]:
    """Residents per street, community and level-1 grid code (site data), and the district's."""
    out: dict[str, dict[str | None, int]] = {"street": defaultdict(int),
                                             "community": defaultdict(int), "grid": {}}
    rows = session.execute(
        select(Grid.code, Grid.population, Community.code, Street.code)
        .outerjoin(Community, Community.id == Grid.community_id)
        .outerjoin(Street, Street.id == Community.street_id)
        .where(Grid.level == 1, Grid.population.is_not(None)))
    district = 0
    for grid, people, community, street in rows:
        out["grid"][grid] = people
        out["community"][community] += people
        out["street"][street] += people
        district += people
    out["district"] = {None: district}
    return out


def index_table(session: Session, by: Dimension | str, first: dt.date, last: dt.date
                ) -> list[IndexRow]:
    """The indices of every street/community/grid/department/category with activity from
    ``first`` to ``last`` (days, included), best composite first. Raises BadIndexQuery."""
    try:
        by = Dimension(by)
    except ValueError:
        raise BadIndexQuery(f"unknown dimension {by!r} (one of "
                            f"{', '.join(d.value for d in Dimension)})", {"by": by}) from None
    _check(first, last)
    cut = {Dimension.DEPARTMENT: "department", Dimension.CATEGORY: "category"}.get(by, "grid")
    q = select(*_sums()).select_from(IndexDay).where(IndexDay.cut == cut, IndexDay.day >= first,
                                                     IndexDay.day <= last)
    if by is Dimension.CATEGORY:
        q = q.add_columns(IndexDay.category, IndexDay.category).group_by(IndexDay.category)
    elif by is Dimension.DEPARTMENT:
        q = (q.add_columns(Department.code, Department.name)
             .outerjoin(Department, Department.id == IndexDay.department_id)
             .group_by(Department.code, Department.name))
    else:
        q = q.outerjoin(Grid, Grid.id == IndexDay.grid_id)
        if by is Dimension.GRID:
            q = q.add_columns(Grid.code, Grid.name).group_by(Grid.code, Grid.name)
        else:
            q = q.outerjoin(Community, Community.id == Grid.community_id)
            if by is Dimension.COMMUNITY:
                q = q.add_columns(Community.code, Community.name).group_by(Community.code,
                                                                          Community.name)
            else:
                q = (q.outerjoin(Street, Street.id == Community.street_id)
                     .add_columns(Street.code, Street.name).group_by(Street.code, Street.name))
    people = _populations(session)
    area = by.value if by in (Dimension.STREET, Dimension.COMMUNITY, Dimension.GRID) else None
    rows = []
    for *sums, code, name in session.execute(q):
        population = (people[area].get(code) if area else people["district"][None]) or None
        rows.append(IndexRow(code or "", name or ("未分类" if by is Dimension.CATEGORY
                                                  else "未定位/未派单"),
                             population, dict(zip(COUNTERS, map(int, sums), strict=True))))
    rows.sort(key=lambda r: (r.indices.composite is None, -(r.indices.composite or 0), r.code))
    return rows


def _bucket(day: dt.date, step: Granularity) -> tuple[dt.date, str]:
    if step is Granularity.DAY:
        return day, f"{day.month}月{day.day}日"
    if step is Granularity.WEEK:
        monday = day - dt.timedelta(days=day.weekday())
        return monday, f"{monday.month}月{monday.day}日当周"
    return day.replace(day=1), f"{day.year}年{day.month}月"


def trend(session: Session, first: dt.date, last: dt.date, *,
          step: Granularity | str = Granularity.DAY, grid: str | None = None) -> list[TrendPoint]:
    """The district's (or one level-1 grid's) indices per day, week or month from ``first``
    to ``last``. Raises BadIndexQuery."""
    try:
        step = Granularity(step)
    except ValueError:
        raise BadIndexQuery(f"unknown step {step!r} (day, week or month)", {"step": step}) \
            from None
    _check(first, last)
    q = (select(IndexDay.day, *_sums()).where(IndexDay.cut == ("grid" if grid else "category"),
                                              IndexDay.day >= first, IndexDay.day <= last)
         .group_by(IndexDay.day))
    people = _populations(session)
    population = people["district"][None] or None
    if grid:
        grid_id = session.scalar(select(Grid.id).where(Grid.code == grid, Grid.level == 1))
        if grid_id is None:
            raise BadIndexQuery(f"no level-1 grid {grid!r}", {"grid": grid})
        q = q.where(IndexDay.grid_id == grid_id)
        population = people["grid"].get(grid)
    buckets: dict[dt.date, tuple[str, dict[str, int]]] = {}
    for day, *sums in session.execute(q):
        start, label = _bucket(day, step)
        counts = buckets.setdefault(start, (label, dict.fromkeys(COUNTERS, 0)))[1]
        for name, value in zip(COUNTERS, sums, strict=True):
            counts[name] += int(value)
    return [TrendPoint(start, label, counts, indices_of(counts, population))
            for start, (label, counts) in sorted(buckets.items())]


def last_folded(session: Session) -> tuple[dt.date | None, dt.datetime | None]:
    """The newest day folded into the aggregate and when it was folded."""
    row = session.execute(select(IndexFold.day, IndexFold.folded_at)
                          .order_by(IndexFold.day.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (None, None)
