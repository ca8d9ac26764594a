# -*- test-case-name: tests.tickets.test_actions -*-
"""The steps of a ticket's life as a signed-in person takes them: from the console's pages, the
JSON API or the command line alike.

Each method is a unit of work's body (it takes the caller's session): it reads the request,
checks the user's role and department (``permissions``), calls the ticket service, writes the
audit entry in the same unit and returns the ticket as the user may see it. A refusal raises a
``TicketError`` (403 ``forbidden``, 404 for a ticket the user may not even see, 409 for a
stale version or a step not allowed now, 400 for bad input); the caller audits it with
``audit_refusal`` in a unit of its own, since the failed one is rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    ConsoleUser,
    Department,
    DepartmentNotice,
    Ticket,
    TicketAttachment,
    TicketExtension,
)
from hotline.tickets import worklists
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.clock import LIGHT_LABELS
from hotline.tickets.exceptions import (
    InvalidRequest,
    NoSuchAttachment,
    NoSuchDepartment,
    NoSuchExtension,
    NoSuchTicket,
    NotAllowed,
    TicketError,
)
from hotline.tickets.permissions import ACTION_ROLES, actions_for, may_read, refusal
from hotline.tickets.schemas import (
    KIND_LABELS,
    STATUS_LABELS,
    TicketStatus,
    text_field,
    ticket_summary,
)
from hotline.tickets.service import EDITABLE, TicketService
from hotline.web import audit
from hotline.web.roles import DESK, SUPERVISION, Role

__all__ = ["TicketActions", "FIELDS", "UploadedFile", "principal_of"]

#: action → the request fields it takes (``version`` everywhere: the version the user saw).
FIELDS: dict[str, frozenset[str]] = {
    "dispatch": frozenset({"department", "co_departments", "instruction"}),
    "accept": frozenset({"text"}),
    "return": frozenset({"reason"}),
    "extend": frozenset({"days", "reason"}),
    "contact": frozenset({"text"}),
    "reply": frozenset({"text", "attachments"}),
    "follow_up": frozenset({"satisfied", "solved", "text"}),
    "close": frozenset({"text"}),
    "reopen": frozenset({"reason"}),
    "edit": frozenset(EDITABLE),
}


@dataclass(frozen=True)
class UploadedFile:
    """A file that came with a request (a page's form, the command line)."""

    filename: str
    content_type: str
    data: bytes


def principal_of(session: Session, username: str) -> Any:
    """The active console account ``username`` as a request's user (the command line acts as
    one: ``--as``). Raises NotAllowed for an unknown or disabled account."""
    from hotline.web.accounts import Principal

    user = session.scalars(select(ConsoleUser).where(
        ConsoleUser.username == username.strip().lower())).first()
    if user is None or not user.active:
        raise NotAllowed(f"no active console account {username!r} (hotline user list)",
                         {"user": username})
    dept = user.department
    return Principal(user.id, user.username, user.display_name, user.role, user.agent_code,
                     user.department_id, dept.code if dept else None,
                     dept.name if dept else None, "")


def _flag(payload: Mapping[str, Any], field: str, problems: dict[str, str]) -> bool | None:
    value = payload.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    problems[field] = "must be true or false"
    return None


def _version(payload: Mapping[str, Any], problems: dict[str, str]) -> int | None:
    value = payload.get("version")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems["version"] = "must be the ticket's version number as read"
        return None
    return value


class TicketActions:
    """The life after intake for signed-in people, over one ticket service and one store.

    @param service: the ticket service (clock, rules, zone).
    @param attachments: where reply attachments are kept.
    """

    def __init__(self, *, service: TicketService, attachments: AttachmentStore) -> None:
        self.service = service
        self.attachments = attachments

    # -- reading ---------------------------------------------------------------------------

    def lights(self, session: Session, now: dt.datetime | None = None) -> worklists.Lights:
        return worklists.Lights(self.service.calendar(session), self.service.zone,
                                self.service.rules, now or self.service.clock())

    def readable(self, session: Session, user: Any, ticket_id: int) -> Ticket:
        """The ticket if ``user`` may see it; NoSuchTicket otherwise (a liaison is not told
        that another department's ticket exists)."""
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or not may_read(user, ticket):
            raise NoSuchTicket(ticket_id)
        return ticket

    def view(self, session: Session, user: Any, ticket_id: int, *,
             lights: worklists.Lights | None = None) -> dict[str, Any]:
        """The ticket as ``user`` sees it: its summary (phone masked except for the desk), the
        light, co-handling departments, attachments, extension requests, notices, and the
        actions the user may take now."""
        ticket = self.readable(session, user, ticket_id)
        return self.extras(session, ticket, user, lights=lights) | self._summary(ticket, user)

    def _summary(self, ticket: Ticket, user: Any) -> dict[str, Any]:
        data = ticket_summary(ticket)
        data["department_name"] = ticket.department.name if ticket.department else None
        data["grid"] = ticket.grid.code if ticket.grid else None
        if user.role in DESK and ticket.citizen is not None:
            data["caller_phone"] = ticket.citizen.phone
            data["citizen_name"] = ticket.citizen.name
        return data

    def extras(self, session: Session, ticket: Ticket, user: Any, *,
               lights: worklists.Lights | None = None) -> dict[str, Any]:
        """What the life after intake adds to a ticket's page and API view."""
        lights = lights or self.lights(session)
        shade = lights.of(ticket.clock_started_at, ticket.due_at, ticket.first_contact_due_at,
                          ticket.first_contacted_at, ticket.warn_at)
        notices = session.execute(
            select(DepartmentNotice, Department.code)
            .outerjoin(Department, Department.id == DepartmentNotice.department_id)
            .where(DepartmentNotice.ticket_id == ticket.id)
            .order_by(DepartmentNotice.id.desc()).limit(20)).all()
        return {
            "light": str(shade), "light_label": LIGHT_LABELS[shade],
            "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
            "kind_label": KIND_LABELS.get(ticket.kind, ticket.kind),
            "co_departments": [{"code": d.code, "name": d.name}
                               for d in ticket.co_departments],
            "attachments": [{"id": a.id, "filename": a.filename, "size_bytes": a.size_bytes,
                             "content_type": a.content_type, "event_id": a.event_id,
                             "uploaded_by": a.uploaded_by,
                             "url": f"/api/attachments/{a.id}"} for a in ticket.attachments],
            "extensions": [{"id": x.id, "days": x.days, "reason": x.reason,
                            "status": x.status, "requested_by": x.requested_by,
                            "requested_at": x.requested_at.isoformat(),
                            "decided_by": x.decided_by, "decision_note": x.decision_note,
                            "old_due_at": x.old_due_at.isoformat() if x.old_due_at else None,
                            "new_due_at": x.new_due_at.isoformat() if x.new_due_at else None}
                           for x in ticket.extensions],
            "notices": [worklists.notice_dict(n, ticket.number, code) for n, code in notices],
            "actions": actions_for(user, ticket),
        }

    def worklist(self, session: Session, user: Any, name: str, *,
                 department: str | None = None, limit: int = 50,
                 offset: int = 0) -> dict[str, Any]:
        """One of ``worklists.LISTS`` as ``user`` may see it. A liaison's department list is
        always their own; a supervisor names the department (``department``)."""
        lights = self.lights(session)
        allowed = {"dispatch": ACTION_ROLES["dispatch"],
                   "department": ACTION_ROLES["accept"], "supervise": SUPERVISION,
                   "follow-up": DESK, "mine": frozenset({Role.AGENT})}
        if name not in allowed:
            raise InvalidRequest({"list": f"unknown list (one of {', '.join(worklists.LISTS)})"})
        if user.role not in allowed[name]:
            raise NotAllowed(f"the role {user.role!r} has no {name} list (无权查看)",
                             {"list": name})
        out: dict[str, Any] = {"list": name, "limit": limit, "offset": offset}
        if name == "dispatch":
            items = worklists.dispatch_queue(session, lights, limit=limit, offset=offset)
        elif name == "department":
            dept = self._department_for(session, user, department)
            out["department"] = {"code": dept.code, "name": dept.name}
            items = worklists.department_list(session, dept.id, lights, limit=limit,
                                              offset=offset)
            out["notices"] = worklists.recent_notices(session, department_id=dept.id)
            out["extensions"] = worklists.pending_extensions(session, department_id=dept.id)
        elif name == "supervise":
            dept_id = self._department_for(session, user, department).id \
                if department else None
            items = worklists.supervise_list(session, lights, department_id=dept_id,
                                             limit=limit, offset=offset)
            out["extensions"] = worklists.pending_extensions(session, department_id=dept_id)
            out["notices"] = worklists.recent_notices(session, department_id=dept_id)
        elif name == "follow-up":
            items = worklists.follow_up_list(session, lights, limit=limit, offset=offset)
        else:
            items = worklists.unfinished_list(session, user.agent_code or "", lights,
                                              limit=limit)
        out["items"] = [i.as_dict() for i in items]
        out["now"] = lights.now.isoformat()
        return out

    def _department_for(self, session: Session, user: Any, code: str | None) -> Department:
        if user.role == Role.LIAISON:
            dept = session.get(Department, user.department_id) if user.department_id else None
            if dept is None:
                raise NotAllowed("this liaison account has no department", {})
            if code and code != dept.code:
                raise NotAllowed("a liaison sees their own department only (仅限本部门)",
                                 {"department": code})
            return dept
        if not code:
            raise InvalidRequest({"department": "name the department (its code)"})
        dept = session.scalars(select(Department).where(Department.code == code)).first()
        if dept is None:
            raise NoSuchDepartment(code)
        return dept

    # -- acting ----------------------------------------------------------------------------

    def perform(self, session: Session, user: Any, action: str, ticket_id: int,
                payload: Mapping[str, Any], *, ip: str | None = None,
                files: Sequence[UploadedFile] = ()) -> dict[str, Any]:
        """Take ``action`` on the ticket with the request ``payload``; returns the ticket as
        ``user`` sees it afterwards. ``files`` are attached to a reply."""
        if action not in FIELDS:
            raise InvalidRequest({"action": f"unknown action {action!r}"})
        if not isinstance(payload, Mapping):
            raise InvalidRequest({"body": "must be an object"})
        problems = {f: "is not a field of this step" for f in sorted(
            set(payload) - FIELDS[action] - {"version", "_csrf"})}
        version = _version(payload, problems)
        if problems:
            raise InvalidRequest(problems)
        ticket = self.readable(session, user, ticket_id)
        why = refusal(user, action, ticket)
        if why is None and files:
            why = refusal(user, "attach", ticket)
        if why is not None:
            raise NotAllowed(why, {"action": action, "ticket": ticket.number})
        before = [d.code for d in (ticket.department, *ticket.co_departments) if d is not None]
        details = getattr(self, f"_{action}")(session, user, ticket, payload, version, files)
        audit.record(session, actor=user.username, role=user.role, action=f"ticket.{action}",
                     target=ticket.number, ip=ip, details=details or {})
        session.flush()
        session.expire(ticket, ["co_departments"])
        if may_read(user, ticket):
            view = self.view(session, user, ticket.id)
        else:  # a liaison who returned the ticket no longer sees it
            view = {k: v for k, v in ticket_summary(ticket).items() if k != "citizen_phone"}
        view["previous_departments"] = before
        return view

    def _dispatch(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
                  version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        problems: dict[str, str] = {}
        department = text_field(payload, "department", problems, limit=32)
        if department is None and "department" not in problems:
            problems["department"] = "is required (主办部门)"
        co = payload.get("co_departments") or []
        if isinstance(co, str):
            co = [c for c in co.replace("，", ",").split(",") if c.strip()]
        if not isinstance(co, list) or not all(isinstance(c, str) for c in co) or len(co) > 10:
            problems["co_departments"] = "must be a list of up to 10 department codes"
            co = []
        instruction = text_field(payload, "instruction", problems, limit=2000)
        if problems:
            raise InvalidRequest(problems)
        assert department is not None
        self.service.dispatch(session, ticket.id, department=department.strip(),
                              co_departments=[c.strip() for c in co], text=instruction,
                              actor=user.username, version=version)
        return {"department": department, "co_departments": co}

    def _accept(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
                version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        problems: dict[str, str] = {}
        text = text_field(payload, "text", problems, limit=2000)
        if problems:
            raise InvalidRequest(problems)
        self.service.accept(session, ticket.id, actor=user.username, text=text,
                            version=version)
        return {}

    def _return(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
                version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        department = ticket.department.code if ticket.department else None
        self.service.return_ticket(session, ticket.id, actor=user.username,
                                   reason=payload.get("reason"), version=version)
        return {"from": department}

    def _extend(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
                version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        days = payload.get("days")
        if isinstance(days, str):
            try:
                days = float(days)
            except ValueError:
                raise InvalidRequest({"days": "must be a number of working days"}) from None
        extension = self.service.request_extension(
            session, ticket.id, actor=user.username, days=days, reason=payload.get("reason"),
            version=version)
        return {"extension": extension.id, "days": extension.days}

    def _contact(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
                 version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        problems: dict[str, str] = {}
        text = text_field(payload, "text", problems, limit=2000)
        if problems:
            raise InvalidRequest(problems)
        self.service.contact(session, ticket.id, actor=user.username, text=text,
                             version=version)
        return {}

    def _reply(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
               version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        ids = payload.get("attachments") or []
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                for i in ids) or len(ids) > 20:
            raise InvalidRequest({"attachments": "must be a list of up to 20 attachment ids"})
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest({"text": "回复内容不能为空 (a reply needs its text)"})
        stored = []
        try:
            for f in files:
                stored.append(self.attachments.save(
                    session, ticket, f.data, filename=f.filename, content_type=f.content_type,
                    actor=user.username))
            if ticket.status == TicketStatus.DISPATCHED:
                # Replying to a ticket only dispatched takes it up first (签收).
                self.service.accept(session, ticket.id, actor=user.username, version=version)
                version = None
            self.service.reply(session, ticket.id, actor=user.username, text=text,
                               attachments=[*ids, *(a.id for a in stored)], version=version)
        except BaseException:
            for a in stored:
                self.attachments.discard(a.path)
            raise
        return {"attachments": [*ids, *(a.id for a in stored)]}

    def _follow_up(self, session: Session, user: Any, ticket: Ticket,
                   payload: Mapping[str, Any], version: int | None,
                   files: Sequence[UploadedFile]) -> dict[str, Any]:
        problems: dict[str, str] = {}
        satisfied = _flag(payload, "satisfied", problems)
        solved = _flag(payload, "solved", problems)
        text = text_field(payload, "text", problems, limit=2000)
        if problems:
            raise InvalidRequest(problems)
        self.service.follow_up(session, ticket.id, actor=user.username, text=text,
                               satisfied=satisfied, solved=solved, version=version)
        return {"satisfied": satisfied, "solved": solved}

    def _close(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
               version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        problems: dict[str, str] = {}
        text = text_field(payload, "text", problems, limit=2000)
        if problems:
            raise InvalidRequest(problems)
        self.service.close(session, ticket.id, actor=user.username, text=text,
                           version=version)
        return {}

    def _reopen(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
                version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        self.service.reopen(session, ticket.id, actor=user.username,
                            text=payload.get("reason"), version=version)
        return {}

    def _edit(self, session: Session, user: Any, ticket: Ticket, payload: Mapping[str, Any],
              version: int | None, files: Sequence[UploadedFile]) -> dict[str, Any]:
        changes = {k: v for k, v in payload.items() if k in EDITABLE}
        self.service.edit(session, ticket.id, changes, actor=user.username, version=version)
        return {"fields": sorted(changes)}

    def decide_extension(self, session: Session, user: Any, extension_id: int, *,
                         approve: Any, note: Any = None, version: Any = None,
                         ip: str | None = None) -> dict[str, Any]:
        """A supervisor approves or refuses an extension request; returns the ticket."""
        problems: dict[str, str] = {}
        decision = _flag({"approve": approve}, "approve", problems)
        if decision is None and "approve" not in problems:
            problems["approve"] = "is required (true: approve, false: refuse)"
        text = text_field({"note": note}, "note", problems, limit=2000)
        seen = _version({"version": version}, problems)
        if problems:
            raise InvalidRequest(problems)
        extension = session.get(TicketExtension, extension_id)
        if extension is None:
            raise NoSuchExtension(extension_id)
        ticket = self.readable(session, user, extension.ticket_id)
        why = refusal(user, "decide_extension", ticket)
        if why is not None:
            raise NotAllowed(why, {"extension": extension_id})
        self.service.decide_extension(session, extension_id, actor=user.username,
                                      approve=bool(decision), note=text, version=seen)
        audit.record(session, actor=user.username, role=user.role,
                     action="ticket.extension." + ("approve" if decision else "refuse"),
                     target=ticket.number, ip=ip, details={"extension": extension_id})
        session.flush()
        return self.view(session, user, ticket.id)

    # -- attachments -----------------------------------------------------------------------

    def upload(self, session: Session, user: Any, ticket_id: int, file: UploadedFile, *,
               ip: str | None = None) -> dict[str, Any]:
        """Store a file for a reply still to be written (the reply names its id)."""
        ticket = self.readable(session, user, ticket_id)
        why = refusal(user, "attach", ticket)
        if why is not None:
            raise NotAllowed(why, {"ticket": ticket.number})
        row = self.attachments.save(session, ticket, file.data, filename=file.filename,
                                    content_type=file.content_type, actor=user.username)
        audit.record(session, actor=user.username, role=user.role, action="ticket.attach",
                     target=ticket.number, ip=ip,
                     details={"attachment": row.id, "size": row.size_bytes})
        return {"id": row.id, "filename": row.filename, "size_bytes": row.size_bytes,
                "content_type": row.content_type, "url": f"/api/attachments/{row.id}"}

    def download(self, session: Session, user: Any,
                 attachment_id: int) -> tuple[bytes, str, str]:
        """The bytes, name and type of an attachment of a ticket ``user`` may read."""
        row = session.get(TicketAttachment, attachment_id)
        if row is None:
            raise NoSuchAttachment(attachment_id)
        try:
            self.readable(session, user, row.ticket_id)
        except NoSuchTicket:
            raise NoSuchAttachment(attachment_id) from None
        return self.attachments.read(row), row.filename, row.content_type

    # -- refusals --------------------------------------------------------------------------

    @staticmethod
    def audit_refusal(session: Session, user: Any, action: str, target: str | None,
                      error: TicketError, *, ip: str | None = None) -> None:
        """Record a refused step (its own unit of work: the refused one was rolled back)."""
        outcome = "denied" if error.status_code == 403 else "failed"
        audit.record(session, actor=user.username, role=user.role, action=f"ticket.{action}",
                     target=target, outcome=outcome, ip=ip,
                     details={"error_id": error.error_id, "why": error.message[:300]})
