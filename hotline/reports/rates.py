# -*- test-case-name: tests.reports.test_rates -*-
"""The three rates per department and period (响应率, 解决率, 满意率), by which the district and
the city judge the partner departments; the definitions are printed on every report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from db.models import Department, SurveyResult, Ticket, TicketEvent, utcnow
from hotline.reports.exceptions import UnknownFilterValue
from hotline.reports.periods import Period

__all__ = ["DepartmentRates", "RatesReport", "RATE_DEFINITIONS", "RESOLVED_STATUSES",
           "RESPONSE_ACTIONS", "rates_report"]

#: Ticket statuses that count as resolved: the department's answer reached the citizen.
RESOLVED_STATUSES = ("replied", "followed_up", "closed")
#: Ticket events by which a department shows it took a ticket up: its acceptance (签收;
#: ``start_handling`` in events written before it had its own step) or its reply.
RESPONSE_ACTIONS = ("accept", "start_handling", "reply")


def _definitions(min_score: int) -> tuple[tuple[str, str], ...]:
    return (
        ("派单", "统计期间内派出的工单（以期间内最后一次派单为准），计入当前承办的部门"),
        ("响应率", "派单后在部门响应时限内签收（开始办理）或答复的工单 ÷ 派单数"),
        ("办结率", "现已答复、回访或办结的派单工单 ÷ 派单数；重办中的工单不算办结"),
        ("满意率", f"统计期间内完成的满意度回访中评分在 {min_score} 分及以上（满分 5 分）的 ÷ "
                   "有评分的回访数，按部门的工单统计"),
        ("不满意重办", "统计期间内该部门的工单因市民不满意而重办的次数"),
    )


#: The definitions with the default satisfaction threshold.
RATE_DEFINITIONS = _definitions(4)


@dataclass(frozen=True)
class DepartmentRates:
    """One department's counts; the rates are None where there is nothing to divide."""

    code: str
    name: str
    limit_hours: int
    dispatched: int = 0
    responded: int = 0
    resolved: int = 0
    surveyed: int = 0
    satisfied: int = 0
    reopened: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.dispatched if self.dispatched else None

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved / self.dispatched if self.dispatched else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.surveyed if self.surveyed else None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "limit_hours": self.limit_hours,
                "dispatched": self.dispatched, "responded": self.responded,
                "resolved": self.resolved, "surveyed": self.surveyed,
                "satisfied": self.satisfied, "reopened": self.reopened,
                "response_rate": self.response_rate,
                "resolution_rate": self.resolution_rate,
                "satisfaction_rate": self.satisfaction_rate}


@dataclass(frozen=True)
class RatesReport:
    """The rates of every department with activity in the period, and the district's total."""

    period: Period
    rows: list[DepartmentRates]
    total: DepartmentRates
    satisfied_min_score: int
    generated_at: dt.datetime = field(default_factory=utcnow)

    @property
    def definitions(self) -> tuple[tuple[str, str], ...]:
        return _definitions(self.satisfied_min_score)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def rates_report(session: Session, period: Period, *, department: str | None = None,
                 satisfied_min_score: int = 4, now: dt.datetime | None = None) -> RatesReport:
    """The three rates for ``period``, for every department or only ``department`` (a code).

    Raises UnknownFilterValue for an unknown department code or a threshold outside 1-5.
    """
    if not 1 <= satisfied_min_score <= 5:
        raise UnknownFilterValue("the satisfaction threshold is a score from 1 to 5",
                                 {"satisfied_min_score": satisfied_min_score})
    departments = {d.id: d for d in session.scalars(select(Department))}
    only = None
    if department is not None:
        only = next((d.id for d in departments.values() if d.code == department), None)
        if only is None:
            raise UnknownFilterValue(f"no department with code {department!r}",
                                     {"department": department})
    counts: dict[int, dict[str, int]] = {}

    def bump(dept: int | None, key: str, n: int = 1) -> None:
        if dept is None or (only is not None and dept != only):
            return
        counts.setdefault(dept, {}).setdefault(key, 0)
        counts[dept][key] += n

    dispatch = (select(TicketEvent.ticket_id, func.max(TicketEvent.at).label("dispatched_at"))
                .where(TicketEvent.action == "dispatch", TicketEvent.at >= period.start,
                       TicketEvent.at < period.end)
                .group_by(TicketEvent.ticket_id).subquery())
    answer = aliased(TicketEvent)
    first_answer = (select(func.min(answer.at))
                    .where(answer.ticket_id == dispatch.c.ticket_id,
                           answer.action.in_(RESPONSE_ACTIONS),
                           answer.at >= dispatch.c.dispatched_at)
                    .scalar_subquery())
    rows = session.execute(
        select(Ticket.department_id, Ticket.status, dispatch.c.dispatched_at,
               first_answer.label("answered_at"))
        .join(Ticket, Ticket.id == dispatch.c.ticket_id))
    for dept_id, status, dispatched_at, answered_at in rows:
        if dept_id not in departments:
            continue
        bump(dept_id, "dispatched")
        limit = dt.timedelta(hours=departments[dept_id].response_time_limit_hours)
        dispatched_at, answered_at = _aware(dispatched_at), _aware(answered_at)
        if answered_at is not None and answered_at - dispatched_at <= limit:
            bump(dept_id, "responded")
        if status in RESOLVED_STATUSES:
            bump(dept_id, "resolved")
    surveys = session.execute(
        select(Ticket.department_id, func.count(),
               func.sum(case((SurveyResult.score >= satisfied_min_score, 1), else_=0)))
        .select_from(SurveyResult).join(Ticket, Ticket.id == SurveyResult.ticket_id)
        .where(SurveyResult.outcome == "rated", SurveyResult.score.is_not(None),
               SurveyResult.at >= period.start, SurveyResult.at < period.end)
        .group_by(Ticket.department_id))
    for dept_id, surveyed, satisfied in surveys:
        if dept_id in departments:
            bump(dept_id, "surveyed", surveyed)
            bump(dept_id, "satisfied", int(satisfied or 0))
    reopens = session.execute(
        select(Ticket.department_id, func.count())
        .select_from(TicketEvent).join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.action == "reopen", TicketEvent.at >= period.start,
               TicketEvent.at < period.end)
        .group_by(Ticket.department_id))
    for dept_id, n in reopens:
        if dept_id in departments:
            bump(dept_id, "reopened", n)
    out = []
    for dept_id, c in counts.items():
        d = departments[dept_id]
        out.append(DepartmentRates(d.code, d.name, d.response_time_limit_hours, **c))
    out.sort(key=lambda r: r.code)
    total = DepartmentRates("", "total", 0, *(sum(getattr(r, k) for r in out) for k in
                            ("dispatched", "responded", "resolved", "surveyed", "satisfied",
                             "reopened")))
    return RatesReport(period, out, total, satisfied_min_score, now or utcnow())
