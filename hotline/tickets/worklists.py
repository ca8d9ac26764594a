# -*- test-case-name: tests.tickets.test_worklists -*-
"""The worklists with their lights: the dispatcher's queue, a department's list, the
supervisor's 督办 list, the follow-ups due and an agent's unfinished auto-opened tickets.

Each list reads only the columns it shows (no ORM objects) and is built from one indexed
range scan per status, merged here, so its cost does not grow with the number of closed
tickets (``python -m bench.worklist``: 1,000,000 tickets, 100,000 open). Lights come from
``hotline.tickets.clock.light``, the one deadline rule. Phone numbers are always masked here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Select, and_, bindparam, select, union_all
from sqlalchemy.orm import Session, aliased

from db.models import (
    Agent,
    Call,
    Citizen,
    Department,
    DepartmentNotice,
    Ticket,
    TicketCoDepartment,
    TicketExtension,
)
from hotline import phone
from hotline.tickets.clock import DeadlineRules, Light, WorkCalendar, light
from hotline.tickets.schemas import DISPATCH_QUEUE, WITH_DEPARTMENT, TicketStatus

__all__ = ["Lights", "WorkItem", "dispatch_queue", "department_list", "supervise_list",
           "follow_up_list", "unfinished_list", "pending_extensions", "recent_notices",
           "LISTS"]

#: The lists by name (API ``/api/worklists/{name}``, ``hotline ticket list --list NAME``).
LISTS = ("dispatch", "department", "supervise", "follow-up", "mine")


@dataclass(frozen=True)
class Lights:
    """What a light needs besides the ticket: the calendar, the zone, the rules, now."""

    calendar: WorkCalendar
    zone: dt.tzinfo
    rules: DeadlineRules
    now: dt.datetime

    def of(self, started_at: dt.datetime | None, due_at: dt.datetime | None,
           first_contact_due_at: dt.datetime | None = None,
           first_contacted_at: dt.datetime | None = None,
           warn_at: dt.datetime | None = None) -> Light:
        return light(started_at, due_at, self.now, self.calendar, self.zone,
                     warn_fraction=self.rules.warn_fraction, warn_at=warn_at,
                     first_contact_due_at=first_contact_due_at,
                     first_contacted_at=first_contacted_at,
                     first_contact_hours=self.rules.first_contact_hours)


@dataclass(frozen=True)
class WorkItem:
    """One row of a worklist."""

    id: int
    number: str
    kind: str
    status: str
    category: str | None
    address: str | None
    description: str
    department: str | None
    department_name: str | None
    citizen_phone: str | None
    created_at: dt.datetime
    clock_started_at: dt.datetime | None
    due_at: dt.datetime | None
    first_contact_due_at: dt.datetime | None
    first_contacted_at: dt.datetime | None
    reopen_count: int
    version: int
    light: str
    #: "lead" (主办) or "co" (协办) in a department's list; None elsewhere.
    role: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as the API returns it (times in ISO 8601); flat, so no deep copy."""
        out = {}
        for name in _FIELDS:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out


_FIELDS = tuple(f.name for f in fields(WorkItem))

_COLUMNS = (Ticket.id, Ticket.number, Ticket.kind, Ticket.status, Ticket.category,
            Ticket.address, Ticket.description, Department.code, Department.name,
            Citizen.phone, Ticket.created_at, Ticket.clock_started_at, Ticket.due_at,
            Ticket.first_contact_due_at, Ticket.first_contacted_at, Ticket.reopen_count,
            Ticket.version, Ticket.warn_at)


def _base() -> Select[Any]:
    return (select(*_COLUMNS).outerjoin(Department, Department.id == Ticket.department_id)
            .outerjoin(Citizen, Citizen.id == Ticket.citizen_id))


def _aware(value: Any) -> Any:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _items(rows: Iterable[Any], lights: Lights, role: str | None = None) -> list[WorkItem]:
    out = []
    for r in rows:
        (tid, number, kind, status, category, address, description, dcode, dname, cphone,
         created, started, due, fc_due, fc_done, reopens, version, warn) = r
        created, started, due, fc_due, fc_done, warn = (
            _aware(v) for v in (created, started, due, fc_due, fc_done, warn))
        out.append(WorkItem(
            id=tid, number=number, kind=kind, status=status, category=category,
            address=address, description=description[:200], department=dcode,
            department_name=dname, citizen_phone=phone.mask(cphone) if cphone else None,
            created_at=created, clock_started_at=started, due_at=due,
            first_contact_due_at=fc_due, first_contacted_at=fc_done,
            reopen_count=reopens or 0, version=version,
            light=str(lights.of(started, due, fc_due, fc_done, warn)), role=role))
    return out


def _merged(per_status: Sequence[Select[Any]], order: str) -> Select[Any]:
    """One indexed, limited scan per status, unioned, ordered again and cut to the window."""
    union = union_all(*(select(q.subquery()) for q in per_status)).subquery()
    return select(union).order_by(union.c[order], union.c.id).limit(bindparam("window"))


def _per_status(statuses: Sequence[str], order: Any, *where: Any) -> Select[Any]:
    return _merged([_base().where(Ticket.status == str(s), *where)
                    .order_by(order, Ticket.id).limit(bindparam("window"))
                    for s in statuses], order.key)


# Built once, bound at call time: constructing these unions (column proxies for every
# subquery) costs about ten times what the database takes to run them.
_DISPATCH_QUEUE = _per_status(DISPATCH_QUEUE, Ticket.created_at)
_DEPARTMENT_LEAD = _per_status(WITH_DEPARTMENT, Ticket.due_at,
                               Ticket.department_id == bindparam("department"))
