# -*- test-case-name: tests.reports.test_sla -*-
"""The callback SLA report: how well the timed-reply promises falling due in a period were kept.

Each callback due in the period has one outcome (see ``DEFINITIONS``), counted in the database by
one grouped query; the lateness distribution and the drill-down list use the same outcome
expression, so the three can never disagree. The queries read only the callback columns that
exist since migrations 0002/0005 (status, due_at, reached_at, sla_met, sla_deadline_at) and
tolerate new statuses: a callback neither reached nor finished is pending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, DateTime, and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from db.models import (
    Agent,
    Callback,
    CallbackStatus,
    Citizen,
    Department,
    Grid,
    Ticket,
    utcnow,
)
from hotline import config as config_mod
from hotline import phone
from hotline.reports.charts import WeekSLA
from hotline.reports.exceptions import UnknownFilterValue
from hotline.reports.periods import Period
from hotline.tickets.schemas import CHANNELS

__all__ = ["SLAFilter", "SLACounts", "SLAGroup", "SLAReport", "SLATicket", "DIMENSIONS",
           "OUTCOMES", "OUTCOME_LABELS", "DIMENSION_LABELS", "LATENESS_BUCKETS", "DEFINITIONS", "sla_report", "sla_tickets",
           "sla_counts", "outcome_expression", "deadline_expression", "weekly_trend", "drill_filters"]

#: Ways to group (and filter) the report.
DIMENSIONS = ("department", "agent", "category", "channel", "grid")

#: Outcomes of a callback, in report order.
OUTCOMES = ("met", "late", "not_reached", "pending", "cancelled")

#: Callback statuses after which nothing more will happen to it.
_FINAL_STATUSES = (CallbackStatus.DONE, CallbackStatus.FAILED)

#: Upper bounds (seconds late, included) and labels of the lateness distribution.
LATENESS_BUCKETS: tuple[tuple[float | None, str], ...] = (
    (15 * 60, "≤ 15 分钟"),
    (60 * 60, "15–60 分钟"),
    (4 * 3600, "1–4 小时"),
    (24 * 3600, "4–24 小时"),
    (None, "> 24 小时"),
)

#: Printed on every SLA report, so a supervisor knows exactly what each number counts.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("应回访", "约定回复时间落在统计期间内的定时回访（已取消的不计）"),
    ("按时回访", "在 SLA 截止时间（约定时间加上安排回访时确定的宽限）之前联系上市民，以调度记录为准"),
    ("超时回访", "联系上了市民，但晚于截止时间"),
    ("未联系上", "每次拨打均失败，或截止时间已过仍未联系上市民"),
    ("待回访", "尚未联系上、仍在处理中；截止时间可能还未到"),
    ("SLA 达标率", "按时 ÷（按时 + 超时 + 未联系上）：待回访的不计入"),
    ("超时时长", "超时回访的联系上时间减去截止时间"),
)

#: What each outcome is called on the page.
OUTCOME_LABELS = {"met": "按时", "late": "超时", "not_reached": "未联系上", "pending": "待回访",
                  "cancelled": "已取消"}

#: What each grouping is called on the page.
DIMENSION_LABELS = {"department": "承办部门", "agent": "坐席", "category": "类别",
                    "channel": "渠道", "grid": "网格"}


#: ``scheduler.sla_grace_s`` as shipped; callers pass the site's (L{SiteSettings}, the command).
DEFAULT_SLA_GRACE_S = float(config_mod.loads("", source="defaults")["scheduler"]["sla_grace_s"])


class _PlusSeconds(FunctionElement[dt.datetime]):
    """``timestamp + N seconds`` in SQL, the way each database can say it."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(_PlusSeconds)
def _plus_seconds_pg(element: _PlusSeconds, compiler: Any, **kw: Any) -> str:
    when, seconds = list(element.clauses)
    return (f"({compiler.process(when, **kw)} + make_interval(secs => "
            f"{compiler.process(seconds, **kw)}))")


@compiles(_PlusSeconds, "sqlite")
def _plus_seconds_sqlite(element: _PlusSeconds, compiler: Any, **kw: Any) -> str:
    # The text SQLAlchemy stores (YYYY-MM-DD HH:MM:SS.ffffff), so comparisons stay textual.
    when, seconds = list(element.clauses)
    return (f"(strftime('%Y-%m-%d %H:%M:%f', {compiler.process(when, **kw)}, "
            f"({compiler.process(seconds, **kw)}) || ' seconds') || '000')")


