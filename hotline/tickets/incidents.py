# -*- test-case-name: tests.tickets.test_incidents -*-
"""Incidents (同类事件批量处理) as people reach them: the proposals and confirmed incidents a
supervisor sees, confirming (or splitting, by leaving tickets out), dispatching the whole
incident to one department, and the department's one reply. Each function is one unit of work
for the console's API, its pages and ``hotline incident``: the role (and a liaison's
department) is checked here, every step and every refusal is audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Department, Grid, Incident, Ticket
from hotline.tickets.exceptions import InvalidRequest, NoSuchIncident, NotAllowed, TicketError
from hotline.tickets.schemas import KIND_LABELS, STATUS_LABELS
from hotline.tickets.service import TicketService
from hotline.web import audit
from hotline.web.roles import DISPATCH, LIAISON, SUPERVISION, Role

__all__ = ["READERS", "overview", "view", "confirm", "dispatch", "reply", "audit_refusal",
           "ticket_refs"]

#: Who sees incidents: supervisors, dispatchers, and a department's liaison (their own).
READERS = SUPERVISION | DISPATCH | LIAISON
#: The most tickets one incident may group (a page and a callback wave stay manageable).
MAX_TICKETS = 500


def _may_read(user: Any, tickets: Sequence[Ticket]) -> bool:
    if user.role != Role.LIAISON:
        return user.role in READERS
    return bool(tickets) and all(t.department_id == user.department_id for t in tickets)


def _row(t: Ticket) -> dict[str, Any]:
    """A ticket as an incident's lists show it: no citizen data."""
    return {"id": t.id, "number": t.number, "status": t.status,
            "status_label": STATUS_LABELS.get(t.status, t.status), "kind": t.kind,
            "category": t.category, "address": t.address,
            "department": t.department.code if t.department else None,
            "description": t.description if len(t.description) <= 120
            else t.description[:120] + "…", "created_at": t.created_at.isoformat()}


def _incident_dict(session: Session, service: TicketService, incident: Incident,
                   *, tickets: bool) -> dict[str, Any]:
    members = sorted(incident.tickets, key=lambda t: t.id)
    grid = session.scalar(select(Grid.code).where(Grid.id == incident.grid_id)) \
        if incident.grid_id else None
    departments = sorted({t.department.code for t in members if t.department})
    data = {"id": incident.id, "title": incident.title, "kind": incident.kind,
            "kind_label": KIND_LABELS.get(incident.kind, incident.kind),
            "category": incident.category, "grid": grid, "address": incident.address,
            "status": incident.status, "confirmed_by": incident.confirmed_by,
            "confirmed_at": incident.confirmed_at.isoformat(),
            "replied_at": incident.replied_at.isoformat() if incident.replied_at else None,
            "replied_by": incident.replied_by, "departments": departments,
            "ticket_count": len(members),
            "statuses": sorted({t.status for t in members}),
            "progress": service.incident_progress(session, incident.id)}
    if tickets:
        data["tickets"] = [_row(t) for t in members]
    return data


def overview(session: Session, service: TicketService, user: Any, *,
             limit: int = 100) -> dict[str, Any]:
    """The proposals (similar open tickets not yet grouped; supervisors only) and the newest
    confirmed incidents the user may see."""
    if user.role not in READERS:
        raise NotAllowed("your role may not see incidents")
    proposals = []
    if user.role in SUPERVISION:
        for p in service.propose_incidents(session):
            members = [service.get(session, i) for i in p.ticket_ids[:MAX_TICKETS]]
            grid = session.scalar(select(Grid.code).where(Grid.id == p.grid_id)) \
                if p.grid_id else None
            proposals.append({"kind": p.kind, "kind_label": KIND_LABELS.get(p.kind, p.kind),
                              "category": p.category, "grid": grid, "address": p.address,
                              "tickets": [_row(t) for t in members]})
    incidents = []
    for incident in session.scalars(select(Incident).order_by(Incident.id.desc()).limit(limit)):
        if _may_read(user, incident.tickets):
            incidents.append(_incident_dict(session, service, incident, tickets=False))
    return {"proposals": proposals, "incidents": incidents}


def _readable(session: Session, service: TicketService, user: Any,
              incident_id: int) -> Incident:
    incident = service.get_incident(session, incident_id)
    if not _may_read(user, incident.tickets):
        raise NoSuchIncident(incident_id)  # a liaison is not told another's incident exists
    return incident


def view(session: Session, service: TicketService, user: Any, incident_id: int) -> dict[str, Any]:
    """One incident with its tickets and its progress (n of N citizens reached)."""
    return _incident_dict(session, service, _readable(session, service, user, incident_id),
                          tickets=True)


