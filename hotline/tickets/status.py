# -*- test-case-name: tests.tickets.test_status -*-
"""The citizen's own status line on the web (查询工单进度): where a ticket stands, found by its
number and the last four digits of the reporting phone, without signing in. Only the status,
the department and the deadline are given: no phone number, name, address or content, and the
same "not found" for a wrong number as for wrong digits (nothing to learn by trying)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Citizen, Ticket, TicketReporter
from hotline.tickets.exceptions import InvalidRequest
from hotline.tickets.schemas import KIND_LABELS, STATUS_LABELS

__all__ = ["public_status", "check_query"]

_NUMBER = re.compile(r"^RX\d{8}-\d{6}$")
_LAST4 = re.compile(r"^\d{4}$")


def check_query(number: str | None, last4: str | None) -> tuple[str, str]:
    """The ticket number (upper case) and four digits; InvalidRequest naming the bad field."""
    problems = {}
    number = (number or "").strip().upper()
    last4 = (last4 or "").strip()
    if not _NUMBER.match(number):
        problems["number"] = "a ticket number looks like RX20261126-000123"
    if not _LAST4.match(last4):
        problems["last4"] = "the last four digits of the phone number you reported from"
    if problems:
        raise InvalidRequest(problems)
    return number, last4


def public_status(session: Session, number: str, last4: str, *,
                  local: Any) -> dict[str, Any] | None:
    """The public view of the ticket, or None when the number and digits do not match (the
    first reporter's phone or a co-reporter's). ``local`` formats a time in the site's zone."""
    ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one_or_none()
    if ticket is None:
        return None
    phones = [ticket.citizen.phone] if ticket.citizen else []
    phones += session.scalars(select(Citizen.phone).join(
        TicketReporter, TicketReporter.citizen_id == Citizen.id)
        .where(TicketReporter.ticket_id == ticket.id))
    if not any(p.endswith(last4) for p in phones):
        return None
    return {"number": ticket.number, "kind_label": KIND_LABELS.get(ticket.kind, ticket.kind),
            "status": ticket.status, "status_label": STATUS_LABELS.get(ticket.status,
                                                                       ticket.status),
            "department": ticket.department.name if ticket.department else None,
            "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
            "due_local": local(ticket.due_at) if ticket.due_at else None,
            "created_local": local(ticket.created_at)}