def deadline_expression(sla_grace_s: float = DEFAULT_SLA_GRACE_S) -> ColumnElement[Any]:
    """The SLA deadline of a callback: the one the scheduler fixed at its first attempt, else
    (not attempted yet) the same rule, L{scheduler.policy.sla_deadline}: due + grace."""
    return func.coalesce(Callback.sla_deadline_at,
                         _PlusSeconds(Callback.due_at, float(sla_grace_s)))


def outcome_expression(sla_grace_s: float = DEFAULT_SLA_GRACE_S) -> ColumnElement[str]:
    """The SQL expression giving a callback's outcome (one of ``OUTCOMES``)."""
    reached = Callback.reached_at.is_not(None)
    return case(
        (Callback.status == CallbackStatus.CANCELLED, "cancelled"),
        (and_(Callback.reached_at.is_(None), Callback.sla_met.is_(None),
              Callback.status.not_in(_FINAL_STATUSES)), "pending"),
        (Callback.sla_met.is_(True), "met"),
        (and_(reached, Callback.sla_met.is_(None),
              Callback.reached_at <= deadline_expression(sla_grace_s)), "met"),
        (reached, "late"),
        else_="not_reached",
    )


def _seconds_late(dialect: str, sla_grace_s: float) -> ColumnElement[float]:
    deadline = deadline_expression(sla_grace_s)
    if dialect == "sqlite":
        return (func.julianday(Callback.reached_at) - func.julianday(deadline)) * 86400.0
    return func.extract("epoch", Callback.reached_at - deadline)


@dataclass(frozen=True)
class SLAFilter:
    """Restrict the report: department, agent and grid by code (``grid`` may name a street,
    a community, a level-1 grid with its level-2 grids, or a level-2 grid: the drill-down
    street → community → grid → sub-grid), category and channel by value. None: no
    restriction."""

    department: str | None = None
    agent: str | None = None
    category: str | None = None
    channel: str | None = None
    grid: str | None = None

    def active(self) -> dict[str, str]:
        """The restrictions in force, by dimension."""
        return {d: getattr(self, d) for d in DIMENSIONS if getattr(self, d)}


@dataclass(frozen=True)
class SLACounts:
    """Callbacks due in a period by outcome."""

    met: int = 0
    late: int = 0
    not_reached: int = 0
    pending: int = 0
    cancelled: int = 0

    @property
    def due(self) -> int:
        return self.met + self.late + self.not_reached + self.pending

    @property
    def settled(self) -> int:
        return self.met + self.late + self.not_reached

    @property
    def missed(self) -> int:
        return self.late + self.not_reached

    @property
    def met_rate(self) -> float | None:
        """Met of settled, or None when nothing is settled."""
        return self.met / self.settled if self.settled else None

    def __add__(self, other: SLACounts) -> SLACounts:
        return SLACounts(*(getattr(self, o) + getattr(other, o) for o in OUTCOMES))

    def as_dict(self) -> dict[str, Any]:
        return {**{o: getattr(self, o) for o in OUTCOMES}, "due": self.due,
                "met_rate": self.met_rate}


@dataclass(frozen=True)
class SLAGroup:
    """One row of the grouped report: ``key`` is the filter value that drills into it (a code,
    category or channel; None for callbacks without one)."""

    key: str | None
    label: str
    counts: SLACounts


@dataclass(frozen=True)
class SLAReport:
    """Everything the SLA page, its CSV and the console show."""

    period: Period
    filters: SLAFilter
    by: str
    totals: SLACounts
    groups: list[SLAGroup]
    lateness: list[tuple[str, int]]
    offenders: list[SLAGroup]
    generated_at: dt.datetime = field(default_factory=utcnow)
    definitions: tuple[tuple[str, str], ...] = DEFINITIONS


@dataclass(frozen=True)
class SLATicket:
    """A line of the drill-down: one callback and its ticket; the citizen's number masked."""

    callback_id: int
    ticket_id: int
    ticket_number: str
    category: str | None
    channel: str
    department: str | None
    agent: str | None
    citizen: str | None
    due_at: dt.datetime
    reached_at: dt.datetime | None
    outcome: str
    minutes_late: float | None