def ticket_refs(session: Session, refs: Any) -> list[int]:
    """Ticket ids from a list of ids or numbers (RX...). Raises InvalidRequest naming the
    ones that are not tickets."""
    if not isinstance(refs, list) or not 2 <= len(refs) <= MAX_TICKETS:
        raise InvalidRequest({"tickets": f"give from 2 to {MAX_TICKETS} tickets"})
    ids, unknown = [], []
    for ref in refs:
        text = str(ref).strip().upper() if isinstance(ref, str | int) else ""
        found = None
        if text.isdigit():
            found = session.scalar(select(Ticket.id).where(Ticket.id == int(text)))
        elif text:
            found = session.scalar(select(Ticket.id).where(Ticket.number == text))
        if found is None:
            unknown.append(str(ref)[:30])
        else:
            ids.append(found)
    if unknown:
        raise InvalidRequest({"tickets": "no such ticket: " + ", ".join(unknown)})
    return ids


def _text(body: Any, name: str, longest: int, *, required: bool) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidRequest({name: "is required"})
        return None
    if not isinstance(value, str):
        raise InvalidRequest({name: "must be text"})
    if len(value.strip()) > longest:
        raise InvalidRequest({name: f"is {len(value.strip())} characters; at most {longest}"})
    return value.strip()


def confirm(session: Session, service: TicketService, user: Any, body: Any, *,
            ip: str | None) -> dict[str, Any]:
    """A supervisor confirms an incident from ``body["tickets"]`` (a proposal's, or part of it:
    leaving tickets out splits a proposal), with an optional title."""
    if user.role not in SUPERVISION:
        raise NotAllowed("only a supervisor confirms incidents")
    if not isinstance(body, dict):
        raise InvalidRequest({"body": "must be a JSON object"})
    title = _text(body, "title", 200, required=False)
    ids = ticket_refs(session, body.get("tickets"))
    incident = service.confirm_incident(session, ids, actor=user.username, title=title)
    audit.record(session, actor=user.username, role=user.role, action="incident.confirm",
                 target=str(incident.id), ip=ip, details={"tickets": len(ids)})
    session.flush()
    return _incident_dict(session, service, incident, tickets=True)


def dispatch(session: Session, service: TicketService, user: Any, incident_id: int, body: Any,
             *, ip: str | None) -> dict[str, Any]:
    """A dispatcher sends every ticket of the incident to one department, all or none."""
    if user.role not in DISPATCH:
        raise NotAllowed("only a dispatcher or a supervisor dispatches")
    department = _text(body, "department", 32, required=True)
    instruction = _text(body, "instruction", 2000, required=False)
    incident = _readable(session, service, user, incident_id)
    service.dispatch_incident(session, incident.id, department=department or "",
                              actor=user.username, text=instruction)
    audit.record(session, actor=user.username, role=user.role, action="incident.dispatch",
                 target=str(incident.id), ip=ip, details={"department": department})
    session.flush()
    return _incident_dict(session, service, incident, tickets=True)


def reply(session: Session, service: TicketService, user: Any, incident_id: int, body: Any, *,
          ip: str | None) -> dict[str, Any]:
    """The department replies once for every ticket; a liaison only for an incident wholly
    dispatched to their department."""
    if user.role not in LIAISON:
        raise NotAllowed("only the department's liaison or a supervisor replies")
    text = _text(body, "text", 5000, required=True)
    incident = _readable(session, service, user, incident_id)
    if user.role == Role.LIAISON:
        code = session.scalar(select(Department.code).where(Department.id == user.department_id))
        if any(t.department_id != user.department_id for t in incident.tickets):
            raise NotAllowed(f"the incident is not wholly dispatched to {code}")
    service.reply_incident(session, incident.id, actor=user.username, text=text or "")
    audit.record(session, actor=user.username, role=user.role, action="incident.reply",
                 target=str(incident.id), ip=ip, details={"tickets": len(incident.tickets)})
    session.flush()
    return _incident_dict(session, service, incident, tickets=True)


def audit_refusal(session: Session, user: Any, action: str, target: str | None,
                  error: TicketError, *, ip: str | None) -> None:
    """Record a refused incident step (its own unit of work: the refused one rolled back)."""
    audit.record(session, actor=user.username, role=user.role, action=f"incident.{action}",
                 target=target, outcome="denied" if error.status_code == 403 else "failed",
                 ip=ip, details={"error_id": error.error_id, "why": error.message[:300]})
