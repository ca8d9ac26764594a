# -*- test-case-name: tests.civic.test_council -*-
"""The demands behind a topic or a proposal: finding the linked tickets, counting their
citizens, keeping their personal data off public pages, and telling each citizen the outcome.
Shared by L{hotline.civic.council} and L{hotline.civic.projects}."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Citizen, Incident, Ticket, TicketReporter
from hotline import phone
from hotline.civic.exceptions import NoSuchThing, PersonalData
from hotline.tickets.exceptions import InvalidRequest, NotAllowed, TicketError
from hotline.tickets.incidents import ticket_refs
from hotline.tickets.schemas import STATUS_LABELS, number_field, text_field
from hotline.web import audit
from hotline.web.roles import CIVIC_READERS

_Row = TypeVar("_Row", bound=Any)

__all__ = ["fetch", "newest", "linked_tickets", "citizen_ids", "check_public", "public_fields", "whole_number",
           "audit_refusal", "ticket_row"]


def fetch(session: Session, model: type[_Row], ident: int, what: str) -> _Row:
    """The ``model`` row ``ident``; NoSuchThing naming ``what`` when there is none."""
    row = session.get(model, ident)
    if row is None:
        raise NoSuchThing(what, ident)
    return row


def newest(session: Session, user: Any, model: type[_Row], what: str, *,
           limit: int) -> list[_Row]:
    """The newest ``limit`` rows of ``model`` for the console's readers (CIVIC_READERS);
    NotAllowed for another role."""
    if user.role not in CIVIC_READERS:
        raise NotAllowed(f"your role may not see {what}")
    return list(session.scalars(select(model).order_by(model.id.desc()).limit(limit)))


def linked_tickets(session: Session, body: Mapping[str, Any]) -> tuple[list[Ticket],
                                                                       Incident | None]:
    """The tickets a request names: ``tickets`` (ids or RX numbers, two or more) and/or an
    ``incident`` (its tickets), once each. InvalidRequest when neither is given or one is
    unknown."""
    incident = None
    ids: list[int] = []
    if body.get("incident") not in (None, ""):
        ref = str(body["incident"]).strip()
        incident = session.get(Incident, int(ref)) if ref.isdigit() and len(ref) <= 9 \
            else None
        if incident is None:
            raise NoSuchThing("incident", ref[:20])
        ids += [t.id for t in incident.tickets]
    if body.get("tickets") not in (None, "", []) or incident is None:
        ids += ticket_refs(session, body.get("tickets"))
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidRequest({"tickets": "the incident has no tickets"})
    tickets = list(session.scalars(select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.id)))
    return tickets, incident


def citizen_ids(session: Session, tickets: Sequence[Ticket]) -> set[int]:
    """Every citizen behind ``tickets``: first reporters and co-reporters, once each."""
    ids = {t.citizen_id for t in tickets if t.citizen_id is not None}
    ids |= set(session.scalars(select(TicketReporter.citizen_id).where(
        TicketReporter.ticket_id.in_([t.id for t in tickets]))))
    return ids


def _personal(session: Session, tickets: Sequence[Ticket]) -> list[tuple[str, str]]:
    """(text, what it is) for every phone number, name and address of ``tickets``."""
    citizens = session.scalars(select(Citizen).where(
        Citizen.id.in_(citizen_ids(session, tickets)))).all()
    found: list[tuple[str, str]] = []
    for c in citizens:
        found.append((c.phone, "phone number"))
        found.append((phone.mask(c.phone), "masked phone number"))
        if c.name and len(c.name.strip()) >= 2:
            found.append((c.name.strip(), "name"))
    for t in tickets:
        if t.address and len(t.address.strip()) >= 4:
            found.append((t.address.strip(), "address"))
    return [(text, kind) for text, kind in found if text]


def check_public(session: Session, tickets: Sequence[Ticket], fields: Mapping[str, str | None]
                 ) -> None:
    """Refuse text meant for a public page that contains a linked citizen's phone number (its
    digits, however spaced), name or a ticket's address (PersonalData names the field)."""
    personal = _personal(session, tickets)
    for field, value in fields.items():
        if not value:
            continue
        digits = "".join(ch for ch in value if ch.isdigit())
        for text, kind in personal:
            if kind == "phone number" and text.isdigit() and len(text) >= 7:
                if text in digits:
                    raise PersonalData(field, kind)
            elif text in value:
                raise PersonalData(field, kind)


def public_fields(body: Any, spec: Mapping[str, tuple[int, bool]],
                  problems: dict[str, str] | None = None) -> dict[str, str | None]:
    """The text fields of ``spec`` (name → (longest, required)) from ``body``. What is wrong
    goes into ``problems`` when given (the caller checks more fields, then refuses them all at
    once); without it every bad field is refused here (InvalidRequest)."""
    if not isinstance(body, Mapping):
        raise InvalidRequest({"body": "must be a JSON object"})
    found: dict[str, str] = {} if problems is None else problems
    out = {name: text_field(body, name, found, limit=longest, required=required)
           for name, (longest, required) in spec.items()}
    if problems is None and found:
        raise InvalidRequest(found)
    return out


def whole_number(body: Mapping[str, Any], field: str, lo: int, hi: int,
                 problems: dict[str, str], *, required: bool = True) -> int | None:
    """``body[field]`` as a whole number in [lo, hi]; what is wrong goes into ``problems``."""
    value = number_field(body, field, lo, hi, problems)
    if value is None:
        if required and field not in problems:
            problems[field] = f"is required (a whole number from {lo} to {hi})"
        return None
    if value != int(value):
        problems[field] = "must be a whole number"
        return None
    return int(value)


def ticket_row(t: Ticket) -> dict[str, Any]:
    """A linked ticket as the console's civic pages list it (no citizen data)."""
    return {"id": t.id, "number": t.number, "status": t.status,
            "status_label": STATUS_LABELS.get(t.status, t.status), "category": t.category,
            "description": t.description if len(t.description) <= 80
            else t.description[:80] + "…"}


def audit_refusal(session: Session, user: Any, action: str, target: str | None,
                  error: TicketError, *, ip: str | None) -> None:
    """Record a refused step (its own unit of work: the refused one was rolled back)."""
    audit.record(session, actor=user.username, role=user.role, action=action, target=target,
                 outcome="denied" if error.status_code == 403 else "failed", ip=ip,
                 details={"error_id": error.error_id, "why": error.message[:300]})