# -- filters --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Resolved:
    department_id: int | None
    agent_id: int | None
    grid_ids: tuple[int, ...] | None
    category: str | None
    channel: str | None


def _resolve(session: Session, filters: SLAFilter) -> _Resolved:
    """Codes to ids; raises UnknownFilterValue for a code that names nothing."""
    department_id = agent_id = None
    grid_ids = None
    if filters.department:
        department_id = session.scalar(
            select(Department.id).where(Department.code == filters.department))
        if department_id is None:
            raise UnknownFilterValue(f"no department with code {filters.department!r}",
                                     {"department": filters.department})
    if filters.agent:
        agent_id = session.scalar(select(Agent.id).where(Agent.code == filters.agent))
        if agent_id is None:
            raise UnknownFilterValue(f"no agent with code {filters.agent!r}",
                                     {"agent": filters.agent})
    if filters.grid:
        from hotline.grid.maps import grid_ids_within

        grid_ids = grid_ids_within(session, filters.grid)
        if not grid_ids:
            raise UnknownFilterValue(f"no street, community or grid with code "
                                     f"{filters.grid!r}", {"grid": filters.grid})
    if filters.channel and filters.channel not in CHANNELS:
        raise UnknownFilterValue(
            f"unknown channel {filters.channel!r} (known: {', '.join(CHANNELS)})",
            {"channel": filters.channel})
    return _Resolved(department_id, agent_id, grid_ids, filters.category, filters.channel)


def _conditions(period: Period, r: _Resolved) -> list[ColumnElement[bool]]:
    """Conditions on callbacks only: the period on ``due_at`` (the index every plan starts
    from) and the ticket's filters as one correlated EXISTS, so no query joins the whole
    ticket table (PostgreSQL would otherwise hash-join a sequential scan of it)."""
    conditions = [Callback.due_at >= period.start, Callback.due_at < period.end]
    if r.agent_id is not None:
        conditions.append(Callback.owner_agent_id == r.agent_id)
    on_ticket = []
    if r.department_id is not None:
        on_ticket.append(_T.department_id == r.department_id)
    if r.grid_ids is not None:
        on_ticket.append(_T.grid_id.in_(r.grid_ids))
    if r.category is not None:
        on_ticket.append(_T.category == r.category)
    if r.channel is not None:
        on_ticket.append(_T.channel == r.channel)
    if on_ticket:
        conditions.append(select(_T.id).where(_T.id == Callback.ticket_id, *on_ticket).exists())
    return conditions


#: The ticket as seen from one callback (correlated lookups by primary key).
_T = aliased(Ticket, name="t")


def _keyed(by: str, *columns: Any) -> Any:
    """SELECT the group's raw key (labelled ``k``) and ``columns`` FROM callbacks; ticket
    columns come by a correlated primary-key lookup (a join lets PostgreSQL's planner hash a
    sequential scan of every ticket instead)."""
    if by == "agent":
        return select(Callback.owner_agent_id.label("k"), *columns).select_from(Callback)
    column = {"department": _T.department_id, "category": _T.category, "channel": _T.channel,
              "grid": _T.grid_id}[by]
    key = select(column).where(_T.id == Callback.ticket_id).scalar_subquery()
    return select(key.label("k"), *columns).select_from(Callback)


def _check_dimension(by: str) -> None:
    if by not in DIMENSIONS:
        raise UnknownFilterValue(f"cannot group by {by!r} (choose one of {', '.join(DIMENSIONS)})",
                                 {"by": by})


# -- labels ---------------------------------------------------------------------------------------