_DEPARTMENT_CO = (_base().join(TicketCoDepartment, TicketCoDepartment.ticket_id == Ticket.id)
                  .where(TicketCoDepartment.department_id == bindparam("department"),
                         Ticket.status.in_([str(s) for s in WITH_DEPARTMENT]))
                  .order_by(Ticket.due_at, Ticket.id).limit(bindparam("window")))
_OVERDUE = _per_status(WITH_DEPARTMENT, Ticket.due_at, Ticket.due_at < bindparam("now"))
_OVERDUE_OF = _per_status(WITH_DEPARTMENT, Ticket.due_at, Ticket.due_at < bindparam("now"),
                          Ticket.department_id == bindparam("department"))


def dispatch_queue(session: Session, lights: Lights, *, limit: int = 50,
                   offset: int = 0) -> list[WorkItem]:
    """Received, returned and reopened tickets, the longest-waiting citizen first."""
    rows = session.execute(_DISPATCH_QUEUE, {"window": limit + offset}).all()
    return _items(rows[offset:offset + limit], lights)


def department_list(session: Session, department_id: int, lights: Lights, *,
                    limit: int = 50, offset: int = 0) -> list[WorkItem]:
    """The department's tickets on its clock, most urgent deadline first: those it leads
    (主办), then below them those it co-handles (协办)."""
    window = limit + offset
    params = {"department": department_id, "window": window}
    rows = [(row, "lead") for row in session.execute(_DEPARTMENT_LEAD, params).all()]
    if len(rows) < window:
        params["window"] = window - len(rows)
        rows += [(row, "co") for row in session.execute(_DEPARTMENT_CO, params).all()]
    return [item for row, role in rows[offset:offset + limit]
            for item in _items([row], lights, role)]


def supervise_list(session: Session, lights: Lights, *, department_id: int | None = None,
                   limit: int = 50, offset: int = 0) -> list[WorkItem]:
    """The 督办 list: tickets with a department past their deadline, longest overdue first."""
    params: dict[str, Any] = {"now": lights.now, "window": limit + offset}
    if department_id is not None:
        params["department"] = department_id
    rows = session.execute(_OVERDUE if department_id is None else _OVERDUE_OF, params).all()
    return _items(rows[offset:offset + limit], lights)


def follow_up_list(session: Session, lights: Lights, *, limit: int = 50,
                   offset: int = 0) -> list[WorkItem]:
    """Replied tickets waiting for the follow-up with the citizen (回访), oldest first."""
    rows = session.execute(_base().where(Ticket.status == TicketStatus.REPLIED.value)
                           .order_by(Ticket.updated_at, Ticket.id).limit(limit)
                           .offset(offset)).all()
    return _items(rows, lights)


def unfinished_list(session: Session, agent_code: str, lights: Lights, *,
                    limit: int = 50) -> list[WorkItem]:
    """Tickets the system opened for calls this agent answered without filing one: still to
    complete (category, address, content)."""
    answered = aliased(Call)
    rows = session.execute(
        _base().join(answered, answered.ticket_id == Ticket.id)
        .join(Agent, and_(Agent.id == answered.agent_id, Agent.code == agent_code))
        .where(Ticket.needs_completion.is_(True))
        .order_by(Ticket.created_at, Ticket.id).limit(limit)).all()
    return _items(rows, lights)


def pending_extensions(session: Session, *, department_id: int | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
    """Extension requests waiting for a supervisor, the ``limit`` oldest first."""
    q = (select(TicketExtension.id, TicketExtension.days, TicketExtension.reason,
                TicketExtension.requested_by, TicketExtension.requested_at, Ticket.id,
                Ticket.number, Ticket.due_at, Ticket.version, Department.code)
         .join(Ticket, Ticket.id == TicketExtension.ticket_id)
         .outerjoin(Department, Department.id == Ticket.department_id)
         .where(TicketExtension.status == "pending")
         .order_by(TicketExtension.requested_at, TicketExtension.id).limit(limit))
    if department_id is not None:
        q = q.where(TicketExtension.department_id == department_id)
    return [{"id": r[0], "days": r[1], "reason": r[2], "requested_by": r[3],
             "requested_at": _aware(r[4]).isoformat(), "ticket_id": r[5], "ticket": r[6],
             "due_at": _aware(r[7]).isoformat() if r[7] else None, "version": r[8],
             "department": r[9]} for r in session.execute(q).all()]


def recent_notices(session: Session, *, department_id: int | None = None,
                   limit: int = 30) -> list[dict[str, Any]]:
    """Reminders and 督办 notices, newest first, with their reminder call's outcome."""
    q = (select(DepartmentNotice, Ticket.number, Department.code)
         .join(Ticket, Ticket.id == DepartmentNotice.ticket_id)
         .outerjoin(Department, Department.id == DepartmentNotice.department_id)
         .order_by(DepartmentNotice.id.desc()).limit(limit))
    if department_id is not None:
        q = q.where(DepartmentNotice.department_id == department_id)
    return [notice_dict(n, number, code) for n, number, code in session.execute(q).all()]


def notice_dict(n: DepartmentNotice, ticket_number: str, department: str | None
                ) -> dict[str, Any]:
    """A notice as pages, the API and the push stream show it (one serialisation)."""
    return {"id": n.id, "kind": n.kind, "ticket_id": n.ticket_id, "ticket": ticket_number,
            "department": department, "at": n.at.isoformat(), "due_at": n.due_at.isoformat(),
            "text": n.text, "call_status": n.call_status, "call_outcome": n.call_outcome,
            "call_digit": n.call_digit, "call_attempts": n.call_attempts}


__all__ += ["notice_dict"]
