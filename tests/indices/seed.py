"""A small district (two streets, three communities, four level-1 grids with sub-grids and
residents, three departments) and an independent recomputation of the index counters from the
raw ticket, event and survey rows, to hold the aggregate against."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Community, Department, Grid, Street, SurveyResult, Ticket, TicketEvent

TZ = "Asia/Shanghai"
POPULATION = {"G001": 3000, "G002": 4500, "G003": 2500, "G004": 6000}
#: grid → (community, street)
PLACES = {"G001": ("C01", "S1"), "G002": ("C01", "S1"), "G003": ("C02", "S1"),
          "G004": ("C03", "S2")}
COUNTERS = ("demands", "repeats", "finished", "on_time", "closed", "reopened", "surveyed",
            "satisfied")


def small_district(session: Session) -> None:
    streets = {code: Street(code=code, name=f"示例街道{code}") for code in ("S1", "S2")}
    communities = {code: Community(code=code, name=f"示例社区{code}", street=streets[s])
                   for code, s in (("C01", "S1"), ("C02", "S1"), ("C03", "S2"))}
    for code, people in POPULATION.items():
        grid = Grid(code=code, name=f"第{code[-1]}网格", level=1, population=people,
                    community=communities[PLACES[code][0]])
        session.add(grid)
        for n in (1, 2):
            session.add(Grid(code=f"{code}-0{n}", name=f"{code}子网格{n}", level=2, parent=grid))
    for code in ("D1", "D2", "D3"):
        session.add(Department(code=code, name=f"示例部门{code}"))
    session.flush()


def recompute(session: Session, first: dt.date, last: dt.date, key: str,
              min_score: int = 4) -> dict[str, dict[str, int]]:
    """The counters per street/community/grid/department/category code, from the raw rows."""
    zone = zoneinfo.ZoneInfo(TZ)
    grids = {g.id: g for g in session.scalars(select(Grid))}
    communities = {c.id: c for c in session.scalars(select(Community))}
    streets = {s.id: s for s in session.scalars(select(Street))}
    departments = {d.id: d.code for d in session.scalars(select(Department))}
    tickets = {t.id: t for t in session.scalars(select(Ticket))}

    def where(t: Ticket) -> str:
        if key == "category":
            return t.category or ""
        if key == "department":
            return departments.get(t.department_id, "")
        if t.grid_id is None:
            return ""
        g = grids[t.grid_id]
        g = grids[g.parent_id] if g.parent_id else g
        if key == "grid":
            return g.code
        c = communities[g.community_id]
        return c.code if key == "community" else streets[c.street_id].code

    def inside(at: dt.datetime) -> bool:
        return first <= at.astimezone(zone).date() <= last

    # A citizen's earlier demands of the same category (a repeat looks back 30 days from
    # the midnight that starts the demand's day).
    same: dict[tuple[int, str], list[tuple[dt.datetime, int]]] = defaultdict(list)
    for t in tickets.values():
        if t.citizen_id and t.category:
            same[(t.citizen_id, t.category)].append((t.created_at, t.id))
    out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for t in tickets.values():
        if inside(t.created_at):
            row = out[where(t)]
            row["demands"] += 1
            midnight = dt.datetime.combine(t.created_at.astimezone(zone).date(), dt.time(),
                                           zone)
            if t.citizen_id and t.category and any(
                    other != t.id and midnight - dt.timedelta(days=30) <= at < t.created_at
                    for at, other in same[(t.citizen_id, t.category)]):
                row["repeats"] += 1
    for e in session.scalars(select(TicketEvent)):
        if not inside(e.at) or e.action not in ("reply", "close", "reopen"):
            continue
        t = tickets[e.ticket_id]
        row = out[where(t)]
        if e.action == "reply" and t.due_at is not None:
            row["finished"] += 1
            row["on_time"] += e.at <= t.due_at
        elif e.action == "close":
            row["closed"] += 1
        elif e.action == "reopen":
            row["reopened"] += 1
    for s in session.scalars(select(SurveyResult)):
        if inside(s.at) and s.outcome == "rated" and s.score is not None:
            row = out[where(tickets[s.ticket_id])]
            row["surveyed"] += 1
            row["satisfied"] += s.score >= min_score
    return {k: v for k, v in out.items() if any(v.values())}