def _labeller(session: Session, by: str, keys: Sequence[Any]) -> dict[Any, tuple[str | None, str]]:
    """Raw group key → (drill-down key, label); grids roll up to their level-1 grid."""
    present = [k for k in keys if k is not None]
    labels: dict[Any, tuple[str | None, str]] = {None: (None, "（未指定）")}
    if by == "department" and present:
        for id_, code, name in session.execute(
                select(Department.id, Department.code, Department.name)
                .where(Department.id.in_(present))):
            labels[id_] = (code, f"{code} {name}")
    elif by == "agent" and present:
        for id_, code, name in session.execute(
                select(Agent.id, Agent.code, Agent.name).where(Agent.id.in_(present))):
            labels[id_] = (code, f"{code} {name}")
    elif by == "grid" and present:
        parent = aliased(Grid)
        for id_, code, name, p_code, p_name in session.execute(
                select(Grid.id, Grid.code, Grid.name, parent.code, parent.name)
                .outerjoin(parent, Grid.parent_id == parent.id).where(Grid.id.in_(present))):
            top_code, top_name = (p_code, p_name) if p_code else (code, name)
            labels[id_] = (top_code, f"{top_code} {top_name}")
    elif by in ("category", "channel"):
        for k in present:
            label = CHANNELS[k].label if by == "channel" and k in CHANNELS else k
            labels[k] = (k, f"{k} {label}" if label != k else k)
    return labels


# -- queries --------------------------------------------------------------------------------------

def _grouped(session: Session, period: Period, r: _Resolved, by: str,
             sla_grace_s: float) -> list[SLAGroup]:
    inner = (_keyed(by, outcome_expression(sla_grace_s).label("outcome"))
             .where(*_conditions(period, r)).subquery())
    rows = session.execute(select(inner.c.k, inner.c.outcome, func.count())
                           .group_by(inner.c.k, inner.c.outcome)).all()
    labels = _labeller(session, by, sorted({k for k, _, _ in rows if k is not None}))
    merged: dict[str | None, tuple[str, dict[str, int]]] = {}
    for raw, outcome, n in rows:
        key, label = labels.get(raw, (str(raw), str(raw)))
        counts = merged.setdefault(key, (label, {}))[1]
        counts[outcome] = counts.get(outcome, 0) + n
    groups = [SLAGroup(key, label, SLACounts(**counts)) for key, (label, counts) in merged.items()]
    groups.sort(key=lambda g: (g.key is None, g.label))
    return groups


def _lateness(session: Session, period: Period, r: _Resolved,
              sla_grace_s: float) -> list[tuple[str, int]]:
    dialect = session.get_bind().dialect.name
    late = (select(_seconds_late(dialect, sla_grace_s).label("s"))
            .select_from(Callback)
            .where(*_conditions(period, r), outcome_expression(sla_grace_s) == "late")
            .subquery())
    whens = [(late.c.s <= bound, i) for i, (bound, _) in enumerate(LATENESS_BUCKETS)
             if bound is not None]
    bucketed = select(case(*whens, else_=len(LATENESS_BUCKETS) - 1).label("b")).subquery()
    counts = dict(session.execute(select(bucketed.c.b, func.count()).group_by(bucketed.c.b)).all())
    return [(label, counts.get(i, 0)) for i, (_, label) in enumerate(LATENESS_BUCKETS)]


def _offenders(groups: Sequence[SLAGroup], limit: int) -> list[SLAGroup]:
    """The groups that missed most: by share of settled callbacks missed, then by count."""
    missing = [g for g in groups if g.counts.missed]
    missing.sort(key=lambda g: (-g.counts.missed / g.counts.settled, -g.counts.missed, g.label))
    return missing[:limit]


def sla_counts(session: Session, period: Period, filters: SLAFilter = SLAFilter(), *,
               sla_grace_s: float = DEFAULT_SLA_GRACE_S) -> SLACounts:
    """Only the totals (the weekly trend asks this once per week)."""
    r = _resolve(session, filters)
    inner = (select(outcome_expression(sla_grace_s).label("outcome"))
             .select_from(Callback).where(*_conditions(period, r)).subquery())
    rows = session.execute(select(inner.c.outcome, func.count()).group_by(inner.c.outcome))
    return SLACounts(**dict(rows.all()))


