# -*- test-case-name: tests.tickets.test_status -*-
"""The citizen's own status line (查询工单进度), on the web and by phone (the ``status`` AGI
script after 2 at the hotline's menu): where a ticket stands, found by its number and the
last four digits of the reporting phone, without signing in. Only the status,
the department and the deadline are given: no phone number, name, address or content, and the
same "not found" for a wrong number as for wrong digits (nothing to learn by trying)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import Citizen, Ticket, TicketReporter
from hotline.agi.scripts.status import StatusReply
from hotline.pbx.prompts import PROMPTS, spoken_time
from hotline.phone import normalise
from hotline.tickets.exceptions import InvalidRequest, TicketError
from hotline.tickets.schemas import KIND_LABELS, OPEN_STATUSES, STATUS_LABELS

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from db.session import Database
    from hotline.web.auth import LoginRateLimiter

__all__ = ["public_status", "own_open_tickets", "check_query", "number_from_digits", "spoken_status", "StatusLine",
           "Throttled"]

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
    return _public_view(ticket, local)


def own_open_tickets(session: Session, phone: str, *, local: Any,
                     most: int = 3) -> list[dict[str, Any]]:
    """The public views of the open tickets reported from ``phone`` (as first reporter or
    co-reporter), newest first, at most ``most``: what the status line says to a caller
    before asking for a number. ``phone`` is normalised as intake stores it."""
    try:
        phone = normalise(phone)
    except ValueError:
        return []
    reported = select(TicketReporter.ticket_id).join(
        Citizen, TicketReporter.citizen_id == Citizen.id).where(Citizen.phone == phone)
    tickets = session.scalars(
        select(Ticket).outerjoin(Citizen, Ticket.citizen_id == Citizen.id)
        .where(or_(Citizen.phone == phone, Ticket.id.in_(reported)),
               Ticket.status.in_(sorted(str(s) for s in OPEN_STATUSES)))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(most))
    return [_public_view(ticket, local) for ticket in tickets]


def _public_view(ticket: Ticket, local: Any) -> dict[str, Any]:
    return {"number": ticket.number, "kind_label": KIND_LABELS.get(ticket.kind, ticket.kind),
            "status": ticket.status, "status_label": STATUS_LABELS.get(ticket.status,
                                                                       ticket.status),
            "department": ticket.department.name if ticket.department else None,
            "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
            "due_local": local(ticket.due_at) if ticket.due_at else None,
            "created_local": local(ticket.created_at)}


def number_from_digits(digits: str) -> str | None:
    """The ticket number a caller keyed as its 14 digits (20261126000123 for
    RX20261126-000123), or None when the keys cannot be one."""
    if len(digits) != 14 or not digits.isdigit():
        return None
    return f"RX{digits[:8]}-{digits[8:]}"


def spoken_status(found: dict[str, Any], zone: ZoneInfo, *,
                  department: str | None = None) -> list[str]:
    """The prompts (``hotline.pbx.prompts.PROMPTS``) that say the public view ``found`` by
    phone: its status, department and deadline, in Chinese numerals (十二月四日十七点整).
    ``department`` is the prompt saying the department's name (made for it), None to say
    only that there is one."""
    status = f"status-{found['status']}"
    words = ["status-intro", status if status in PROMPTS else "status-received"]
    if found["department"] is None:
        words.append("status-no-department")
    elif department is not None:
        words += ["status-department", department]
    if found["due_at"]:
        due = dt.datetime.fromisoformat(found["due_at"])
        due = due if due.tzinfo else due.replace(tzinfo=dt.UTC)
        words += ["reminder-due", *spoken_time(due.astimezone(zone))]
    else:
        words.append("status-no-due")
    return words


class Throttled(TicketError):
    """Too many misses on one ticket number lately: no lookup is made until ``retry_after_s``."""

    status_code = 429
    error_id = "too-many-attempts"

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many attempts for this ticket; retry in {retry_after_s:.0f} s",
                         {"retry_after_s": round(retry_after_s, 1)})
        self.retry_after_s = retry_after_s


class StatusLine:
    """The status line's one way in, for the web page, the JSON call and the phone: every
    lookup counts against the ticket number's allowance of misses in one shared limiter, so a
    guesser gains nothing by switching from the page to the phone.

    @param db: where lookups run (its pool).
    @param limiter: misses per ticket number (the console's ``status_limiter``).
    @param local: formats a time in the site's zone (``TicketService.local``).
    @param per_address: every lookup per client address (the web's); None: not counted.
    """

    def __init__(self, *, db: Database, limiter: LoginRateLimiter,
                 local: Callable[[dt.datetime | None], str],
                 per_address: LoginRateLimiter | None = None) -> None:
        self.db = db
        self.limiter = limiter
        self.local = local
        self.per_address = per_address

    async def lookup(self, number: str, last4: str, *,
                     client: str | None = None) -> dict[str, Any] | None:
        """The public view, or None (未找到); counted as a miss until it is found, and as a
        lookup of ``client`` (an address; a success does not take that back, or one known
        ticket would reset an address walking through others).

        @raise Throttled: the ticket number's misses or the client's lookups are spent for
            now (nothing looked up).
        """
        if client is not None and self.per_address is not None:
            wait = self.per_address.acquire(client)
            if wait is not None:
                raise Throttled(wait)
        wait = self.limiter.acquire(number)
        if wait is not None:
            raise Throttled(wait)
        found = await self.db.run(public_status, number, last4, local=self.local)
        if found is not None:
            self.limiter.succeeded(number)
        return found

    def phone_lookup(self, zone: ZoneInfo, *,
                     phrase: Callable[[str, str], Awaitable[str | None]]) -> Callable[..., Any]:
        """The ``status`` AGI script's lookup: keyed digits in, the prompts to play out.

        ``phrase(text, sounds)`` makes a prompt of a department's name in the PBX's sound
        folder ``sounds`` and returns its name (None: it could not, the name is left out).
        Keys that cannot be a ticket number or four digits are a miss without a lookup,
        as the web refuses them before counting."""
        async def lookup(digits: str, last4: str, *, sounds: str) -> StatusReply:
            number = number_from_digits(digits)
            if number is None or not _LAST4.match(last4):
                return StatusReply()
            try:
                found = await self.lookup(number, last4)
            except Throttled as error:
                return StatusReply(retry_after_s=error.retry_after_s)
            if found is None:
                return StatusReply()
            department = None
            if found["department"]:
                department = await phrase(found["department"], sounds)
            return StatusReply(say=tuple(spoken_status(found, zone, department=department)))
        return lookup

    def phone_own(self, zone: ZoneInfo, *,
                  phrase: Callable[[str, str], Awaitable[str | None]]) -> Callable[..., Any]:
        """The ``status`` AGI script's lookup of the caller's own open tickets by the number
        they call from (the line's caller ID, as the desk's pop finds them): the prompts
        saying each, newest first; none when the number has no open ticket. Not counted as
        a miss: nothing is guessed."""
        async def own(caller: str, *, sounds: str) -> StatusReply:
            found = await self.db.run(own_open_tickets, caller, local=self.local)
            words: list[str] = []
            for view in found:
                department = await phrase(view["department"], sounds) \
                    if view["department"] else None
                words += spoken_status(view, zone, department=department)
            return StatusReply(say=tuple(words))
        return own