def sla_report(session: Session, period: Period, filters: SLAFilter = SLAFilter(), *,
               by: str = "department", offenders: int = 10,
               now: dt.datetime | None = None,
               sla_grace_s: float = DEFAULT_SLA_GRACE_S) -> SLAReport:
    """The SLA report for ``period`` under ``filters``, grouped ``by`` one of DIMENSIONS;
    ``sla_grace_s`` is the site's ``scheduler.sla_grace_s`` (see L{deadline_expression}).

    Raises UnknownFilterValue for a dimension or code that does not exist (nothing is read).
    """
    _check_dimension(by)
    r = _resolve(session, filters)
    groups = _grouped(session, period, r, by, sla_grace_s)
    totals = sum((g.counts for g in groups), SLACounts())
    return SLAReport(period=period, filters=filters, by=by, totals=totals, groups=groups,
                     lateness=_lateness(session, period, r, sla_grace_s),
                     offenders=_offenders(groups, offenders),
                     generated_at=now or utcnow())


def sla_tickets(session: Session, period: Period, filters: SLAFilter = SLAFilter(), *,
                outcome: str | None = None, limit: int = 100, offset: int = 0,
                sla_grace_s: float = DEFAULT_SLA_GRACE_S) -> list[SLATicket]:
    """The drill-down: callbacks due in the period (of one outcome when given), oldest due
    first, with their tickets. Drill into a group by adding its key to ``filters``."""
    if outcome is not None and outcome not in OUTCOMES:
        raise UnknownFilterValue(f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})",
                                 {"outcome": outcome})
    if limit < 1 or limit > 10_000 or offset < 0:
        raise UnknownFilterValue("limit must be 1-10000 and offset not negative",
                                 {"limit": limit, "offset": offset})
    r = _resolve(session, filters)
    dialect = session.get_bind().dialect.name
    inner = (select(Callback.id.label("callback_id"), Ticket.id.label("ticket_id"),
                    Ticket.number, Ticket.category, Ticket.channel,
                    Department.code.label("department"), Agent.code.label("agent"),
                    Citizen.phone, Callback.due_at, Callback.reached_at,
                    outcome_expression(sla_grace_s).label("outcome"),
                    _seconds_late(dialect, sla_grace_s).label("late_s"))
             .select_from(Callback).join(Ticket, Ticket.id == Callback.ticket_id)
             .outerjoin(Department, Department.id == Ticket.department_id)
             .outerjoin(Agent, Agent.id == Callback.owner_agent_id)
             .outerjoin(Citizen, Citizen.id == Callback.citizen_id)
             .where(*_conditions(period, r)).subquery())
    query = select(inner).order_by(inner.c.due_at, inner.c.callback_id).limit(limit).offset(offset)
    if outcome is not None:
        query = query.where(inner.c.outcome == outcome)
    out = []
    for row in session.execute(query):
        late = float(row.late_s) if row.outcome == "late" and row.late_s is not None else None
        due, reached = _aware(row.due_at), _aware(row.reached_at)
        out.append(SLATicket(row.callback_id, row.ticket_id, row.number, row.category,
                             row.channel, row.department, row.agent,
                             phone.mask(row.phone) if row.phone else None, due, reached,
                             row.outcome, round(late / 60.0, 1) if late is not None else None))
    return out


def _aware(value: Any) -> Any:
    """Columns read through a subquery keep their type, but be safe with naive SQLite text."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def weekly_trend(session: Session, last_day: dt.date, *, weeks: int, timezone: str,
                 filters: SLAFilter = SLAFilter(),
                 sla_grace_s: float = DEFAULT_SLA_GRACE_S) -> list[WeekSLA]:
    """The met rate of each of the ``weeks`` ISO weeks (Monday to Sunday, site-local) up to
    the one holding ``last_day``, oldest first: one small indexed count per week."""
    from hotline.reports.periods import period as make_period

    if not 1 <= weeks <= 260:
        raise UnknownFilterValue("weeks must be 1-260", {"weeks": weeks})
    monday = last_day - dt.timedelta(days=last_day.weekday())
    out = []
    for k in range(weeks - 1, -1, -1):
        first = monday - dt.timedelta(weeks=k)
        counts = sla_counts(session, make_period(first, first + dt.timedelta(days=6), timezone),
                            filters, sla_grace_s=sla_grace_s)
        year, week, _ = first.isocalendar()
        out.append(WeekSLA(f"{year}-W{week:02d}", counts.met_rate, counts.settled))
    return out


def drill_filters(filters: SLAFilter, by: str, key: str | None) -> SLAFilter:
    """The filters that show one group of a report grouped ``by``."""
    _check_dimension(by)
    return replace(filters, **{by: key})
